//! Containers created ahead of their start: created while their dependencies run, started
//! only once those succeeded, removed when they will not run after all.

use super::*;

/// Runs `text` on `engine`, calling `watch` with every event as it happens (when the fake's
/// state can still be looked at).
fn run_watching(
    text: &str,
    engine: &FakeEngine,
    config: &RunConfig,
    cancel: &CancelToken,
    watch: &(dyn Fn(&RunEvent) + Sync),
) -> Run {
    let p = pipeline(text);
    let plan = copili_planner::plan(&p, &Selection::default()).expect("plannable");
    let events = Mutex::new(Vec::new());
    let outcomes = run(engine, &p, &plan, config, cancel, &|e| {
        watch(&e);
        events.lock().expect("not poisoned").push(e);
    });
    Run { outcomes, events: events.into_inner().expect("not poisoned") }
}

fn position(calls: &[String], call: &str) -> usize {
    calls.iter().position(|c| c == call).unwrap_or_else(|| panic!("no `{call}` in {calls:#?}"))
}

fn slow(ms: u64) -> Script {
    Script { runs_for: Duration::from_millis(ms), ..Script::default() }
}

const CHAIN: &str = "p:
  - {name: a, image_repo: x}
  - {name: b, image_repo: x, dependencies: [a]}
  - {name: c, image_repo: x, dependencies: [b]}
";

#[test]
fn the_next_container_is_created_while_its_dependency_runs_and_started_after_it_succeeded() {
    let engine = FakeEngine::new([("a", slow(200)), ("b", slow(200))]).with_creation_ahead();
    // When a ends, b exists (created) and has not started; when b ends, so does c.
    let seen = Mutex::new(Vec::new());
    let run = run_watching(CHAIN, &engine, &config(1), &CancelToken::new(), &|event| {
        if let RunEvent::ContainerFinished { container, .. } = event {
            let next = ["q-b", "q-c"].get(*container).copied().unwrap_or("none");
            let started = engine.calls().contains(&format!("start {next}"));
            seen.lock().expect("not poisoned").push((*container, engine.exists(next), started));
        }
    });
    assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
    let seen = seen.into_inner().expect("not poisoned");
    assert_eq!(&seen[..2], &[(0, true, false), (1, true, false)]);
    let calls = engine.calls();
    assert!(position(&calls, "create q-b") < position(&calls, "start q-b"), "{calls:#?}");
    assert!(position(&calls, "create q-c") < position(&calls, "start q-c"), "{calls:#?}");
    // Each started only after its dependency had ended.
    for (dependency, dependent) in [(0, 1), (1, 2)] {
        assert!(run.outcomes[dependency].finished_at <= run.outcomes[dependent].started_at);
    }
    assert_eq!(engine.requests().iter().filter(|r| r.name == "q-b").count(), 1);
    assert_eq!(engine.leftovers(), (0, 0));
}

#[test]
fn a_failed_dependency_removes_the_container_created_ahead() {
    for batched in [false, true] {
        // b is created ahead while a runs, and c too (its dependency is on its way).
        let a = Script { exit_code: 3, ..slow(if batched { 600 } else { 200 }) };
        let engine = FakeEngine::new([("a", a)]).with_creation_ahead();
        let engine = if batched { engine.with_batched_removal() } else { engine };
        let run = run_with(CHAIN, &engine, &config(2), &CancelToken::new());
        assert_eq!(
            statuses(&run),
            vec![
                ("failed", Some(exit(3))),
                ("cancelled", Some(dependency_failed("a"))),
                ("cancelled", Some(dependency_failed("a"))),
            ]
        );
        assert_eq!(start_order(&run), vec![0]);
        let calls = engine.calls();
        assert!(calls.contains(&"create q-b".to_string()), "{calls:#?}");
        assert!(calls.contains(&"create q-c".to_string()), "{calls:#?}");
        assert!(!calls.iter().any(|c| c == "start q-b" || c == "start q-c"), "{calls:#?}");
        assert_eq!(engine.leftovers(), (0, 0), "{calls:#?}");
    }
}

#[test]
fn an_interrupt_while_a_container_is_created_ahead_leaves_nothing() {
    for urgent in [false, true] {
        let engine = FakeEngine::new([("a", slow(30_000))]).with_creation_ahead();
        let cancel = CancelToken::new();
        let started = Instant::now();
        let run = std::thread::scope(|scope| {
            scope.spawn(|| {
                while !engine.exists("q-b") && started.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                if urgent {
                    cancel.cancel_now();
                } else {
                    cancel.cancel();
                }
            });
            run_with(CHAIN, &engine, &config(2), &cancel)
        });
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(statuses(&run), vec![("cancelled", Some(Reason::Interrupted)); 3]);
        let calls = engine.calls();
        assert!(calls.contains(&"create q-b".to_string()), "{calls:#?}");
        assert!(!calls.contains(&"start q-b".to_string()), "{calls:#?}");
        assert_eq!(engine.leftovers(), (0, 0), "{calls:#?}");
    }
}

