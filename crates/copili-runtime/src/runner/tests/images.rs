//! The runner's images: pulled once and before their containers, pull policies, retries, builds.

use super::*;

fn image_events(run: &Run) -> Vec<(String, ImageEvent)> {
    run.events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Image { image, event, .. } => Some((image.clone(), event.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn each_image_is_pulled_once_and_before_its_containers_start() {
    let text = "p:
  - {name: a, image_repo: reg.example.com/x}
  - {name: b, image_repo: reg.example.com/x, dependencies: [a]}
  - {name: c, image_repo: reg.example.com/x, sidecars: [{name: s, image_repo: reg.example.com/y}]}
  - {name: d, image_repo: reg.example.com/z, dependencies: [b], pull: never}
";
    let engine = FakeEngine::new([]).with_absent_images(&["reg.example.com/x:latest", "reg.example.com/y:latest"]);
    let run = run_with(text, &engine, &config(2), &CancelToken::new());
    assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
    let calls = engine.calls();
    // In parallel: in either order.
    let mut pulls: Vec<&String> = calls.iter().filter(|c| c.starts_with("pull ")).collect();
    pulls.sort();
    assert_eq!(pulls, vec!["pull reg.example.com/x:latest", "pull reg.example.com/y:latest"]);
    let first_pull = calls.iter().position(|c| c == "pull reg.example.com/x:latest").expect("pulled");
    let first_create = calls.iter().position(|c| c.starts_with("create")).expect("created");
    assert!(first_pull < first_create, "{calls:?}");
    // `never` with a present image: no pull.
    assert!(!calls.contains(&"pull reg.example.com/z:latest".to_string()));
    assert!(image_events(&run).contains(&("reg.example.com/z:latest".into(), ImageEvent::Present)));
}

#[test]
fn pull_never_with_an_absent_image_fails_at_once_and_cancels_dependents() {
    let text = "p:
  - {name: slow, image_repo: x}
  - {name: a, image_repo: absent, pull: never, dependencies: [slow]}
  - {name: b, image_repo: x, dependencies: [a]}
  - {name: other, image_repo: x}
";
    let slow = Script { runs_for: Duration::from_millis(400), ..Script::default() };
    let engine = FakeEngine::new([("slow", slow)]).with_absent_images(&["absent:latest"]);
    let run = run_with(text, &engine, &config(2), &CancelToken::new());
    assert_eq!(run.outcomes[1].status, Status::Failed);
    assert_eq!(
        run.outcomes[1].reason,
        Some(Reason::Image(ImageFailure::AbsentNever { image: "absent:latest".into() }))
    );
    assert_eq!(run.outcomes[1].attempts, 0);
    // At once: before the dependency it waits for has ended.
    let failed_at = run.outcomes[1].finished_at;
    assert!(failed_at.is_none() || failed_at < run.outcomes[0].finished_at);
    let a_finished = run
        .events
        .iter()
        .position(|e| matches!(e, RunEvent::ContainerFinished { container: 1, .. }))
        .expect("reported");
    let slow_finished = run
        .events
        .iter()
        .position(|e| matches!(e, RunEvent::ContainerFinished { container: 0, .. }))
        .expect("reported");
    assert!(a_finished < slow_finished, "a fails before slow ends");
    assert_eq!(run.outcomes[2].status, Status::Cancelled);
    assert_eq!(run.outcomes[2].reason, Some(dependency_failed("a")));
    assert_eq!((run.outcomes[0].status, run.outcomes[3].status), (Status::Succeeded, Status::Succeeded));
    assert!(!engine.calls().iter().any(|c| c.starts_with("pull")));
}

#[test]
fn failed_pulls_are_retried_with_backoff_but_refused_credentials_are_not() {
    let text = "p:
  - {name: a, image_repo: reg.example.com/flaky}
  - {name: b, image_repo: reg.example.com/private, image_reg_username: u, image_reg_password: wrong}
  - {name: c, image_repo: reg.example.com/private2}
  - {name: d, image_repo: x}
";
    let engine = FakeEngine::new([])
            .with_absent_images(&[
                "reg.example.com/flaky:latest",
                "reg.example.com/private:latest",
                "reg.example.com/private2:latest",
            ])
            .with_pull_script(
                "reg.example.com/flaky:latest",
                PullScript { fail_times: 2, stderr: "Error: connection reset by peer".into(), ..PullScript::default() },
            )
            .with_pull_script(
                "reg.example.com/private:latest",
                PullScript {
                    fail_times: 9,
                    failure: PullFailure::CredentialsRefused,
                    stderr: "Error: logging into \"reg.example.com\": invalid username/password".into(),
                    ..PullScript::default()
                },
            )
            .with_pull_script(
                "reg.example.com/private2:latest",
                PullScript {
                    fail_times: 9,
                    failure: PullFailure::CredentialsMissing,
                    stderr: "Error response from daemon: Head \"https://reg.example.com/v2/private2/manifests/latest\": no basic auth credentials".into(),
                    ..PullScript::default()
                },
            );
    let mut config = config(4);
    config.images.pull_retry_delay = Duration::from_millis(10);
    let run = run_with(text, &engine, &config, &CancelToken::new());
    assert_eq!(run.outcomes[0].status, Status::Succeeded);
    let retries: Vec<Duration> = image_events(&run)
        .into_iter()
        .filter_map(|(image, e)| match e {
            ImageEvent::Retrying { delay, .. } if image == "reg.example.com/flaky:latest" => Some(delay),
            _ => None,
        })
        .collect();
    assert_eq!(retries, vec![Duration::from_millis(10), Duration::from_millis(20)]);
    let registry_failure = |c: usize| match &run.outcomes[c].reason {
        Some(Reason::Image(ImageFailure::Pull { failure, attempts })) => {
            (failure.kind, failure.registry.clone(), failure.error.step().map(String::from), *attempts)
        }
        other => panic!("a pull failure: {other:?}"),
    };
    let refused = (PullFailure::CredentialsRefused, "reg.example.com".to_string(), Some("login".to_string()), 1);
    assert_eq!(registry_failure(1), refused);
    let missing = (PullFailure::CredentialsMissing, "reg.example.com".to_string(), Some("pull".to_string()), 1);
    assert_eq!(registry_failure(2), missing);
    let calls = engine.calls();
    assert_eq!(calls.iter().filter(|c| *c == "pull reg.example.com/private:latest").count(), 1, "not retried");
    assert!(calls.contains(&"login reg.example.com".to_string()));
    assert_eq!(run.outcomes[3].status, Status::Succeeded);
}

#[test]
fn three_failed_retries_fail_the_container() {
    let text = "p:\n  - {name: a, image_repo: r.io/x}\n  - {name: b, image_repo: y, dependencies: [a]}\n";
    let engine = FakeEngine::new([]).with_absent_images(&["r.io/x:latest"]).with_pull_script(
        "r.io/x:latest",
        PullScript {
            fail_times: 99,
            failure: PullFailure::NotFound,
            stderr: "Error: manifest unknown".into(),
            ..PullScript::default()
        },
    );
    let mut config = config(1);
    config.images.pull_retry_delay = Duration::from_millis(1);
    let run = run_with(text, &engine, &config, &CancelToken::new());
    match &run.outcomes[0].reason {
        Some(Reason::Image(ImageFailure::Pull { failure, attempts: 4 })) => {
            assert_eq!(
                (failure.kind, failure.image.as_str(), failure.registry.as_str()),
                (PullFailure::NotFound, "r.io/x:latest", "r.io")
            );
        }
        other => panic!("a pull failure after 4 attempts: {other:?}"),
    }
    assert_eq!(engine.calls().iter().filter(|c| c.starts_with("pull")).count(), 4);
    assert_eq!(run.outcomes[1].reason, Some(dependency_failed("a")));
}

#[test]
fn a_missing_localhost_image_is_not_pulled() {
    let text = "p:\n  - {name: a, image_repo: localhost/gone}\n";
    let engine = FakeEngine::new([]).with_absent_images(&["localhost/gone:latest"]);
    let run = run_with(text, &engine, &config(1), &CancelToken::new());
    assert_eq!(
        run.outcomes[0].reason,
        Some(Reason::Image(ImageFailure::LocalOnly { image: "localhost/gone:latest".into() }))
    );
    assert!(!engine.calls().iter().any(|c| c.starts_with("pull")));
}

#[test]
fn an_interrupt_stops_a_pull() {
    let text = "p:\n  - {name: a, image_repo: r.io/x}\n";
    let engine = FakeEngine::new([])
        .with_absent_images(&["r.io/x:latest"])
        .with_pull_script("r.io/x:latest", PullScript { takes: Duration::from_secs(30), ..PullScript::default() });
    let cancel = CancelToken::new();
    let canceller = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        canceller.cancel();
    });
    let started = Instant::now();
    let run = run_with(text, &engine, &config(1), &cancel);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(statuses(&run), vec![("cancelled", Some(Reason::Interrupted))]);
}

#[test]
fn a_built_image_is_reused_while_its_inputs_are_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("written");
    let text = format!("p:\n  - {{name: a, build: '{}'}}\n", dir.path().display());
    let engine = FakeEngine::new([]).with_absent_images(&["localhost/copili-p-a:latest"]);
    let first = run_with(&text, &engine, &config(1), &CancelToken::new());
    assert_eq!(first.outcomes[0].status, Status::Succeeded);
    assert!(first.events.iter().any(|e| matches!(e, RunEvent::BuildOutput { container: 0, .. })));
    let second = run_with(&text, &engine, &config(1), &CancelToken::new());
    assert!(image_events(&second).contains(&("localhost/copili-p-a:latest".into(), ImageEvent::UpToDate)));
    std::fs::write(dir.path().join("data.txt"), "new").expect("written");
    run_with(&text, &engine, &config(1), &CancelToken::new());
    assert_eq!(engine.calls().iter().filter(|c| c.starts_with("build")).count(), 2, "{:?}", engine.calls());
}

