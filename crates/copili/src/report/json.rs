//! The JSON report (`--report FILE`): the state of the run as one JSON document, rewritten
//! atomically whenever a container starts or ends and once more when the run is over, so
//! that a reader (or a run killed outright) always finds a complete document.
//!
//! The shape is stable ([`RunReport`], [`ContainerReport`]); times are RFC 3339 in UTC with
//! milliseconds:
//!
//! ```json
//! {
//!   "pipeline": "nightly",
//!   "run_id": "20261125T120000-42",
//!   "engine": "podman",
//!   "started_at": "2026-11-25T12:00:00.000Z",
//!   "finished_at": "2026-11-25T12:00:12.600Z",
//!   "exit_code": 1,
//!   "containers": [
//!     {
//!       "name": "transform",
//!       "status": "failed",
//!       "exit_code": 3,
//!       "attempts": 2,
//!       "started_at": "2026-11-25T12:00:01.400Z",
//!       "finished_at": "2026-11-25T12:00:12.500Z",
//!       "duration_s": 11.1,
//!       "reason": "exit code 3",
//!       "image": "localhost/transform:latest"
//!     }
//!   ]
//! }
//! ```
//!
//! - `finished_at` and `exit_code` of the run are `null` until the run is over.
//! - `containers` lists every container of the pipeline, in the pipeline's order, skipped ones
//!   included; `status` is `pending` (not started yet), `running`, then one of `succeeded`,
//!   `failed`, `cancelled`, `skipped`.
//! - A container's `exit_code` is `null` when it never ran to an end; `started_at`,
//!   `finished_at` and `duration_s` are `null` when unknown (never started, or still running);
//!   `reason` is `null` for a success, else why it failed, was cancelled or was skipped.
//! - Beside `reason`, keys for scripts say the same typed ([`ReasonFields`]): `reason_kind`
//!   (`exit_code`, `timed_out`, `engine_error`, `image`, `dependency`, …) and the details that
//!   apply (`oom_killed`, `timeout_seconds`, `dependency`, `engine_command`, …); none for a
//!   success. A failed image has them too. Documented in docs/cli.md.
//!
//! Writing never panics: an error is collected ([`Reporter::errors`]) and the next event
//! tries again. The file is replaced by renaming a temporary file of the same directory (so
//! this reporter writes to a path, not to a `Write`), which is not `fsync`ed: the point is that
//! readers never see half a document.

use std::path::PathBuf;
use std::time::SystemTime;

use copili_runtime::runner::{Outcome, RunEvent, Status};

pub use super::atomic::write_atomically;
pub use super::fields::ReasonFields;
use super::{elapsed, rfc3339_millis, words, Clock, Reporter, RunInfo, RunSummary};

mod document;
pub use document::{AttemptTimes, ContainerReport, ImageReport, MatrixReport, ReportStatus, RunReport, SidecarTimes};

/// What the reporter knows of one container.
enum ContainerState {
    Pending,
    Running { attempts: u32, started_at: SystemTime },
    Done(Outcome),
}

/// One attempt as the reporter saw it: its number, start, end, and why it was retried.
type Attempt = (u32, SystemTime, Option<SystemTime>, Option<String>);

/// A sidecar as the reporter saw it: its attempt, name, start and when it was ready.
type SidecarSeen = (u32, String, SystemTime, Option<SystemTime>);

/// Keeps `--report FILE` up to date.
pub struct JsonReport {
    /// `None`: kept in memory only (for the HTML report).
    path: Option<PathBuf>,
    log_dir: Option<PathBuf>,
    attempts: Vec<Vec<Attempt>>,
    /// Per container: (attempt, sidecar, started, ready).
    sidecars: Vec<Vec<SidecarSeen>>,
    image_times: Vec<(Option<SystemTime>, Option<SystemTime>)>,
    info: RunInfo,
    clock: Clock,
    containers: Vec<ContainerState>,
    images: Vec<ImageReport>,
    finished: Option<(SystemTime, i32)>,
    errors: Vec<String>,
}

