//! The document of the JSON report: [`RunReport`] and its parts, the stable shape that
//! `--report` writes and `copili report` reads back.

use copili_runtime::runner::Status;
use serde::{Deserialize, Serialize};

use super::ReasonFields;

/// The JSON document of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The pipeline's identity.
    pub pipeline: String,
    /// The run's id (the containers' `io.copili.run-id` label).
    pub run_id: String,
    /// The engine: `docker`, `podman`, or the client's path.
    pub engine: String,
    /// When the run started.
    pub started_at: String,
    /// When it ended; `null` while it runs.
    pub finished_at: Option<String>,
    /// The exit code of `copili run`; `null` while it runs.
    pub exit_code: Option<i32>,
    /// Every container of the pipeline, in its order.
    pub containers: Vec<ContainerReport>,
    /// The images the run pulled or built (or found present), in the order they were first
    /// reported; left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageReport>,
}

/// One image of a [`RunReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageReport {
    /// The reference, `repo:tag`.
    pub image: String,
    /// `present`, `pulling`, `pulled`, `building`, `built`, `up-to-date` or `failed`.
    pub status: String,
    /// Pull attempts made.
    pub attempts: u32,
    /// How long the pull or build took.
    pub duration_s: Option<f64>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Why it failed, for scripts ([`ReasonFields`]); no keys when it did not fail.
    #[serde(flatten)]
    pub reason_fields: ReasonFields,
    /// When its preparation (pull, build, or the check that it is present) began, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When its preparation ended, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// One attempt of a container, in [`ContainerReport::attempt_times`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptTimes {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When it started.
    pub started_at: String,
    /// When it ended; `null` while it runs.
    pub finished_at: Option<String>,
    /// Why it failed, when another attempt followed; `null` otherwise.
    pub reason: Option<String>,
    /// Its sidecars: when each was started and, when it has a ready check, found ready (the
    /// main container starts after the last). Empty without sidecars.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<SidecarTimes>,
}

/// A sidecar in one attempt, in [`AttemptTimes::sidecars`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SidecarTimes {
    /// Its name.
    pub name: String,
    /// When it was started.
    pub started_at: String,
    /// When its ready check succeeded; `null` without a check (or before it succeeded).
    pub ready_at: Option<String>,
}

/// One container of a [`RunReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerReport {
    /// Its name in the pipeline.
    pub name: String,
    /// Where it is.
    pub status: ReportStatus,
    /// The container's exit code; `null` when it never ran to an end.
    pub exit_code: Option<i32>,
    /// How many times it was started.
    pub attempts: u32,
    /// When its first attempt started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// From `started_at` to `finished_at`, in seconds with milliseconds.
    pub duration_s: Option<f64>,
    /// Why it failed, was cancelled or skipped.
    pub reason: Option<String>,
    /// Why, for scripts ([`ReasonFields`]); no keys when there is no reason.
    #[serde(flatten)]
    pub reason_fields: ReasonFields,
    /// Its image, `repo:tag`.
    pub image: String,
    /// The names of its direct dependencies; left out when none (and in reports of copili
    /// before 0.1: readers take a missing key as none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// A service container; left out when not.
    #[serde(default, skip_serializing_if = "is_false")]
    pub service: bool,
    /// A handler's `run_on` (`failure`, `success`, `always`): it ran after the others, and its
    /// status does not change the run's exit code; left out for other containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_on: Option<String>,
    /// The names of its sidecars; left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<String>,
    /// Its log file (`--log-dir`), as the run named it; left out when the run wrote none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
    /// `true` when it failed in a way its `allow_failure` allows (status `failed_allowed`);
    /// left out otherwise.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allowed: bool,
    /// The names of the dependencies it needs only to have ended (`condition: completed`);
    /// left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub completed_dependencies: Vec<String>,
    /// Each attempt's start and end; left out when it never started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempt_times: Vec<AttemptTimes>,
    /// What it wrote to `/copili/out/*.env`, by key (outputs between steps); left out when
    /// nothing.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub outputs: std::collections::BTreeMap<String, String>,
    /// For an expansion of a `matrix` description: its name and this expansion's values;
    /// left out otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixReport>,
}

/// Where an expansion of a `matrix` description comes from, in a [`ContainerReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixReport {
    /// The description's name.
    pub of: String,
    /// This expansion's value of each key.
    pub values: std::collections::BTreeMap<String, String>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A container's status in a [`ContainerReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    /// Not started yet.
    Pending,
    /// Started, not ended.
    Running,
    /// It ran and exited 0.
    Succeeded,
    /// It ran and failed.
    Failed,
    /// It failed in a way its `allow_failure` allows (`"failed_allowed"`): its dependents ran
    /// and the run's exit code ignores it.
    #[serde(rename = "failed_allowed")]
    FailedAllowed,
    /// It did not run, or was stopped.
    Cancelled,
    /// It was not part of the run.
    Skipped,
}

impl From<Status> for ReportStatus {
    fn from(status: Status) -> ReportStatus {
        match status {
            Status::Succeeded => ReportStatus::Succeeded,
            Status::Failed => ReportStatus::Failed,
            Status::FailedAllowed => ReportStatus::FailedAllowed,
            Status::Cancelled => ReportStatus::Cancelled,
            Status::Skipped => ReportStatus::Skipped,
        }
    }
}
