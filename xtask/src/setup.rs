//! `cargo xtask setup`: installs and starts the container engines copili's tests and demo run
//! against, builds their test image, and checks each engine with a real container.
//!
//! The machines copili is developed and tested on (Debian 12, root, no internet but the package
//! registries) start with a `docker` client only: no engine, no image, no registry. CI starts
//! from such a machine every time, so [`ensure`] does everything itself, in order, and every step
//! is idempotent: on a machine already set up it only checks, in a few seconds. A step that
//! cannot do its job fails the whole command with the step's name and the failing command's
//! stderr; nothing is skipped silently, since a test that skips for want of an engine is not a
//! passing test. The facts behind each step were verified on this machine kind and are written
//! down in `ENGINE-NOTES.md` (shared with the project). The steps:
//!
//! 1. **Packages.** `podman runc docker.io busybox-static docker-registry apache2-utils uidmap
//!    slirp4netns`, plus three that podman only *recommends*, which ENGINE-NOTES' verified
//!    install (with recommends) brought: `netavark` and `aardvark-dns`, the network backend
//!    whose DNS resolves a sidecar's `--network-alias` (without them `apt-get
//!    --no-install-recommends` satisfies podman with the CNI plugins, which resolve no names
//!    without the separate dnsname plugin), and `catatonit`, rootless podman's pause process
//!    (`catatonit -P`) and `--init`; `iproute2` (`ip`) for step 7; `fish` and `groff-base`, for
//!    the tests of `copili completions fish` and `copili man` (tests/cli.rs); `debootstrap` for
//!    step 8. Installed with
//!    `apt-get --no-install-recommends` when `dpkg-query` does not report them `install ok
//!    installed`.
//! 2. **containers.conf** in `target/test-env/`: `runtime = "runc"` because podman's default
//!    runtime `crun` fails here (`setrlimit RLIMIT_NOFILE: Operation not permitted`, then
//!    `cgroups in hybrid mode not supported`), and `default_ulimits` of 1024 because the process
//!    lacks `CAP_SYS_RESOURCE` (hard `nofile` limit 20000) and podman's defaults are higher.
//!    This is a host setting, not copili's: whoever runs podman passes the file in the
//!    `CONTAINERS_CONF` environment variable ([`EngineEnv::containers_conf`]); /etc is never
//!    touched. Without it, `podman run` exits 126 with `error setting rlimit type 7: operation
//!    not permitted`.
//! 3. **dockerd.** Nothing starts it on these machines (no systemd, and background processes do
//!    not survive a restart), so when `docker info` fails it is started in its own session
//!    (`setsid`, so neither a terminal hang-up nor a test harness killing xtask's process group
//!    stops it), logging to `target/test-env/dockerd.log`, and `docker info` is polled until it
//!    answers. Two docker clients exist afterwards, `/usr/local/bin/docker` (28.x, first on
//!    `PATH`) and Debian's `/usr/bin/docker` (20.10); both speak to the 20.10 daemon, and the
//!    one on `PATH` is used, as copili would.
//!    Then Docker Swarm mode: when `docker info` says the node is not part of a swarm,
//!    `docker swarm init --advertise-addr 127.0.0.1` makes it a one-node swarm for the swarm
//!    backend's tests; plain containers keep working beside it.
//! 4. **Test image** [`TEST_IMAGE`], built offline (nothing can be pulled) from Debian's static
//!    busybox: a root filesystem of `/bin/busybox` and one symlink per applet, tarred and
//!    imported into rootful podman and docker unless already there. Then a container per engine
//!    must exit 0 (`true`) and 3 (`sh -c 'exit 3'`).
//! 5. **Rootless podman**, a first-class target: user [`ROOTLESS_USER`] (`useradd -m` also
//!    gives its subuid/subgid ranges; one is added if missing), `/dev/net/tun` made 0666 (it is
//!    0600 here and slirp4netns opens it as that user), `/run/user/<uid>` owned by the user with
//!    mode 0700 for `XDG_RUNTIME_DIR`, and a copy of containers.conf and of the image tar in the
//!    user's home (the checkout may be under /root, which the user cannot read). The image is
//!    imported for the user, then containers run with `--network none`, on the default network
//!    and on a user-created network. See [`RootlessUser::podman`] for how podman is run as the
//!    user.
//! 6. **Registry**: a real registry with authentication, on loopback, for the image tests: the
//!    CNCF distribution registry (`docker-registry serve`) on [`REGISTRY_ADDR`], htpasswd
//!    (bcrypt, `htpasswd -Bbn`) with user [`REGISTRY_USER`], its storage and config in
//!    `target/test-env/registry/`, started in its own session like dockerd when `/v2/` does
//!    not answer, its access log (tests count manifest requests in it) in
//!    `target/test-env/registry.log`. The test image is pushed to it as
//!    `copili/busybox:latest` (podman `--creds`: the password is the tests' own, not a secret),
//!    and an unauthenticated pull must be refused.
//! 7. **Swarm cluster**: a two-node Docker Swarm on this host, each node a docker daemon in a
//!    network namespace of its own, for the tests that run a pipeline across nodes (see
//!    [`crate::cluster`]; `ip` from `iproute2` makes the namespaces).
//! 8. **Debian image** [`crate::debian_image::DEBIAN_IMAGE`]: Debian bookworm with PostgreSQL 15
//!    and Redis 7 (servers and clients), for the knowledge-graph example that
//!    `tests/realistic.rs` runs: built once with `debootstrap` from Debian's mirror (about a
//!    minute), cached in `/var/cache/copili-test/` outside the checkout (keyed on the package
//!    list), imported into rootful and rootless podman, docker and both swarm nodes where it is
//!    missing or stale (see [`crate::debian_image`]). `cargo xtask setup debian-image` runs
//!    only this step (and step 1 and the summary) on a machine set up already.
//! 9. **Argo schema**: Argo Workflows' published schema and a validator for it, for the export
//!    tests, installed with npm (see [`crate::argo_schema`]).
//! 10. **Summary**: engine versions (and podman's OCI runtime and network backend, which prove
//!     the containers.conf is read), and what a test needs, also written as `KEY=VALUE` lines
//!     to `target/test-env/engines.env` ([`ENGINES_ENV_FILE`]).

use std::collections::BTreeSet;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{display_command, reject_unknown_option, target_dir, Error, Result};

/// The image every engine test runs: busybox only, so it has `sh`, `true`, `sleep`, `env`,
/// `wget`, `httpd`, ….
pub(crate) const TEST_IMAGE: &str = "localhost/copili-test:latest";

/// The unprivileged user rootless podman runs as.
pub(crate) const ROOTLESS_USER: &str = "copili-rl";

/// The file, in the test environment directory, that lists what a test needs as `KEY=VALUE`
/// lines.
pub(crate) const ENGINES_ENV_FILE: &str = "engines.env";

/// The Debian packages the engines and tests need; see step 1 in the module documentation for
/// the last three.
const PACKAGES: &[&str] = &[
    "podman",
    "runc",
    "docker.io",
    "busybox-static",
    "docker-registry",
    "apache2-utils",
    "uidmap",
    "slirp4netns",
    "netavark",
    "aardvark-dns",
    "catatonit",
    "iproute2",
    "fish",
    "groff-base",
    "debootstrap",
];

/// podman's settings for this host (see step 2 in the module documentation), exactly as
/// verified in ENGINE-NOTES.
const CONTAINERS_CONF: &str = "\
[containers]
default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]
[engine]
runtime = \"runc\"
";

