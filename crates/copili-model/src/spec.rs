//! The validated pipeline: what the description says, with defaults applied, variables
//! expanded and positions kept for the planner's messages.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::diagnostic::{Diagnostic, SourceFile};
use crate::document::Span;
use crate::interpolate::VarSource;
use crate::options::RunOptions;
use crate::placement::Placement;
use crate::secret::Secret;
pub use crate::workflow::{AllowFailure, DependencyCondition, FlowSpec, MatrixOrigin, RunOn};

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
    /// The variable's name, as in `${NAME}`.
    pub name: String,
    /// Where its value came from; `Undefined` if any use had neither value nor default.
    pub source: VarSource,
}

/// One container of a pipeline, or a sidecar of one.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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
    /// The registry password, a [`Secret`]: masked wherever it is shown, exposed only to log in.
    pub image_reg_password: Option<Secret>,
    /// Whether the container reruns on a schedule in service mode.
    pub is_service_container: bool,
    /// Environment variables, in the order written; values are secrets.
    pub env_vars: Vec<(String, Secret)>,
    /// Names of containers that must succeed before this one starts.
    pub dependencies: Vec<String>,
    /// Environments (values of `ENV`) in which this container is skipped.
    pub exclude_in_env: Vec<String>,
    /// Host paths and named volumes mounted into the container, in the order written.
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
    pub ready: Option<Box<ReadyCheck>>,
    /// When to pull the image (`pull:`); `None` is the run's default (`--pull`, else `missing`).
    pub pull: Option<PullPolicy>,
    /// Verify the registry's TLS certificate (`tls_verify: false` adds podman's
    /// `--tls-verify=false`; docker decides by its daemon's `insecure-registries`).
    pub tls_verify: bool,
    /// Build the image instead of pulling it (`build:`). The rare, large properties are boxed:
    /// a pipeline of 10,000 containers keeps every description in memory.
    pub build: Option<Box<BuildSpec>>,
    /// A service container's own schedule (`schedule:`), else the run's.
    #[serde(serialize_with = "serialize_display")]
    pub schedule: Option<Box<copili_schedule::Schedule>>,
    /// The time zone of the schedule (`timezone:`, an IANA name or `local`), else the run's.
    pub timezone: Option<String>,
    /// Run a service container once at start-up when a run was missed while copili was down.
    pub catch_up: bool,
    /// Run only until it succeeded once (skipped afterwards unless `force_rerun` or `--force`).
    pub run_once: bool,
    /// The `env_vars` names whose value refers to a variable (exported as Secret references).
    pub env_from_variables: Vec<String>,
    /// Swarm placement constraints (`node.labels.disk==ssd`); node selectors when exported.
    pub placement: Vec<Placement>,
    /// CPU and memory limits and reservations.
    pub resources: Option<Box<Resources>>,
    /// The container options compose users expect (`networks`, `user`, `tmpfs`, …); `None`
    /// when none is set (read them with [`ContainerSpec::options`]).
    pub run_options: Option<Box<RunOptions>>,
    // handlers (`run_on`), issue 17
    /// A handler (`run_on: failure|success|always`): no part of the graph, run once after the
    /// run's other containers have ended, when the run's outcome matches; `None` for others.
    pub run_on: Option<RunOn>,
    // matrix (issue 17): fan-out of one description at load time.
    /// For one expansion of a `matrix` description: the description's name and this
    /// expansion's values; `None` for a container written as such.
    pub matrix: Option<Box<MatrixOrigin>>,
    // Allowed failures and dependency conditions (issue 17, `flow`).
    /// `allow_failure` and the `condition` of `dependencies`; `None` when neither is written
    /// (read them with [`ContainerSpec::allow_failure`] and [`ContainerSpec::condition_of`]).
    pub flow: Option<Box<FlowSpec>>,
    /// Where things were written, for the planner's messages.
    #[serde(skip)]
    pub spans: ContainerSpans,
}

