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
    /// It did not run (or was stopped) because of a failure elsewhere or an interrupt.
    Cancelled,
    /// It was not part of this run (excluded, not selected).
    Skipped,
}

impl Status {
    /// `succeeded`, `failed`, `cancelled`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
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
