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
//!    step 8; `chromium`, the headless browser the tests of the HTML report and the dashboard
//!    open them in; `prometheus` for its `promtool check metrics`, the reference parser and
//!    linter of the metrics' text format (tests/metrics.rs). Installed with
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
//!    CNCF distribution registry (`docker-registry serve`) on
//!    [`REGISTRY_ADDR`](registry::REGISTRY_ADDR), htpasswd (bcrypt, `htpasswd -Bbn`) with user
//!    [`REGISTRY_USER`](registry::REGISTRY_USER), its storage and config in
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
//!
//! Each step is a module of its own: [`packages`], [`containers_conf`], [`dockerd`] (with swarm
//! mode), [`test_image`], [`rootless`], [`registry`], then [`crate::cluster`],
//! [`crate::debian_image`] and [`crate::argo_schema`], and [`summary`]; [`process`] runs the
//! commands they need. This module orders the steps and prints their progress.

mod containers_conf;
mod dockerd;
mod packages;
mod process;
mod registry;
mod rootless;
mod summary;
mod test_image;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{reject_unknown_option, target_dir, Error, Result};

pub(crate) use dockerd::wait_for_dockerd;
pub(crate) use process::{checked, command_failed, io_failed, output, stdout_of};
pub(crate) use rootless::RootlessUser;
pub(crate) use summary::EngineEnv;
pub(crate) use test_image::ImageTar;

use containers_conf::ensure_containers_conf;
use dockerd::{ensure_dockerd, ensure_swarm};
use packages::ensure_packages;
use process::find_in_path;
use registry::ensure_registry;
use rootless::{ensure_rootless_podman, ensure_rootless_user};
use summary::{print_summary, write_engines_env, Versions};
use test_image::ensure_image;

/// The image every engine test runs: busybox only, so it has `sh`, `true`, `sleep`, `env`,
/// `wget`, `httpd`, ….
pub(crate) const TEST_IMAGE: &str = "localhost/copili-test:latest";

/// The unprivileged user rootless podman runs as.
pub(crate) const ROOTLESS_USER: &str = "copili-rl";

/// The file, in the test environment directory, that lists what a test needs as `KEY=VALUE`
/// lines.
pub(crate) const ENGINES_ENV_FILE: &str = "engines.env";

/// Number of steps, for the `[n/10]` headers.
const N_STEPS: usize = 10;

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
    let debian_image = ensure_debian_image(&containers_conf, &docker, &rootless, &cluster);
    progress.done(debian_image.map_err(|error| progress.failed(error))?);

    progress.step("argo schema");
    progress.done(crate::argo_schema::ensure(&dir).map_err(|error| progress.failed(error))?);

    progress.step("summary");
    let mut env =
        EngineEnv { dir, containers_conf, docker, rootless, versions: Versions::default(), registry_log, cluster };
    let env_file = write_engines_env(&mut env).map_err(|error| progress.failed(error))?;
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
    let debian_image = ensure_debian_image(&containers_conf, &docker, &rootless, &cluster);
    progress.done(debian_image.map_err(|error| progress.failed(error))?);

    progress.step("summary");
    let registry_log = dir.join("registry.log");
    let mut env =
        EngineEnv { dir, containers_conf, docker, rootless, versions: Versions::default(), registry_log, cluster };
    let env_file = write_engines_env(&mut env).map_err(|error| progress.failed(error))?;
    progress.done(format!("written to {}", env_file.display()));
    Ok(())
}

/// Step 8, in both commands: the Debian image in every image store.
fn ensure_debian_image(
    containers_conf: &Path,
    docker: &Path,
    rootless: &RootlessUser,
    cluster: &crate::cluster::Cluster,
) -> Result<String> {
    crate::debian_image::ensure(&crate::debian_image::Targets { containers_conf, docker, rootless, cluster })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_takes_only_the_debian_image_step_as_an_argument() {
        assert_eq!(run(&["--bogus".to_string()]), Err(Error::Usage("unexpected argument `--bogus`".into())));
        assert_eq!(
            run(&["debian-image".to_string(), "extra".to_string()]),
            Err(Error::Usage("unexpected argument `debian-image`".into()))
        );
    }
}