/// A value as it is written (a schedule), in the canonical serialization of a description.
fn serialize_display<T: std::fmt::Display, S: serde::Serializer>(
    value: &Option<Box<T>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

/// A sidecar's readiness check (`ready:`), like compose's healthcheck or a GitHub Actions
/// service's health options.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
    /// The whole description (its mapping), where messages about it as a whole point.
    pub item: Span,
    /// Its `name` value.
    pub name: Span,
    /// Each entry of `dependencies`, in order.
    pub dependencies: Vec<Span>,
    /// The `run_on` key of a handler (issue 17).
    pub run_on: Option<Span>,
    // Outputs between steps (`${{ steps.NAME.outputs.KEY }}`, issue 17).
    /// Where the `command` and `env_vars` that hold `${{ … }}` were written; `None` when
    /// none does (boxed: rare).
    pub expressions: Option<Box<ExpressionSpans>>,
}

/// Where the strings holding `${{ … }}` expressions were written ([`ContainerSpans`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpressionSpans {
    /// The `command` value, when a word of it holds one.
    pub command: Option<Span>,
    /// Each `env_vars` name whose value holds one, with where it was written.
    pub env_vars: Vec<(String, Span)>,
}

/// CPU and memory limits and reservations (`resources:`).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Resources {
    /// The most the container may use.
    pub limits: ResourceAmounts,
    /// What it is guaranteed (swarm and Kubernetes schedule by it).
    pub reservations: ResourceAmounts,
}

/// Amounts of CPU and memory.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct ResourceAmounts {
    /// CPUs, fractions allowed.
    pub cpus: Option<f64>,
    /// Memory in bytes (`512m` is 536,870,912: k, m, g, t are powers of 1024).
    pub memory: Option<u64>,
}

/// When an image is pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum PullPolicy {
    /// Before every run, even when an image of that name and tag is present (copili 1.4's
    /// "force pull").
    Always,
    /// Only when no image of that name and tag is present locally (`latest` included), so that
    /// preloaded images work on hosts without a registry.
    #[default]
    Missing,
    /// Never: an absent image fails the container at once.
    Never,
}

impl PullPolicy {
    /// Every policy with its spelling.
    pub const ALL: [(&'static str, PullPolicy); 3] =
        [("always", PullPolicy::Always), ("missing", PullPolicy::Missing), ("never", PullPolicy::Never)];

    /// `always`, `missing` or `never`.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "always",
            PullPolicy::Missing => "missing",
            PullPolicy::Never => "never",
        }
    }

    /// The policy a spelling names (`always`, `missing`, `never`; any case).
    pub fn parse(text: &str) -> Option<PullPolicy> {
        PullPolicy::ALL.iter().find(|(name, _)| name.eq_ignore_ascii_case(text.trim())).map(|&(_, p)| p)
    }
}

impl std::fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to build a container's image (`build:`), tagged with the container's `image_repo:tag`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BuildSpec {
    /// Where the build context comes from.
    pub context: BuildContext,
    /// The Dockerfile, relative to the context (default `Dockerfile`).
    pub dockerfile: Option<String>,
    /// Build arguments; values are secrets (they reach the engine through its environment).
    pub args: Vec<(String, Secret)>,
    /// The stage to build (`--target`).
    pub target: Option<String>,
}

/// A build context: a directory, or a git repository cloned for the build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum BuildContext {
    /// A directory on the host.
    Dir {
        /// The path as written in the file, for messages.
        written: String,
        /// Absolute, resolved against the pipeline file's directory.
        resolved: PathBuf,
    },
    /// A git repository, cloned with the `git` CLI (`URL[#REF][:SUBDIR]`, as docker reads it).
    Git {
        /// Anything `git clone` understands, local paths included (resolved when relative).
        url: String,
        /// The branch, tag or commit to check out; the default branch when `None`.
        reference: Option<String>,
        /// The context's directory inside the repository.
        subdir: Option<String>,
    },
}

