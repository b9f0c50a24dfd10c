//! Handlers (`run_on: failure|success|always`): containers outside the graph, run once after
//! the run's other containers have all ended, when the run's outcome matches.
//!
//! The planner leaves them out of the main plan ([`copili_planner::ExclusionReason::Handler`]);
//! after the main run, [`run`] runs those that are due as a second small run of the same run id,
//! with the outcome in their environment and the main run's JSON report mounted read-only. Their
//! own outcome is reported like any container's (its report entry has `run_on`), but never
//! changes the run's exit code. An interrupted run runs no handler: they are cancelled with it.

use std::path::{Path, PathBuf};

use copili_model::{Secret, Volume, VolumeSource};
use copili_planner::ExclusionReason;
use copili_runtime::runner::{self, CancelToken, Outcome, Reason, RunConfig, RunEvent, Status};
use copili_runtime::Engine;

use crate::report::{system_clock, JsonReport, Reporter as _, RunInfo, RunSummary};

/// Where a handler finds the main run's JSON report (read-only; also in `COPILI_REPORT`).
pub const REPORT_TARGET: &str = "/copili/report.json";

/// How the main run ended, as its handlers are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// A container failed or was cancelled (the run's exit code is not 0).
    pub failed: bool,
    /// The names of the containers that failed, in file order.
    pub failed_names: Vec<String>,
}

impl RunEnd {
    /// The end of a run with these outcomes (one per container of `spec`; handlers, skipped
    /// in the main run, count as skipped).
    pub fn of(spec: &copili_model::Pipeline, outcomes: &[Outcome]) -> RunEnd {
        let all: Vec<usize> = (0..outcomes.len()).collect();
        RunEnd::among(spec, outcomes, &all)
    }

    /// [`RunEnd::of`] a run of some containers only (a service run's due group): the
    /// outcomes of the others do not count.
    pub fn among(spec: &copili_model::Pipeline, outcomes: &[Outcome], containers: &[usize]) -> RunEnd {
        let mut containers = containers.to_vec();
        containers.sort_unstable();
        let ended = containers.iter().filter_map(|&c| Some((outcomes.get(c)?, spec.containers.get(c)?)));
        let failed = ended.clone().any(|(o, _)| !(o.status.is_ok() || o.status == Status::Skipped));
        let failed_names = ended.filter(|(o, _)| o.status == Status::Failed).map(|(_, c)| c.name.clone()).collect();
        RunEnd { failed, failed_names }
    }

    /// `failed` or `succeeded`, as in `COPILI_RUN_STATUS`.
    pub fn status(&self) -> &'static str {
        if self.failed {
            "failed"
        } else {
            "succeeded"
        }
    }
}

/// The handlers of `plan` that run after a run that ended so, in file order.
pub fn due(spec: &copili_model::Pipeline, plan: &copili_planner::Plan, end: &RunEnd) -> Vec<usize> {
    plan.handlers()
        .into_iter()
        .filter(|&h| spec.containers.get(h).and_then(|c| c.run_on).is_some_and(|r| r.runs_after(end.failed)))
        .collect()
}

/// Whether an event is the main run's "skipped" of a handler, which the reporters do not
/// show (the handler's own events come after the run).
pub fn is_handler_skip(event: &RunEvent) -> bool {
    matches!(
        event,
        RunEvent::ContainerFinished {
            outcome: Outcome { reason: Some(Reason::Excluded(ExclusionReason::Handler)), .. },
            ..
        }
    )
}

/// The environment of a handler: the run's outcome, its id, and where the report is.
pub fn environment(end: &RunEnd, run_id: &str, report: bool) -> Vec<(String, Secret)> {
    let mut env = vec![
        ("COPILI_RUN_STATUS".to_string(), Secret::new(end.status())),
        ("COPILI_FAILED".to_string(), Secret::new(end.failed_names.join(","))),
        ("COPILI_RUN_ID".to_string(), Secret::new(run_id)),
    ];
    if report {
        env.push(("COPILI_REPORT".to_string(), Secret::new(REPORT_TARGET)));
    }
    env
}

/// A directory of its own for the report handlers read, removed when dropped.
pub struct ReportDir {
    dir: PathBuf,
}

impl ReportDir {
    /// Writes the main run's JSON report (`summary`, every container's outcome) into a new
    /// directory under the system's temporary directory, readable by the handler's user.
    pub fn write(info: &RunInfo, log_dir: Option<&Path>, summary: &RunSummary) -> std::io::Result<ReportDir> {
        let dir = std::env::temp_dir().join(format!("copili-handlers-{}-{}", info.run_id, std::process::id()));
        // A new directory, never one (or a link) that is already there: the temporary
        // directory is shared with other users.
        std::fs::create_dir(&dir)?;
        let report_dir = ReportDir { dir };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&report_dir.dir, std::fs::Permissions::from_mode(0o755))?;
        }
        let mut report = JsonReport::new(report_dir.path(), info, system_clock());
        if let Some(log_dir) = log_dir {
            report = report.with_log_dir(log_dir);
        }
        report.finish(summary);
        if let Some(error) = report.errors().into_iter().next() {
            return Err(std::io::Error::other(error));
        }
        Ok(report_dir)
    }

    /// The report file.
    pub fn path(&self) -> PathBuf {
        self.dir.join("report.json")
    }
}

