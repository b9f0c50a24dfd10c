//! What `cargo xtask setup` set up (`<target>/test-env/engines.env`), one [`Engine`] per variant
//! the engine tests run on, what copili leaves on an engine, and one test per engine and
//! scenario ([`engine_tests!`](crate::engine_tests)).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::binary::target_dir;
use crate::{copili, rootless_copili_binary, run};

/// `PATH` for the rootless user, as `cargo xtask setup` uses it: Debian's default, so that
/// podman finds conmon, runc, slirp4netns and newuidmap, and netavark finds `iptables`.
const ROOTLESS_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The contents of `<target>/test-env/engines.env`, written by `cargo xtask setup`.
#[derive(Debug)]
pub struct EngineSetup {
    path: PathBuf,
    vars: BTreeMap<String, String>,
}

impl EngineSetup {
    /// The directory `cargo xtask setup` keeps the test environment in (`<target>/test-env`):
    /// the file itself and the logs of the daemons it started.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The value of `key`; a missing key fails the test, naming the file and the fix.
    pub fn get(&self, key: &str) -> &str {
        self.vars.get(key).unwrap_or_else(|| {
            panic!("{} has no `{key}`: run `cargo xtask setup` (it rewrites the file)", self.path.display())
        })
    }
}

/// The engines `cargo xtask setup` prepared. Engine tests never skip: without the file they
/// fail, saying how to set the engines up.
pub fn engine_setup() -> &'static EngineSetup {
    static SETUP: OnceLock<EngineSetup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let path = target_dir().join("test-env").join("engines.env");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}\nthe engine tests need docker, rootful and rootless podman and the test \
                 image: run `cargo xtask setup` first (`cargo xtask test` does it)",
                path.display()
            )
        });
        let vars = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.to_string()))
            .collect();
        EngineSetup { path, vars }
    })
}

/// The engine variants copili must run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// podman as root, with the host's settings in `CONTAINERS_CONF` (which copili inherits).
    RootfulPodman,
    /// podman as the unprivileged user of `cargo xtask setup`, no daemon.
    RootlessPodman,
    /// docker (the client on `PATH`, talking to dockerd).
    Docker,
    /// Docker Swarm mode on that dockerd (a one-node swarm): every container a swarm job.
    Swarm,
}

/// What an engine holds with a pipeline's labels.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Container names (running or not).
    pub containers: Vec<String>,
    /// Network names.
    pub networks: Vec<String>,
}

