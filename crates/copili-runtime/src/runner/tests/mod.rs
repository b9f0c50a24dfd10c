//! The runner's unit tests on the fake engine: scheduling, failures, cancellation, sidecars
//! (here); images and hooks in their own modules.

mod ahead;
mod flow;
mod hooks;
mod images;

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use copili_model::{load, ContainerSpec, EnvFile, Input, LoadOptions, Pipeline, Secret};
use copili_planner::Selection;

use super::*;
use crate::engine::EngineError;
use crate::fake::{FakeEngine, PullScript, Script};
use crate::images::{ImageConfig, ImageEvent};
use crate::reason::{ImageFailure, PullFailure};

const QUICK: &str = "q:
  - {name: dataloader_02, image_repo: x, dependencies: [dataloader_01], env_vars: {EXIT_CODE: 0}}
  - {name: dataloader_01, image_repo: x}
  - {name: dataloader_03, image_repo: x, dependencies: [dataloader_02, dataloader_01]}
  - {name: servicecontainer01, image_repo: x, is_service_container: true, dependencies: [dataloader_02]}
";

fn pipeline(text: &str) -> Pipeline {
    let options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
    load(Input::Text(text), &options).expect("valid pipeline")
}

fn config(jobs: usize) -> RunConfig {
    RunConfig {
        identity: "q".into(),
        run_id: "r1".into(),
        jobs,
        fail_fast: false,
        stop_timeout: Duration::from_secs(1),
        global_env: vec![("GLOBAL".into(), Secret::new("g"))],
        global_labels: vec![("team".into(), "data".into())],
        policies: Vec::new(),
        images: ImageConfig::default(),
        instance: None,
        outputs_dir: None,
    }
}

struct Run {
    outcomes: Vec<Outcome>,
    events: Vec<RunEvent>,
}

fn run_with(text: &str, engine: &FakeEngine, config: &RunConfig, cancel: &CancelToken) -> Run {
    let p = pipeline(text);
    let plan = copili_planner::plan(&p, &Selection::default()).expect("plannable");
    let events = Mutex::new(Vec::new());
    let outcomes = run(engine, &p, &plan, config, cancel, &|e| events.lock().expect("not poisoned").push(e));
    Run { outcomes, events: events.into_inner().expect("not poisoned") }
}

fn statuses(run: &Run) -> Vec<(&'static str, Option<Reason>)> {
    run.outcomes.iter().map(|o| (o.status.as_str(), o.reason.clone())).collect()
}

fn exit(code: i32) -> Reason {
    Reason::ExitCode { code, oom_killed: false }
}

fn dependency_failed(name: &str) -> Reason {
    Reason::Dependency { name: name.into(), end: DependencyEnd::Failed }
}

fn start_order(run: &Run) -> Vec<usize> {
    run.events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ContainerStarted { container, .. } => Some(*container),
            _ => None,
        })
        .collect()
}

#[test]
fn runs_in_dependency_order_and_cleans_up() {
    let engine = FakeEngine::new([]);
    let run = run_with(QUICK, &engine, &config(1), &CancelToken::new());
    assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
    assert_eq!(start_order(&run), vec![1, 0, 2, 3]);
    assert_eq!(engine.leftovers(), (0, 0));
    assert_eq!(engine.max_running(), 1);
    let request = &engine.requests()[0];
    assert_eq!(request.name, "q-dataloader_01");
    assert_eq!(request.hostname, "dataloader_01");
    assert!(request.labels.contains(&("io.copili.run-id".into(), "r1".into())));
    assert!(request.labels.contains(&("team".into(), "data".into())));
    assert_eq!(request.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec!["GLOBAL"]);
}

#[test]
fn a_failure_cancels_its_dependents_while_an_independent_branch_completes() {
    let text = "p:
  - {name: a, image_repo: x}
  - {name: b, image_repo: x, dependencies: [a]}
  - {name: c, image_repo: x, dependencies: [b]}
  - {name: other, image_repo: x}
  - {name: after_other, image_repo: x, dependencies: [other]}
";
    let engine = FakeEngine::new([("a", Script { exit_code: 3, ..Script::default() })]);
    let run = run_with(text, &engine, &config(2), &CancelToken::new());
    assert_eq!(
        statuses(&run),
        vec![
            ("failed", Some(exit(3))),
            ("cancelled", Some(dependency_failed("a"))),
            ("cancelled", Some(dependency_failed("a"))),
            ("succeeded", None),
            ("succeeded", None),
        ]
    );
    assert_eq!(run.outcomes[0].exit_code, Some(3));
    assert_eq!(run.outcomes[1].exit_code, None);
}

