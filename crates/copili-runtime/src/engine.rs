//! The engine boundary: what the runner needs from a container engine, and its errors.

use std::path::PathBuf;
use std::time::Duration;

use crate::reason::{BuildError, PullError};
use copili_model::Secret;

/// Everything needed to create one container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateRequest {
    /// The engine-side name (`<pipeline>-<container>`, sanitised).
    pub name: String,
    /// The image reference, `repo:tag`.
    pub image: String,
    /// The container's hostname (the description's `name`).
    pub hostname: String,
    /// Labels, copili's own `io.copili.*` first.
    pub labels: Vec<(String, String)>,
    /// Environment variables; the values are secrets and never reach a command line.
    pub env: Vec<(String, Secret)>,
    /// Mounts.
    pub mounts: Vec<Mount>,
    /// The command; empty for the image's own.
    pub command: Vec<String>,
    /// The network to join, if any.
    pub network: Option<String>,
    /// Names under which the container is reachable on that network.
    pub network_aliases: Vec<String>,
    /// CPU and memory limits and reservations.
    pub resources: Option<copili_model::Resources>,
    /// Placement constraints (a cluster backend's; local engines ignore them).
    pub placement: Vec<String>,
    /// The container's registry credentials, for backends whose nodes pull the image
    /// themselves (swarm's `--with-registry-auth`); local engines have pulled it already.
    pub registry_auth: Option<RegistryAuth>,
    /// The grace period of a stop (backends that fix it when the container is created).
    pub stop_timeout: Duration,
    /// A sidecar's ready check, for backends that set it up when the container is created
    /// (swarm: a health check, which works on every node); local engines run it with `exec`.
    pub ready: Option<copili_model::ReadyCheck>,
    /// The container options (`networks`, `user`, `tmpfs`, …).
    pub options: copili_model::RunOptions,
}

/// Credentials for one registry, used for one pull or build only.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryAuth {
    /// The registry host (`docker.io`, `registry.example.com:5000`).
    pub registry: String,
    /// The user name.
    pub username: String,
    /// The password; never on a command line, in a message or a log.
    pub password: Secret,
}

/// An image to pull.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequest {
    /// The image reference, `repo:tag`.
    pub image: String,
    /// Credentials: logged in with `--password-stdin` into a temporary auth file used for this
    /// pull only. Without them the engine uses the host's own.
    pub auth: Option<RegistryAuth>,
    /// `false`: podman's `--tls-verify=false` (docker decides by its daemon's settings).
    pub tls_verify: bool,
}

/// An image to build.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildRequest {
    /// The tag, `repo:tag`.
    pub image: String,
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile (absolute), if not the context's `Dockerfile`.
    pub dockerfile: Option<PathBuf>,
    /// Build arguments; the values reach the client through its environment (`--build-arg NAME`).
    pub args: Vec<(String, Secret)>,
    /// The stage to build.
    pub target: Option<String>,
    /// Labels of the image.
    pub labels: Vec<(String, String)>,
    /// Pull newer base images (`--pull`).
    pub pull: bool,
    /// Credentials for base images.
    pub auth: Option<RegistryAuth>,
    /// As for [`PullRequest::tls_verify`].
    pub tls_verify: bool,
}

/// A mount of a [`CreateRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// What is mounted.
    pub source: MountSource,
    /// The absolute path inside the container.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// The source of a [`Mount`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A named engine volume.
    Volume(String),
    /// An absolute host path.
    Host(PathBuf),
}

/// How a container ended, as the engine reports it. Never guessed: an engine failure is an
/// [`EngineError`], not an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// The container's exit code.
    pub code: i32,
    /// Whether the kernel's OOM killer ended it.
    pub oom_killed: bool,
}

/// A container's state, from `inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    /// `created`, `running`, `exited`, …
    pub state: String,
    /// The exit code once it exited.
    pub exit: Option<ExitStatus>,
}

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The stream.
    pub stream: LogStream,
    /// The text, without the line break.
    pub text: String,
}

/// The longest line of a container's output that is handed on whole: a longer one (a 50 MB
/// line without a newline) comes in pieces of at most this many bytes, each cut at a UTF-8
/// character boundary and marked [`LogLines::split`], so that copili never holds it whole.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Whole lines of one stream of a container's output, as one read of the engine's pipe
/// brought them: one allocation for all of them, handed on (and written by the reporters) as
/// one piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLines {
    /// The stream.
    pub stream: LogStream,
    /// The lines, each ending with `\n` (a line the container left without one gets one;
    /// `\r` before a line end is dropped; bytes that are not UTF-8 are replaced).
    pub text: String,
    /// The last line is a piece of a line longer than [`MAX_LINE_BYTES`], cut there; the
    /// line continues in the next batch of the stream.
    pub split: bool,
}