/// The network the rootless check creates and removes again.
const SETUP_CHECK_NETWORK: &str = "copili-setup-check";

/// The `PATH` podman runs with as the rootless user: Debian's default, so that podman finds
/// conmon, runc, slirp4netns and newuidmap, and netavark finds `iptables` in /usr/sbin (without
/// it, a container on a network fails with `Error: netavark: No such file or directory`).
const ROOTLESS_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long dockerd may take to answer after it was started.
const DOCKERD_TIMEOUT: Duration = Duration::from_secs(60);

/// Lines of a failing command's stderr (or of dockerd's log) shown in an error.
const TAIL_LINES: usize = 25;

/// Number of steps, for the `[n/10]` headers.
const N_STEPS: usize = 10;

/// Where the test registry listens (plain HTTP on loopback, which docker allows by default).
pub(crate) const REGISTRY_ADDR: &str = "127.0.0.1:5858";
/// The test registry's user.
pub(crate) const REGISTRY_USER: &str = "copili";
/// The test registry's password: tests grep for it in every output they see.
pub(crate) const REGISTRY_PASSWORD: &str = "Reg1stry-pa55-9f3c1d";
/// The image every engine test can pull from the registry.
pub(crate) const REGISTRY_IMAGE: &str = "copili/busybox:latest";

/// What the tests need to know about the engines [`ensure`] set up.
#[derive(Debug)]
pub(crate) struct EngineEnv {
    /// The test environment directory, `<target>/test-env`.
    pub(crate) dir: PathBuf,
    /// The containers.conf rootful podman needs, passed in the `CONTAINERS_CONF` variable.
    pub(crate) containers_conf: PathBuf,
    /// The docker client used, the first `docker` on `PATH`.
    pub(crate) docker: PathBuf,
    /// The user rootless podman runs as.
    pub(crate) rootless: RootlessUser,
    /// What each engine reported about itself.
    pub(crate) versions: Versions,
    /// The registry's access log.
    pub(crate) registry_log: PathBuf,
    /// The two-node swarm.
    pub(crate) cluster: crate::cluster::Cluster,
}

/// The unprivileged user for rootless podman, and where its podman finds its settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RootlessUser {
    /// The login name, [`ROOTLESS_USER`].
    pub(crate) name: String,
    /// Its numeric user id.
    pub(crate) uid: u32,
    /// Its primary group id.
    pub(crate) gid: u32,
    /// Its home directory.
    pub(crate) home: PathBuf,
    /// `/run/user/<uid>`, its `XDG_RUNTIME_DIR`.
    pub(crate) xdg_runtime_dir: PathBuf,
    /// Its readable copy of containers.conf, passed in `CONTAINERS_CONF`.
    pub(crate) containers_conf: PathBuf,
}

/// Versions and settings the engines report, shown in the summary.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Versions {
    /// Rootful podman: `<version> <oci runtime> <network backend>`.
    pub(crate) podman: String,
    /// Rootless podman, same fields.
    pub(crate) rootless_podman: String,
    /// The docker client used.
    pub(crate) docker_client: String,
    /// The docker daemon.
    pub(crate) docker_server: String,
}

impl RootlessUser {
    /// `podman` run as this user: `runuser -u USER -- env -i PATH=… HOME=… USER=… LOGNAME=…
    /// XDG_RUNTIME_DIR=… CONTAINERS_CONF=… podman`, from the user's home.
    ///
    /// Why `runuser` and not `su - USER -c '…'`: both work as root without a terminal here, but
    /// `runuser` passes podman's arguments as they are rather than through a shell command line
    /// that would need quoting, and runs no login shell whose profile could change the
    /// environment. Why `env -i`: root's own environment
    /// (`XDG_RUNTIME_DIR=/run/user/0`, a `CONTAINERS_*` or `TMPDIR` variable, …) must not leak
    /// into the user's podman, which would then try to use root's directories. The working
    /// directory is the user's home because podman, re-executing itself in the user namespace,
    /// fails in a directory the user cannot enter (`cannot chdir to /root: Permission denied`).
    pub(crate) fn podman(&self) -> Command {
        let mut command = Command::new("runuser");
        command.args(["-u", &self.name, "--", "env", "-i"]);
        command.arg(format!("PATH={ROOTLESS_PATH}"));
        command.arg(env_assignment("HOME", &self.home));
        command.arg(format!("USER={}", self.name));
        command.arg(format!("LOGNAME={}", self.name));
        command.arg(env_assignment("XDG_RUNTIME_DIR", &self.xdg_runtime_dir));
        command.arg(env_assignment("CONTAINERS_CONF", &self.containers_conf));
        command.arg("podman");
        command.current_dir(&self.home);
        command
    }
}

fn env_assignment(name: &str, path: &Path) -> String {
    format!("{name}={}", path.display())
}

impl EngineEnv {
    /// rootful `podman` with [`EngineEnv::containers_conf`] in its environment.
    pub(crate) fn podman(&self) -> Command {
        podman_command(&self.containers_conf)
    }

    /// The docker client.
    pub(crate) fn docker(&self) -> Command {
        Command::new(&self.docker)
    }

    /// The `KEY=VALUE` pairs of [`ENGINES_ENV_FILE`], in order.
    pub(crate) fn vars(&self) -> Vec<(&'static str, String)> {
        let path = |path: &Path| path.display().to_string();
        vec![
            ("COPILI_TEST_IMAGE", TEST_IMAGE.to_string()),
            ("CONTAINERS_CONF", path(&self.containers_conf)),
            ("COPILI_TEST_DOCKER", path(&self.docker)),
            ("COPILI_TEST_ROOTLESS_USER", self.rootless.name.clone()),
            ("COPILI_TEST_ROOTLESS_UID", self.rootless.uid.to_string()),
            ("COPILI_TEST_ROOTLESS_HOME", path(&self.rootless.home)),
            ("COPILI_TEST_ROOTLESS_XDG_RUNTIME_DIR", path(&self.rootless.xdg_runtime_dir)),
            ("COPILI_TEST_ROOTLESS_CONTAINERS_CONF", path(&self.rootless.containers_conf)),
            ("COPILI_TEST_REGISTRY", REGISTRY_ADDR.to_string()),
            ("COPILI_TEST_REGISTRY_USER", REGISTRY_USER.to_string()),
            ("COPILI_TEST_REGISTRY_PASSWORD", REGISTRY_PASSWORD.to_string()),
            ("COPILI_TEST_REGISTRY_IMAGE", format!("{REGISTRY_ADDR}/{REGISTRY_IMAGE}")),
            ("COPILI_TEST_REGISTRY_LOG", path(&self.registry_log)),
            ("COPILI_TEST_ARGO_VALIDATOR", path(&crate::argo_schema::validator_path(&self.dir))),
            ("COPILI_TEST_CLUSTER_MANAGER", self.cluster.manager.clone()),
            ("COPILI_TEST_CLUSTER_WORKER", self.cluster.worker.clone()),
            ("COPILI_TEST_CLUSTER_NODE_LABEL", crate::cluster::NODE_LABEL.to_string()),
            ("COPILI_TEST_DEBIAN_IMAGE", crate::debian_image::DEBIAN_IMAGE.to_string()),
        ]
    }
}

fn podman_command(containers_conf: &Path) -> Command {
    let mut command = Command::new("podman");
    command.env("CONTAINERS_CONF", containers_conf);
    command
}