#[test]
fn jobs_limit_parallelism() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x}\n  - {name: c, image_repo: x}\n";
    let slow = || Script { runs_for: Duration::from_millis(150), ..Script::default() };
    let engine = FakeEngine::new([("a", slow()), ("b", slow()), ("c", slow())]);
    let started = Instant::now();
    run_with(text, &engine, &config(2), &CancelToken::new());
    assert_eq!(engine.max_running(), 2);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let engine = FakeEngine::new([("a", slow()), ("b", slow()), ("c", slow())]);
    run_with(text, &engine, &config(3), &CancelToken::new());
    assert_eq!(engine.max_running(), 3);
}

/// On an engine whose calls contend (podman, docker), at most a few containers per CPU are in
/// their first half second at once: the next ones start as those run on (or end), not all at once;
/// `--jobs` still lets them all run together. Elsewhere they start at once.
#[test]
fn starts_are_spread_where_the_engine_contends() {
    let limit = super::pacing::starting_limit();
    let n = limit + 2;
    let text: String = std::iter::once("p:\n".to_string())
        .chain((0..n).map(|i| format!("  - {{name: w{i}, image_repo: x}}\n")))
        .collect();
    // Long enough that the first ones still run when the last start, on a loaded machine too.
    let long = Script { runs_for: Duration::from_millis(2500), ..Script::default() };
    // The fake's scripts are keyed by `&'static str`.
    let names: Vec<&'static str> = (0..n).map(|i| &*Box::leak(format!("w{i}").into_boxed_str())).collect();
    for contends in [true, false] {
        let engine = FakeEngine::new(names.iter().map(|&name| (name, long.clone())));
        let engine = if contends { engine.with_batched_removal() } else { engine };
        let run = run_with(&text, &engine, &config(n + 5), &CancelToken::new());
        assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
        let mut started: Vec<SystemTime> = run.outcomes.iter().filter_map(|o| o.started_at).collect();
        started.sort();
        let gap = started[limit].duration_since(started[0]).unwrap_or_default();
        if contends {
            assert!(gap >= super::pacing::START_PHASE - Duration::from_millis(60), "{gap:?} (limit {limit})");
            // The first ones still ran when the others started: all ran at once.
            assert_eq!(engine.max_running(), n);
        } else {
            assert!(gap < Duration::from_millis(500), "{gap:?}");
        }
        assert_eq!(engine.leftovers(), (0, 0));
    }
}

#[test]
fn fail_fast_stops_starting_containers() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x}\n  - {name: c, image_repo: x}\n";
    let engine = FakeEngine::new([("a", Script { exit_code: 1, ..Script::default() })]);
    let mut config = config(1);
    config.fail_fast = true;
    let run = run_with(text, &engine, &config, &CancelToken::new());
    assert_eq!(
        statuses(&run),
        vec![
            ("failed", Some(exit(1))),
            ("cancelled", Some(Reason::FailFast { failed: "a".into() })),
            ("cancelled", Some(Reason::FailFast { failed: "a".into() }))
        ]
    );
    assert!(run.events.iter().any(|e| matches!(e, RunEvent::RunCancelling { .. })));
}

#[test]
fn fail_fast_lets_running_containers_finish() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x}\n  - {name: c, image_repo: x}\n";
    let engine = FakeEngine::new([
        ("a", Script { exit_code: 1, runs_for: Duration::from_millis(20), ..Script::default() }),
        ("b", Script { runs_for: Duration::from_millis(300), ..Script::default() }),
    ]);
    let mut config = config(2);
    config.fail_fast = true;
    let run = run_with(text, &engine, &config, &CancelToken::new());
    assert_eq!(
        statuses(&run),
        vec![
            ("failed", Some(exit(1))),
            ("succeeded", None),
            ("cancelled", Some(Reason::FailFast { failed: "a".into() }))
        ]
    );
}

#[test]
fn cancelling_stops_running_containers_and_cancels_the_rest() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x, dependencies: [a]}\n";
    let engine = FakeEngine::new([("a", Script { runs_for: Duration::from_secs(30), ..Script::default() })]);
    let cancel = CancelToken::new();
    let canceller = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let started = Instant::now();
    let run = run_with(text, &engine, &config(2), &cancel);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        statuses(&run),
        vec![("cancelled", Some(Reason::Interrupted)), ("cancelled", Some(Reason::Interrupted))]
    );
    assert_eq!(run.outcomes[0].exit_code, Some(143));
    assert!(engine.calls().contains(&"stop q-a".to_string()));
    assert_eq!(engine.leftovers(), (0, 0));
}

