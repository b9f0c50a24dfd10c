//! How each container ended: its [`Status`] and [`Outcome`], with the typed [`Reason`].

use std::time::SystemTime;

use crate::reason::Reason;

/// How a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It ran and exited 0.
    Succeeded,
    /// It ran and exited non-zero, timed out, or the engine failed it.
    Failed,
    /// It failed in a way its `allow_failure` allows: reported as a failure, but its
    /// dependents run as after a success and the run's exit code ignores it.
    FailedAllowed,
    /// It did not run (or was stopped) because of a failure elsewhere or an interrupt.
    Cancelled,
    /// It was not part of this run (excluded, not selected).
    Skipped,
}

impl Status {
    /// `succeeded`, `failed`, `failed_allowed`, `cancelled`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::FailedAllowed => "failed_allowed",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
        }
    }
}

impl Status {
    /// Whether it failed, allowed or not.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::FailedAllowed)
    }

    /// Whether it counts as a success for its dependents and the run's exit code: it
    /// succeeded, or failed with an allowed failure.
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Succeeded | Status::FailedAllowed)
    }

    /// How a person reads it: `failed (allowed)` for [`Status::FailedAllowed`], else
    /// [`Status::as_str`].
    pub fn label(self) -> &'static str {
        match self {
            Status::FailedAllowed => "failed (allowed)",
            other => other.as_str(),
        }
    }
}

/// The result for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// The container's own exit code; `None` when it never ran to an end.
    pub exit_code: Option<i32>,
    /// How many times it was started.
    pub attempts: u32,
    /// When the first attempt started.
    pub started_at: Option<SystemTime>,
    /// When it ended.
    pub finished_at: Option<SystemTime>,
    /// Why it failed, was cancelled or skipped.
    pub reason: Option<Reason>,
    /// What it wrote to `/copili/out/*.env` (outputs between steps, issue 17), in order; empty
    /// unless it succeeded.
    pub outputs: Vec<(String, String)>,
}

impl Outcome {
    /// This outcome under the container's `allow_failure`: a failure it allows becomes
    /// [`Status::FailedAllowed`] (exit code and reason kept).
    pub fn allowed_by(mut self, allow: &copili_model::AllowFailure) -> Outcome {
        // A list of exit codes allows exits only: not a timeout's or an engine's code.
        let code = match &self.reason {
            Some(Reason::ExitCode { code, .. }) => Some(*code),
            _ => None,
        };
        if self.status == Status::Failed && allow.allows(code) {
            self.status = Status::FailedAllowed;
        }
        self
    }

    /// An outcome of a container that never started.
    pub fn not_run(status: Status, reason: Reason) -> Outcome {
        Outcome {
            status,
            exit_code: None,
            attempts: 0,
            started_at: None,
            finished_at: None,
            reason: Some(reason),
            outputs: Vec::new(),
        }
    }
}