/// Runs `cargo xtask setup`, or `cargo xtask setup debian-image` (see [`ensure_debian_image_only`]).
pub(crate) fn run(args: &[String]) -> Result {
    match args {
        [] => ensure().map(|_| ()),
        [only] if only == "debian-image" => ensure_debian_image_only(),
        [arg, ..] => reject_unknown_option(arg),
    }
}

/// Installs, starts and checks everything the engine tests need (the steps of the module
/// documentation), printing a header per step, and returns what the tests need to know.
pub(crate) fn ensure() -> Result<EngineEnv> {
    let mut progress = Progress::new();
    let dir = target_dir()?.join("test-env");

    progress.step("packages");
    progress.done(ensure_packages().map_err(|error| progress.failed(error))?);

    progress.step("containers.conf");
    let containers_conf = dir.join("containers.conf");
    progress.done(ensure_containers_conf(&dir, &containers_conf).map_err(|error| progress.failed(error))?);

    progress.step("dockerd");
    let docker = find_in_path("docker").ok_or_else(|| progress.failed(Error::Failed("no `docker` on PATH".into())))?;
    let dockerd = ensure_dockerd(&docker, &dir.join("dockerd.log")).map_err(|error| progress.failed(error))?;
    let swarm = ensure_swarm(&docker).map_err(|error| progress.failed(error))?;
    progress.done(format!("{dockerd}; {swarm}"));

    progress.step("test image");
    let mut image_tar = ImageTar::new(&dir);
    let outcome = ensure_image(&containers_conf, &docker, &mut image_tar).map_err(|error| progress.failed(error))?;
    progress.done(outcome);

    progress.step("rootless podman");
    let rootless = ensure_rootless_user(&containers_conf).map_err(|error| progress.failed(error))?;
    progress.done(ensure_rootless_podman(&rootless, &mut image_tar).map_err(|error| progress.failed(error))?);

    progress.step("registry");
    let registry_log = dir.join("registry.log");
    progress.done(ensure_registry(&dir, &registry_log, &containers_conf).map_err(|error| progress.failed(error))?);

    progress.step("swarm cluster");
    let (cluster, outcome) =
        crate::cluster::ensure(&docker, &dir, &mut image_tar).map_err(|error| progress.failed(error))?;
    progress.done(outcome);

    progress.step("debian image");
    let targets = crate::debian_image::Targets {
        containers_conf: &containers_conf,
        docker: &docker,
        rootless: &rootless,
        cluster: &cluster,
    };
    progress.done(crate::debian_image::ensure(&targets).map_err(|error| progress.failed(error))?);

    progress.step("argo schema");
    progress.done(crate::argo_schema::ensure(&dir).map_err(|error| progress.failed(error))?);

    progress.step("summary");
    let mut env =
        EngineEnv { dir, containers_conf, docker, rootless, versions: Versions::default(), registry_log, cluster };
    env.versions = versions(&env).map_err(|error| progress.failed(error))?;
    let env_file = env.dir.join(ENGINES_ENV_FILE);
    write_if_changed(&env_file, &render_env_file(&env.versions, &env.vars()).map_err(Error::Failed)?)
        .map_err(|error| progress.failed(error))?;
    print_summary(&env, &env_file);
    progress.done(format!("engines ready, written to {}", env_file.display()));
    Ok(env)
}

/// `cargo xtask setup debian-image`: step 1 (packages, for debootstrap) and step 8 (the Debian
/// image) only, then the summary, on a machine the other steps set up already. Nothing is
/// started, stopped or reconfigured: the engines are only asked whether they have the image.
fn ensure_debian_image_only() -> Result {
    let mut progress = Progress::of(3);
    let dir = target_dir()?.join("test-env");

    progress.step("packages");
    progress.done(ensure_packages().map_err(|error| progress.failed(error))?);

    progress.step("debian image");
    let containers_conf = dir.join("containers.conf");
    let docker = find_in_path("docker").ok_or_else(|| progress.failed(Error::Failed("no `docker` on PATH".into())))?;
    if !containers_conf.is_file() {
        return Err(progress.failed(Error::Failed(format!(
            "{} is missing: run `cargo xtask setup` (all steps) first",
            containers_conf.display()
        ))));
    }
    let rootless = ensure_rootless_user(&containers_conf).map_err(|error| progress.failed(error))?;
    let cluster = crate::cluster::Cluster::new();
    let targets = crate::debian_image::Targets {
        containers_conf: &containers_conf,
        docker: &docker,
        rootless: &rootless,
        cluster: &cluster,
    };
    progress.done(crate::debian_image::ensure(&targets).map_err(|error| progress.failed(error))?);

    progress.step("summary");
    let registry_log = dir.join("registry.log");
    let mut env =
        EngineEnv { dir, containers_conf, docker, rootless, versions: Versions::default(), registry_log, cluster };
    env.versions = versions(&env).map_err(|error| progress.failed(error))?;
    let env_file = env.dir.join(ENGINES_ENV_FILE);
    write_if_changed(&env_file, &render_env_file(&env.versions, &env.vars()).map_err(Error::Failed)?)
        .map_err(|error| progress.failed(error))?;
    progress.done(format!("written to {}", env_file.display()));
    Ok(())
}

/// Step headers and timings.
struct Progress {
    started: Instant,
    step_started: Instant,
    step_idx: usize,
    n_steps: usize,
    step_name: &'static str,
}

impl Progress {
    fn new() -> Progress {
        Progress::of(N_STEPS)
    }

    fn of(n_steps: usize) -> Progress {
        let now = Instant::now();
        Progress { started: now, step_started: now, step_idx: 0, n_steps, step_name: "" }
    }

    fn step(&mut self, name: &'static str) {
        self.step_idx += 1;
        self.step_name = name;
        self.step_started = Instant::now();
        eprintln!("==> [{}/{}] setup: {name} (at {})", self.step_idx, self.n_steps, seconds(self.started.elapsed()));
    }

    fn done(&self, outcome: String) {
        eprintln!("    {outcome}");
        eprintln!("    {} ok in {}", self.step_name, seconds(self.step_started.elapsed()));
        if self.step_idx == self.n_steps {
            eprintln!("==> setup done in {}", seconds(self.started.elapsed()));
        }
    }

    /// The error of the current step, with the step named.
    fn failed(&self, error: Error) -> Error {
        let elapsed = seconds(self.step_started.elapsed());
        match error {
            Error::Failed(message) => {
                Error::Failed(format!("setup step `{}` failed after {elapsed}: {message}", self.step_name))
            }
            usage @ Error::Usage(_) => usage,
        }
    }
}

pub(crate) fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// Running commands

/// Runs `command` with its output captured; fails only if it cannot be started.
pub(crate) fn output(command: &mut Command) -> Result<Output> {
    command.stdin(Stdio::null());
    command.output().map_err(|error| Error::Failed(format!("cannot start `{}`: {error}", display_command(command))))
}

/// Runs `command` with its output captured; fails unless it exits 0, with its stderr.
pub(crate) fn checked(command: &mut Command) -> Result<Output> {
    let output = output(command)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(command_failed(command, &output, "failed"))
    }
}

/// Runs `command`, which must exit with `expected_code`.
fn expect_exit_code(command: &mut Command, expected_code: i32) -> Result {
    let output = output(command)?;
    if output.status.code() == Some(expected_code) {
        Ok(())
    } else {
        Err(command_failed(command, &output, &format!("should have exited with {expected_code}")))
    }
}

