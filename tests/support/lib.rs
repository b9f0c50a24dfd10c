//! Helpers for the end-to-end tests: the real `copili` binary, run in a clean environment from
//! the repository root, and its output made stable for snapshots.
//!
//! Cargo builds the binaries of the package under test for its integration tests, but this
//! crate tests another package's binary, so [`copili`] builds it itself (once per test
//! process; a no-op when it is up to date).
//!
//! For the tests on real engines (`engines.rs`, `images.rs`, `service.rs`): the engines of
//! `cargo xtask setup` ([`Engine`]), one test per engine and scenario ([`engine_tests!`]), a
//! test's identity and directory ([`Scene`]), processes in flight ([`Running`]), and what they
//! read of copili's console ([`assert_output_line`], [`assert_finished`], [`assert_summary`],
//! …), its JSON report ([`read_report`], …) and its RFC 3339 times ([`parse_rfc3339`], …).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The repository root: the working directory of every [`copili`] command, so that the paths
/// in its messages are the short relative paths a user would type.
pub fn repo_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        root.canonicalize().expect("the repository root exists")
    })
}

/// The path of the `copili` binary, built first if needed (once per test process).
///
/// The test executable lives in `<target>/<profile>/deps/`, the binary in
/// `<target>/<profile>/copili`. `cargo build` is always run once: it is quick when nothing
/// changed, and it is the only reliable answer to "is the binary older than the sources".
pub fn copili_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable has a path");
        let deps = exe.parent().expect("the test executable is in a directory");
        let profile_dir = if deps.file_name().is_some_and(|n| n == "deps") {
            deps.parent().expect("`deps` is inside the profile directory")
        } else {
            deps
        };
        let binary = profile_dir.join(format!("copili{}", std::env::consts::EXE_SUFFIX));
        build_copili(profile_dir);
        assert!(binary.is_file(), "`cargo build -p copili` did not produce {}", binary.display());
        binary
    })
}

