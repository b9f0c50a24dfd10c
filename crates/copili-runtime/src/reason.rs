//! Why a container failed, was cancelled or skipped, and why an image could not be had, as
//! typed values (nextest's `ExecutionResult`): the runtime says what happened, the reporters
//! of the `copili` crate word it (`copili::report`), and scripts read the JSON report's
//! `reason_kind` instead of parsing sentences.

use std::path::PathBuf;
use std::time::Duration;

use copili_planner::ExclusionReason;

use crate::engine::EngineError;

/// Why a container did not succeed, or did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// It exited non-zero.
    ExitCode {
        /// Its exit code.
        code: i32,
        /// The kernel killed it for want of memory.
        oom_killed: bool,
    },
    /// It ran longer than its `timeout` and was stopped.
    TimedOut {
        /// The limit.
        after: Duration,
    },
    /// The engine failed it (create, start, run), with the engine's own error.
    Engine(EngineError),
    /// A sidecar's ready command did not succeed in time.
    SidecarNotReady {
        /// The sidecar's name.
        sidecar: String,
        /// Its ready check's timeout.
        after: Duration,
    },
    /// One of its images could not be had.
    Image(ImageFailure),
    /// The run was interrupted (a signal, service mode draining).
    Interrupted,
    /// `--fail-fast` stopped the run after a failure.
    FailFast {
        /// The container whose failure stopped it.
        failed: String,
    },
    /// A dependency decided it will not run.
    Dependency {
        /// The dependency whose end started the cascade.
        name: String,
        /// How it ended.
        end: DependencyEnd,
    },
    /// The plan left it out.
    Excluded(ExclusionReason),
    /// The run state (or a [`crate::runner::Hooks::did_run`] hook) says it ran before.
    RanBefore {
        /// The hook's own words ([`crate::runner::Hooks::did_run_reason`]).
        why: String,
    },
    /// The `dependencies_met` hook said it may not start.
    HookRefused,
    /// The `dependencies_met` hook kept it waiting while nothing else could happen.
    HookNeverMet,
    /// The run never started (the engine was unavailable, the pipeline already running); the
    /// binary's words.
    NotStarted {
        /// Why, as the binary tells it.
        why: String,
    },
    // Outputs between steps (issue 17).
    /// It exited 0, but its outputs (`/copili/out/*.env`) could not be read.
    Outputs {
        /// The file (as the container sees it: `/copili/out/result.env`) or directory.
        file: String,
        /// What is wrong with it.
        problem: OutputsProblem,
    },
    /// It uses `${{ steps.STEP.outputs.KEY }}` and `STEP` wrote no `KEY`.
    OutputMissing {
        /// The step referred to.
        step: String,
        /// The key it did not write.
        key: String,
    },
}

/// What is wrong with a container's outputs ([`Reason::Outputs`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputsProblem {
    /// The host directory could not be created or listed.
    #[error("the outputs directory cannot be used: {0}")]
    Directory(String),
    /// The file could not be read.
    #[error("cannot be read: {0}")]
    Unreadable(String),
    /// A `*.env` entry that is not a regular file (a link, a directory).
    #[error("is not a regular file")]
    NotAFile,
    /// Over the bound of one file.
    #[error("holds {size} bytes, more than the {limit} an outputs file may hold")]
    FileTooLarge {
        /// Its size.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// The files together are over the bound.
    #[error("brings the outputs files over the {limit} bytes they may hold together")]
    TotalTooLarge {
        /// The bound.
        limit: u64,
    },
    /// A line that is not `KEY=VALUE`.
    #[error("line {line}: {message}")]
    BadLine {
        /// 1-based line.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// A key that an expression could not name.
    #[error("line {line}: `{key}` is not an output key (a letter or `_`, then letters, digits or `_`)")]
    BadKey {
        /// 1-based line.
        line: u32,
        /// The key.
        key: String,
    },
}

impl Reason {
    /// A stable identifier for scripts (the JSON report's `reason_kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::ExitCode { .. } => "exit_code",
            Reason::TimedOut { .. } => "timed_out",
            Reason::Engine(_) => "engine_error",
            Reason::SidecarNotReady { .. } => "sidecar_not_ready",
            Reason::Image(_) => "image",
            Reason::Interrupted => "interrupted",
            Reason::FailFast { .. } => "fail_fast",
            Reason::Dependency { .. } => "dependency",
            Reason::Excluded(_) => "excluded",
            Reason::RanBefore { .. } => "ran_before",
            Reason::HookRefused => "hook_refused",
            Reason::HookNeverMet => "hook_never_met",
            Reason::NotStarted { .. } => "not_started",
            Reason::Outputs { .. } => "outputs",
            Reason::OutputMissing { .. } => "output_missing",
        }
    }
}