/// `command`'s trimmed stdout; it must exit 0.
pub(crate) fn stdout_of(command: &mut Command) -> Result<String> {
    let output = checked(command)?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

pub(crate) fn command_failed(command: &Command, output: &Output, what: &str) -> Error {
    let mut message = format!("`{}` {what} ({})", display_command(command), output.status);
    for (name, bytes) in [("stderr", &output.stderr), ("stdout", &output.stdout)] {
        let text = String::from_utf8_lossy(bytes);
        if !text.trim().is_empty() {
            message.push_str(&format!("\n--- {name} (last {TAIL_LINES} lines) ---\n{}", tail(&text, TAIL_LINES)));
        }
    }
    Error::Failed(message)
}

/// The last `n_lines` lines of `text`, without trailing blank lines.
fn tail(text: &str, n_lines: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n_lines)..].join("\n")
}

pub(crate) fn io_failed(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::Failed(format!("cannot {what} {}: {error}", path.display()))
}

/// Writes `content` to `path` unless it already holds exactly that; says whether it wrote.
fn write_if_changed(path: &Path, content: &str) -> Result<bool> {
    match fs::read_to_string(path) {
        Ok(existing) if existing == content => return Ok(false),
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => return Err(io_failed("read", path, error)),
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|error| io_failed("create", parent, error))?;
    }
    fs::write(path, content).map_err(|error| io_failed("write", path, error))?;
    Ok(true)
}

/// The first executable file called `program` in the directories of `PATH`.
fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| {
        fs::metadata(candidate).is_ok_and(|metadata| metadata.is_file() && metadata.mode() & 0o111 != 0)
    })
}

// ---------------------------------------------------------------------------------------------
// Step 1: packages

fn ensure_packages() -> Result<String> {
    let mut query = Command::new("dpkg-query");
    query.args(["-W", "-f=${Package}\\t${Status}\\n"]).args(PACKAGES);
    // dpkg-query exits 1 when it knows nothing of a package: that is an answer, not an error.
    let output = output(&mut query)?;
    let missing = missing_packages(&String::from_utf8_lossy(&output.stdout), PACKAGES);
    if missing.is_empty() {
        return Ok(format!("all {} packages installed", PACKAGES.len()));
    }
    let install_line = format!("apt-get install -y --no-install-recommends {}", missing.join(" "));
    if !is_root()? {
        return Err(Error::Failed(format!(
            "packages missing: {}; setup needs root for them and for the other steps (dockerd, rootful \
             podman, user {ROOTLESS_USER}): run `sudo cargo xtask setup`, or as root: `apt-get update && {install_line}`",
            missing.join(" ")
        )));
    }
    eprintln!("    missing: {}; apt-get update, then {install_line}", missing.join(" "));
    let mut update = Command::new("apt-get");
    update.arg("update").env("DEBIAN_FRONTEND", "noninteractive");
    checked(&mut update)?;
    let mut install = Command::new("apt-get");
    install.args(["install", "-y", "--no-install-recommends"]).args(&missing).env("DEBIAN_FRONTEND", "noninteractive");
    checked(&mut install)?;
    Ok(format!("installed {}", missing.join(" ")))
}

/// The packages of `wanted` that `dpkg-query -W -f='${Package}\t${Status}\n'` output does not
/// list as `install ok installed` (removed packages with configuration left are listed, with
/// another status; unknown ones are not listed at all).
fn missing_packages(dpkg_query_stdout: &str, wanted: &[&str]) -> Vec<String> {
    let installed: BTreeSet<&str> = dpkg_query_stdout
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .filter(|(_, status)| status.trim() == "install ok installed")
        // A multi-arch package may be listed as `name:arch`.
        .map(|(package, _)| package.split(':').next().unwrap_or(package))
        .collect();
    wanted.iter().filter(|package| !installed.contains(*package)).map(|package| package.to_string()).collect()
}

/// Whether xtask runs as root, from the effective uid in `/proc/self/status` (xtask allows no
/// unsafe code, so no `geteuid`).
fn is_root() -> Result<bool> {
    let path = Path::new("/proc/self/status");
    let status = fs::read_to_string(path).map_err(|error| io_failed("read", path, error))?;
    effective_uid(&status)
        .map(|uid| uid == 0)
        .ok_or_else(|| Error::Failed(format!("no effective uid in {}", path.display())))
}