#[test]
fn a_missing_build_context_fails_the_container() {
    let text = "p:\n  - {name: a, build: /nonexistent/copili-context}\n";
    let run = run_with(text, &FakeEngine::new([]), &config(1), &CancelToken::new());
    assert_eq!(run.outcomes[0].status, Status::Failed);
    assert!(matches!(
        &run.outcomes[0].reason,
        Some(Reason::Image(ImageFailure::ContextNotADirectory { written, .. })) if written == "/nonexistent/copili-context"
    ));
}

/// The first images' presence is asked before the run, all at once (beside the engine check);
/// the run takes those answers, an absent image is pulled without asking again, and an image
/// pulled whatever it has (`always`) is not asked about.
#[test]
fn presence_asked_beforehand_is_not_asked_again() {
    let text = "p:
  - {name: a, image_repo: reg.example.com/x}
  - {name: b, image_repo: reg.example.com/y, dependencies: [a]}
  - {name: c, image_repo: reg.example.com/z, pull: always}
  - {name: d, image_repo: reg.example.com/w, dependencies: [b]}
";
    let engine = FakeEngine::new([]).with_absent_images(&["reg.example.com/y:latest"]);
    let p = pipeline(text);
    let plan = copili_planner::plan(&p, &Selection::default()).expect("plannable");
    let order: Vec<usize> = plan.order().collect();
    let (jobs, _) = crate::images::jobs(&p, &order, None);
    // The first two, in the order they are needed, that a present image would not pull: not
    // `always`, not the last one needed.
    let checked = crate::images::checked_beforehand(&engine, &jobs, 2);
    let answers: Vec<(&str, bool)> =
        checked.iter().map(|(image, answer)| (image.as_str(), *answer.as_ref().expect("answered"))).collect();
    assert_eq!(answers, vec![("reg.example.com/x:latest", true), ("reg.example.com/y:latest", false)]);
    let asked_before = engine.calls().len();
    let mut config = config(2);
    config.images.checked = checked;
    let run = run_with(text, &engine, &config, &CancelToken::new());
    assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
    let calls = engine.calls();
    let asked: Vec<&String> = calls[asked_before..].iter().filter(|c| c.starts_with("image exists")).collect();
    assert_eq!(asked, vec!["image exists reg.example.com/w:latest"], "{calls:#?}");
    let pulls: Vec<&String> = calls.iter().filter(|c| c.starts_with("pull ")).collect();
    assert_eq!(pulls.len(), 2, "y (absent) and z (always): {calls:#?}");
    assert!(image_events(&run).contains(&("reg.example.com/x:latest".into(), ImageEvent::Present)));
}