impl JsonReport {
    /// A report written to `path`; `clock` dates the start of containers still running (the
    /// outcomes carry the real times).
    pub fn new(path: impl Into<PathBuf>, info: &RunInfo, clock: Clock) -> JsonReport {
        JsonReport::in_memory(info, clock).writing_to(path.into())
    }

    /// A report kept in memory only: [`JsonReport::report`] is the document.
    pub fn in_memory(info: &RunInfo, clock: Clock) -> JsonReport {
        JsonReport {
            path: None,
            log_dir: None,
            attempts: info.containers.iter().map(|_| Vec::new()).collect(),
            sidecars: info.containers.iter().map(|_| Vec::new()).collect(),
            image_times: Vec::new(),
            info: info.clone(),
            clock,
            containers: info.containers.iter().map(|_| ContainerState::Pending).collect(),
            images: Vec::new(),
            finished: None,
            errors: Vec::new(),
        }
    }

    fn writing_to(mut self, path: PathBuf) -> JsonReport {
        self.path = Some(path);
        self
    }

    /// Names each container's log file in `dir` (`log_file`): the run writes them there.
    pub fn with_log_dir(mut self, dir: impl Into<PathBuf>) -> JsonReport {
        self.log_dir = Some(dir.into());
        self
    }

    /// The document as it stands.
    pub fn report(&self) -> RunReport {
        let containers = self
            .info
            .containers
            .iter()
            .zip(&self.containers)
            .enumerate()
            .map(|(index, (info, state))| {
                let mut report = ContainerReport {
                    name: info.name.clone(),
                    status: ReportStatus::Pending,
                    exit_code: None,
                    attempts: 0,
                    started_at: None,
                    finished_at: None,
                    duration_s: None,
                    reason: None,
                    reason_fields: ReasonFields::default(),
                    image: info.image.clone(),
                    depends_on: info.depends_on.clone(),
                    service: info.service,
                    run_on: info.run_on.clone(),
                    sidecars: info.sidecars.clone(),
                    log_file: None,
                    allowed: false,
                    completed_dependencies: info.completed_dependencies.clone(),
                    attempt_times: Vec::new(),
                    outputs: Default::default(),
                    matrix: info
                        .matrix
                        .as_ref()
                        .map(|m| MatrixReport { of: m.base.clone(), values: m.values.iter().cloned().collect() }),
                };
                match state {
                    ContainerState::Pending => {}
                    ContainerState::Running { attempts, started_at } => {
                        report.status = ReportStatus::Running;
                        report.attempts = *attempts;
                        report.started_at = Some(rfc3339_millis(*started_at));
                    }
                    ContainerState::Done(outcome) => {
                        report.status = outcome.status.into();
                        report.allowed = outcome.status == Status::FailedAllowed;
                        report.exit_code = outcome.exit_code;
                        report.attempts = outcome.attempts;
                        report.started_at = outcome.started_at.map(rfc3339_millis);
                        report.finished_at = outcome.finished_at.map(rfc3339_millis);
                        report.duration_s =
                            elapsed(outcome.started_at, outcome.finished_at).map(|d| d.as_millis() as f64 / 1000.0);
                        report.reason = outcome.reason.as_ref().map(words::reason);
                        report.reason_fields = outcome.reason.as_ref().map(ReasonFields::of).unwrap_or_default();
                        report.outputs = outcome.outputs.iter().cloned().collect();
                    }
                }
                if !matches!(state, ContainerState::Pending) {
                    report.log_file = self
                        .log_dir
                        .as_ref()
                        .map(|dir| super::log_files::log_path(dir, &info.name).display().to_string());
                }
                let sidecars = &self.sidecars[index];
                report.attempt_times = self.attempts[index]
                    .iter()
                    .map(|(attempt, started, finished, reason)| AttemptTimes {
                        attempt: *attempt,
                        started_at: rfc3339_millis(*started),
                        finished_at: finished.map(rfc3339_millis),
                        reason: reason.clone(),
                        sidecars: sidecars
                            .iter()
                            .filter(|s| s.0 == *attempt)
                            .map(|(_, name, started, ready)| SidecarTimes {
                                name: name.clone(),
                                started_at: rfc3339_millis(*started),
                                ready_at: ready.map(rfc3339_millis),
                            })
                            .collect(),
                    })
                    .collect();
                report
            })
            .collect();
        let mut images = self.images.clone();
        for (image, (started, finished)) in images.iter_mut().zip(&self.image_times) {
            image.started_at = started.map(rfc3339_millis);
            image.finished_at = finished.map(rfc3339_millis);
        }
        RunReport {
            pipeline: self.info.pipeline.clone(),
            run_id: self.info.run_id.clone(),
            engine: self.info.engine.clone(),
            started_at: rfc3339_millis(self.info.started_at),
            finished_at: self.finished.map(|(at, _)| rfc3339_millis(at)),
            exit_code: self.finished.map(|(_, code)| code),
            containers,
            images,
        }
    }