#[test]
fn draining_lets_running_containers_finish_and_starts_nothing() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x, dependencies: [a]}\n";
    let engine = FakeEngine::new([("a", Script { runs_for: Duration::from_millis(400), ..Script::default() })]);
    let cancel = CancelToken::new();
    let drainer = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        drainer.drain();
    });
    let run = run_with(text, &engine, &config(2), &cancel);
    assert_eq!(statuses(&run), vec![("succeeded", None), ("cancelled", Some(Reason::Interrupted))]);
    assert!(!engine.calls().contains(&"stop q-a".to_string()), "a was not stopped");
    assert!(!cancel.is_cancelled() && cancel.is_draining());
    cancel.cancel();
    assert!(cancel.is_cancelled() && !cancel.is_urgent());
    cancel.cancel();
    assert!(cancel.is_urgent() && cancel.is_draining());
    // At once, from any state.
    for first in [None, Some(CancelToken::drain as fn(&CancelToken)), Some(CancelToken::cancel)] {
        let token = CancelToken::new();
        if let Some(first) = first {
            first(&token);
        }
        token.cancel_now();
        assert!(token.is_cancelled() && token.is_urgent() && token.is_draining());
    }
}

#[test]
fn timeout_fails_the_container() {
    let text = "p:\n  - {name: a, image_repo: x}\n";
    let engine = FakeEngine::new([("a", Script { runs_for: Duration::from_secs(30), ..Script::default() })]);
    let mut config = config(1);
    config.policies = vec![ContainerPolicy { timeout: Some(Duration::from_millis(100)), ..ContainerPolicy::default() }];
    let run = run_with(text, &engine, &config, &CancelToken::new());
    assert_eq!(statuses(&run), vec![("failed", Some(Reason::TimedOut { after: Duration::from_millis(100) }))]);
}

#[test]
fn retries_are_recorded() {
    let text = "p:\n  - {name: a, image_repo: x}\n";
    let engine = FakeEngine::new([("a", Script { first_attempts: vec![1, 2], exit_code: 0, ..Script::default() })]);
    let mut config = config(1);
    config.policies =
        vec![ContainerPolicy { retries: 3, retry_delay: Duration::from_millis(10), ..ContainerPolicy::default() }];
    let run = run_with(text, &engine, &config, &CancelToken::new());
    assert_eq!(run.outcomes[0].status, Status::Succeeded);
    assert_eq!(run.outcomes[0].attempts, 3);
    let delays: Vec<Duration> = run
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Retrying { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect();
    assert_eq!(delays, vec![Duration::from_millis(10), Duration::from_millis(20)]);
}

#[test]
fn an_engine_failure_is_the_containers_error_not_an_exit_code() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x, dependencies: [a]}\n";
    let engine =
        FakeEngine::new([("a", Script { create_fails: Some("no such image: x:latest".into()), ..Script::default() })]);
    let run = run_with(text, &engine, &config(1), &CancelToken::new());
    assert_eq!(run.outcomes[0].status, Status::Failed);
    assert_eq!(run.outcomes[0].exit_code, None);
    match &run.outcomes[0].reason {
        Some(Reason::Engine(EngineError::Failed { stderr, .. })) => assert!(stderr.contains("no such image")),
        other => panic!("an engine error: {other:?}"),
    }
    assert_eq!(run.outcomes[1].status, Status::Cancelled);
}

/// A container with sidecars ends at about the same time as others: it is removed with its
/// sidecars, and must not be named again in the batch of others (podman 4.3 then removes
/// none of the batch: a CI run left a container behind that way).
#[test]
fn batched_removal_leaves_nothing_behind() {
    let text = "p:
  - {name: first, image_repo: x}
  - {name: second, image_repo: x, dependencies: [first]}
  - {name: third, image_repo: x}
  - {name: host, image_repo: x, sidecars: [{name: side, image_repo: x}]}
";
    let side = Script { runs_for: Duration::from_secs(30), ..Script::default() };
    let engine = FakeEngine::new([("side", side)]).with_batched_removal();
    let run = run_with(text, &engine, &config(4), &CancelToken::new());
    assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
    let calls = engine.calls();
    assert!(!calls.iter().any(|c| c.contains("none removed")), "{calls:#?}");
    assert_eq!(engine.leftovers(), (0, 0), "{calls:#?}");
}