/// Runs `$CARGO build -p copili --bin copili` for the profile the tests were built with.
fn build_copili(profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command.current_dir(repo_root()).args(["build", "--quiet", "-p", "copili", "--bin", "copili"]);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{} build -p copili`: {e}", Path::new(&cargo).display()));
    assert!(
        output.status.success(),
        "`cargo build -p copili` failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A command running the real `copili` binary from the repository root, in an environment
/// holding only `PATH`, `HOME` and `LANG=C`, so that the host's `ENV`, registry credentials
/// or locale cannot leak into results or snapshots.
pub fn copili() -> Command {
    let mut command = Command::new(copili_binary());
    command.current_dir(repo_root()).env_clear().env("LANG", "C");
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// What a finished command printed and how it exited, as text.
#[derive(Debug, Clone)]
pub struct Output {
    /// The raw output.
    pub raw: std::process::Output,
}

impl Output {
    /// The exit code; `None` when the process was killed by a signal (never a guess).
    pub fn code(&self) -> Option<i32> {
        self.raw.status.code()
    }

    /// Standard output, lossily decoded.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.raw.stdout).into_owned()
    }

    /// Standard error, lossily decoded.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.raw.stderr).into_owned()
    }

    /// Both streams, labelled, for assertion messages.
    pub fn describe(&self) -> String {
        format!("exit code: {:?}\n--- stdout\n{}--- stderr\n{}", self.code(), self.stdout(), self.stderr())
    }
}

/// Runs a command to completion with an empty standard input.
pub fn run(command: &mut Command) -> Output {
    let raw = command.stdin(Stdio::null()).output().expect("the command can be started");
    Output { raw }
}

/// Runs a command to completion, writing `input` to its standard input.
pub fn run_with_stdin(command: &mut Command, input: &str) -> Output {
    use std::io::Write as _;

    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command can be started");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Written from a thread: a child that prints before reading all its input must not block
    // on a full stdout pipe while we block on a full stdin pipe.
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let raw = child.wait_with_output().expect("the command can be waited for");
    writer.join().expect("the stdin writer does not panic").expect("stdin can be written");
    Output { raw }
}

/// Replaces the machine-specific parts of `text` with stable tokens: the repository root
/// with `[REPO]` and temporary directories (`<temp>/.tmpXXXXXX`) with `[TEMP]`.
pub fn redact(text: &str) -> String {
    let mut text = text.replace(&repo_root().display().to_string(), "[REPO]");
    let temp = std::env::temp_dir();
    let mut prefixes = vec![temp.display().to_string()];
    if let Ok(canonical) = temp.canonicalize() {
        prefixes.push(canonical.display().to_string());
    }
    for prefix in prefixes {
        let prefix = format!("{}/.tmp", prefix.trim_end_matches('/'));
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find(&prefix) {
            out.push_str(&rest[..start]);
            out.push_str("[TEMP]");
            let after = &rest[start + prefix.len()..];
            let random = after.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(after.len());
            rest = &after[random..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}

/// A fixture file of `tests/fixtures/`, as a path relative to the repository root (the form
/// the commands are given, so that messages show it as a user would see it).
pub fn fixture(relative: &str) -> PathBuf {
    let path = Path::new("tests/fixtures").join(relative);
    assert!(repo_root().join(&path).exists(), "missing fixture {}", path.display());
    path
}

// --- Real engines -----------------------------------------------------------------------------
//
// What `cargo xtask setup` set up (`<target>/test-env/engines.env`), one [`Engine`] per variant
// the engine tests run on, and what they observe: processes in flight ([`Running`]), copili's
// leftovers on the engine, and every process's command line ([`CmdlineSampler`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

/// The target directory the tests were built in: `<target>/<profile>/deps/<test>` → `<target>`.
fn target_dir() -> PathBuf {
    copili_binary().parent().and_then(Path::parent).expect("the binary is in <target>/<profile>").to_path_buf()
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
    fn as_rootless_user(program: &Path) -> Command {
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

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

impl Output {
    /// The status as a shell reports it (`$?`): the exit code, or 128 + the signal that
    /// killed the process.
    pub fn shell_status(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt as _;
        match (self.raw.status.code(), self.raw.status.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => 128 + signal,
            (None, None) => unreachable!("a finished process has a code or a signal"),
        }
    }
}

/// A process running in the background with its output collected as it comes, so that a test
/// can act on what it printed so far ([`Running::lines`], [`Running::wait_for_line`]; service
/// mode runs until signalled); killed (SIGKILL) and waited for if dropped before
/// [`Running::wait`], so a failing test leaves no process.
#[derive(Debug)]
pub struct Running {
    child: std::process::Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The readers of standard output and standard error, in that order.
    readers: Vec<std::thread::JoinHandle<()>>,
    /// When it was started.
    pub started: Instant,
}

impl Running {
    /// Starts `command` with an empty standard input, collecting its output.
    pub fn spawn(command: &mut Command) -> Running {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the command can be started");
        let started = Instant::now();
        let (stdout, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let collect = |mut stream: Box<dyn std::io::Read + Send>, buffer: &Arc<Mutex<Vec<u8>>>| {
            let buffer = Arc::clone(buffer);
            std::thread::spawn(move || {
                let mut chunk = [0; 8192];
                loop {
                    match stream.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => buffer.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            })
        };
        let readers = vec![
            collect(Box::new(child.stdout.take().expect("stdout is piped")), &stdout),
            collect(Box::new(child.stderr.take().expect("stderr is piped")), &stderr),
        ];
        Running { child, stdout, stderr, readers, started }
    }

    /// Starts `command` as the leader of a new process group, as a shell does with a
    /// foreground job: [`Running::signal_group`] then signals it and every process it started,
    /// like Ctrl-C in a terminal.
    pub fn spawn_in_own_process_group(command: &mut Command) -> Running {
        use std::os::unix::process::CommandExt as _;
        Running::spawn(command.process_group(0))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines of standard output so far, without their line ends. A line still being
    /// written is not one yet (unless the stream has ended).
    pub fn lines(&self) -> Vec<String> {
        let ended = self.readers.first().is_none_or(std::thread::JoinHandle::is_finished);
        let bytes = self.stdout.lock().unwrap_or_else(PoisonError::into_inner);
        let complete = if ended { bytes.len() } else { bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) };
        String::from_utf8_lossy(&bytes[..complete]).lines().map(String::from).collect()
    }

    /// Both streams so far, for assertion messages.
    pub fn describe(&self) -> String {
        let text = |buffer: &Arc<Mutex<Vec<u8>>>| {
            String::from_utf8_lossy(&buffer.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
        };
        format!("--- stdout so far\n{}--- stderr so far\n{}", text(&self.stdout), text(&self.stderr))
    }

    /// Waits until a line of standard output satisfies `matches`; its index in
    /// [`Running::lines`]. Fails the test if the process ends first or after `timeout`.
    pub fn wait_for_line(&mut self, timeout: Duration, what: &str, matches: impl Fn(&str) -> bool) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(index) = self.lines().iter().position(|l| matches(l)) {
                return index;
            }
            assert!(self.is_running(), "the process ended before {what}\n{}", self.describe());
            assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}\n{}", self.describe());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`INT`, `TERM`, …) to the process, with `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let pid = self.pid().to_string();
        let output = run(Command::new("kill").args(["-s", signal, &pid]));
        assert_eq!(output.code(), Some(0), "kill -s {signal} {pid}\n{}", output.describe());
    }

    /// Sends `signal` to the process group this process leads (see
    /// [`Running::spawn_in_own_process_group`]).
    pub fn signal_group(&self, signal: &str) {
        let group = format!("-{}", self.pid());
        let output = run(Command::new("kill").args(["-s", signal, "--", &group]));
        assert_eq!(output.code(), Some(0), "kill -s {signal} -- {group}\n{}", output.describe());
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("the child can be polled").is_none()
    }

    /// Waits for the end, at most `timeout`: a process still running then is killed and the
    /// test fails, showing what it printed. The output is byte for byte what it wrote.
    pub fn wait(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let finished = status.is_some();
        let status = match status {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                self.child.wait().expect("the killed child can be waited for")
            }
        };
        for reader in std::mem::take(&mut self.readers) {
            reader.join().expect("the reader does not panic");
        }
        let take =
            |buffer: &Arc<Mutex<Vec<u8>>>| std::mem::take(&mut *buffer.lock().unwrap_or_else(PoisonError::into_inner));
        let output =
            Output { raw: std::process::Output { status, stdout: take(&self.stdout), stderr: take(&self.stderr) } };
        assert!(finished, "still running after {timeout:?}, killed\n{}", output.describe());
        output
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `condition` every 20 ms until it holds; fails the test after `timeout`, describing
/// what was awaited.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads every process's command line (`/proc/<pid>/cmdline`, which every local user can read)
/// again and again in a thread, looking for a secret, until stopped.
#[derive(Debug)]
pub struct CmdlineSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<CmdlineSamples>,
}