impl LogLines {
    /// A batch of one line (`text` without its line break).
    pub fn line(stream: LogStream, text: &str) -> LogLines {
        let mut whole = String::with_capacity(text.len() + 1);
        whole.push_str(text);
        whole.push('\n');
        LogLines { stream, text: whole, split: false }
    }

    /// The lines, without their line breaks.
    pub fn lines(&self) -> Lines<'_> {
        Lines { rest: &self.text }
    }
}

/// The lines of a [`LogLines`], without their line breaks ([`LogLines::lines`]); found with
/// a SIMD search, which a batch of many short lines needs.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        // A line end is one byte, never inside a character: both slices are on boundaries.
        let (line, rest) = match memchr::memchr(b'\n', self.rest.as_bytes()) {
            Some(at) => (&self.rest[..at], &self.rest[at + 1..]),
            None => (self.rest, ""),
        };
        self.rest = rest;
        Some(line)
    }
}

/// What identifies a local image for good ([`Engine::image_identity`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageIdentity {
    /// The image id, `sha256:…` (the digest of its configuration: the same on docker and podman,
    /// and kept by `save` and `load`).
    pub id: String,
    /// The registry digests, `repo@sha256:…` (the manifest a pull fetched; `load` does not keep
    /// them, podman makes up its own).
    pub repo_digests: Vec<String>,
    /// The size in bytes, as the engine counts it (0: unknown).
    pub size: u64,
}

/// A failure of the engine itself (not of a container): the command (without secret values),
/// its exit code if it had one, and the end of its error output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// `auto` found neither client.
    #[error("neither podman nor docker is on PATH")]
    NoClientOnPath,
    /// The client binary could not be found or started.
    #[error("cannot run `{binary}`: {reason}")]
    NotFound {
        /// The binary.
        binary: String,
        /// Why.
        reason: String,
    },
    /// The client ran and failed.
    #[error("`{command}` failed{}: {stderr}", code.map(|c| format!(" (exit code {c})")).unwrap_or_default())]
    Failed {
        /// The command as run, secrets masked.
        command: String,
        /// Its exit code; `None` when it was killed by a signal.
        code: Option<i32>,
        /// The last lines of its error output.
        stderr: String,
    },
    /// The client did not return within its bound ([`crate::CliEngine::timeout`]) and was
    /// killed, with its whole process group: an engine that accepts a call and never answers
    /// (a daemon that hangs, a storage lock held by a dead process).
    #[error("`{command}` did not answer within {after:?} (killed)")]
    TimedOut {
        /// The command as run, secrets masked.
        command: String,
        /// How long it was given.
        after: Duration,
    },
    /// The client's output could not be understood.
    #[error("unexpected output from `{command}`: {output}")]
    UnexpectedOutput {
        /// The command as run.
        command: String,
        /// What it printed.
        output: String,
    },
}

/// Says whether the caller has removed the container (see [`Engine::follow_logs_until_removed`]).
pub type RemovedFn<'a> = dyn Fn() -> bool + Sync + 'a;

/// A container engine. Implementations: [`crate::CliEngine`] (docker, podman); tests use fakes.
pub trait Engine: Send + Sync {
    /// The engine's name for messages: `docker`, `podman`, or the binary's path.
    fn name(&self) -> &str;

    /// Checks that the engine answers; the result is its version.
    fn ping(&self) -> Result<String, EngineError>;

    /// Creates a container (not started); the result is its id.
    fn create(&self, request: &CreateRequest) -> Result<String, EngineError>;

    /// Starts a created container.
    fn start(&self, id: &str) -> Result<(), EngineError>;

    /// Creates and starts a container, calls `on_output` with its output as it comes (whole
    /// lines, a batch at a time),
    /// and returns its exit status once it ended, as the engine recorded it. A container that
    /// could not be created or started is an [`EngineError`], never an exit status. The
    /// container stays (removed by the caller); it can be stopped by its name meanwhile.
    ///
    /// The default does create, start, follow the output, wait; engines override it with
    /// fewer round trips.
    fn run_attached(
        &self,
        request: &CreateRequest,
        on_output: &mut dyn FnMut(LogLines),
    ) -> Result<ExitStatus, EngineError> {
        let id = self.create(request)?;
        self.start(&id)?;
        self.follow_logs(&id, on_output)?;
        self.wait(&id)
    }