#[test]
fn sidecars_get_a_network_and_an_alias_and_are_removed() {
    let text = "p:\n  - name: a\n    image_repo: x\n    sidecars: [{name: cache, image_repo: httpd}]\n";
    // The main runs a moment, as a real one does (a `run` takes a third of a second), so that
    // the sidecar's line is read before it is removed: a main that ends the instant it starts
    // races the follower's thread for the sidecar on a loaded machine.
    let main =
        Script { runs_for: Duration::from_millis(300), output: vec!["main says hi".into()], ..Script::default() };
    let engine = FakeEngine::new([
        ("a", main),
        ("cache", Script { runs_for: Duration::from_secs(30), output: vec!["sidecar up".into()], ..Script::default() }),
    ]);
    let run = run_with(text, &engine, &config(1), &CancelToken::new());
    assert_eq!(run.outcomes[0].status, Status::Succeeded);
    let requests = engine.requests();
    assert_eq!(requests[0].name, "q-a-cache");
    assert_eq!(requests[0].network.as_deref(), Some("q-a-net"));
    assert_eq!(requests[0].network_aliases, vec!["cache".to_string()]);
    assert!(requests[0].labels.contains(&("io.copili.role".into(), "sidecar".into())));
    assert_eq!(requests[1].network.as_deref(), Some("q-a-net"));
    assert_eq!(engine.leftovers(), (0, 0));
    let sidecar_lines =
        run.events.iter().filter(|e| matches!(e, RunEvent::Output { sidecar: Some(s), .. } if s == "cache")).count();
    assert_eq!(sidecar_lines, 1);
}

/// Each sidecar's start and its ready check's success are events (the reports' timelines),
/// in the order they happen: every sidecar started, then ready, then the main container.
#[test]
fn sidecar_starts_and_ready_checks_are_reported_before_the_main_container_runs() {
    let text = "p:\n  - name: a\n    image_repo: x\n    sidecars:\n      - {name: cache, image_repo: httpd}\n      - {name: db, image_repo: pg, ready: pg_isready}\n";
    let engine = FakeEngine::new([
        ("a", Script { output: vec!["main says hi".into()], ..Script::default() }),
        ("cache", Script { runs_for: Duration::from_secs(30), ..Script::default() }),
        ("db", Script { runs_for: Duration::from_secs(30), ..Script::default() }),
    ]);
    let run = run_with(text, &engine, &config(1), &CancelToken::new());
    assert_eq!(run.outcomes[0].status, Status::Succeeded);
    let position = |wanted: &dyn Fn(&RunEvent) -> bool| {
        run.events.iter().position(wanted).unwrap_or_else(|| panic!("missing in {:#?}", run.events))
    };
    let started = position(&|e| matches!(e, RunEvent::ContainerStarted { container: 0, attempt: 1 }));
    let cache = position(&|e| matches!(e, RunEvent::SidecarStarted { container: 0, sidecar } if sidecar == "cache"));
    let db = position(&|e| matches!(e, RunEvent::SidecarStarted { container: 0, sidecar } if sidecar == "db"));
    let ready = position(&|e| matches!(e, RunEvent::SidecarReady { container: 0, sidecar } if sidecar == "db"));
    let main = position(&|e| matches!(e, RunEvent::Output { container: 0, sidecar: None, .. }));
    assert!(started < cache && cache < db && db < ready && ready < main, "{:#?}", run.events);
    // Only a sidecar with a ready check is reported ready.
    assert!(!run.events.iter().any(|e| matches!(e, RunEvent::SidecarReady { sidecar, .. } if sidecar == "cache")));
}

#[test]
fn two_jobs_with_a_sidecar_of_the_same_name_stay_apart() {
    let text = "p:\n  - name: a\n    image_repo: x\n    sidecars: [&db {name: db, image_repo: httpd}]\n  - name: b\n    image_repo: x\n    sidecars: [*db]\n";
    // The mains run a moment, so that each sidecar's line is read before it is removed.
    let main = Script { runs_for: Duration::from_millis(300), ..Script::default() };
    let engine = FakeEngine::new([
        ("a", main.clone()),
        ("b", main),
        ("db", Script { runs_for: Duration::from_secs(30), output: vec!["sidecar up".into()], ..Script::default() }),
    ]);
    let run = run_with(text, &engine, &config(2), &CancelToken::new());
    assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
    let mut sidecars: Vec<_> = engine
        .requests()
        .into_iter()
        .filter(|r| r.labels.contains(&("io.copili.role".into(), "sidecar".into())))
        .map(|r| {
            let key = r.labels.iter().find(|(k, _)| k == "io.copili.container").map(|(_, v)| v.clone());
            (r.name, r.network, r.network_aliases, key)
        })
        .collect();
    sidecars.sort();
    let expected = |main: &str| {
        (format!("q-{main}-db"), Some(format!("q-{main}-net")), vec!["db".to_string()], Some(format!("{main}/db")))
    };
    assert_eq!(sidecars, vec![expected("a"), expected("b")]);
    assert_eq!(engine.leftovers(), (0, 0));
    let mut lines: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Output { container, sidecar: Some(s), .. } => Some((*container, s.clone())),
            _ => None,
        })
        .collect();
    lines.sort();
    assert_eq!(lines, vec![(0, "db".to_string()), (1, "db".to_string())]);
}
