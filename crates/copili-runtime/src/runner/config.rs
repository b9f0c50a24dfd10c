//! How to run: the run's [`RunConfig`] and the per-container [`ContainerPolicy`].

use std::time::Duration;

use copili_model::Secret;

use crate::images::ImageConfig;

use super::naming::engine_name;

/// Per-container limits beyond the seed's format (Argo Workflows has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContainerPolicy {
    /// Stop and fail the container after this long.
    pub timeout: Option<Duration>,
    /// Attempts after the first.
    pub retries: u32,
    /// The wait before the first retry, doubled before each further one.
    pub retry_delay: Duration,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The pipeline's identity (engine-side names and labels key on it).
    pub identity: String,
    /// This run's id (label `io.copili.run-id`).
    pub run_id: String,
    /// Main containers running at once (sidecars take no slot); at least 1.
    pub jobs: usize,
    /// Stop starting containers after the first failure.
    pub fail_fast: bool,
    /// Grace period of a stop before the engine kills.
    pub stop_timeout: Duration,
    /// Environment variables for every container (`--set-env`); the container's own win.
    pub global_env: Vec<(String, Secret)>,
    /// Labels for every container (`--label`); the container's own win.
    pub global_labels: Vec<(String, String)>,
    /// Per-container limits by index, overriding the description's `timeout`, `retries` and
    /// `retry_delay`; usually empty.
    pub policies: Vec<ContainerPolicy>,
    /// How images are pulled and built.
    pub images: ImageConfig,
    /// Appended to engine-side names (`<identity>-<instance>-<name>`): service mode's runs
    /// use one per run, so that a container can start again while the engine still removes
    /// its previous instance. Labels keep the identity alone.
    pub instance: Option<String>,
    // Outputs between steps (issue 17).
    /// The directory of the runs' outputs on the host (copili's log directory): each main
    /// container's `/copili/out` is `<outputs_dir>/<run-id>/out/<container>/` (see
    /// [`super::outputs`]). `None`: no `/copili` mounts, no outputs.
    pub outputs_dir: Option<std::path::PathBuf>,
}

/// Main containers per CPU that run at once by default ([`RunConfig::default_jobs`]).
pub const DEFAULT_JOBS_PER_CPU: usize = 16;

impl RunConfig {
    /// The default of [`RunConfig::jobs`]: [`DEFAULT_JOBS_PER_CPU`] per CPU (32 on 2 CPUs).
    ///
    /// Not the CPU count: a container job mostly waits (on a database, the network, the
    /// engine), and the engine's clients, not copili, are what a wide level costs the host.
    /// Measured on 2 CPUs (docs/benchmarks.md, "Wide levels"): the raw engine's best `xargs
    /// -P` was between 8 and 50 in every case, and 32 keeps at most that many engine clients
    /// (each tens of MiB) alive; how fast they are started is bounded apart (4 per CPU in
    /// their first half second, on podman and docker).
    pub fn default_jobs() -> usize {
        DEFAULT_JOBS_PER_CPU * std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// The engine-side name of a container (or of `parts` of it: a sidecar, a network).
    pub fn engine_name(&self, parts: &[&str]) -> String {
        let mut all: Vec<&str> = vec![self.identity.as_str()];
        if let Some(instance) = &self.instance {
            all.push(instance);
        }
        all.extend_from_slice(parts);
        engine_name(&all)
    }
}
