//! What the metrics count, kept between runs: a pipeline's counters and last values, in the
//! state directory (`<state>/<name>.runs/metrics.json`), so that the counters of a nightly
//! `copili run` grow from one run to the next as Prometheus expects of a counter.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use copili_runtime::runner::{Outcome, Status};

use super::super::{RunInfo, RunSummary};

/// A pipeline's counters and last values.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PipelineMetrics {
    /// The pipeline's identity.
    pub pipeline: String,
    /// Runs recorded (a service's initial run and each due group's run count one each).
    pub runs: u64,
    /// Runs that ended with a non-zero exit code.
    pub failed_runs: u64,
    /// When the last run ended (seconds since the Unix epoch).
    pub last_run_end: Option<f64>,
    /// When the last run that succeeded ended.
    pub last_run_success: Option<f64>,
    /// Per container, by name.
    pub containers: BTreeMap<String, ContainerMetrics>,
    /// Per service container: when it is next due (seconds since the Unix epoch).
    pub next_due: BTreeMap<String, f64>,
}

/// One container's counters and last values.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContainerMetrics {
    /// Times it ran to an end: succeeded or failed (the report's statuses).
    pub runs: u64,
    /// Times it failed, allowed failures (`allow_failure`) included.
    pub failures: u64,
    /// Times it failed with a failure `allow_failure` allows.
    #[serde(default)]
    pub allowed_failures: u64,
    /// Times it was cancelled (by a failure upstream, `--fail-fast` or an interrupt).
    pub cancelled: u64,
    /// Attempts, retries included.
    pub attempts: u64,
    /// The sum of the durations of its runs, seconds (with `runs`, the summary's sum and count).
    pub duration_sum: f64,
    /// The duration of its last run, seconds.
    pub last_duration: Option<f64>,
    /// The exit code of its last run.
    pub last_exit_code: Option<i32>,
    /// When it last succeeded (end, seconds since the Unix epoch).
    pub last_success: Option<f64>,
}

/// Seconds since the Unix epoch, with the sub-second part.
pub fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl PipelineMetrics {
    /// No runs of `pipeline` yet.
    pub fn new(pipeline: &str) -> PipelineMetrics {
        PipelineMetrics { pipeline: pipeline.to_string(), ..PipelineMetrics::default() }
    }

    /// What was kept at `path` for `pipeline`, or nothing counted yet if there is no such file,
    /// it cannot be read, or it is another pipeline's (a counter then starts again, which
    /// Prometheus reads as a reset).
    pub fn load(path: &Path, pipeline: &str) -> PipelineMetrics {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<PipelineMetrics>(&bytes).ok())
            .filter(|m| m.pipeline == pipeline)
            .unwrap_or_else(|| PipelineMetrics::new(pipeline))
    }

    /// Counts one run. Containers that did not run (skipped, not due in a service run) count
    /// nothing; those that ran count a run, a failure if they failed, their attempts and
    /// duration.
    pub fn record(&mut self, info: &RunInfo, summary: &RunSummary) {
        self.runs += 1;
        let end = unix_seconds(summary.finished_at);
        self.last_run_end = Some(end);
        if summary.exit_code == 0 {
            self.last_run_success = Some(end);
        } else {
            self.failed_runs += 1;
        }
        for (container, outcome) in info.containers.iter().zip(&summary.outcomes) {
            let entry = self.containers.entry(container.name.clone()).or_default();
            entry.record(outcome);
        }
    }
}

impl ContainerMetrics {
    fn record(&mut self, outcome: &Outcome) {
        self.attempts += u64::from(outcome.attempts);
        match outcome.status {
            Status::Skipped => return,
            Status::Cancelled => {
                self.cancelled += 1;
                return;
            }
            Status::Succeeded => self.last_success = outcome.finished_at.map(unix_seconds),
            Status::Failed => self.failures += 1,
            Status::FailedAllowed => {
                self.failures += 1;
                self.allowed_failures += 1;
            }
        }
        self.runs += 1;
        if let (Some(start), Some(end)) = (outcome.started_at, outcome.finished_at) {
            let seconds = end.duration_since(start).map(|d| d.as_secs_f64()).unwrap_or(0.0);
            self.duration_sum += seconds;
            self.last_duration = Some(seconds);
        }
        self.last_exit_code = outcome.exit_code.or(self.last_exit_code);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use copili_runtime::runner::Reason;

    use super::*;
    use crate::report::ContainerInfo;

    fn info() -> RunInfo {
        let container = |name: &str| ContainerInfo {
            name: name.into(),
            image: "x:latest".into(),
            sidecars: Vec::new(),
            depends_on: Vec::new(),
            service: false,
            run_on: None,
            matrix: None,
            completed_dependencies: Vec::new(),
        };
        RunInfo {
            pipeline: "p".into(),
            run_id: "r".into(),
            engine: "podman".into(),
            started_at: UNIX_EPOCH,
            containers: vec![container("ok"), container("bad"), container("after"), container("skipped")],
        }
    }

    fn ran(status: Status, exit_code: i32, seconds: u64) -> Outcome {
        let start = UNIX_EPOCH + Duration::from_secs(1000);
        Outcome {
            status,
            exit_code: Some(exit_code),
            attempts: 2,
            started_at: Some(start),
            finished_at: Some(start + Duration::from_secs(seconds)),
            reason: None,
            outputs: Vec::new(),
        }
    }

    #[test]
    fn a_run_counts_what_ran_and_how() {
        let outcomes = vec![
            ran(Status::Succeeded, 0, 3),
            ran(Status::Failed, 4, 1),
            Outcome::not_run(Status::Cancelled, Reason::RanBefore { why: "x".into() }),
            Outcome::not_run(Status::Skipped, Reason::RanBefore { why: "x".into() }),
        ];
        let summary = RunSummary { outcomes, finished_at: UNIX_EPOCH + Duration::from_secs(2000), exit_code: 1 };
        let mut m = PipelineMetrics::new("p");
        m.record(&info(), &summary);
        m.record(&info(), &summary);
        assert_eq!((m.runs, m.failed_runs, m.last_run_end, m.last_run_success), (2, 2, Some(2000.0), None));
        let ok = &m.containers["ok"];
        assert_eq!((ok.runs, ok.failures, ok.attempts, ok.duration_sum), (2, 0, 4, 6.0));
        assert_eq!((ok.last_success, ok.last_exit_code), (Some(1003.0), Some(0)));
        let bad = &m.containers["bad"];
        assert_eq!((bad.runs, bad.failures, bad.last_exit_code, bad.last_success), (2, 2, Some(4), None));
        let after = &m.containers["after"];
        assert_eq!((after.runs, after.cancelled, after.duration_sum), (0, 2, 0.0));
        assert_eq!(m.containers["skipped"], ContainerMetrics::default());
    }

    #[test]
    fn the_store_is_the_pipelines_own() {
        let dir = tempfile::tempdir().expect("valid");
        let path = dir.path().join("metrics.json");
        let mut m = PipelineMetrics::new("p");
        m.runs = 7;
        std::fs::write(&path, serde_json::to_vec(&m).expect("valid")).expect("valid");
        assert_eq!(PipelineMetrics::load(&path, "p").runs, 7);
        assert_eq!(PipelineMetrics::load(&path, "other"), PipelineMetrics::new("other"));
        std::fs::write(&path, b"{not json").expect("valid");
        assert_eq!(PipelineMetrics::load(&path, "p"), PipelineMetrics::new("p"));
    }
}