    /// Whether the runner may create a container ahead of its start (while its dependencies
    /// still run) and later start it with [`Engine::start_attached`]: the engine's `create`
    /// leaves nothing behind when it fails, and a created container costs nothing until it
    /// starts. Off by default (a backend whose `create` already starts, as swarm's services
    /// do, keeps it off); off in a dry run, which shows one `run` per container in order.
    fn creates_ahead(&self) -> bool {
        false
    }

    /// Creates a container ahead of its start (see [`Engine::creates_ahead`]) and gets it as
    /// ready to start as the engine allows without starting it: [`Engine::create`] by
    /// default; podman also initialises it (`init`: storage mounted, network set up, the
    /// runtime's process made but not started), which takes that work off the start. On an
    /// error nothing of the container is left.
    fn create_ahead(&self, request: &CreateRequest) -> Result<String, EngineError> {
        self.create(request)
    }

    /// Starts a container made by [`Engine::create`] (known by its name), calls `on_output` with
    /// its lines as they come, a batch at a time, and returns its exit status once it ended, as the
    /// engine recorded it, as [`Engine::run_attached`] does. A container that could not be
    /// started is an [`EngineError`], never an exit status. The container stays. The default
    /// does start, follow the output, wait; engines override it with one client call.
    fn start_attached(&self, name: &str, on_output: &mut dyn FnMut(LogLines)) -> Result<ExitStatus, EngineError> {
        self.start(name)?;
        self.follow_logs(name, on_output)?;
        self.wait(name)
    }

    /// Follows a container's output until it ends, calling `on_output` with its lines as they
    /// come, a batch at a time.
    fn follow_logs(&self, id: &str, on_output: &mut dyn FnMut(LogLines)) -> Result<(), EngineError>;

    /// [`Engine::follow_logs`] of a container the caller removes: once `removed` says so, the
    /// follower has the engine's bound to end; past it, it is killed ([`EngineError::TimedOut`]).
    /// The default follows to the end.
    fn follow_logs_until_removed(
        &self,
        id: &str,
        on: &mut dyn FnMut(LogLines),
        _: &RemovedFn,
    ) -> Result<(), EngineError> {
        self.follow_logs(id, on)
    }

    /// Waits for a container to end; its exit status as the engine recorded it.
    fn wait(&self, id: &str) -> Result<ExitStatus, EngineError>;

    /// The container's state.
    fn inspect(&self, id: &str) -> Result<ContainerStatus, EngineError>;

    /// Stops a container: SIGTERM, then SIGKILL after `grace`.
    fn stop(&self, id: &str, grace: Duration) -> Result<(), EngineError>;

    /// Removes a container, running or not.
    fn remove(&self, id: &str) -> Result<(), EngineError>;

    /// Whether removing a container slows down starting another (podman: both take its storage
    /// lock; docker: one more client process on the same CPUs), so that ended containers are
    /// better removed together while nothing starts.
    fn removal_contends_with_start(&self) -> bool {
        false
    }

    /// Removes several containers; engines override it with one call.
    fn remove_all(&self, ids: &[String]) -> Result<(), EngineError> {
        ids.iter().try_for_each(|id| self.remove(id))
    }

    /// Runs a command inside a running container; its exit code.
    fn exec(&self, id: &str, command: &[String]) -> Result<i32, EngineError>;

    /// Creates a network with labels.
    fn network_create(&self, name: &str, labels: &[(String, String)]) -> Result<(), EngineError>;

    /// Removes a network.
    fn network_remove(&self, name: &str) -> Result<(), EngineError>;

    /// Whether a network of this name exists (one a container can be asked to join).
    fn network_exists(&self, name: &str) -> Result<bool, EngineError>;

    /// Names of the containers (running or not) carrying all these labels.
    fn containers_with_labels(&self, labels: &[(String, String)]) -> Result<Vec<String>, EngineError>;

    /// Names of the networks carrying all these labels.
    fn networks_with_labels(&self, labels: &[(String, String)]) -> Result<Vec<String>, EngineError>;

    /// Whether an image is present locally.
    fn image_present(&self, image: &str) -> Result<bool, EngineError>;