impl BuildContext {
    /// Reads a context as written: a git repository when it has a URL scheme (`https://`,
    /// `ssh://`, `git://`, `file://`), is scp-like (`git@host:path`), ends in `.git`, or carries
    /// a `#REF[:SUBDIR]` fragment; a directory otherwise. Relative paths are resolved against
    /// `base`.
    pub fn parse(written: &str, base: &std::path::Path) -> BuildContext {
        let (location, fragment) = match written.split_once('#') {
            Some((location, fragment)) => (location, Some(fragment)),
            None => (written, None),
        };
        let has_scheme = location.contains("://");
        let scp_like =
            !has_scheme && location.split_once(':').is_some_and(|(host, _)| host.contains('@') && !host.contains('/'));
        let is_git = has_scheme || scp_like || location.trim_end_matches('/').ends_with(".git") || fragment.is_some();
        if !is_git {
            return BuildContext::Dir { written: written.to_string(), resolved: resolve(written, base) };
        }
        let url =
            if has_scheme || scp_like { location.to_string() } else { resolve(location, base).display().to_string() };
        let (reference, subdir) = match fragment {
            Some(fragment) => match fragment.split_once(':') {
                Some((reference, subdir)) => (reference, subdir),
                None => (fragment, ""),
            },
            None => ("", ""),
        };
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        BuildContext::Git { url, reference: some(reference), subdir: some(subdir.trim_matches('/')) }
    }
}

fn resolve(path: &str, base: &std::path::Path) -> PathBuf {
    let path = std::path::Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// The registry an image repository names: its first component when that looks like a host
/// (holds `.` or `:`, or is `localhost`), else `docker.io`, as docker and podman read it.
pub fn registry_of(image_repo: &str) -> &str {
    match image_repo.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// The options of a container that sets none.
static NO_OPTIONS: RunOptions = RunOptions::NONE;

impl ContainerSpec {
    /// Which of its failures are allowed (`allow_failure:`).
    pub fn allow_failure(&self) -> &AllowFailure {
        static NO: AllowFailure = AllowFailure::No;
        self.flow.as_ref().map_or(&NO, |f| &f.allow_failure)
    }

    /// The flow properties, created when the first is written.
    pub fn flow_mut(&mut self) -> &mut FlowSpec {
        self.flow.get_or_insert_with(Box::default)
    }

    /// What this container needs of its dependency `name`.
    pub fn condition_of(&self, name: &str) -> DependencyCondition {
        if self.flow.as_ref().is_some_and(|f| f.completed_dependencies.iter().any(|d| d == name)) {
            DependencyCondition::Completed
        } else {
            DependencyCondition::Succeeded
        }
    }

    /// The container options (`networks`, `user`, `tmpfs`, …), empty when none is set.
    pub fn options(&self) -> &RunOptions {
        self.run_options.as_deref().unwrap_or(&NO_OPTIONS)
    }

    /// The registry the image comes from (see [`registry_of`]).
    pub fn registry(&self) -> &str {
        registry_of(&self.image_repo)
    }

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

/// One entry of `volumes`: what is mounted, where in the container, and whether read-only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Volume {
    /// What is mounted.
    pub source: VolumeSource,
    /// The absolute path inside the container.
    pub target: String,
    /// Mounted read-only (`ro`) rather than read-write (`rw`, the default).
    pub read_only: bool,
}

/// What a mount takes its content from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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

#[cfg(test)]
mod tests {
    /// Every description of a large pipeline is in memory at once (10,000 containers in the
    /// benchmark): rare, large properties are boxed so that the common case stays small.
    #[test]
    fn a_container_description_stays_small() {
        let size = std::mem::size_of::<super::ContainerSpec>();
        // 584 with issue 17's properties: `matrix` and `flow` boxed, `run_on` a byte, and the
        // spans of `run_on` and of `${{ … }}` (boxed). 10,000 containers: under 6 MB.
        assert!(size <= 592, "ContainerSpec grew to {size} bytes: box the new rare property");
    }
}
