//! The runner: starts each selected container as soon as all its dependencies succeeded, with
//! at most `jobs` main containers at once, cancels the dependents of a failure, and reports
//! everything as [`RunEvent`]s. It never prints.
//!
//! One coordinator (the caller's thread, `coordinator.rs`) owns the state of every container;
//! each running container has a worker thread (`attempt.rs`) doing create → start → follow
//! output → wait → remove, and reporting back on a channel. The containers that will start
//! next are created ahead while their dependencies run (`ahead.rs`), so that their worker only
//! starts them. Cancellation (a signal,
//! `--fail-fast`) is a shared [`CancelToken`] the workers watch while they wait. Why a
//! container did not succeed is a typed [`Reason`]; the `copili` crate's reporters word it.

mod ahead;
mod attempt;
mod cancel;
mod config;
mod coordinator;
mod events;
mod hooks;
mod naming;
mod outcome;
pub mod outputs;
mod pacing;
mod preflight;
mod removal;
mod request;
mod sweep;

use crate::engine::{Engine, EngineError};

pub use crate::reason::{Cancelling, DependencyEnd, OutputsProblem, Reason};
pub use cancel::CancelToken;
pub use config::{ContainerPolicy, RunConfig, DEFAULT_JOBS_PER_CPU};
pub use coordinator::{run, run_with_hooks};
pub use events::RunEvent;
pub use hooks::{Finished, Hooks, NoHooks};
pub use naming::{copili_labels, engine_name, CONTAINER_LABEL, PIPELINE_LABEL, ROLE_LABEL, RUN_ID_LABEL};
pub use outcome::{Outcome, Status};
pub use preflight::{missing_networks, MissingNetwork};
pub use request::planned_requests;
pub use sweep::{sweep, LeftBehind, LeftKind};

/// Removes every container and network copili left of a pipeline (by its identity), or of
/// all pipelines (`None`), found by copili's labels. Returns how many of each were removed.
///
/// Both are listed at once: every run starts with this, usually finding nothing, and the two
/// listings one after the other were a tenth of a second of a short chain's critical path.
pub fn clean(engine: &dyn Engine, identity: Option<&str>) -> Result<(usize, usize), EngineError> {
    let labels = vec![(naming::PIPELINE_LABEL.to_string(), identity.unwrap_or_default().to_string())];
    let (containers, networks) = std::thread::scope(|scope| {
        let networks = scope.spawn(|| engine.networks_with_labels(&labels));
        let containers = engine.containers_with_labels(&labels);
        (containers, networks.join())
    });
    let containers = containers?;
    for name in &containers {
        engine.remove(name)?;
    }
    // A listing made while a leftover container still held its network shows the network
    // too, as wanted: it is removed after the containers.
    let networks = networks.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    for name in &networks {
        engine.network_remove(name)?;
    }
    Ok((containers.len(), networks.len()))
}

#[cfg(test)]
mod tests;