impl Engine {
    /// A short name for test and pipeline names: `podman`, `rootless`, `docker`.
    pub fn slug(self) -> &'static str {
        match self {
            Engine::RootfulPodman => "podman",
            Engine::RootlessPodman => "rootless",
            Engine::Docker => "docker",
            Engine::Swarm => "swarm",
        }
    }

    /// The value of copili's `--engine` for this variant.
    pub fn engine_arg(self) -> &'static str {
        match self {
            Engine::RootfulPodman | Engine::RootlessPodman => "podman",
            Engine::Docker => "docker",
            Engine::Swarm => "swarm",
        }
    }

    /// The client binary copili runs for this variant: `podman` or `docker`.
    pub fn client_name(self) -> &'static str {
        match self {
            Engine::RootfulPodman | Engine::RootlessPodman => "podman",
            Engine::Docker | Engine::Swarm => "docker",
        }
    }

    /// Fails the test, saying how to fix it, unless this engine answers and has the test
    /// image (checked once per test process and engine).
    pub fn assert_ready(self) {
        static READY: [OnceLock<()>; 4] = [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
        READY[self as usize].get_or_init(|| {
            if self == Engine::Swarm {
                let output = run(self.client().args(["info", "--format", "{{.Swarm.LocalNodeState}}"]));
                assert_eq!(
                    output.stdout().trim(),
                    "active",
                    "docker is not in swarm mode: run `cargo xtask setup`\n{}",
                    output.describe()
                );
            }
            let image = engine_setup().get("COPILI_TEST_IMAGE");
            let output = run(self.client().args(["image", "inspect", "--format", "{{.Id}}", image]));
            assert_eq!(
                output.code(),
                Some(0),
                "{self:?} does not answer or lacks the test image {image}: run `cargo xtask setup`\n{}",
                output.describe()
            );
        });
    }

    /// The rootless user's uid and gid (from `/etc/passwd`, checked against engines.env).
    fn rootless_ids() -> (u32, u32) {
        static IDS: OnceLock<(u32, u32)> = OnceLock::new();
        *IDS.get_or_init(|| {
            let setup = engine_setup();
            let user = setup.get("COPILI_TEST_ROOTLESS_USER");
            let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd is readable");
            let fields: Vec<&str> = passwd
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.first() == Some(&user))
                .unwrap_or_else(|| panic!("no user `{user}` in /etc/passwd: run `cargo xtask setup`"));
            let id = |i: usize| fields.get(i).and_then(|v| v.parse::<u32>().ok()).expect("a numeric id in /etc/passwd");
            let (uid, gid) = (id(2), id(3));
            assert_eq!(
                uid.to_string(),
                setup.get("COPILI_TEST_ROOTLESS_UID"),
                "engines.env is stale: run `cargo xtask setup`"
            );
            (uid, gid)
        })
    }

    /// The environment the rootless user's processes get.
    fn rootless_env() -> Vec<(&'static str, String)> {
        let setup = engine_setup();
        let user = setup.get("COPILI_TEST_ROOTLESS_USER").to_string();
        vec![
            ("PATH", ROOTLESS_PATH.to_string()),
            ("HOME", setup.get("COPILI_TEST_ROOTLESS_HOME").to_string()),
            ("USER", user.clone()),
            ("LOGNAME", user),
            ("XDG_RUNTIME_DIR", setup.get("COPILI_TEST_ROOTLESS_XDG_RUNTIME_DIR").to_string()),
            ("CONTAINERS_CONF", setup.get("COPILI_TEST_ROOTLESS_CONTAINERS_CONF").to_string()),
            ("LANG", "C".to_string()),
        ]
    }

    /// `program` run as the rootless user, with its environment and nothing else.
    ///
    /// `setpriv` rather than `runuser`: it execs the program, so the spawned pid *is* the
    /// program (a test signals it, and a lock names it), while `runuser` stays in between as
    /// a parent that neither forwards SIGINT nor lets it through.
    pub(crate) fn as_rootless_user(program: &Path) -> Command {
        let (uid, gid) = Engine::rootless_ids();
        // By its path: a `PATH` the caller sets for the user (e.g. one without podman) must not
        // decide whether `setpriv` itself is found.
        let mut command = Command::new(setpriv_binary());
        command
            .env_clear()
            .envs(Engine::rootless_env())
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg("--init-groups")
            .arg("--")
            .arg(program);
        command
    }

    /// The `copili` binary, run in `workdir` as this variant needs (the rootless user runs a
    /// copy it can read, see [`rootless_copili_binary`]): a clean environment
    /// (`PATH`, `HOME`, `LANG=C`) plus rootful podman's `CONTAINERS_CONF`, or as the rootless
    /// user with its own environment. Arguments and variables are added by the caller (the
    /// command's environment reaches copili in every variant).
    pub fn copili(self, workdir: &Path) -> Command {
        let mut command = match self {
            Engine::RootfulPodman => {
                let mut command = copili();
                command.env("CONTAINERS_CONF", engine_setup().get("CONTAINERS_CONF"));
                command
            }
            Engine::Docker | Engine::Swarm => copili(),
            Engine::RootlessPodman => Engine::as_rootless_user(rootless_copili_binary()),
        };
        command.current_dir(workdir);
        command
    }

    /// The engine's own client, as copili runs it in this variant (same user, same settings).
    pub fn client(self) -> Command {
        let mut command = match self {
            Engine::RootfulPodman => {
                let mut command = Command::new("podman");
                command.env("CONTAINERS_CONF", engine_setup().get("CONTAINERS_CONF"));
                command
            }
            Engine::RootlessPodman => Engine::as_rootless_user(Path::new("podman")),
            Engine::Docker | Engine::Swarm => Command::new(engine_setup().get("COPILI_TEST_DOCKER")),
        };
        command.current_dir("/").stdin(Stdio::null());
        command
    }

    /// Makes a directory the test created usable by the user copili runs as (the rootless
    /// user: owner; the others are root already) and readable by everyone.
    pub fn hand_over_dir(self, dir: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod the test directory");
        if self == Engine::RootlessPodman {
            let (uid, gid) = Engine::rootless_ids();
            std::os::unix::fs::chown(dir, Some(uid), Some(gid)).expect("chown the test directory");
        }
    }

    /// Runs the client with `args`; its standard output, or a failed test naming the command.
    pub fn client_output(self, args: &[&str]) -> String {
        let output = run(self.client().args(args));
        assert_eq!(output.code(), Some(0), "{} {} failed\n{}", self.engine_arg(), args.join(" "), output.describe());
        output.stdout()
    }

    /// Names of the containers with all these `labels` (`KEY=VALUE` or `KEY`), also stopped
    /// ones when `all`.
    /// For swarm: of the tasks' containers on this node, named by their service (a task's
    /// container is `<service>.<slot>.<task id>`).
    pub fn containers_with_labels(self, labels: &[&str], all: bool) -> Vec<String> {
        let format = if self == Engine::Swarm { "{{.Label \"com.docker.swarm.service.name\"}}" } else { "{{.Names}}" };
        let mut args = vec!["ps", "--format", format];
        if all {
            args.push("--all");
        }
        let filters: Vec<String> = labels.iter().map(|l| format!("label={l}")).collect();
        for filter in &filters {
            args.extend(["--filter", filter.as_str()]);
        }
        lines(&self.client_output(&args))
    }

    /// Names of the networks with all these `labels`.
    pub fn networks_with_labels(self, labels: &[&str]) -> Vec<String> {
        let mut args = vec!["network", "ls", "--format", "{{.Name}}"];
        let filters: Vec<String> = labels.iter().map(|l| format!("label={l}")).collect();
        for filter in &filters {
            args.extend(["--filter", filter.as_str()]);
        }
        lines(&self.client_output(&args))
    }

    /// Every container (for swarm: service) and network carrying pipeline `identity`'s label.
    /// A removed swarm service's task containers are removed by the node afterwards, on its
    /// own time: for swarm, services and networks are what copili must leave none of.
    pub fn leftovers(self, identity: &str) -> Leftovers {
        let label = format!("io.copili.pipeline={identity}");
        let containers = if self == Engine::Swarm {
            let filter = format!("label={label}");
            lines(&self.client_output(&["service", "ls", "--format", "{{.Name}}", "--filter", &filter]))
        } else {
            self.containers_with_labels(&[&label], true)
        };
        Leftovers { containers, networks: self.networks_with_labels(&[&label]) }
    }

    /// Fails the test when anything with pipeline `identity`'s label is left on the engine.
    pub fn assert_no_leftovers(self, identity: &str) {
        let leftovers = self.leftovers(identity);
        assert_eq!(leftovers, Leftovers::default(), "copili left these behind on {self:?} (pipeline `{identity}`)");
    }

    /// Removes whatever pipeline `identity` left (after a failed test, so that the next run
    /// starts clean); errors are ignored.
    pub fn remove_leftovers(self, identity: &str) {
        let label = format!("label=io.copili.pipeline={identity}");
        let names = |args: &[&str]| run(self.client().args(args)).stdout();
        if self == Engine::Swarm {
            for name in lines(&names(&["service", "ls", "--format", "{{.Name}}", "--filter", &label])) {
                let _ = run(self.client().args(["service", "rm", &name]));
            }
        }
        for name in lines(&names(&["ps", "--all", "--format", "{{.Names}}", "--filter", &label])) {
            let _ = run(self.client().args(["rm", "--force", &name]));
        }
        for name in lines(&names(&["network", "ls", "--format", "{{.Name}}", "--filter", &label])) {
            let _ = run(self.client().args(["network", "rm", &name]));
        }
    }
}