/// How a dependency that blocks a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencyEnd {
    /// It failed.
    Failed,
    /// It was cancelled (for a reason of its own, not a dependency's).
    Cancelled,
    /// It was not run: excluded or skipped, with that reason when known.
    NotRun(Option<Box<Reason>>),
    /// It never ended at all.
    DidNotRun,
}

impl DependencyEnd {
    /// A stable identifier for scripts: `failed`, `cancelled`, `not_run`, `did_not_run`.
    pub fn kind(&self) -> &'static str {
        match self {
            DependencyEnd::Failed => "failed",
            DependencyEnd::Cancelled => "cancelled",
            DependencyEnd::NotRun(_) => "not_run",
            DependencyEnd::DidNotRun => "did_not_run",
        }
    }
}

/// Why the run stops starting containers ([`crate::runner::RunEvent::RunCancelling`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelling {
    /// A signal, or service mode draining.
    Interrupted,
    /// `--fail-fast` after this container failed.
    FailFast {
        /// The container that failed.
        failed: String,
    },
}

/// Why a pull (or the login before it) failed, as the engine's backend classifies its own
/// wording ([`crate::CliEngine`] reads docker's and podman's; the fake engine says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullFailure {
    /// The login with the container's credentials was refused.
    CredentialsRefused,
    /// The registry wants credentials and the container has none.
    CredentialsMissing,
    /// Logged in, but the registry refused the image to these credentials.
    AccessDenied,
    /// No such image (or, on registries that hide it, no access to it).
    NotFound,
    /// The registry could not be reached.
    Unreachable,
    /// The registry speaks plain HTTP and the client expected HTTPS.
    PlainHttp,
    /// Anything else.
    Other,
}

impl PullFailure {
    /// Whether the failure is about credentials (not retried).
    pub fn is_authentication(self) -> bool {
        matches!(self, PullFailure::CredentialsRefused | PullFailure::CredentialsMissing | PullFailure::AccessDenied)
    }

    /// Whether trying again could help (not for credentials or a protocol mismatch).
    pub fn is_retried(self) -> bool {
        !self.is_authentication() && self != PullFailure::PlainHttp
    }

    /// A stable identifier for scripts.
    pub fn kind(self) -> &'static str {
        match self {
            PullFailure::CredentialsRefused => "credentials_refused",
            PullFailure::CredentialsMissing => "credentials_missing",
            PullFailure::AccessDenied => "access_denied",
            PullFailure::NotFound => "not_found",
            PullFailure::Unreachable => "unreachable",
            PullFailure::PlainHttp => "plain_http",
            PullFailure::Other => "other",
        }
    }
}

/// A failed pull or registry login: what it means, and the engine's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct PullError {
    /// What the failure means.
    pub kind: PullFailure,
    /// The engine's error.
    #[source]
    pub error: EngineError,
}

/// A failed build: its registry login, or the build itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// Logging in to the registry of the base images failed.
    #[error("{0}")]
    Login(PullError),
    /// The build failed.
    #[error("{0}")]
    Failed(EngineError),
}

impl From<EngineError> for BuildError {
    fn from(error: EngineError) -> BuildError {
        BuildError::Failed(error)
    }
}

/// A registry's refusal or failure for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryFailure {
    /// What it means.
    pub kind: PullFailure,
    /// The image.
    pub image: String,
    /// Its registry.
    pub registry: String,
    /// The engine's error.
    pub error: EngineError,
}

/// An I/O error, kept comparable and clonable for outcomes (its kind and the system's words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoError {
    /// The kind.
    pub kind: std::io::ErrorKind,
    /// The system's message.
    pub message: String,
}

impl From<&std::io::Error> for IoError {
    fn from(error: &std::io::Error) -> IoError {
        IoError { kind: error.kind(), message: error.to_string() }
    }
}

impl From<std::io::Error> for IoError {
    fn from(error: std::io::Error) -> IoError {
        IoError::from(&error)
    }
}

/// Which credential a container gave without the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GivenCredential {
    /// `image_reg_username` without a (non-empty) `image_reg_password`.
    Username,
    /// `image_reg_password` without `image_reg_username`.
    Password,
}

/// A git step of a build from a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitStep {
    /// `git clone`.
    Clone,
    /// `git checkout` of the build's `ref`.
    Checkout {
        /// The reference.
        reference: String,
    },
}

