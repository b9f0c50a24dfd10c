//! Helpers for the end-to-end tests: the real `copili` binary, run in a clean environment from
//! the repository root, and its output made stable for snapshots.
//!
//! Cargo builds the binaries of the package under test for its integration tests, but this
//! crate tests another package's binary, so [`copili`] builds it itself (once per test
//! process; a no-op when it is up to date).

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
use std::sync::Arc;
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

/// A process running in the background with its output collected; killed (SIGKILL) and
/// waited for if dropped before [`Running::wait`], so a failing test leaves no process.
#[derive(Debug)]
pub struct Running {
    child: std::process::Child,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
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
        let collect = |mut stream: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = stream.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = Some(collect(Box::new(child.stdout.take().expect("stdout is piped"))));
        let stderr = Some(collect(Box::new(child.stderr.take().expect("stderr is piped"))));
        Running { child, stdout, stderr, started }
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
    /// test fails, showing what it printed.
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
        let output = Output {
            raw: std::process::Output {
                status,
                stdout: self.stdout.take().map(|t| t.join().expect("the reader does not panic")).unwrap_or_default(),
                stderr: self.stderr.take().map(|t| t.join().expect("the reader does not panic")).unwrap_or_default(),
            },
        };
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
        // Copies of earlier test processes are no longer needed.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path != target && path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("copili-")) {
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