/// The effective uid of a `/proc/<pid>/status` text: the second field of its `Uid:` line.
fn effective_uid(proc_status: &str) -> Option<u32> {
    let line = proc_status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Step 2: containers.conf

fn ensure_containers_conf(dir: &Path, containers_conf: &Path) -> Result<String> {
    fs::create_dir_all(dir).map_err(|error| io_failed("create", dir, error))?;
    let written = write_if_changed(containers_conf, CONTAINERS_CONF)?;
    Ok(format!("{} {}", if written { "wrote" } else { "up to date:" }, containers_conf.display()))
}

// ---------------------------------------------------------------------------------------------
// Step 3: dockerd

fn ensure_dockerd(docker: &Path, log: &Path) -> Result<String> {
    let mut info = docker_info(docker);
    if output(&mut info)?.status.success() {
        return Ok("dockerd already answers `docker info`".into());
    }
    // Appended to, not truncated: a dockerd that does answer elsewhere (another `DOCKER_HOST`)
    // may still be writing to it. Errors show only what this start wrote, after `log_start`.
    let mut log_file =
        fs::OpenOptions::new().create(true).append(true).open(log).map_err(|error| io_failed("open", log, error))?;
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    writeln!(log_file, "--- cargo xtask setup: starting dockerd at {since_epoch} s since the epoch ---")
        .map_err(|error| io_failed("write", log, error))?;
    let log_start = log_file.metadata().map_err(|error| io_failed("inspect", log, error))?.len();
    let log_file_for_stderr = log_file.try_clone().map_err(|error| io_failed("open", log, error))?;
    // `setsid` gives dockerd a session (and process group) of its own: it outlives xtask and is
    // not hit by a signal sent to xtask's process group or by a terminal hang-up. The child is
    // not a process group leader, so `setsid` execs dockerd without forking, and the child is
    // dockerd itself: an early exit shows in `try_wait`. Its working directory is `/`, so that
    // the daemon does not keep the checkout busy.
    let mut start = Command::new("setsid");
    start.arg("dockerd").current_dir("/").stdin(Stdio::null()).stdout(log_file).stderr(log_file_for_stderr);
    let line = display_command(&start);
    let mut dockerd = start.spawn().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
    eprintln!("    started `{line}` (pid {}), log in {}", dockerd.id(), log.display());
    wait_for_dockerd(&|| docker_info(docker), &mut dockerd, log, log_start)
}

/// Docker Swarm mode on this docker engine, a one-node swarm (ENGINE-NOTES' recipe), for
/// `copili run --engine swarm`. Regular containers keep working beside it.
fn ensure_swarm(docker: &Path) -> Result<String> {
    let state = stdout_of(Command::new(docker).args(["info", "--format", "{{.Swarm.LocalNodeState}}"]))?;
    if state == "active" {
        return Ok("swarm mode active".into());
    }
    checked(Command::new(docker).args(["swarm", "init", "--advertise-addr", "127.0.0.1"]))?;
    let state = stdout_of(Command::new(docker).args(["info", "--format", "{{.Swarm.LocalNodeState}}"]))?;
    if state != "active" {
        return Err(Error::Failed(format!("`docker swarm init` left the node `{state}`, not active")));
    }
    Ok("swarm mode enabled (`docker swarm init --advertise-addr 127.0.0.1`)".into())
}

fn docker_info(docker: &Path) -> Command {
    let mut info = Command::new(docker);
    info.args(["info", "--format", "{{.ServerVersion}}"]);
    info
}

/// Polls `info` (a `docker info` for the daemon) until it answers; fails with the end of the
/// daemon's `log` (from `log_start`) when the daemon exits or does not answer in time.
pub(crate) fn wait_for_dockerd(
    info: &dyn Fn() -> Command,
    dockerd: &mut Child,
    log: &Path,
    log_start: u64,
) -> Result<String> {
    let started = Instant::now();
    loop {
        let answer = output(&mut info())?;
        if answer.status.success() {
            return Ok(format!("dockerd (pid {}) answers after {}", dockerd.id(), seconds(started.elapsed())));
        }
        let log_tail = || {
            let text = match fs::read(log) {
                Ok(bytes) => String::from_utf8_lossy(bytes.get(log_start as usize..).unwrap_or_default()).into_owned(),
                Err(error) => format!("(cannot read the log: {error})"),
            };
            format!("--- {} (last {TAIL_LINES} lines) ---\n{}", log.display(), tail(&text, TAIL_LINES))
        };
        if let Ok(Some(status)) = dockerd.try_wait() {
            return Err(Error::Failed(format!("dockerd exited ({status}) before answering\n{}", log_tail())));
        }
        if started.elapsed() > DOCKERD_TIMEOUT {
            return Err(Error::Failed(format!(
                "dockerd (pid {}, left running) did not answer `docker info` within {}s; last answer: {}\n{}",
                dockerd.id(),
                DOCKERD_TIMEOUT.as_secs(),
                String::from_utf8_lossy(&answer.stderr).trim(),
                log_tail()
            )));
        }
        thread::sleep(Duration::from_millis(250));
    }
}

// ---------------------------------------------------------------------------------------------
// Step 4: the test image

/// The image's tar file, built at most once per run and only when an engine lacks the image.
pub(crate) struct ImageTar {
    dir: PathBuf,
    built: Option<PathBuf>,
}

impl ImageTar {
    fn new(dir: &Path) -> ImageTar {
        ImageTar { dir: dir.to_path_buf(), built: None }
    }

    /// The tar of a root filesystem holding `/bin/busybox` and a symlink to it per applet, as in
    /// ENGINE-NOTES: `tar -C busybox-rootfs -cf busybox.tar .`
    pub(crate) fn get(&mut self) -> Result<PathBuf> {
        if let Some(tar) = &self.built {
            return Ok(tar.clone());
        }
        let rootfs = self.dir.join("busybox-rootfs");
        if rootfs.exists() {
            fs::remove_dir_all(&rootfs).map_err(|error| io_failed("remove", &rootfs, error))?;
        }
        let bin = rootfs.join("bin");
        fs::create_dir_all(&bin).map_err(|error| io_failed("create", &bin, error))?;
        let busybox = Path::new("/bin/busybox");
        fs::copy(busybox, bin.join("busybox")).map_err(|error| io_failed("copy", busybox, error))?;
        let applets = stdout_of(Command::new(busybox).arg("--list"))?;
        for applet in applet_names(&applets) {
            let link = bin.join(applet);
            symlink("busybox", &link).map_err(|error| io_failed("create the symlink", &link, error))?;
        }
        let tar = self.dir.join("busybox.tar");
        checked(Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg("."))?;
        eprintln!("    built {} from {}", tar.display(), busybox.display());
        self.built = Some(tar.clone());
        Ok(tar)
    }
}

/// The applets of `busybox --list`, one per line, without `busybox` itself and without anything
/// that is not a plain file name.
fn applet_names(busybox_list: &str) -> impl Iterator<Item = &str> {
    busybox_list
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && *name != "busybox" && *name != "." && *name != ".." && !name.contains('/'))
}

fn ensure_image(containers_conf: &Path, docker: &Path, image_tar: &mut ImageTar) -> Result<String> {
    let mut imported = Vec::new();
    if !output(podman_command(containers_conf).args(["image", "exists", TEST_IMAGE]))?.status.success() {
        let tar = image_tar.get()?;
        checked(podman_command(containers_conf).arg("import").arg(&tar).arg(TEST_IMAGE))?;
        imported.push("rootful podman");
    }
    if !output(Command::new(docker).args(["image", "inspect", TEST_IMAGE]))?.status.success() {
        let tar = image_tar.get()?;
        checked(Command::new(docker).arg("import").arg(&tar).arg(TEST_IMAGE))?;
        imported.push("docker");
    }
    check_exit_codes(|| podman_command(containers_conf), &[])?;
    check_exit_codes(|| Command::new(docker), &[])?;
    let imported = if imported.is_empty() { "already there".to_string() } else { imported.join(" and ") };
    Ok(format!("{TEST_IMAGE}: {imported}; rootful podman and docker run it (exit codes 0 and 3 seen)"))
}

/// Runs the test image with `engine` (plus `run_options`) twice: `true` must exit 0 and
/// `sh -c 'exit 3'` must exit 3.
fn check_exit_codes(engine: impl Fn() -> Command, run_options: &[&str]) -> Result {
    expect_exit_code(engine().args(["run", "--rm"]).args(run_options).args([TEST_IMAGE, "true"]), 0)?;
    expect_exit_code(engine().args(["run", "--rm"]).args(run_options).args([TEST_IMAGE, "sh", "-c", "exit 3"]), 3)
}

// ---------------------------------------------------------------------------------------------
// Step 5: rootless podman

/// Creates the rootless user and what its podman needs outside its home: subordinate ids, a
/// usable `/dev/net/tun`, its runtime directory and its copy of containers.conf.
fn ensure_rootless_user(containers_conf: &Path) -> Result<RootlessUser> {
    let passwd_path = Path::new("/etc/passwd");
    let read_passwd = || fs::read_to_string(passwd_path).map_err(|error| io_failed("read", passwd_path, error));
    let mut entry = passwd_entry(&read_passwd()?, ROOTLESS_USER);
    if entry.is_none() {
        checked(Command::new("useradd").args(["-m", ROOTLESS_USER]))?;
        eprintln!("    created user {ROOTLESS_USER}");
        entry = passwd_entry(&read_passwd()?, ROOTLESS_USER);
    }
    let Some(PasswdEntry { uid, gid, home }) = entry else {
        return Err(Error::Failed(format!("no user {ROOTLESS_USER} in {} after useradd", passwd_path.display())));
    };
    let home = PathBuf::from(home);

    ensure_subordinate_ids(uid)?;

    let tun = Path::new("/dev/net/tun");
    let mode = fs::metadata(tun)
        .map_err(|error| io_failed("inspect (rootless networking needs it for slirp4netns)", tun, error))?
        .mode();
    if mode & 0o777 != 0o666 {
        fs::set_permissions(tun, fs::Permissions::from_mode(0o666)).map_err(|error| io_failed("chmod", tun, error))?;
        eprintln!("    chmod 0666 {} (was {:04o})", tun.display(), mode & 0o777);
    }

    let xdg_runtime_dir = PathBuf::from(format!("/run/user/{uid}"));
    fs::create_dir_all(&xdg_runtime_dir).map_err(|error| io_failed("create", &xdg_runtime_dir, error))?;
    let metadata = fs::metadata(&xdg_runtime_dir).map_err(|error| io_failed("inspect", &xdg_runtime_dir, error))?;
    if metadata.uid() != uid || metadata.gid() != gid || metadata.mode() & 0o777 != 0o700 {
        std::os::unix::fs::chown(&xdg_runtime_dir, Some(uid), Some(gid))
            .map_err(|error| io_failed("chown", &xdg_runtime_dir, error))?;
        fs::set_permissions(&xdg_runtime_dir, fs::Permissions::from_mode(0o700))
            .map_err(|error| io_failed("chmod", &xdg_runtime_dir, error))?;
        eprintln!("    {} owned by {ROOTLESS_USER}, mode 0700", xdg_runtime_dir.display());
    }

    let config_dir = create_dirs_owned(&home, &[".config", "copili-test"], uid, gid)?;
    let user_containers_conf = config_dir.join("containers.conf");
    let content = fs::read_to_string(containers_conf).map_err(|error| io_failed("read", containers_conf, error))?;
    if write_if_changed(&user_containers_conf, &content)? {
        // Written by root: readable by all, which is all the user's podman needs.
        fs::set_permissions(&user_containers_conf, fs::Permissions::from_mode(0o644))
            .map_err(|error| io_failed("chmod", &user_containers_conf, error))?;
        eprintln!("    copied containers.conf to {}", user_containers_conf.display());
    }

    Ok(RootlessUser {
        name: ROOTLESS_USER.to_string(),
        uid,
        gid,
        home,
        xdg_runtime_dir,
        containers_conf: user_containers_conf,
    })
}

