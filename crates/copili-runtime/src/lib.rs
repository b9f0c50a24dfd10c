//! copili's runtime: everything that talks to a container engine.
//!
//! The [`Engine`] trait is the only place that knows engines exist; [`CliEngine`] implements it
//! for the `docker` and `podman` command line clients, run through `duct` — never the API
//! socket — so that rootless podman works without a daemon. The clients inherit copili's
//! environment (`CONTAINERS_CONF`, `DOCKER_HOST`, `REGISTRY_AUTH_FILE`, …): those are the
//! host's settings.
//!
//! Architecture invariant: this is the only crate that spawns processes, and the values of
//! secrets (environment values, registry passwords) never appear on a command line: only
//! variable names do, with the values in the client's own environment.

pub mod airgap;
mod cli_engine;
mod engine;
/// A scripted engine for tests (`features = ["fake"]`): not part of the product.
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod images;
pub mod lock;
pub mod reason;
mod run_args;
pub mod runner;
mod shared_argv;
pub mod swarm;

pub use cli_engine::{shell_quote, CliEngine, EngineKind, DEFAULT_ENGINE_TIMEOUT};
pub use engine::{
    BuildRequest, ContainerStatus, CreateRequest, Engine, EngineError, ExitStatus, ImageIdentity, LogLine, LogLines,
    LogStream, Mount, MountSource, PullRequest, RegistryAuth, MAX_LINE_BYTES,
};
pub use swarm::SwarmEngine;