/// What a [`CmdlineSampler`] saw.
#[derive(Debug, Default)]
pub struct CmdlineSamples {
    /// Complete passes over `/proc`.
    pub sweeps: usize,
    /// Command lines read, all passes together.
    pub cmdlines_read: usize,
    /// Distinct command lines (arguments joined by spaces) that contained the secret.
    pub with_secret: BTreeSet<String>,
    /// Distinct command lines that contained the marker (e.g. a pipeline's name): proof that
    /// the sampler saw the processes it was meant to watch.
    pub with_marker: BTreeSet<String>,
}

impl CmdlineSampler {
    /// Starts sampling every `interval`.
    pub fn start(secret: &str, marker: &str, interval: Duration) -> CmdlineSampler {
        assert!(!secret.is_empty() && !marker.is_empty());
        let stop = Arc::new(AtomicBool::new(false));
        let (secret, marker) = (secret.as_bytes().to_vec(), marker.as_bytes().to_vec());
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let contains = |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
            let mut samples = CmdlineSamples::default();
            while !stopped.load(Ordering::SeqCst) {
                let Ok(entries) = std::fs::read_dir("/proc") else { break };
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                        continue;
                    }
                    // A process may end between listing and reading: not an error.
                    let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
                    samples.cmdlines_read += 1;
                    let has_secret = contains(&cmdline, &secret);
                    let has_marker = contains(&cmdline, &marker);
                    if has_secret || has_marker {
                        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim_end().to_string();
                        if has_secret {
                            samples.with_secret.insert(text.clone());
                        }
                        if has_marker {
                            samples.with_marker.insert(text);
                        }
                    }
                }
                samples.sweeps += 1;
                std::thread::sleep(interval);
            }
            samples
        });
        CmdlineSampler { stop, thread }
    }

    /// Stops sampling; what was seen.
    pub fn stop(self) -> CmdlineSamples {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the sampler does not panic")
    }
}