    /// Pulls an image, calling `on_line` for each line of progress; stops (and fails) when
    /// `cancelled` turns true. With credentials, the login is part of the pull, and its
    /// failure is reported as an [`EngineError::Failed`] whose command starts with `login`
    /// (see [`EngineError::step`]). The error says what the failure means ([`crate::reason::PullFailure`]):
    /// each backend knows its client's wording.
    fn pull(
        &self,
        request: &PullRequest,
        on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), PullError>;

    /// Builds and tags an image, calling `on_line` for each line of the build's output. A
    /// failed login (with credentials) is told from a failed build, classified as for a pull.
    fn build(
        &self,
        request: &BuildRequest,
        on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), BuildError>;

    /// A label of a local image; `None` when the image or the label is absent.
    fn image_label(&self, image: &str, key: &str) -> Result<Option<String>, EngineError>;

    /// The references (`repo:tag`) of every local image, for `plan`.
    fn local_images(&self) -> Result<Vec<String>, EngineError>;

    /// The id of a local image (`sha256:…`), for the run state; `None` when absent or unknown.
    fn image_id(&self, _image: &str) -> Result<Option<String>, EngineError> {
        Ok(None)
    }

    /// What identifies a local image for good: its id and its registry digests (`copili lock`);
    /// `None` when absent. The default knows only the id ([`Engine::image_id`]).
    fn image_identity(&self, image: &str) -> Result<Option<ImageIdentity>, EngineError> {
        Ok(self.image_id(image)?.map(|id| ImageIdentity { id, repo_digests: Vec::new(), size: 0 }))
    }

    /// Writes local images into one archive (`save`; layers the images share are written once),
    /// in the `docker-archive` format both clients load, with the names kept; stops (and fails)
    /// when `cancelled` turns true.
    fn save_images(
        &self,
        images: &[String],
        _archive: &std::path::Path,
        _cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), EngineError> {
        Err(EngineError::NotFound { binary: self.name().to_string(), reason: format!("cannot save {images:?}") })
    }

    /// Loads the images of an archive made by [`Engine::save_images`] (`load`); the names loaded.
    fn load_images(&self, archive: &std::path::Path) -> Result<Vec<String>, EngineError> {
        Err(EngineError::NotFound {
            binary: self.name().to_string(),
            reason: format!("cannot load {}", archive.display()),
        })
    }

    /// Whether commands are shown instead of run (`--dry-run`).
    fn is_dry_run(&self) -> bool {
        false
    }

    /// The calls killed at their bound ([`EngineError::TimedOut`]) since this was last asked,
    /// oldest first: also those whose error the runner could only ignore (a removal while
    /// cleaning up, a stop), so that the caller can say every one.
    fn killed_calls(&self) -> Vec<EngineError> {
        Vec::new()
    }

    /// The identities of every pipeline with containers (or services) or networks on the
    /// engine, from copili's `io.copili.pipeline` label (`copili clean` of all pipelines).
    fn pipeline_identities(&self) -> Result<Vec<String>, EngineError> {
        Ok(Vec::new())
    }

    /// In a dry run, shows a command copili would run itself (a `git clone`) instead of
    /// running it, and returns `true`; otherwise `false`.
    fn show_instead_of_running(&self, _command_line: &str) -> bool {
        false
    }
}

impl EngineError {
    /// The line of a failed client's error output that says what went wrong: the last one
    /// that mentions an error (not docker's "Run 'docker run --help'…"), else the last one.
    pub fn telling_line(&self) -> Option<&str> {
        let EngineError::Failed { stderr, .. } = self else { return None };
        let lines = || stderr.lines().rev().map(str::trim).filter(|l| !l.is_empty());
        lines().find(|l| l.to_lowercase().contains("error")).or_else(|| lines().next())
    }

    /// Whether the client was killed for not answering in time ([`EngineError::TimedOut`]).
    pub fn is_timed_out(&self) -> bool {
        matches!(self, EngineError::TimedOut { .. })
    }

    /// The client's subcommand that failed (`login`, `pull`, `build`, …), read from the command.
    pub fn step(&self) -> Option<&str> {
        match self {
            EngineError::Failed { command, .. }
            | EngineError::UnexpectedOutput { command, .. }
            | EngineError::TimedOut { command, .. } => {
                command.split_whitespace().skip(1).find(|word| !word.starts_with('-') && !word.contains('='))
            }
            EngineError::NotFound { .. } | EngineError::NoClientOnPath => None,
        }
    }
}