/// Makes sure `/etc/subuid` and `/etc/subgid` give [`ROOTLESS_USER`] a range, adding one after
/// every existing range if not (useradd normally did).
fn ensure_subordinate_ids(uid: u32) -> Result {
    let read = |path: &Path| {
        fs::read_to_string(path).or_else(|error| match error.kind() {
            ErrorKind::NotFound => Ok(String::new()),
            _ => Err(io_failed("read", path, error)),
        })
    };
    let subuid_path = Path::new("/etc/subuid");
    let subgid_path = Path::new("/etc/subgid");
    let (subuid, subgid) = (read(subuid_path)?, read(subgid_path)?);
    for (path, content, option) in [(subuid_path, &subuid, "--add-subuids"), (subgid_path, &subgid, "--add-subgids")] {
        if !has_subordinate_range(content, ROOTLESS_USER, uid) {
            let (first, last) = next_subordinate_range(&[&subuid, &subgid]);
            checked(Command::new("usermod").arg(option).arg(format!("{first}-{last}")).arg(ROOTLESS_USER))?;
            eprintln!("    added {first}-{last} to {} for {ROOTLESS_USER}", path.display());
        }
    }
    Ok(())
}

/// Creates `home/components…` one directory at a time, each new one owned by `uid:gid`, so that
/// the user can later write there (podman writes `~/.config/containers`, for instance).
fn create_dirs_owned(home: &Path, components: &[&str], uid: u32, gid: u32) -> Result<PathBuf> {
    let mut dir = home.to_path_buf();
    for component in components {
        dir.push(component);
        match fs::create_dir(&dir) {
            Ok(()) => {
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|error| io_failed("chown", &dir, error))?
            }
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
            Err(error) => return Err(io_failed("create", &dir, error)),
        }
    }
    Ok(dir)
}

/// Imports the test image for the rootless user and runs it there: exit codes, then the
/// networks (none, default, user-created).
fn ensure_rootless_podman(user: &RootlessUser, image_tar: &mut ImageTar) -> Result<String> {
    let imported = if output(user.podman().args(["image", "exists", TEST_IMAGE]))?.status.success() {
        "already there"
    } else {
        // The user may not be able to read the checkout: hand it a copy of its own.
        let tar = image_tar.get()?;
        let cache_dir = create_dirs_owned(&user.home, &[".cache", "copili-test"], user.uid, user.gid)?;
        let user_tar = cache_dir.join("busybox.tar");
        fs::copy(&tar, &user_tar).map_err(|error| io_failed("copy", &tar, error))?;
        std::os::unix::fs::chown(&user_tar, Some(user.uid), Some(user.gid))
            .map_err(|error| io_failed("chown", &user_tar, error))?;
        let import = checked(user.podman().arg("import").arg(&user_tar).arg(TEST_IMAGE));
        fs::remove_file(&user_tar).map_err(|error| io_failed("remove", &user_tar, error))?;
        import?;
        "imported"
    };
    check_exit_codes(|| user.podman(), &[])?;
    expect_exit_code(user.podman().args(["run", "--rm", "--network", "none", TEST_IMAGE, "true"]), 0)?;

    // A network left by an interrupted run would make `network create` fail.
    if output(user.podman().args(["network", "exists", SETUP_CHECK_NETWORK]))?.status.success() {
        checked(user.podman().args(["network", "rm", "-f", SETUP_CHECK_NETWORK]))?;
    }
    checked(user.podman().args(["network", "create", SETUP_CHECK_NETWORK]))?;
    let on_network =
        expect_exit_code(user.podman().args(["run", "--rm", "--network", SETUP_CHECK_NETWORK, TEST_IMAGE, "true"]), 0);
    let removed = checked(user.podman().args(["network", "rm", "-f", SETUP_CHECK_NETWORK]));
    on_network?;
    removed?;
    Ok(format!(
        "{TEST_IMAGE} {imported} for {} (uid {}); exit codes 0 and 3, --network none, default network and \
         a user-created network work",
        user.name, user.uid
    ))
}

/// The fields of an `/etc/passwd` line xtask needs.
#[derive(Debug, PartialEq)]
struct PasswdEntry {
    uid: u32,
    gid: u32,
    home: String,
}

/// The entry of user `name` in an `/etc/passwd` text (`name:password:uid:gid:gecos:home:shell`).
fn passwd_entry(passwd: &str, name: &str) -> Option<PasswdEntry> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [user, _, uid, gid, _, home, ..] if *user == name => {
                Some(PasswdEntry { uid: uid.parse().ok()?, gid: gid.parse().ok()?, home: home.to_string() })
            }
            _ => None,
        }
    })
}

/// Whether an `/etc/subuid` or `/etc/subgid` text (`user-or-id:first:count` lines) gives the user
/// a non-empty range.
fn has_subordinate_range(content: &str, name: &str, uid: u32) -> bool {
    let uid = uid.to_string();
    content.lines().any(|line| {
        let fields: Vec<&str> = line.trim().split(':').collect();
        matches!(fields.as_slice(), [owner, _, count] if (*owner == name || *owner == uid) && count.parse::<u64>().is_ok_and(|n| n > 0))
    })
}

/// A free range of 65536 subordinate ids `(first, last)`: after every range of `files`, and not
/// below 100000 (where useradd starts).
fn next_subordinate_range(files: &[&str]) -> (u64, u64) {
    let end_of_ranges = files
        .iter()
        .flat_map(|content| content.lines())
        .filter_map(|line| {
            let mut fields = line.trim().split(':').skip(1);
            let first: u64 = fields.next()?.parse().ok()?;
            let count: u64 = fields.next()?.parse().ok()?;
            Some(first + count)
        })
        .max()
        .unwrap_or(0);
    let first = end_of_ranges.max(100_000);
    (first, first + 65_535)
}

// ---------------------------------------------------------------------------------------------
// Step 6: the registry

/// How long the registry may take to answer after it was started.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(30);

fn registry_config(dir: &Path) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: info\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
         http:\n  addr: {REGISTRY_ADDR}\n\
         auth:\n  htpasswd:\n    realm: copili-test\n    path: {htpasswd}\n",
        data = dir.join("data").display(),
        htpasswd = dir.join("htpasswd").display(),
    )
}

/// The status code of `GET /v2/` on the registry, or `None` when nothing answers.
fn registry_status() -> Option<u16> {
    use std::io::Read as _;
    let addr: std::net::SocketAddr = REGISTRY_ADDR.parse().ok()?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {REGISTRY_ADDR}\r\n\r\n").as_bytes()).ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    text.split_whitespace().nth(1)?.parse().ok()
}