/// A copy of the `copili` binary that the rootless user can execute, whatever the checkout's
/// permissions (CI clones into directories other users cannot enter): in a world-readable
/// directory of its own under /tmp, made once per test process and replaced atomically.
pub fn rootless_copili_binary() -> &'static Path {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = PathBuf::from("/tmp/copili-e2e-bin");
        std::fs::create_dir_all(&dir).expect("create /tmp/copili-e2e-bin");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod /tmp/copili-e2e-bin");
        let staged = dir.join(format!(".copili.{}", std::process::id()));
        std::fs::copy(copili_binary(), &staged).expect("copy the copili binary");
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).expect("chmod the copy");
        let target = dir.join(format!("copili-{}", std::process::id()));
        std::fs::rename(&staged, &target).expect("move the copy in place");
        // Copies of earlier test processes are no longer needed; those of test processes still
        // running (another test target, another checkout's) are theirs.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let pid = name.strip_prefix("copili-").and_then(|pid| pid.parse::<u32>().ok());
                if path != target && pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let output = run(Engine::as_rootless_user(Path::new("test")).arg("-x").arg(&target));
        assert_eq!(
            output.code(),
            Some(0),
            "the rootless user cannot execute {}\n{}",
            target.display(),
            output.describe()
        );
        target
    })
}

// --- The test registry and images ---------------------------------------------------------------
//
// The registry `cargo xtask setup` started (htpasswd authentication, plain HTTP on loopback), and
// what the image tests ask the engines about images.

/// The test registry's address, `127.0.0.1:5858`.
pub fn registry_address() -> &'static str {
    engine_setup().get("COPILI_TEST_REGISTRY")
}

/// The test registry's user.
pub fn registry_user() -> &'static str {
    engine_setup().get("COPILI_TEST_REGISTRY_USER")
}

/// The test registry's password: tests look for it in everything copili writes.
pub fn registry_password() -> &'static str {
    engine_setup().get("COPILI_TEST_REGISTRY_PASSWORD")
}

/// Rootful podman, as `cargo xtask setup` set it up.
fn rootful_podman() -> Command {
    let mut command = Command::new("podman");
    command.env("CONTAINERS_CONF", engine_setup().get("CONTAINERS_CONF")).current_dir("/").stdin(Stdio::null());
    command
}

