//! copili's planner: turns a [`Pipeline`](copili_model::Pipeline) into a [`Plan`].
//!
//! The dependency graph is a `daggy::Dag` with one node per container (file order) and an edge
//! from each dependency to its dependent. [`check`] finds what makes a graph impossible —
//! unknown dependencies, self-dependencies, cycles (printed as a path, which daggy's
//! `WouldCycle` does not name) — and [`plan`] applies the selection (environment, `--only`,
//! `--skip`, service-only) and computes topological levels, ties broken by file order.
//! [`unsupported`] names the container options a [`Backend`] (Docker Swarm, the Argo export)
//! cannot carry.
//!
//! Architecture invariant: the planner does no IO and never panics on input; every index it
//! hands out points into `Pipeline::containers`.

pub mod backend;
mod check;
mod matrix;
pub mod outputs;
mod plan;

#[cfg(test)]
mod test_pipeline;

pub use backend::{unsupported, unsupported_among, Backend};
pub use check::check;
pub use plan::{plan, Blocked, Exclusion, ExclusionReason, Plan, Selection};
