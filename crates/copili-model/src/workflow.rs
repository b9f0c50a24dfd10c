//! The workflow properties of a container (issue 17): a handler's `run_on`, the `matrix` an
//! expansion comes from, and what it does about failures (`allow_failure`, `condition`).

use crate::document::Span;

/// Where an expansion of a `matrix` description comes from (`load-genes` from `load` with
/// `source=genes`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MatrixOrigin {
    /// The description's `name`: a dependency on it is one on every expansion.
    pub base: String,
    /// This expansion's value of each key, in the order the keys are written.
    pub values: Vec<(String, String)>,
}

impl MatrixOrigin {
    /// `source=genes, db=v2`.
    pub fn values_text(&self) -> String {
        self.values.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Display for MatrixOrigin {
    /// `matrix load: source=genes`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "matrix {}: {}", self.base, self.values_text())
    }
}

/// What a container does about failures: which of its own are allowed, and which
/// dependencies it needs only to have ended.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct FlowSpec {
    /// Which failures are allowed (`allow_failure:`): reported as `failed (allowed)`, its
    /// dependents run and the run's exit code ignores them.
    pub allow_failure: AllowFailure,
    /// The names of `dependencies` written with `condition: completed` (the others need the
    /// dependency to succeed).
    pub completed_dependencies: Vec<String>,
    /// Where the `allow_failure` key is, for a backend's refusal.
    #[serde(skip)]
    pub allow_failure_span: Span,
}

/// Which failures of a container are allowed (`allow_failure:`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub enum AllowFailure {
    /// None (`false`, the default): a failure fails the run.
    #[default]
    No,
    /// Every failure (`true`): non-zero exits, timeouts, engine and image failures.
    Any,
    /// Only an exit with one of these codes (`[3, 4]`); a timeout or an engine failure, which
    /// has no exit code of the container's own, is not allowed.
    ExitCodes(Vec<i32>),
}

impl AllowFailure {
    /// Whether a failure that ended with `exit_code` (`None`: no exit code of the container's
    /// own, e.g. a timeout or an engine error) is allowed.
    pub fn allows(&self, exit_code: Option<i32>) -> bool {
        match self {
            AllowFailure::No => false,
            AllowFailure::Any => true,
            AllowFailure::ExitCodes(codes) => exit_code.is_some_and(|code| codes.contains(&code)),
        }
    }
}

/// What a dependent needs of one of its dependencies (`condition:` of a `dependencies` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum DependencyCondition {
    /// It succeeded (or failed with an allowed failure): the default.
    #[default]
    Succeeded,
    /// It ran and ended, however (succeeded or failed): a cleanup step. A dependency that did
    /// not run (cancelled, skipped by exclusion) still cancels the dependent.
    Completed,
}

impl DependencyCondition {
    /// Every condition with its spelling.
    pub const ALL: [(&'static str, DependencyCondition); 2] =
        [("succeeded", DependencyCondition::Succeeded), ("completed", DependencyCondition::Completed)];

    /// `succeeded` or `completed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyCondition::Succeeded => "succeeded",
            DependencyCondition::Completed => "completed",
        }
    }
}

/// When a handler runs (`run_on:`), after the run's other containers have all ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOn {
    /// When the run failed: a container failed, or was cancelled by a failure.
    Failure,
    /// When every container succeeded (or was skipped).
    Success,
    /// Either way.
    Always,
}

impl RunOn {
    /// Every value with its spelling.
    pub const ALL: [(&'static str, RunOn); 3] =
        [("failure", RunOn::Failure), ("success", RunOn::Success), ("always", RunOn::Always)];

    /// `failure`, `success` or `always`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOn::Failure => "failure",
            RunOn::Success => "success",
            RunOn::Always => "always",
        }
    }

    /// The value a spelling names (any case).
    pub fn parse(text: &str) -> Option<RunOn> {
        RunOn::ALL.iter().find(|(name, _)| name.eq_ignore_ascii_case(text.trim())).map(|&(_, r)| r)
    }

    /// Whether a handler with this value runs after a run that `failed` (or not).
    pub fn runs_after(self, failed: bool) -> bool {
        match self {
            RunOn::Failure => failed,
            RunOn::Success => !failed,
            RunOn::Always => true,
        }
    }
}

impl std::fmt::Display for RunOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