fn ensure_registry(test_env: &Path, log: &Path, containers_conf: &Path) -> Result<String> {
    let dir = test_env.join("registry");
    fs::create_dir_all(dir.join("data")).map_err(|error| io_failed("create", &dir, error))?;
    let htpasswd = dir.join("htpasswd");
    // bcrypt salts differ each time: keep a file that already holds a hash for the password.
    let valid = fs::read_to_string(&htpasswd).is_ok_and(|text| text.starts_with(&format!("{REGISTRY_USER}:")))
        && output(Command::new("htpasswd").args(["-vb"]).arg(&htpasswd).args([REGISTRY_USER, REGISTRY_PASSWORD]))?
            .status
            .success();
    if !valid {
        let line = stdout_of(Command::new("htpasswd").args(["-Bbn", REGISTRY_USER, REGISTRY_PASSWORD]))?;
        fs::write(&htpasswd, format!("{line}\n")).map_err(|error| io_failed("write", &htpasswd, error))?;
    }
    let config = dir.join("config.yml");
    let config_changed = write_if_changed(&config, &registry_config(&dir))?;
    // Only this checkout's registry will do: the tests read its access log.
    let ours = output(Command::new("pgrep").args(["-f", &format!("docker-registry serve {}", config.display())]))?
        .status
        .success();
    let mut outcome = match registry_status() {
        Some(401) if !config_changed && valid && ours => format!("registry answers on {REGISTRY_ADDR}"),
        Some(status) if !config_changed && valid && ours => {
            return Err(Error::Failed(format!(
                "something else listens on {REGISTRY_ADDR}: `GET /v2/` answered {status}, not 401"
            )))
        }
        _ => {
            if registry_status().is_some() {
                // Our registry with an old config: stop it so that the new one can listen.
                let _ =
                    output(Command::new("pkill").args(["-f", &format!("docker-registry serve {}", config.display())]));
                thread::sleep(Duration::from_millis(500));
            }
            if registry_status().is_some() {
                return Err(Error::Failed(format!(
                    "another registry (not this checkout's, whose access log the tests read) listens on \
                     {REGISTRY_ADDR}: stop it, e.g. `pkill -f 'docker-registry serve'`, and run setup again"
                )));
            }
            let log_file = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|error| io_failed("open", log, error))?;
            let log_file_for_stderr = log_file.try_clone().map_err(|error| io_failed("open", log, error))?;
            let mut start = Command::new("setsid");
            start
                .arg("docker-registry")
                .arg("serve")
                .arg(&config)
                .current_dir("/")
                .stdin(Stdio::null())
                .stdout(log_file)
                .stderr(log_file_for_stderr);
            let line = display_command(&start);
            let mut registry =
                start.spawn().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
            let started = Instant::now();
            loop {
                if registry_status() == Some(401) {
                    break;
                }
                if let Ok(Some(status)) = registry.try_wait() {
                    let text = fs::read_to_string(log).unwrap_or_default();
                    return Err(Error::Failed(format!(
                        "the registry exited ({status}) before answering\n--- {} ---\n{}",
                        log.display(),
                        tail(&text, TAIL_LINES)
                    )));
                }
                if started.elapsed() > REGISTRY_TIMEOUT {
                    return Err(Error::Failed(format!("the registry did not answer on {REGISTRY_ADDR} within 30s")));
                }
                thread::sleep(Duration::from_millis(200));
            }
            format!("started `{line}` (pid {}), log in {}", registry.id(), log.display())
        }
    };
    // The shared test image in the registry (pushing an image that is there is quick).
    let remote = format!("{REGISTRY_ADDR}/{REGISTRY_IMAGE}");
    let creds = format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}");
    checked(podman_command(containers_conf).args([
        "push",
        "--quiet",
        "--tls-verify=false",
        "--creds",
        &creds,
        TEST_IMAGE,
        &remote,
    ]))?;
    // Without credentials the registry must refuse: the tests rely on it.
    let refused = output(podman_command(containers_conf).args([
        "pull",
        "--quiet",
        "--tls-verify=false",
        "--authfile",
        "/dev/null",
        &remote,
    ]))?;
    if refused.status.success() {
        return Err(Error::Failed(format!("the registry on {REGISTRY_ADDR} served {remote} without credentials")));
    }
    outcome.push_str(&format!("; {remote} pushed; unauthenticated pulls refused"));
    Ok(outcome)
}

// ---------------------------------------------------------------------------------------------
// Step 7: summary

fn versions(env: &EngineEnv) -> Result<Versions> {
    // The OCI runtime shows that containers.conf is read; the network backend decides whether
    // `--network-alias` names resolve (netavark with aardvark-dns does, CNI without dnsname not).
    let podman_info = [
        "info",
        "--format",
        "{{.Version.Version}} (runtime {{.Host.OCIRuntime.Name}}, network backend {{.Host.NetworkBackend}})",
    ];
    Ok(Versions {
        podman: stdout_of(env.podman().args(podman_info))?,
        rootless_podman: stdout_of(env.rootless.podman().args(podman_info))?,
        docker_client: stdout_of(env.docker().args(["version", "--format", "{{.Client.Version}}"]))?,
        docker_server: stdout_of(env.docker().args(["version", "--format", "{{.Server.Version}}"]))?,
    })
}

fn print_summary(env: &EngineEnv, env_file: &Path) {
    let versions = &env.versions;
    eprintln!("    rootful podman   {}", versions.podman);
    eprintln!("    rootless podman  {} as {} (uid {})", versions.rootless_podman, env.rootless.name, env.rootless.uid);
    eprintln!(
        "    docker           client {} ({}), server {}",
        versions.docker_client,
        env.docker.display(),
        versions.docker_server
    );
    eprintln!("    test environment ({}):", env_file.display());
    for (key, value) in env.vars() {
        eprintln!("      {key}={value}");
    }
}

