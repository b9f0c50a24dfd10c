//! The supervisor on the fake engine with a fake clock: days of schedules in milliseconds.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use copili_model::EnvFile;
use copili_runtime::fake::{FakeEngine, Script};
use copili_runtime::images::ImageConfig;
use copili_runtime::runner::{CancelToken, RunConfig};
use copili_schedule::jiff::Timestamp;

use super::*;
use crate::report::{Reporter, Reporters, RunInfo};
use crate::run_state::RunState;
use crate::{LoadOptions, Pipeline, Selection};

/// What a test sees of the supervisor's events, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Due { names: Vec<String>, at: Timestamp, catch_up: bool },
    Overlap { name: String, next_due: Timestamp },
    Unmet { name: String, missing: Vec<String> },
    Started { names: Vec<String>, initial: bool },
    Finished { results: Vec<(String, &'static str)> },
    Stopped,
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Seen>>);

impl Recorder {
    fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn due_times(&self) -> Vec<Timestamp> {
        self.seen()
            .into_iter()
            .filter_map(|seen| match seen {
                Seen::Due { at, .. } => Some(at),
                _ => None,
            })
            .collect()
    }

    fn runs(&self) -> usize {
        self.seen().iter().filter(|seen| matches!(seen, Seen::Started { initial: false, .. })).count()
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

impl ServiceReporter for Recorder {
    fn event(&self, event: &ServiceEvent<'_>) {
        let seen = match event {
            ServiceEvent::Due { names, at, catch_up } => {
                Seen::Due { names: owned(names), at: *at, catch_up: *catch_up }
            }
            ServiceEvent::SkippedOverlap { name, next_due, .. } => {
                Seen::Overlap { name: name.to_string(), next_due: *next_due }
            }
            ServiceEvent::SkippedDependency { name, missing } => {
                Seen::Unmet { name: name.to_string(), missing: owned(missing) }
            }
            ServiceEvent::RunStarted { names, initial, .. } => Seen::Started { names: owned(names), initial: *initial },
            ServiceEvent::RunFinished { results, .. } => Seen::Finished {
                results: results.iter().map(|(name, status)| (name.to_string(), status.as_str())).collect(),
            },
            ServiceEvent::Stopped => Seen::Stopped,
            ServiceEvent::StateNotWritten(e) => panic!("state not written: {e}"),
            ServiceEvent::ReportNotWritten(e) => panic!("report not written: {e}"),
            ServiceEvent::NothingToSchedule | ServiceEvent::Scheduled { .. } | ServiceEvent::NextDue { .. } => return,
        };
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(seen);
    }

    fn run_reporter(&self, _info: &RunInfo, _initial: bool) -> Box<dyn Reporter + Send> {
        Box::new(Reporters::new())
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("a timestamp")
}

fn config() -> RunConfig {
    RunConfig {
        identity: "svc".into(),
        run_id: "r".into(),
        jobs: 2,
        fail_fast: false,
        stop_timeout: Duration::from_secs(10),
        global_env: Vec::new(),
        global_labels: Vec::new(),
        policies: Vec::new(),
        images: ImageConfig::default(),
        instance: None,
        outputs_dir: None,
    }
}

/// A scene: the pipeline, a state directory, the fake engine.
struct Scene {
    pipeline: Pipeline,
    state_dir: tempfile::TempDir,
    engine: FakeEngine,
    initial_run: bool,
}

impl Scene {
    fn new(text: &str, engine: FakeEngine) -> Scene {
        let options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
        let pipeline = Pipeline::from_str(text, &options).expect("valid");
        Scene { pipeline, state_dir: tempfile::tempdir().expect("temp dir"), engine, initial_run: false }
    }

    fn state(&self) -> RunState {
        RunState::open(self.state_dir.path(), self.pipeline.identity()).expect("state")
    }

    /// Runs service mode from `start` until the clock would pass `stop_at`.
    fn run(&self, clock: &FakeClock) -> Recorder {
        let plan = self.pipeline.plan(&Selection::default()).expect("plannable");
        let service_plan =
            self.pipeline.plan(&Selection { service_only: true, ..Selection::default() }).expect("plannable");
        let state = self.state();
        let default = Timing {
            schedule: copili_schedule::Schedule::parse("daily 00:00").expect("valid"),
            zone: copili_schedule::parse_time_zone("UTC").expect("known"),
            zone_name: "UTC".into(),
        };
        let order: Vec<usize> = service_plan.order().collect();
        let timings = timings(self.pipeline.spec(), &order, &default).expect("known zones");
        let config = config();
        let supervisor = Supervisor {
            pipeline: &self.pipeline,
            plan: &plan,
            service_plan: &service_plan,
            engine: &self.engine,
            config: &config,
            state: &state,
            timings,
            initial_run: self.initial_run,
            force: false,
        };
        let recorder = Recorder::default();
        supervisor.run(clock, &CancelToken::new(), &recorder).expect("service mode ran");
        recorder
    }
}

const DAILY_0230_BERLIN: &str = "p:\n  - {name: svc, image_repo: x, is_service_container: true, schedule: 'daily 02:30', timezone: Europe/Berlin}\n";

#[test]
fn on_the_spring_forward_day_a_daily_time_in_the_gap_runs_once_at_the_jump() {
    let scene = Scene::new(DAILY_0230_BERLIN, FakeEngine::new([]));
    // 2026-03-29: Berlin jumps from 02:00 CET to 03:00 CEST; 02:30 does not exist.
    let clock = FakeClock::new(at("2026-03-28T11:00:00Z"), at("2026-03-30T12:00:00Z"));
    let seen = scene.run(&clock);
    assert_eq!(seen.due_times(), vec![at("2026-03-29T01:00:00Z"), at("2026-03-30T00:30:00Z")], "{:?}", seen.seen());
    assert_eq!(seen.runs(), 2);
    assert_eq!(seen.seen().last(), Some(&Seen::Stopped));
    let state = scene.state();
    let state = state.lock();
    assert_eq!(state.history.len(), 2, "both runs recorded");
    assert_eq!(state.service["svc"].last_due, Some(at("2026-03-30T00:30:00Z")));
    assert_eq!(state.service["svc"].next_due, None, "cleared when service mode stopped");
}

#[test]
fn on_the_fall_back_day_a_daily_time_in_the_fold_runs_once_at_its_first_occurrence() {
    let scene = Scene::new(DAILY_0230_BERLIN, FakeEngine::new([]));
    // 2026-10-25: Berlin goes back from 03:00 CEST to 02:00 CET; 02:30 happens twice.
    let clock = FakeClock::new(at("2026-10-24T12:00:00Z"), at("2026-10-26T12:00:00Z"));
    let seen = scene.run(&clock);
    assert_eq!(seen.due_times(), vec![at("2026-10-25T00:30:00Z"), at("2026-10-26T01:30:00Z")], "{:?}", seen.seen());
    assert_eq!(seen.runs(), 2);
}

const CATCH_UP: &str = "p:\n  - {name: svc, image_repo: x, is_service_container: true, schedule: 'daily 00:00', timezone: Europe/Berlin, catch_up: CATCH}\n";

/// Service mode was down from 2026-11-25 to the 28th: three slots missed.
fn after_downtime(catch_up: bool) -> Recorder {
    let text = CATCH_UP.replace("CATCH", if catch_up { "true" } else { "false" });
    let scene = Scene::new(&text, FakeEngine::new([]));
    scene.state().update(|s| s.service_mut("svc").last_due = Some(at("2026-11-24T23:00:00Z"))).expect("saved");
    // Stopped before the next slot (2026-11-28T23:00Z).
    let clock = FakeClock::new(at("2026-11-28T12:00:00Z"), at("2026-11-28T22:00:00Z"));
    scene.run(&clock)
}

#[test]
fn catch_up_runs_a_missed_slot_once_at_start_up() {
    let seen = after_downtime(true);
    assert_eq!(
        seen.seen(),
        vec![
            Seen::Due { names: owned(&["svc"]), at: at("2026-11-28T12:00:00Z"), catch_up: true },
            Seen::Started { names: owned(&["svc"]), initial: false },
            Seen::Finished { results: vec![("svc".into(), "succeeded")] },
            Seen::Stopped,
        ]
    );
}

#[test]
fn without_catch_up_missed_slots_are_not_run() {
    assert_eq!(after_downtime(false).seen(), vec![Seen::Stopped]);
}

#[test]
fn a_run_still_going_when_it_is_due_again_skips_that_slot_and_says_so() {
    let text = "p:\n  - {name: svc, image_repo: x, is_service_container: true, schedule: every 10s}\n";
    // The run takes real time; the clock does not wait for it.
    let engine = FakeEngine::new([("svc", Script { runs_for: Duration::from_millis(300), ..Script::default() })]);
    let scene = Scene::new(text, engine);
    let start = at("2026-11-25T12:00:00Z");
    let clock = FakeClock::new(start, at("2026-11-25T12:00:25Z")).advance_while_running();
    let seen = scene.run(&clock).seen();
    // The run starts on a thread of its own: its start and the skipped slot come in any order.
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen[0], Seen::Due { names: owned(&["svc"]), at: at("2026-11-25T12:00:10Z"), catch_up: false });
    assert!(seen[1..3].contains(&Seen::Started { names: owned(&["svc"]), initial: false }), "{seen:?}");
    assert!(
        seen[1..3].contains(&Seen::Overlap { name: "svc".into(), next_due: at("2026-11-25T12:00:30Z") }),
        "the slot at 12:00:20 found it running: {seen:?}"
    );
    assert_eq!(seen[3], Seen::Finished { results: vec![("svc".into(), "succeeded")] });
    assert_eq!(seen[4], Seen::Stopped);
    assert_eq!(scene.engine.max_running(), 1, "never two at once");
}

#[test]
fn the_initial_run_runs_everything_then_a_dependency_outside_the_group_must_have_succeeded() {
    let text = "p:\n  - {name: load, image_repo: x}\n  - {name: svc, image_repo: x, is_service_container: true, schedule: every 1h, dependencies: [load]}\n";
    // `load` fails in the initial run: `svc`, due an hour later, is skipped.
    let engine = FakeEngine::new([("load", Script { exit_code: 1, ..Script::default() })]);
    let mut scene = Scene::new(text, engine);
    scene.initial_run = true;
    let clock = FakeClock::new(at("2026-11-25T12:00:00Z"), at("2026-11-25T13:30:00Z"));
    let seen = scene.run(&clock);
    assert_eq!(
        seen.seen(),
        vec![
            Seen::Started { names: owned(&["load", "svc"]), initial: true },
            Seen::Finished { results: vec![("load".into(), "failed"), ("svc".into(), "cancelled")] },
            Seen::Due { names: owned(&["svc"]), at: at("2026-11-25T13:00:00Z"), catch_up: false },
            Seen::Unmet { name: "svc".into(), missing: owned(&["load"]) },
            Seen::Stopped,
        ]
    );
}

#[test]
fn the_handlers_run_after_each_due_group_with_its_outcome() {
    let text = "p:\n  - {name: svc, image_repo: x, is_service_container: true, schedule: every 1h}\n  - {name: alarm, image_repo: x, run_on: failure}\n  - {name: fine, image_repo: x, run_on: success}\n";
    let engine = FakeEngine::new([("svc", Script { exit_code: 1, ..Script::default() })]);
    let scene = Scene::new(text, engine);
    let clock = FakeClock::new(at("2026-11-25T12:30:00Z"), at("2026-11-25T14:45:00Z"));
    let seen = scene.run(&clock);
    let finished: Vec<Seen> = seen.seen().into_iter().filter(|s| matches!(s, Seen::Finished { .. })).collect();
    let once = Seen::Finished { results: vec![("svc".into(), "failed"), ("alarm".into(), "succeeded")] };
    assert_eq!(finished, vec![once.clone(), once]);
    let alarms = scene.engine.requests().iter().filter(|r| r.hostname == "alarm").count();
    assert_eq!(alarms, 2, "{:?}", scene.engine.calls());
    assert!(!scene.engine.requests().iter().any(|r| r.hostname == "fine"));
}