#[test]
fn draining_removes_the_container_created_ahead_once_the_running_one_ended() {
    let engine = FakeEngine::new([("a", slow(1500))]).with_creation_ahead().with_batched_removal();
    let cancel = CancelToken::new();
    let run = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !engine.exists("q-b") {
                std::thread::sleep(Duration::from_millis(5));
            }
            cancel.drain();
        });
        run_with(CHAIN, &engine, &config(2), &cancel)
    });
    assert_eq!(
        statuses(&run),
        vec![("succeeded", None), ("cancelled", Some(Reason::Interrupted)), ("cancelled", Some(Reason::Interrupted))]
    );
    assert!(!engine.calls().contains(&"start q-b".to_string()));
    assert_eq!(engine.leftovers(), (0, 0));
}

/// A container waiting for a free slot is created meanwhile; `--fail-fast` then removes it.
#[test]
fn fail_fast_removes_a_container_created_while_it_waited_for_a_slot() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x}\n";
    let engine = FakeEngine::new([("a", Script { exit_code: 1, ..slow(200) })]).with_creation_ahead();
    let mut config = config(1);
    config.fail_fast = true;
    let run = run_with(text, &engine, &config, &CancelToken::new());
    assert_eq!(
        statuses(&run),
        vec![("failed", Some(exit(1))), ("cancelled", Some(Reason::FailFast { failed: "a".into() }))]
    );
    let calls = engine.calls();
    assert!(calls.contains(&"create q-b".to_string()), "{calls:#?}");
    assert!(!calls.contains(&"start q-b".to_string()), "{calls:#?}");
    assert_eq!(engine.leftovers(), (0, 0));
}

#[test]
fn a_wide_graph_creates_no_more_than_one_more_than_jobs_ahead() {
    let mut text = String::from("p:\n  - {name: a, image_repo: x}\n");
    for i in 0..6 {
        text.push_str(&format!("  - {{name: b{i}, image_repo: x, dependencies: [a]}}\n"));
    }
    let scripts = [("a", slow(200)), ("b0", slow(50)), ("b1", slow(50)), ("b2", slow(50))];
    let engine = FakeEngine::new(scripts).with_creation_ahead();
    let created_when_a_ended = Mutex::new(None);
    let run = run_watching(&text, &engine, &config(2), &CancelToken::new(), &|event| {
        if let RunEvent::ContainerFinished { container: 0, .. } = event {
            let created = (0..6).filter(|i| engine.exists(&format!("q-b{i}"))).count();
            *created_when_a_ended.lock().expect("not poisoned") = Some(created);
        }
    });
    assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
    assert_eq!(created_when_a_ended.into_inner().expect("not poisoned"), Some(3));
    assert_eq!(engine.max_running(), 2);
    assert_eq!(engine.leftovers(), (0, 0));
}

#[test]
fn a_retry_creates_a_fresh_container() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x, dependencies: [a]}\n";
    let b = Script { first_attempts: vec![1], ..Script::default() };
    let engine = FakeEngine::new([("a", slow(200)), ("b", b)]).with_creation_ahead();
    let mut config = config(1);
    let retry = ContainerPolicy { retries: 1, retry_delay: Duration::from_millis(10), ..ContainerPolicy::default() };
    config.policies = vec![ContainerPolicy::default(), retry];
    let run = run_with(text, &engine, &config, &CancelToken::new());
    assert_eq!(run.outcomes[1].status, Status::Succeeded);
    assert_eq!(run.outcomes[1].attempts, 2);
    let calls: Vec<String> = engine.calls().into_iter().filter(|c| c.ends_with("q-b")).collect();
    assert_eq!(calls, ["create q-b", "start q-b", "remove q-b", "create q-b", "start q-b", "remove q-b"]);
    assert_eq!(engine.leftovers(), (0, 0));
}