/// The text of [`ENGINES_ENV_FILE`]: a comment with the versions, then one `KEY=VALUE` line per
/// variable. Values are not quoted: a reader takes everything after the first `=`. A value with
/// a line break cannot be written that way and is an error.
fn render_env_file(versions: &Versions, vars: &[(&str, String)]) -> std::result::Result<String, String> {
    let mut text = String::from("# Written by `cargo xtask setup`: what the engine tests need. KEY=VALUE, unquoted.\n");
    text.push_str(&format!("# rootful podman {}\n", versions.podman));
    text.push_str(&format!("# rootless podman {}\n", versions.rootless_podman));
    text.push_str(&format!("# docker client {}, server {}\n", versions.docker_client, versions.docker_server));
    for (key, value) in vars {
        if value.contains(['\n', '\r']) {
            return Err(format!("the value of {key} has a line break: {value:?}"));
        }
        text.push_str(&format!("{key}={value}\n"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_packages_are_those_not_installed_ok() {
        let check = |stdout: &str, expected: &[&str]| {
            assert_eq!(missing_packages(stdout, &["podman", "runc", "busybox-static", "uidmap"]), expected, "{stdout}");
        };
        let all = "podman\tinstall ok installed\nrunc\tinstall ok installed\nbusybox-static\tinstall ok installed\n\
                   uidmap\tinstall ok installed\n";
        check(all, &[]);
        check("", &["podman", "runc", "busybox-static", "uidmap"]);
        // Known but not installed, removed with its configuration left, half-installed.
        check(
            "podman\tunknown ok not-installed\nrunc\tdeinstall ok config-files\nbusybox-static\tinstall ok half-configured\n\
             uidmap:amd64\tinstall ok installed\n",
            &["podman", "runc", "busybox-static"],
        );
    }

    #[test]
    fn effective_uid_is_the_second_uid_field() {
        assert_eq!(effective_uid("Name:\tcargo\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n"), Some(0));
        assert_eq!(effective_uid("Uid:\t0\t1000\t1000\t1000\n"), Some(1000));
        assert_eq!(effective_uid("Name:\tcargo\n"), None);
    }

    #[test]
    fn passwd_entry_finds_the_user() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\ncopili-rl-old:x:999:999::/home/old:/bin/sh\n\
                      copili-rl:x:1000:1001::/home/copili-rl:/bin/sh\n";
        assert_eq!(
            passwd_entry(passwd, "copili-rl"),
            Some(PasswdEntry { uid: 1000, gid: 1001, home: "/home/copili-rl".into() })
        );
        assert_eq!(passwd_entry(passwd, "copili"), None);
        assert_eq!(passwd_entry("copili-rl:x:notanumber:1::/home:/bin/sh\n", "copili-rl"), None);
    }

    #[test]
    fn subordinate_ranges_are_found_by_name_or_uid_and_new_ones_follow_the_others() {
        assert!(has_subordinate_range("postgres:100000:65536\ncopili-rl:165536:65536\n", "copili-rl", 1000));
        assert!(has_subordinate_range("1000:165536:65536\n", "copili-rl", 1000));
        assert!(!has_subordinate_range("copili-rl-old:165536:65536\ncopili-rl:1:0\n", "copili-rl", 1000));
        assert!(!has_subordinate_range("", "copili-rl", 1000));

        assert_eq!(next_subordinate_range(&["", ""]), (100_000, 165_535));
        assert_eq!(
            next_subordinate_range(&["a:100000:65536\nb:165536:65536\n", "a:100000:65536\n"]),
            (231_072, 296_607)
        );
        assert_eq!(next_subordinate_range(&["# comment\nbroken line\n", "x:10:5\n"]), (100_000, 165_535));
    }

    #[test]
    fn applet_names_skip_busybox_and_odd_names() {
        let names: Vec<&str> = applet_names("[\n[[\nbusybox\nsh\n\nwget\n../etc/passwd\n").collect();
        assert_eq!(names, ["[", "[[", "sh", "wget"]);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n\n", 2), "b\nc");
        assert_eq!(tail("a\n", 5), "a");
        assert_eq!(tail("", 5), "");
    }

    fn example_env() -> EngineEnv {
        EngineEnv {
            dir: PathBuf::from("/work/main/target/test-env"),
            containers_conf: PathBuf::from("/work/main/target/test-env/containers.conf"),
            docker: PathBuf::from("/usr/local/bin/docker"),
            rootless: RootlessUser {
                name: ROOTLESS_USER.into(),
                uid: 1000,
                gid: 1000,
                home: PathBuf::from("/home/copili-rl"),
                xdg_runtime_dir: PathBuf::from("/run/user/1000"),
                containers_conf: PathBuf::from("/home/copili-rl/.config/copili-test/containers.conf"),
            },
            versions: Versions {
                podman: "4.3.1 (runtime runc, network backend netavark)".into(),
                rootless_podman: "4.3.1 (runtime runc, network backend netavark)".into(),
                docker_client: "28.2.2".into(),
                docker_server: "20.10.24+dfsg1".into(),
            },
            registry_log: PathBuf::from("/work/main/target/test-env/registry.log"),
            cluster: crate::cluster::Cluster {
                manager: "unix:///run/copili-cluster/node1.sock".into(),
                worker: "unix:///run/copili-cluster/node2.sock".into(),
            },
        }
    }

    #[test]
    fn engines_env_lists_what_tests_need() {
        let env = example_env();
        assert_eq!(
            render_env_file(&env.versions, &env.vars()).as_deref(),
            Ok("\
# Written by `cargo xtask setup`: what the engine tests need. KEY=VALUE, unquoted.
# rootful podman 4.3.1 (runtime runc, network backend netavark)
# rootless podman 4.3.1 (runtime runc, network backend netavark)
# docker client 28.2.2, server 20.10.24+dfsg1
COPILI_TEST_IMAGE=localhost/copili-test:latest
CONTAINERS_CONF=/work/main/target/test-env/containers.conf
COPILI_TEST_DOCKER=/usr/local/bin/docker
COPILI_TEST_ROOTLESS_USER=copili-rl
COPILI_TEST_ROOTLESS_UID=1000
COPILI_TEST_ROOTLESS_HOME=/home/copili-rl
COPILI_TEST_ROOTLESS_XDG_RUNTIME_DIR=/run/user/1000
COPILI_TEST_ROOTLESS_CONTAINERS_CONF=/home/copili-rl/.config/copili-test/containers.conf
COPILI_TEST_REGISTRY=127.0.0.1:5858
COPILI_TEST_REGISTRY_USER=copili
COPILI_TEST_REGISTRY_PASSWORD=Reg1stry-pa55-9f3c1d
COPILI_TEST_REGISTRY_IMAGE=127.0.0.1:5858/copili/busybox:latest
COPILI_TEST_REGISTRY_LOG=/work/main/target/test-env/registry.log
COPILI_TEST_ARGO_VALIDATOR=/work/main/target/test-env/argo-validate/validate.mjs
COPILI_TEST_CLUSTER_MANAGER=unix:///run/copili-cluster/node1.sock
COPILI_TEST_CLUSTER_WORKER=unix:///run/copili-cluster/node2.sock
COPILI_TEST_CLUSTER_NODE_LABEL=copili-e2e.node
COPILI_TEST_DEBIAN_IMAGE=localhost/copili-debian:latest
")
        );
        let bad = [("CONTAINERS_CONF", "/tmp/a\nb".to_string())];
        assert_eq!(
            render_env_file(&env.versions, &bad),
            Err(r#"the value of CONTAINERS_CONF has a line break: "/tmp/a\nb""#.to_string())
        );
    }

    #[test]
    fn rootless_podman_runs_as_the_user_with_a_clean_environment() {
        let env = example_env();
        assert_eq!(
            display_command(env.rootless.podman().args(["run", "--rm", TEST_IMAGE, "true"])),
            "runuser -u copili-rl -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
             HOME=/home/copili-rl USER=copili-rl LOGNAME=copili-rl XDG_RUNTIME_DIR=/run/user/1000 \
             CONTAINERS_CONF=/home/copili-rl/.config/copili-test/containers.conf podman run --rm \
             localhost/copili-test:latest true"
        );
        let podman = env.podman();
        let conf: Vec<_> = podman.get_envs().filter(|(name, _)| *name == "CONTAINERS_CONF").collect();
        assert_eq!(conf, [(std::ffi::OsStr::new("CONTAINERS_CONF"), Some(env.containers_conf.as_os_str()))]);
    }

    #[test]
    fn setup_takes_only_the_debian_image_step_as_an_argument() {
        assert_eq!(run(&["--bogus".to_string()]), Err(Error::Usage("unexpected argument `--bogus`".into())));
        assert_eq!(
            run(&["debian-image".to_string(), "extra".to_string()]),
            Err(Error::Usage("unexpected argument `debian-image`".into()))
        );
    }

    #[test]
    fn containers_conf_is_the_verified_one() {
        assert_eq!(
            CONTAINERS_CONF,
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n[engine]\nruntime = \"runc\"\n"
        );
    }
}