    /// Replaces the file with the current document.
    fn write(&mut self) {
        let Some(path) = self.path.clone() else { return };
        let mut text = match serde_json::to_string_pretty(&self.report()) {
            Ok(text) => text,
            Err(error) => return self.error(format!("cannot serialize the report: {error}")),
        };
        text.push('\n');
        if let Err(error) = write_atomically(&path, text.as_bytes()) {
            self.error(format!("cannot write {}: {error}", path.display()));
        }
    }

    fn error(&mut self, message: String) {
        if !self.errors.contains(&message) {
            self.errors.push(message);
        }
    }
}

impl Reporter for JsonReport {
    fn event(&mut self, event: &RunEvent) {
        match event {
            RunEvent::ContainerStarted { container, attempt } => {
                let now = &self.clock;
                if let Some(attempts) = self.attempts.get_mut(*container) {
                    attempts.push((*attempt, now(), None, None));
                }
                let Some(state) = self.containers.get_mut(*container) else { return };
                *state = match state {
                    ContainerState::Running { started_at, .. } => {
                        ContainerState::Running { attempts: *attempt, started_at: *started_at }
                    }
                    _ => ContainerState::Running { attempts: *attempt, started_at: now() },
                };
            }
            RunEvent::SidecarStarted { container, sidecar } => {
                let now = (self.clock)();
                let attempt = self.attempts.get(*container).and_then(|a| a.last()).map_or(1, |a| a.0);
                if let Some(sidecars) = self.sidecars.get_mut(*container) {
                    sidecars.push((attempt, sidecar.clone(), now, None));
                }
            }
            RunEvent::SidecarReady { container, sidecar } => {
                let now = (self.clock)();
                let Some(sidecars) = self.sidecars.get_mut(*container) else { return };
                if let Some(entry) = sidecars.iter_mut().rev().find(|s| s.1 == *sidecar) {
                    entry.3 = Some(now);
                }
            }
            RunEvent::Retrying { container, attempt, reason, .. } => {
                let now = (self.clock)();
                let Some(attempts) = self.attempts.get_mut(*container) else { return };
                if let Some(last) = attempts.iter_mut().rev().find(|a| a.0 == *attempt && a.2.is_none()) {
                    last.2 = Some(now);
                    last.3 = Some(words::reason(reason));
                }
            }
            RunEvent::ContainerFinished { container, outcome } => {
                let now = (self.clock)();
                if let Some(attempts) = self.attempts.get_mut(*container) {
                    close_attempts(attempts, outcome, now);
                }
                let Some(state) = self.containers.get_mut(*container) else { return };
                *state = ContainerState::Done(outcome.clone());
            }
            RunEvent::Image { image, event, .. } => {
                use copili_runtime::images::ImageEvent;
                let at = match self.images.iter().position(|i| &i.image == image) {
                    Some(at) => at,
                    None => {
                        self.images.push(ImageReport {
                            image: image.clone(),
                            status: String::new(),
                            attempts: 0,
                            duration_s: None,
                            reason: None,
                            reason_fields: ReasonFields::default(),
                            started_at: None,
                            finished_at: None,
                        });
                        self.image_times.push((None, None));
                        self.images.len() - 1
                    }
                };
                let now = (self.clock)();
                if let Some(times) = self.image_times.get_mut(at) {
                    match event {
                        ImageEvent::Pulling { .. } | ImageEvent::Building => {
                            times.0.get_or_insert(now);
                        }
                        ImageEvent::Pulled { elapsed } | ImageEvent::Built { elapsed } => {
                            times.0 = times.0.or(now.checked_sub(*elapsed)).or(Some(now));
                            times.1 = Some(now);
                        }
                        ImageEvent::Present | ImageEvent::UpToDate | ImageEvent::Failed { .. } => {
                            times.0.get_or_insert(now);
                            times.1 = Some(now);
                        }
                        _ => {}
                    }
                }
                let report = &mut self.images[at];
                let seconds = |d: &std::time::Duration| Some(d.as_millis() as f64 / 1000.0);
                match event {
                    ImageEvent::Present => report.status = "present".into(),
                    ImageEvent::Pulling { attempt } => {
                        report.status = "pulling".into();
                        report.attempts = *attempt;
                    }
                    ImageEvent::Pulled { elapsed } => {
                        report.status = "pulled".into();
                        report.duration_s = seconds(elapsed);
                    }
                    ImageEvent::Building => report.status = "building".into(),
                    ImageEvent::Built { elapsed } => {
                        report.status = "built".into();
                        report.duration_s = seconds(elapsed);
                    }
                    ImageEvent::UpToDate => report.status = "up-to-date".into(),
                    ImageEvent::Failed { reason } => {
                        report.status = "failed".into();
                        report.reason = Some(words::image_failure(reason));
                        report.reason_fields = ReasonFields::of_image(reason);
                    }
                    ImageEvent::Progress(_) | ImageEvent::Retrying { .. } | ImageEvent::Identified { .. } => return,
                }
            }
            RunEvent::Output { .. } | RunEvent::RunCancelling { .. } | RunEvent::BuildOutput { .. } => return,
        }
        self.write();
    }