/// `setpriv` (util-linux), found on the tests' own `PATH`.
fn setpriv_binary() -> &'static Path {
    static SETPRIV: OnceLock<PathBuf> = OnceLock::new();
    SETPRIV.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join("setpriv"))
            .find(|candidate| candidate.is_file())
            .expect("`setpriv` (util-linux) is on PATH: the rootless tests run copili as another user with it")
    })
}

/// The non-blank lines of `text`, trimmed: an engine listing, one name a line.
pub(crate) fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

/// One test function per engine per scenario: `<engine>::<scenario>`, so that
/// `cargo test --test engines docker::` or `cargo test --test engines sidecars` select them.
///
/// Given modules and engines, then the list of scenarios, each a function of the calling
/// file taking the [`Engine`]:
///
/// ```text
/// engine_tests!(
///     rootful_podman => copili_e2e::Engine::RootfulPodman,
///     docker => copili_e2e::Engine::Docker;
///     [quickstart, exit_codes]
/// );
/// ```
///
/// makes `rootful_podman::quickstart`, `rootful_podman::exit_codes`, `docker::quickstart` and
/// `docker::exit_codes`, each calling `quickstart(Engine::…)` or `exit_codes(Engine::…)`.
#[macro_export]
macro_rules! engine_tests {
    ($($module:ident => $engine:expr),+ $(,)?; $scenarios:tt) => {
        $($crate::engine_tests!(@module $module, $engine, $scenarios);)+
    };
    (@module $module:ident, $engine:expr, [$($scenario:ident),+ $(,)?]) => {
        mod $module {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario($engine);
                }
            )+
        }
    };
}

/// The longest a run of the engine tests' small pipelines may take before the test gives up
/// on it.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(90);