/// Builds, in rootful podman, the test image with the label `io.copili.e2e=<name>` as
/// `localhost/copili-e2e-source-<name>:latest`; the reference. Its content is the test image's,
/// its id its own.
///
/// Why: podman 4.3 loses concurrent changes to the names of one image (two `rmi` of two names
/// of one id, run at once, can both report success while one name stays), so tests running in
/// parallel must not pull, tag or remove names of one image id. Each test pushes an image of
/// its own id; remove it with [`remove_test_image_variant`].
pub fn build_test_image_variant(name: &str) -> String {
    let reference = format!("localhost/copili-e2e-source-{name}:latest");
    let dir = std::env::temp_dir().join(format!("copili-e2e-source-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let containerfile = dir.join("Containerfile");
    std::fs::write(&containerfile, format!("FROM {}\n", engine_setup().get("COPILI_TEST_IMAGE")))
        .unwrap_or_else(|e| panic!("write {}: {e}", containerfile.display()));
    let label = format!("io.copili.e2e={name}");
    let output = run(rootful_podman()
        .args(["build", "--quiet", "--pull=never", "--tag", &reference, "--label", &label, "--file"])
        .arg(&containerfile)
        .arg(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(output.code(), Some(0), "building {reference} failed\n{}", output.describe());
    reference
}

/// Removes an image of [`build_test_image_variant`] (errors are ignored: called when tidying).
pub fn remove_test_image_variant(reference: &str) {
    let _ = run(rootful_podman().args(["rmi", "--force", reference]));
}

/// Pushes `source`, an image of rootful podman, to the registry as
/// `<registry>/<repository>:<tag>` (podman does not keep the pushed name locally); the
/// reference.
///
/// A test pushes repositories of its own (its scenario, engine and pid in the name), so that
/// what the registry's log says about one is about that test alone. The password goes on
/// standard input into an auth file of this push alone, never on a command line: tests look for
/// it in every process's command line while other tests push.
pub fn push_image(source: &str, repository: &str, tag: &str) -> String {
    use std::os::unix::fs::DirBuilderExt as _;
    static PUSHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    let reference = format!("{}/{repository}:{tag}", registry_address());
    let push = PUSHES.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("copili-e2e-push-{}-{push}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let auth_file = dir.join("auth.json");
    let login = run_with_stdin(
        rootful_podman()
            .args(["login", "--tls-verify=false", "--username", registry_user(), "--password-stdin", "--authfile"])
            .arg(&auth_file)
            .arg(registry_address()),
        registry_password(),
    );
    let pushed = (login.code() == Some(0)).then(|| {
        run(rootful_podman()
            .args(["push", "--quiet", "--tls-verify=false", "--authfile"])
            .arg(&auth_file)
            .args([source, &reference]))
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(login.code(), Some(0), "logging in to the test registry failed\n{}", login.describe());
    let pushed = pushed.expect("pushed after a login");
    assert_eq!(
        pushed.code(),
        Some(0),
        "pushing {reference} to the test registry failed: run `cargo xtask setup`\n{}",
        pushed.describe()
    );
    reference
}

/// How many manifest requests (`GET` or `HEAD` on `/v2/<repository>/manifests/…`) the
/// registry's access log holds for `repository` (`copili/x`) so far. A client's request is
/// logged when the registry's handler returns, a moment after the client has its answer: the
/// count is read until it stays the same for 100 ms.
pub fn manifest_requests(repository: &str) -> usize {
    let path = engine_setup().get("COPILI_TEST_REGISTRY_LOG");
    let patterns = [format!("\"GET /v2/{repository}/manifests/"), format!("\"HEAD /v2/{repository}/manifests/")];
    let count = || {
        let text = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read the registry log {path}: {e}"));
        let text = String::from_utf8_lossy(&text);
        text.lines().filter(|line| patterns.iter().any(|p| line.contains(p.as_str()))).count()
    };
    let mut last = count();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = count();
        if now == last {
            return now;
        }
        last = now;
    }
}

impl Engine {
    /// Whether the engine has an image of that reference.
    pub fn has_image(self, image: &str) -> bool {
        run(self.client().args(["image", "inspect", "--format", "{{.Id}}", image])).code() == Some(0)
    }

    /// Removes the image (`rmi -f`), trying again while it is still there (see
    /// [`build_test_image_variant`] on podman losing changes); whether it is gone.
    pub fn try_remove_image(self, image: &str) -> bool {
        for _ in 0..3 {
            let _ = run(self.client().args(["rmi", "--force", image]));
            if !self.has_image(image) {
                return true;
            }
        }
        false
    }

    /// Removes the image (`rmi -f`) and fails the test if it is still there.
    pub fn remove_image(self, image: &str) {
        assert!(self.try_remove_image(image), "{self:?} still has {image} after `rmi --force`");
    }

    /// The ids of the images carrying `label` (`KEY=VALUE`); `None` when the engine could not
    /// list them. Tried three times: podman's listing fails now and then while another process
    /// removes an image (`image not known`).
    pub fn try_images_with_label(self, label: &str) -> Option<Vec<String>> {
        let filter = format!("label={label}");
        for _ in 0..3 {
            let output = run(self.client().args(["images", "--quiet", "--filter", &filter]));
            if output.code() == Some(0) {
                let mut ids = lines(&output.stdout());
                ids.sort_unstable();
                ids.dedup();
                return Some(ids);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// The ids of the images carrying `label` (`KEY=VALUE`); fails the test when the engine
    /// cannot list them.
    pub fn images_with_label(self, label: &str) -> Vec<String> {
        self.try_images_with_label(label)
            .unwrap_or_else(|| panic!("{self:?} could not list the images with label {label}"))
    }

    /// Removes every image carrying `label` (a build's, with its older versions); errors are
    /// ignored (an image may go with its child), what remains is returned.
    pub fn remove_images_with_label(self, label: &str) -> Vec<String> {
        for id in self.images_with_label(label) {
            let _ = run(self.client().args(["rmi", "--force", &id]));
        }
        self.images_with_label(label)
    }
}

// --- One test per engine and scenario -----------------------------------------------------------

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

// --- Reading copili's console -------------------------------------------------------------------

use serde_json::Value;

/// Both streams, for lines that may go to either (status lines, the summary).
pub fn all_output(output: &Output) -> String {
    format!("{}{}", output.stdout(), output.stderr())
}

/// The text of `line` if it is a line of the container's own output, prefixed by `prefix`
/// (the container's name, `main/sidecar` for a sidecar's) compose-style: `prefix   | text`;
/// the text is trimmed.
pub fn output_line_text<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let (who, rest) = line.split_once('|')?;
    (who.trim_end() == prefix).then(|| rest.trim())
}

/// Whether `line` is the container's own output `prefix | text` with a text starting with
/// `text_start`.
pub fn is_output_line(line: &str, prefix: &str, text_start: &str) -> bool {
    output_line_text(line, prefix).is_some_and(|text| text.starts_with(text_start))
}

/// Asserts that the container's standard output has the line `text` (exactly), prefixed by
/// `prefix` (see [`output_line_text`]).
pub fn assert_output_line(output: &Output, prefix: &str, text: &str) {
    let found = output.stdout().lines().any(|line| output_line_text(line, prefix) == Some(text));
    assert!(found, "no output line `{prefix} | {text}`\n{}", output.describe());
}

/// Asserts that no line of output (either stream) is a line of the container's own output.
pub fn assert_no_output_from(output: &Output, prefix: &str) {
    let text = all_output(output);
    let found = text.lines().find(|line| output_line_text(line, prefix).is_some());
    assert!(found.is_none(), "`{prefix}` printed output but should not have run\n{}", output.describe());
}

/// Asserts the line saying how `container` ended (`<-- NAME STATUS…`): exactly one, saying
/// `status` and containing `detail`.
pub fn assert_finished(output: &Output, container: &str, status: &str, detail: &str) {
    let text = all_output(output);
    let prefix = format!("<-- {container} ");
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(lines.len(), 1, "expected one line `<-- {container} {status}…`\n{}", output.describe());
    let line = lines[0];
    assert!(
        line[prefix.len()..].starts_with(status) && line.contains(detail),
        "expected `<-- {container} {status}…{detail}…`, found `{line}`\n{}",
        output.describe()
    );
}

/// The row of `container` in the final summary table (`NAME STATUS EXIT-CODE ATTEMPTS …`),
/// split into columns.
pub fn summary_row(output: &Output, container: &str) -> Vec<String> {
    let text = all_output(output);
    let statuses = ["succeeded", "failed", "cancelled", "skipped"];
    text.lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|cols| cols.len() >= 4 && cols[0] == container && statuses.contains(&cols[1].as_str()))
        .unwrap_or_else(|| {
            panic!("no row for `{container}` in a summary table (issue 4, item 6)\n{}", output.describe())
        })
}

/// Asserts the summary row of `container`: status, exit code (`-` for none), attempts.
pub fn assert_summary(output: &Output, container: &str, status: &str, exit_code: &str, attempts: &str) {
    let row = summary_row(output, container);
    assert_eq!(
        &row[1..4],
        &[status.to_string(), exit_code.to_string(), attempts.to_string()],
        "summary row of `{container}`: {row:?}\n{}",
        output.describe()
    );
}

// --- The JSON report ----------------------------------------------------------------------------

/// The JSON report copili wrote with `--report FILE` (issue 4, item 6).
pub fn read_report(path: &Path, output: &Output) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("copili wrote no report to {} (--report, issue 4 item 6): {e}\n{}", path.display(), output.describe())
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the report is not JSON: {e}\n{text}"))
}

/// The entry of the report's list `list` (`containers`, `images`) whose `key` is `value`.
pub fn report_item<'a>(report: &'a Value, list: &str, key: &str, value: &str) -> &'a Value {
    report[list]
        .as_array()
        .unwrap_or_else(|| panic!("the report has no `{list}` list: {report:#}"))
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no `{value}` ({key}) in the report's `{list}`: {report:#}"))
}

/// The report's entry of `container` in its `containers` list.
pub fn report_entry<'a>(report: &'a Value, container: &str) -> &'a Value {
    report_item(report, "containers", "name", container)
}

/// Asserts that the `reason` of a report's entry (of a container or an image, named `what`)
/// contains `reason`, or is null for `None`.
pub fn assert_reason(entry: &Value, what: &str, reason: Option<&str>) {
    match reason {
        Some(reason) => assert!(
            entry["reason"].as_str().is_some_and(|r| r.contains(reason)),
            "{what}: the reason should contain `{reason}`: {entry:#}"
        ),
        None => assert!(entry["reason"].is_null(), "{what}: no reason expected: {entry:#}"),
    }
}

/// Asserts the status of `container`'s entry in the report and its reason (see
/// [`assert_reason`]).
pub fn assert_report_status(report: &Value, container: &str, status: &str, reason: Option<&str>) {
    let entry = report_entry(report, container);
    assert_eq!(entry["status"], status, "{container}: {entry:#}");
    assert_reason(entry, container, reason);
}

// --- Time, without a date library ---------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day since 1970-01-01 (`civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// Seconds since the epoch of an RFC 3339 time (`2026-11-25T12:00:00Z`,
/// `2026-11-25T12:00:00.25+01:00`, …); `None` if it is not one: digits where the date and
/// time have them, `-`, `T` and `:` between them, an optional fraction (`.` and digits), and
/// `Z` or an offset `±HH:MM`.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let digits = |range: std::ops::Range<usize>| {
        let part = text.get(range)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse::<i64>().ok())?
    };
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || bytes[10] != b'T'
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let days = days_from_civil(digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let mut seconds = (days * 86_400 + digits(11..13)? * 3600 + digits(14..16)? * 60 + digits(17..19)?) as f64;
    let rest = &text[19..];
    let zone_at = rest.find(['Z', '+', '-'])?;
    let fraction = &rest[..zone_at];
    if !fraction.is_empty() {
        let fraction_digits = fraction.strip_prefix('.')?;
        if fraction_digits.is_empty() || !fraction_digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        seconds += format!("0{fraction}").parse::<f64>().ok()?;
    }
    let zone = &rest[zone_at..];
    if zone != "Z" {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = zone[1..].split_once(':')?;
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hours) || !two_digits(minutes) {
            return None;
        }
        let offset = hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60;
        seconds -= (sign * offset) as f64;
    }
    Some(seconds)
}

