//! copili's pipeline description format.
//!
//! A pipeline file is a mapping with one key, the pipeline's name, holding the list of
//! container descriptions (the format of copili 0.9–1.4, in YAML or JSON). [`load()`] reads one
//! from a file, stdin, a string or a `serde_json::Value`, expands `${VAR}` references from the
//! environment and a `.env` file, and validates it, reporting every problem at once with its
//! file, line, column, container and property ([`Diagnostic`]).
//!
//! This crate does no IO beyond reading the pipeline and `.env` files, and never panics on
//! input. The dependency graph is checked by `copili-planner`.

pub mod diagnostic;
pub mod document;
pub mod dotenv;
pub mod escape;
pub mod expression;
pub mod interpolate;
mod json_tree;
pub mod load;
pub mod options;
pub mod placement;
pub mod properties;
pub mod schema;
pub mod secret;
pub mod spec;
mod workflow;

pub use diagnostic::{Diagnostic, Diagnostics, Note, Severity, SourceFile};
pub use document::Span;
pub use interpolate::VarSource;
pub use load::{decode_utf8, load, load_draft, Draft, EnvFile, Input, LoadOptions};
pub use options::{Device, ExtraHost, Gpus, HostAddress, NetworkAttachment, NetworkMode, RunOptions, Tmpfs, Ulimit};
pub use placement::{Placement, PlacementOp};
pub use secret::Secret;
pub use spec::{
    registry_of, AllowFailure, BuildContext, BuildSpec, ContainerSpans, ContainerSpec, DependencyCondition,
    ExpressionSpans, FlowSpec, MatrixOrigin, Pipeline, PullPolicy, ReadyCheck, ResourceAmounts, Resources, RunOn,
    VariableUse, Volume, VolumeSource,
};