    fn finish(&mut self, summary: &RunSummary) {
        for (index, (state, outcome)) in self.containers.iter_mut().zip(&summary.outcomes).enumerate() {
            if let Some(attempts) = self.attempts.get_mut(index) {
                close_attempts(attempts, outcome, summary.finished_at);
            }
            *state = ContainerState::Done(outcome.clone());
        }
        self.finished = Some((summary.finished_at, summary.exit_code));
        self.write();
    }

    /// The errors met writing the file, each distinct one once, e.g.
    /// `cannot write report.json: Permission denied (os error 13)`.
    fn errors(&self) -> Vec<String> {
        self.errors.clone()
    }
}

/// Dates the first attempt with the outcome's start (the runner's own time) and ends the last
/// at the outcome's end (or `now`).
fn close_attempts(
    attempts: &mut [(u32, SystemTime, Option<SystemTime>, Option<String>)],
    outcome: &Outcome,
    now: SystemTime,
) {
    if let (Some(first), Some(started)) = (attempts.first_mut(), outcome.started_at) {
        first.1 = started;
    }
    if let Some(last) = attempts.last_mut() {
        if last.2.is_none() {
            last.2 = Some(outcome.finished_at.unwrap_or(now).max(last.1));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use serde_json::{json, Value};

    use super::super::test_support::{at, events, info, summary};
    use super::*;

    fn read(path: &Path) -> Value {
        serde_json::from_str(&fs::read_to_string(path).expect("written")).expect("JSON")
    }

    #[test]
    fn the_shape_of_a_finished_run() {
        let temp = tempfile::tempdir().expect("temporary directory");
        let path = temp.path().join("out").join("report.json");
        let mut report = JsonReport::new(&path, &info(), Box::new(|| at(5_000)));
        for event in events() {
            report.event(&event);
        }
        report.finish(&summary());
        assert!(report.errors().is_empty(), "{:?}", report.errors());
        assert_eq!(
            read(&path),
            json!({
                "pipeline": "nightly",
                "run_id": "20261125T120000-42",
                "engine": "podman",
                "started_at": "2026-11-25T12:00:00.000Z",
                "finished_at": "2026-11-25T12:00:12.600Z",
                "exit_code": 1,
                "containers": [
                    {
                        "name": "load", "status": "succeeded", "exit_code": 0, "attempts": 1,
                        "started_at": "2026-11-25T12:00:00.100Z", "finished_at": "2026-11-25T12:00:01.350Z",
                        "duration_s": 1.25, "reason": null, "image": "localhost/load:latest",
                        "sidecars": ["db"],
                        "attempt_times": [{
                            "attempt": 1, "started_at": "2026-11-25T12:00:00.100Z",
                            "finished_at": "2026-11-25T12:00:01.350Z", "reason": null,
                        }],
                    },
                    {
                        "name": "transform", "status": "failed", "exit_code": 3, "attempts": 2,
                        "started_at": "2026-11-25T12:00:01.400Z", "finished_at": "2026-11-25T12:00:12.500Z",
                        "duration_s": 11.1, "reason": "exit code 3", "reason_kind": "exit_code",
                        "oom_killed": false, "image": "localhost/transform:latest",
                        "attempt_times": [
                            {
                                "attempt": 1, "started_at": "2026-11-25T12:00:01.400Z",
                                "finished_at": "2026-11-25T12:00:05.000Z", "reason": "exit code 3",
                            },
                            {
                                "attempt": 2, "started_at": "2026-11-25T12:00:05.000Z",
                                "finished_at": "2026-11-25T12:00:12.500Z", "reason": null,
                            },
                        ],
                    },
                    {
                        "name": "publish", "status": "cancelled", "exit_code": null, "attempts": 0,
                        "started_at": null, "finished_at": null, "duration_s": null,
                        "reason": "dependency transform failed", "reason_kind": "dependency",
                        "dependency": "transform", "dependency_end": "failed", "image": "localhost/publish:latest",
                    },
                    {
                        "name": "cleanup", "status": "skipped", "exit_code": null, "attempts": 0,
                        "started_at": null, "finished_at": null, "duration_s": null,
                        "reason": "excluded in environment prod", "reason_kind": "ran_before",
                        "image": "localhost/cleanup:latest",
                    },
                ],
            })
        );
        // The keys come in the documented order, and no temporary file is left behind.
        let text = fs::read_to_string(&path).expect("written");
        let value = read(&path);
        let keys: Vec<&String> = value.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["pipeline", "run_id", "engine", "started_at", "finished_at", "exit_code", "containers"]);
        let keys: Vec<&String> = value["containers"][0].as_object().expect("an object").keys().collect();
        let expected = [
            "name",
            "status",
            "exit_code",
            "attempts",
            "started_at",
            "finished_at",
            "duration_s",
            "reason",
            "image",
            "sidecars",
            "attempt_times",
        ];
        assert_eq!(keys, expected);
        let entries: Vec<_> = fs::read_dir(path.parent().expect("has one")).expect("listed").collect();
        assert_eq!(entries.len(), 1);
        let parsed: RunReport = serde_json::from_str(&text).expect("the documented type reads it back");
        assert_eq!(parsed, report.report());
    }

    #[test]
    fn written_while_running() {
        let temp = tempfile::tempdir().expect("temporary directory");
        let path = temp.path().join("report.json");
        let mut report = JsonReport::new(&path, &info(), Box::new(|| at(2_000)));
        let events = events();
        // Up to transform's second attempt.
        for event in &events[..10] {
            report.event(event);
        }
        let value = read(&path);
        assert_eq!(value["finished_at"], Value::Null);
        assert_eq!(value["exit_code"], Value::Null);
        let statuses: Vec<&Value> =
            value["containers"].as_array().expect("a list").iter().map(|c| &c["status"]).collect();
        assert_eq!(statuses, [&json!("succeeded"), &json!("running"), &json!("pending"), &json!("skipped")]);
        assert_eq!(
            value["containers"][1],
            json!({
                "name": "transform", "status": "running", "exit_code": null, "attempts": 2,
                "started_at": "2026-11-25T12:00:02.000Z", "finished_at": null, "duration_s": null,
                "reason": null, "image": "localhost/transform:latest",
                "attempt_times": [
                    {
                        "attempt": 1, "started_at": "2026-11-25T12:00:02.000Z",
                        "finished_at": "2026-11-25T12:00:02.000Z", "reason": "exit code 3",
                    },
                    { "attempt": 2, "started_at": "2026-11-25T12:00:02.000Z", "finished_at": null, "reason": null },
                ],
            })
        );
    }

    /// A sidecar's start and ready times go into the attempt they belong to (a retry's
    /// sidecars into the retry's), read back as the HTML report's timeline reads them.
    #[test]
    fn sidecar_times_are_kept_per_attempt() {
        let ticks = std::sync::atomic::AtomicU64::new(0);
        let clock: Clock = Box::new(move || at(1_000 + 100 * ticks.fetch_add(1, std::sync::atomic::Ordering::SeqCst)));
        let mut report = JsonReport::in_memory(&info(), clock);
        let sidecar = |ready: bool| {
            let sidecar = "cache".to_string();
            if ready {
                RunEvent::SidecarReady { container: 1, sidecar }
            } else {
                RunEvent::SidecarStarted { container: 1, sidecar }
            }
        };
        report.event(&RunEvent::ContainerStarted { container: 1, attempt: 1 });
        report.event(&sidecar(false));
        report.event(&RunEvent::Retrying {
            container: 1,
            attempt: 1,
            delay: std::time::Duration::from_secs(1),
            reason: copili_runtime::runner::Reason::ExitCode { code: 3, oom_killed: false },
        });
        report.event(&RunEvent::ContainerStarted { container: 1, attempt: 2 });
        report.event(&sidecar(false));
        report.event(&sidecar(true));
        let value = serde_json::to_value(report.report()).expect("JSON");
        let attempts = &value["containers"][1]["attempt_times"];
        let first = attempts[0]["sidecars"].as_array().expect("a list");
        let second = attempts[1]["sidecars"].as_array().expect("a list");
        assert_eq!((first.len(), second.len()), (1, 1), "{attempts}");
        assert_eq!((&first[0]["name"], &first[0]["ready_at"]), (&json!("cache"), &Value::Null), "{attempts}");
        // RFC 3339 times of one format: their order is the strings' order.
        let time = |v: &Value| v.as_str().expect("a time").to_string();
        assert!(time(&first[0]["started_at"]) < time(&attempts[0]["finished_at"]), "{attempts}");
        assert!(time(&attempts[1]["started_at"]) <= time(&second[0]["started_at"]), "{attempts}");
        assert!(time(&second[0]["started_at"]) < time(&second[0]["ready_at"]), "{attempts}");
        // Read back as `copili report` reads a report.
        let ready = time(&second[0]["ready_at"]);
        let back: RunReport = serde_json::from_value(value.clone()).expect("a report");
        assert_eq!(back.containers[1].attempt_times[1].sidecars[0].ready_at.as_deref(), Some(ready.as_str()));
        assert!(back.containers[0].attempt_times.iter().all(|a| a.sidecars.is_empty()));
    }

    #[test]
    fn write_errors_are_collected_once() {
        let temp = tempfile::tempdir().expect("temporary directory");
        // A file where the directory should be.
        let blocker = temp.path().join("out");
        fs::write(&blocker, "").expect("written");
        let mut report = JsonReport::new(blocker.join("report.json"), &info(), Box::new(|| at(0)));
        for event in events() {
            report.event(&event);
        }
        report.finish(&summary());
        let errors = report.errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with(&format!("cannot write {}", blocker.join("report.json").display())));
    }
}