impl Drop for ReportDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the `handlers` (indexes of `plan.handlers()`) after the main run that ended as `end`:
/// one small run on `engine` with `config`'s run id, each handler with the outcome in its
/// environment and `report` (when there is one) mounted at [`REPORT_TARGET`]. Reports through
/// `on_event`, and returns each handler's outcome. A run `cancel` stopped runs none: they are
/// cancelled.
#[allow(clippy::too_many_arguments)]
pub fn run(
    engine: &dyn Engine,
    spec: &copili_model::Pipeline,
    plan: &copili_planner::Plan,
    handlers: &[usize],
    config: &RunConfig,
    cancel: &CancelToken,
    end: &RunEnd,
    report: Option<&Path>,
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> Vec<(usize, Outcome)> {
    if handlers.is_empty() {
        return Vec::new();
    }
    if cancel.is_cancelled() {
        return handlers.iter().map(|&h| (h, Outcome::not_run(Status::Cancelled, Reason::Interrupted))).collect();
    }
    let mut spec = spec.clone();
    if let Some(report) = report {
        for &h in handlers {
            if let Some(container) = spec.containers.get_mut(h) {
                container.volumes.push(Volume {
                    source: VolumeSource::HostPath {
                        written: report.display().to_string(),
                        resolved: report.to_path_buf(),
                    },
                    target: REPORT_TARGET.to_string(),
                    read_only: true,
                });
            }
        }
    }
    let mut config = config.clone();
    // The images' presence asked before the run is the run's: handlers ask again.
    config.images.checked.clear();
    let mut env = environment(end, &config.run_id, report.is_some());
    env.append(&mut config.global_env);
    config.global_env = env;
    let handler_plan = plan.for_handlers(handlers);
    let outcomes = runner::run(engine, &spec, &handler_plan, &config, cancel, on_event);
    handlers.iter().filter_map(|&h| Some((h, outcomes.get(h)?.clone()))).collect()
}

/// Puts the handlers' outcomes into the run's, and the due handlers a stopped run did not
/// reach as cancelled.
pub fn merge(outcomes: &mut [Outcome], handled: Vec<(usize, Outcome)>) {
    for (h, outcome) in handled {
        if let Some(slot) = outcomes.get_mut(h) {
            *slot = outcome;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copili_model::{load, EnvFile, Input, LoadOptions};

    fn spec(text: &str) -> copili_model::Pipeline {
        let options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
        load(Input::Text(text), &options).expect("valid")
    }

    const PIPELINE: &str = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x}\n  - {name: on-failure, image_repo: x, run_on: failure}\n  - {name: on-success, image_repo: x, run_on: success}\n  - {name: both, image_repo: x, run_on: always}\n";

    fn outcome(status: Status) -> Outcome {
        Outcome {
            status,
            exit_code: None,
            attempts: 1,
            started_at: None,
            finished_at: None,
            reason: None,
            outputs: Vec::new(),
        }
    }

    #[test]
    fn the_outcome_selects_the_handlers_and_fills_their_environment() {
        let spec = spec(PIPELINE);
        let plan = copili_planner::plan(&spec, &copili_planner::Selection::default()).expect("valid");
        let skipped = Outcome::not_run(Status::Skipped, Reason::Excluded(ExclusionReason::Handler));
        let mut outcomes = vec![outcome(Status::Failed), outcome(Status::Cancelled)];
        outcomes.extend(std::iter::repeat_n(skipped.clone(), 3));
        let end = RunEnd::of(&spec, &outcomes);
        assert_eq!(end, RunEnd { failed: true, failed_names: vec!["a".into()] });
        assert_eq!(due(&spec, &plan, &end), vec![2, 4]);
        let env: Vec<(String, String)> =
            environment(&end, "r1", true).into_iter().map(|(k, v)| (k, v.expose().to_string())).collect();
        assert_eq!(
            env,
            [
                ("COPILI_RUN_STATUS", "failed"),
                ("COPILI_FAILED", "a"),
                ("COPILI_RUN_ID", "r1"),
                ("COPILI_REPORT", REPORT_TARGET)
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let succeeded = RunEnd::of(&spec, &[outcome(Status::Succeeded), outcome(Status::Skipped)]);
        assert_eq!((succeeded.status(), due(&spec, &plan, &succeeded)), ("succeeded", vec![3, 4]));
        assert!(is_handler_skip(&RunEvent::ContainerFinished { container: 2, outcome: skipped }));
        assert!(!is_handler_skip(&RunEvent::ContainerFinished { container: 0, outcome: outcome(Status::Failed) }));
    }
}