/// How a git step failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitFailure {
    /// The run was interrupted first.
    Interrupted,
    /// git could not be started.
    CannotRun(IoError),
    /// git failed; its last line of output.
    Failed {
        /// git's last non-empty line.
        last_line: String,
    },
}

/// Why an image cannot be had (the containers that need it fail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFailure {
    /// The description gives one credential without the other.
    HalfCredentials {
        /// The image's registry.
        registry: String,
        /// The credential given.
        given: GivenCredential,
    },
    /// The engine could not say whether the image is present.
    PresenceUnknown {
        /// The image.
        image: String,
        /// The engine's error.
        error: EngineError,
    },
    /// Absent, with pull policy `never`.
    AbsentNever {
        /// The image.
        image: String,
    },
    /// `--locked`: the image is no longer present under its locked id (removed since the
    /// check before the run).
    LockedAbsent {
        /// The image.
        image: String,
        /// The locked id.
        id: String,
    },
    /// An absent `localhost/` image: there is nothing to pull it from.
    LocalOnly {
        /// The image.
        image: String,
    },
    /// The pull failed (after `attempts` attempts).
    Pull {
        /// The registry's failure.
        failure: RegistryFailure,
        /// Attempts made.
        attempts: u32,
    },
    /// The login before a build failed.
    BuildLogin(RegistryFailure),
    /// The run was interrupted while the image was prepared.
    Interrupted,
    /// The build context is not a directory.
    ContextNotADirectory {
        /// As written in the description.
        written: String,
        /// As resolved.
        resolved: PathBuf,
    },
    /// The repository has no such sub-directory.
    NoSubdirectory {
        /// The repository.
        url: String,
        /// The sub-directory.
        subdir: String,
    },
    /// The build context has no Dockerfile.
    NoDockerfile {
        /// The Dockerfile's name as written (or `Dockerfile`).
        name: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The build context could not be read (to hash it).
    ContextUnreadable {
        /// The context.
        context: PathBuf,
        /// The error.
        error: IoError,
    },
    /// The image could not be inspected (for its build hash).
    InspectFailed {
        /// The image.
        image: String,
        /// The engine's error.
        error: EngineError,
    },
    /// The build failed.
    BuildFailed {
        /// The image.
        image: String,
        /// The engine's error.
        error: EngineError,
    },
    /// A build from a repository, without `git` on PATH.
    NoGit {
        /// The repository.
        url: String,
    },
    /// The private directory for a clone could not be made.
    CloneDirectory(IoError),
    /// A git step failed.
    Git {
        /// The repository.
        url: String,
        /// The step.
        step: GitStep,
        /// How.
        failure: GitFailure,
    },
}

impl ImageFailure {
    /// A stable identifier for scripts (the JSON report's `image_failure`).
    pub fn kind(&self) -> &'static str {
        match self {
            ImageFailure::HalfCredentials { .. } => "half_credentials",
            ImageFailure::PresenceUnknown { .. } => "presence_unknown",
            ImageFailure::AbsentNever { .. } => "absent_never",
            ImageFailure::LockedAbsent { .. } => "locked_absent",
            ImageFailure::LocalOnly { .. } => "local_only",
            ImageFailure::Pull { .. } => "pull",
            ImageFailure::BuildLogin(_) => "build_login",
            ImageFailure::Interrupted => "interrupted",
            ImageFailure::ContextNotADirectory { .. } => "context_not_a_directory",
            ImageFailure::NoSubdirectory { .. } => "no_subdirectory",
            ImageFailure::NoDockerfile { .. } => "no_dockerfile",
            ImageFailure::ContextUnreadable { .. } => "context_unreadable",
            ImageFailure::InspectFailed { .. } => "inspect_failed",
            ImageFailure::BuildFailed { .. } => "build_failed",
            ImageFailure::NoGit { .. } => "no_git",
            ImageFailure::CloneDirectory(_) => "clone_directory",
            ImageFailure::Git { .. } => "git",
        }
    }

    /// The registry's failure, for a pull or a build's login.
    pub fn registry_failure(&self) -> Option<&RegistryFailure> {
        match self {
            ImageFailure::Pull { failure, .. } | ImageFailure::BuildLogin(failure) => Some(failure),
            _ => None,
        }
    }

    /// The engine's error behind the failure, if an engine command failed.
    pub fn engine_error(&self) -> Option<&EngineError> {
        match self {
            ImageFailure::PresenceUnknown { error, .. }
            | ImageFailure::InspectFailed { error, .. }
            | ImageFailure::BuildFailed { error, .. } => Some(error),
            ImageFailure::Pull { failure, .. } | ImageFailure::BuildLogin(failure) => Some(&failure.error),
            _ => None,
        }
    }
}