/// A `create` that fails ahead is made again when the container starts, which reports it as
/// it would have without creating ahead.
#[test]
fn a_create_that_fails_ahead_is_reported_when_the_container_starts() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x, dependencies: [a]}\n";
    let b = Script { create_fails: Some("no such image: x:latest".into()), ..Script::default() };
    let engine = FakeEngine::new([("a", slow(100)), ("b", b)]).with_creation_ahead();
    let run = run_with(text, &engine, &config(1), &CancelToken::new());
    assert_eq!(run.outcomes[0].status, Status::Succeeded);
    assert_eq!(run.outcomes[1].status, Status::Failed);
    match &run.outcomes[1].reason {
        Some(Reason::Engine(EngineError::Failed { stderr, .. })) => assert!(stderr.contains("no such image")),
        other => panic!("an engine error: {other:?}"),
    }
    assert_eq!(engine.calls().iter().filter(|c| *c == "create q-b").count(), 2);
    assert_eq!(engine.leftovers(), (0, 0));
}

/// One job at a time: while a container runs, the next two are created ahead (the second
/// because the first is on its way), never more, and each starts only once its dependency
/// ended — also where removals are batched (podman, docker).
#[test]
fn one_job_at_a_time_has_the_next_two_created_ahead() {
    let text = "p:
  - {name: a, image_repo: x}
  - {name: b, image_repo: x, dependencies: [a]}
  - {name: c, image_repo: x, dependencies: [b]}
  - {name: d, image_repo: x, dependencies: [c]}
";
    for batched in [false, true] {
        let engine = FakeEngine::new([("a", slow(300))]).with_creation_ahead();
        let engine = if batched { engine.with_batched_removal() } else { engine };
        let created = Mutex::new(None);
        let run = run_watching(text, &engine, &config(1), &CancelToken::new(), &|event| {
            if let RunEvent::ContainerFinished { container: 0, .. } = event {
                let exists = ["q-b", "q-c", "q-d"].map(|name| engine.exists(name));
                *created.lock().expect("not poisoned") = Some(exists);
            }
        });
        assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
        assert_eq!(created.into_inner().expect("not poisoned"), Some([true, true, false]), "batched: {batched}");
        assert_eq!(start_order(&run), vec![0, 1, 2, 3]);
        for dependency in 0..3 {
            assert!(run.outcomes[dependency].finished_at <= run.outcomes[dependency + 1].started_at);
        }
        assert_eq!(engine.max_running(), 1);
        assert_eq!(engine.leftovers(), (0, 0));
    }
}

/// However many jobs may run, a chain is created two steps ahead of the container that runs,
/// not as far as the window would allow: the creates would all go beside the first start.
#[test]
fn a_chain_is_created_two_steps_ahead_whatever_the_jobs() {
    let text = "p:
  - {name: a, image_repo: x}
  - {name: b, image_repo: x, dependencies: [a]}
  - {name: c, image_repo: x, dependencies: [b]}
  - {name: d, image_repo: x, dependencies: [c]}
  - {name: e, image_repo: x, dependencies: [d]}
";
    let engine = FakeEngine::new([("a", slow(300)), ("b", slow(300))]).with_creation_ahead().with_batched_removal();
    let created = Mutex::new(Vec::new());
    let run = run_watching(text, &engine, &config(32), &CancelToken::new(), &|event| {
        if let RunEvent::ContainerFinished { container: container @ 0..=1, .. } = event {
            let exists = ["q-b", "q-c", "q-d", "q-e"].map(|name| engine.exists(name));
            created.lock().expect("not poisoned").push((*container, exists));
        }
    });
    assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
    // When a ends, b and c exist, d and e do not; when b ends, c and d do (b itself is
    // removed later, with the others), e does not.
    let created = created.into_inner().expect("not poisoned");
    assert_eq!(created[0], (0, [true, true, false, false]), "{created:?}");
    assert_eq!(&created[1].1[1..], &[true, true, false], "{created:?}");
    assert_eq!(start_order(&run), vec![0, 1, 2, 3, 4]);
    assert_eq!(engine.leftovers(), (0, 0));
}

/// Where creating contends with starting (podman, docker), a container that only waits for a
/// slot is created ahead once starting has been quiet for a moment, not beside the starts of
/// a wide level of short containers.
#[test]
fn a_container_waiting_for_a_slot_is_created_ahead_once_starting_is_quiet() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x}\n";
    for (runs_for, created_while_a_ran) in [(300, false), (1500, true)] {
        let engine = FakeEngine::new([("a", slow(runs_for))]).with_creation_ahead().with_batched_removal();
        let created = Mutex::new(None);
        let run = run_watching(text, &engine, &config(1), &CancelToken::new(), &|event| {
            if let RunEvent::ContainerFinished { container: 0, .. } = event {
                *created.lock().expect("not poisoned") = Some(engine.exists("q-b"));
            }
        });
        assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
        assert_eq!(created.into_inner().expect("not poisoned"), Some(created_while_a_ran), "a runs {runs_for} ms");
        assert_eq!(start_order(&run), vec![0, 1]);
        assert_eq!(engine.leftovers(), (0, 0));
    }
}