/// Whether `text` is an RFC 3339 time (see [`parse_rfc3339`]).
pub fn is_rfc3339(text: &str) -> bool {
    parse_rfc3339(text).is_some()
}

/// `2026-11-25T00:00:00Z` for a whole number of seconds since the epoch.
pub fn format_rfc3339(unix: i64) -> String {
    let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
    let second_of_day = unix.rem_euclid(86_400);
    let (hour, minute, second) = (second_of_day / 3600, second_of_day % 3600 / 60, second_of_day % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// Seconds since the epoch, now.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::SystemTime::UNIX_EPOCH).expect("after 1970").as_secs_f64()
}

// --- The scene of one engine test ---------------------------------------------------------------

/// One test's pipeline identity (`e2e-<scenario>-<engine>-<pid>`, so that tests run in parallel
/// with each other and with another `cargo test` in the same tree), further identities it runs
/// under, and its private directory (under /tmp, usable by the user copili runs as), on one
/// engine.
///
/// When the scene is dropped after a failure, what its identities left on the engine is
/// removed (after the assertions have seen it), so that a failure does not pollute the next
/// run; their lock files are removed always.
#[derive(Debug)]
pub struct Scene {
    /// The engine variant the test runs on.
    pub engine: Engine,
    /// The test's pipeline identity (`--name`).
    pub identity: String,
    /// Further identities the test runs under (`--name`, or a file's top-level key).
    others: Vec<String>,
    dir: tempfile::TempDir,
}

impl Scene {
    /// A scene of `scenario` (`_` become `-` in the identity) on `engine`, which must be ready
    /// (see [`Engine::assert_ready`]).
    pub fn new(engine: Engine, scenario: &str) -> Scene {
        engine.assert_ready();
        let identity = format!("e2e-{}-{}-{}", scenario.replace('_', "-"), engine.slug(), std::process::id());
        let dir = tempfile::Builder::new().prefix("copili-e2e-").tempdir_in("/tmp").expect("a temporary directory");
        engine.hand_over_dir(dir.path());
        Scene { engine, identity, others: Vec::new(), dir }
    }

    /// The scene's private directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Another identity for this test, `<identity>-<suffix>`, cleaned up with the scene.
    pub fn other_identity(&mut self, suffix: &str) -> String {
        let identity = format!("{}-{suffix}", self.identity);
        self.others.push(identity.clone());
        identity
    }

    /// The path of `relative` in the scene's directory.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Copies `tests/fixtures/run/<name>` into the scene's directory (relative host paths in
    /// it resolve there); the copy's absolute path.
    pub fn fixture(&self, name: &str) -> PathBuf {
        self.copy_in(&repo_root().join("tests/fixtures/run").join(name))
    }

    /// Copies a file of the repository into the scene's directory, which the rootless user can
    /// read wherever the checkout is; the copy's absolute path.
    pub fn copy_in(&self, source: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let name = source.file_name().expect("a file name");
        let target = self.dir.path().join(name);
        std::fs::copy(source, &target).unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod a copy");
        target
    }

    /// Writes a file of the scene (its directories made and handed over first, see
    /// [`Scene::make_dirs`]), readable by every user; its absolute path.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.path(relative);
        let parent = path.parent().expect("a file in the scene's directory");
        self.make_dirs(parent);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod a file");
        path
    }

    /// Creates `dir` and its missing parents, each handed over to the user copili runs as
    /// (see [`Engine::hand_over_dir`]).
    pub fn make_dirs(&self, dir: &Path) {
        if dir.is_dir() {
            return;
        }
        if let Some(parent) = dir.parent() {
            self.make_dirs(parent);
        }
        std::fs::create_dir(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        self.engine.hand_over_dir(dir);
    }

    /// A directory of the scene that every container user may write to (rootless podman's
    /// containers write as a mapped uid); its path.
    pub fn shared_dir(&self, relative: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = self.path(relative);
        std::fs::create_dir_all(&dir).expect("create a directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod a directory");
        dir
    }

    /// `copili` in the scene's directory, as the engine variant runs it (see
    /// [`Engine::copili`]).
    pub fn copili(&self) -> Command {
        self.engine.copili(self.dir.path())
    }

    /// `copili SUBCOMMAND FILE --name IDENTITY --engine ENGINE`, run in the scene's directory.
    pub fn command_as(&self, subcommand: &str, file: &Path, identity: &str) -> Command {
        let mut command = self.copili();
        command.arg(subcommand).arg(file).args(["--name", identity, "--engine", self.engine.engine_arg()]);
        command
    }

    /// `copili run FILE --name IDENTITY --engine ENGINE` under the scene's identity, run in
    /// the scene's directory.
    pub fn run_command(&self, file: &Path) -> Command {
        self.command_as("run", file, &self.identity)
    }

    /// Fails the test when anything with the scene's identity is left on the engine.
    pub fn assert_no_leftovers(&self) {
        self.engine.assert_no_leftovers(&self.identity);
    }

    /// Names of the running containers of the scene's identity with role `role` (`main`,
    /// `sidecar`).
    pub fn running(&self, role: &str) -> Vec<String> {
        self.with_role(role, false)
    }

    /// Names of the containers (any state) of the scene's identity with role `role`.
    pub fn created(&self, role: &str) -> Vec<String> {
        self.with_role(role, true)
    }

    fn with_role(&self, role: &str, all: bool) -> Vec<String> {
        let pipeline = format!("io.copili.pipeline={}", self.identity);
        let role = format!("io.copili.role={role}");
        self.engine.containers_with_labels(&[&pipeline, &role], all)
    }

    /// Names of `identity`'s running containers of pipeline container `container`.
    pub fn running_container(&self, identity: &str, container: &str) -> Vec<String> {
        let pipeline = format!("io.copili.pipeline={identity}");
        let container = format!("io.copili.container={container}");
        self.engine.containers_with_labels(&[&pipeline, &container], false)
    }

    /// A stand-in for the engine's client in the directory `fake-bin/` of the scene, for a
    /// `PATH` of that directory alone: it records each call in `engine-calls` and fails.
    pub fn fake_engine(&self) -> FakeEngine {
        use std::os::unix::fs::PermissionsExt as _;
        let bin = self.path("fake-bin");
        self.make_dirs(&bin);
        let calls = self.path("engine-calls");
        let fake = bin.join(self.engine.client_name());
        std::fs::write(&fake, format!("#!/bin/sh\necho \"$0 $*\" >> '{}'\nexit 1\n", calls.display()))
            .expect("write the fake engine");
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod the fake engine");
        FakeEngine { bin, calls }
    }

    /// Removes whatever the scene's identities left on the engine (see
    /// [`Engine::remove_leftovers`]); done when a failed test's scene is dropped.
    pub fn remove_leftovers(&self) {
        for identity in std::iter::once(&self.identity).chain(&self.others) {
            self.engine.remove_leftovers(identity);
        }
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.remove_leftovers();
        }
        // Tidying only: the identities are this test process's own, their lock files (in
        // copili's per-user lock directory: `$XDG_RUNTIME_DIR/copili` or `/tmp/copili-<uid>`)
        // would otherwise stay behind, one per test and run.
        for identity in std::iter::once(&self.identity).chain(&self.others) {
            let lock = format!("{identity}.lock");
            let _ = std::fs::remove_file(std::env::temp_dir().join("copili-0").join(&lock));
            if self.engine == Engine::RootlessPodman {
                let runtime_dir = engine_setup().get("COPILI_TEST_ROOTLESS_XDG_RUNTIME_DIR");
                let _ = std::fs::remove_file(Path::new(runtime_dir).join("copili").join(&lock));
            }
        }
    }
}

/// An engine client that records its calls and fails (see [`Scene::fake_engine`]): proof that
/// a dry run or a plan ran no engine.
#[derive(Debug)]
pub struct FakeEngine {
    /// The directory holding the stand-in, for `PATH`.
    pub bin: PathBuf,
    /// The file each call is appended to.
    pub calls: PathBuf,
}

impl FakeEngine {
    /// Fails the test if the stand-in was called.
    pub fn assert_not_called(&self) {
        assert!(!self.calls.exists(), "the dry run ran the engine: {:?}", std::fs::read_to_string(&self.calls));
    }
}
