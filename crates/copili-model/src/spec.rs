//! The validated pipeline: what the description says, with defaults applied, variables
//! expanded and positions kept for the planner's messages.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::diagnostic::{Diagnostic, SourceFile};
use crate::document::Span;
use crate::interpolate::VarSource;
use crate::secret::Secret;

/// A pipeline description: a name and its containers, in the order written.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The top-level key of the description.
    pub name: String,
    /// The containers, in file order (the planner's tie-break).
    pub containers: Vec<ContainerSpec>,
    /// The text the pipeline was read from, for located messages.
    pub source: Arc<SourceFile>,
    /// The directory relative paths in the description are resolved against.
    pub base_dir: PathBuf,
    /// Every variable the description used, by name, with where its value came from.
    pub variables: Vec<VariableUse>,
    /// Warnings found while loading (undefined variables, properties without effect, …).
    pub warnings: Vec<Diagnostic>,
    /// The `ENV` variable of the `.env` file, which selects the environment when the process
    /// environment has none (copili 1.4 loaded `.env` into its environment).
    pub dotenv_environment: Option<String>,
    /// Where the name (top-level key) was written.
    pub name_span: Span,
}

/// A variable used by the description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableUse {
    /// Its name.
    pub name: String,
    /// Where its value came from; `Undefined` if any use had neither value nor default.
    pub source: VarSource,
}

/// One container of a pipeline, or a sidecar of one.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    /// The identifier within the pipeline (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`), also its hostname.
    pub name: String,
    /// The image repository, e.g. `registry.example.com:5000/team/loader`.
    pub image_repo: String,
    /// The image tag, `latest` by default.
    pub tag: String,
    /// A link to the code or documentation.
    pub info_link: Option<String>,
    /// A short description.
    pub desc: Option<String>,
    /// The registry user name.
    pub image_reg_username: Option<String>,
    /// The registry password.
    pub image_reg_password: Option<Secret>,
    /// Whether the container reruns on a schedule in service mode.
    pub is_service_container: bool,
    /// Environment variables, in the order written; values are secrets.
    pub env_vars: Vec<(String, Secret)>,
    /// Names of containers that must succeed before this one starts.
    pub dependencies: Vec<String>,
    /// Environments (values of `ENV`) in which this container is skipped.
    pub exclude_in_env: Vec<String>,
    /// Mounts.
    pub volumes: Vec<Volume>,
    /// The command; empty means the image's own.
    pub command: Vec<String>,
    /// Helpers started with this container (always empty for a sidecar).
    pub sidecars: Vec<ContainerSpec>,
    /// Labels, in the order written.
    pub labels: Vec<(String, String)>,
    /// Run even when a hook or the state says it ran before.
    pub force_rerun: bool,
    /// Stop and fail the container after this long (`timeout: 30m`).
    pub timeout: Option<Duration>,
    /// Attempts after the first when it fails (`retries: 2`).
    pub retries: u32,
    /// The wait before the first retry, doubled before each further one (`retry_delay: 10s`).
    pub retry_delay: Duration,
    /// For a sidecar: a command run inside it until it succeeds, before its container starts.
    pub ready: Option<ReadyCheck>,
    /// Where things were written, for the planner's messages.
    pub spans: ContainerSpans,
}

/// A sidecar's readiness check (`ready:`), like compose's healthcheck or a GitHub Actions
/// service's health options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyCheck {
    /// The command run inside the sidecar (`exec`); ready when it exits 0.
    pub command: Vec<String>,
    /// How long to keep trying before the container fails (default 60 s).
    pub timeout: Duration,
    /// The pause between tries (default 1 s).
    pub interval: Duration,
}

impl ReadyCheck {
    /// The default time a sidecar has to become ready.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    /// The default pause between tries.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
}

/// The default `retry_delay`.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(10);

/// Positions of a container's parts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContainerSpans {
    /// The container's mapping.
    pub item: Span,
    /// Its `name` value.
    pub name: Span,
    /// Each entry of `dependencies`, in order.
    pub dependencies: Vec<Span>,
}

impl ContainerSpec {
    /// The image reference handed to the engine: `repo:tag`, or `repo` alone when it carries
    /// a digest (`repo@sha256:…`).
    pub fn image(&self) -> String {
        if self.image_repo.contains('@') {
            self.image_repo.clone()
        } else {
            format!("{}:{}", self.image_repo, self.tag)
        }
    }
}

/// A mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// What is mounted.
    pub source: VolumeSource,
    /// The absolute path inside the container.
    pub target: String,
    /// Mounted read-only (`ro`) rather than read-write (`rw`, the default).
    pub read_only: bool,
}

/// What a mount takes its content from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// A named engine volume (a bare name such as `pgdata`).
    Named(String),
    /// A directory or file on the host.
    HostPath {
        /// As written in the description.
        written: String,
        /// Absolute: relative paths are resolved against the pipeline file's directory and a
        /// leading `~/` against `HOME`.
        resolved: PathBuf,
    },
}

impl Volume {
    /// The compose short form, `SOURCE:TARGET:MODE`, with the resolved host path.
    pub fn short_form(&self) -> String {
        let source = match &self.source {
            VolumeSource::Named(name) => name.clone(),
            VolumeSource::HostPath { resolved, .. } => resolved.display().to_string(),
        };
        format!("{source}:{}:{}", self.target, if self.read_only { "ro" } else { "rw" })
    }
}
