//! Allowed failures and dependency conditions: `allow_failure` and `condition: completed`.

use super::*;

fn exits(codes: &[(&'static str, i32)]) -> FakeEngine {
    FakeEngine::new(codes.iter().map(|&(name, exit_code)| (name, Script { exit_code, ..Script::default() })))
}

#[test]
fn an_allowed_failure_lets_its_dependents_run() {
    let text = "p:
  - {name: a, image_repo: x, allow_failure: [3]}
  - {name: b, image_repo: x, dependencies: [a]}
  - {name: c, image_repo: x, allow_failure: true}
  - {name: d, image_repo: x, dependencies: [c]}
";
    let engine = exits(&[("a", 3), ("c", 9)]);
    let run = run_with(text, &engine, &config(2), &CancelToken::new());
    assert_eq!(
        statuses(&run),
        vec![
            ("failed_allowed", Some(exit(3))),
            ("succeeded", None),
            ("failed_allowed", Some(exit(9))),
            ("succeeded", None)
        ]
    );
    assert_eq!(run.outcomes[0].exit_code, Some(3));
    assert_eq!(run.outcomes[0].status.label(), "failed (allowed)");
    // The event the reporters see says so too.
    let finished = run.events.iter().find_map(|e| match e {
        RunEvent::ContainerFinished { container: 0, outcome } => Some(outcome.status),
        _ => None,
    });
    assert_eq!(finished, Some(Status::FailedAllowed));
}

#[test]
fn an_exit_code_not_listed_is_a_failure() {
    let text =
        "p:\n  - {name: a, image_repo: x, allow_failure: [3, 4]}\n  - {name: b, image_repo: x, dependencies: [a]}\n";
    let run = run_with(text, &exits(&[("a", 5)]), &config(1), &CancelToken::new());
    assert_eq!(statuses(&run), vec![("failed", Some(exit(5))), ("cancelled", Some(dependency_failed("a")))]);
}

#[test]
fn a_list_of_exit_codes_does_not_allow_an_engine_failure_but_true_does() {
    let broken = || Script { create_fails: Some("no such image: x:latest".into()), ..Script::default() };
    let text =
        "p:\n  - {name: a, image_repo: x, allow_failure: [125]}\n  - {name: b, image_repo: x, allow_failure: true}\n";
    let engine = FakeEngine::new([("a", broken()), ("b", broken())]);
    let run = run_with(text, &engine, &config(1), &CancelToken::new());
    assert_eq!(run.outcomes[0].status, Status::Failed);
    assert_eq!(run.outcomes[1].status, Status::FailedAllowed);
}

#[test]
fn a_completed_dependency_runs_its_dependent_after_a_failure_and_a_plain_one_cancels() {
    let text = "p:
  - {name: c, image_repo: x}
  - {name: cleanup, image_repo: x, dependencies: [{name: c, condition: completed}]}
  - {name: d, image_repo: x, dependencies: [c]}
  - {name: after-cleanup, image_repo: x, dependencies: [cleanup]}
";
    let run = run_with(text, &exits(&[("c", 1)]), &config(1), &CancelToken::new());
    assert_eq!(
        statuses(&run),
        vec![
            ("failed", Some(exit(1))),
            ("succeeded", None),
            ("cancelled", Some(dependency_failed("c"))),
            ("succeeded", None)
        ]
    );
    // The cleanup ran after its dependency had ended.
    assert_eq!(start_order(&run), vec![0, 1, 3]);
}

#[test]
fn a_completed_dependency_that_never_ran_still_cancels() {
    let text = "p:
  - {name: a, image_repo: x}
  - {name: b, image_repo: x, dependencies: [a]}
  - {name: cleanup, image_repo: x, dependencies: [{name: b, condition: completed}]}
";
    let run = run_with(text, &exits(&[("a", 1)]), &config(1), &CancelToken::new());
    assert_eq!(run.outcomes[1].status, Status::Cancelled);
    assert_eq!(run.outcomes[2].status, Status::Cancelled);
    assert_eq!(run.outcomes[2].reason, Some(dependency_failed("a")));
}

#[test]
fn a_completed_dependency_that_succeeded_is_met() {
    let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x, dependencies: [{name: a, condition: completed}]}\n";
    let run = run_with(text, &exits(&[]), &config(1), &CancelToken::new());
    assert_eq!(statuses(&run), vec![("succeeded", None), ("succeeded", None)]);
}

#[test]
fn an_allowed_failure_does_not_stop_a_fail_fast_run() {
    let text = "p:\n  - {name: a, image_repo: x, allow_failure: true}\n  - {name: b, image_repo: x}\n";
    let config = RunConfig { fail_fast: true, ..config(1) };
    let run = run_with(text, &exits(&[("a", 2)]), &config, &CancelToken::new());
    assert_eq!(statuses(&run), vec![("failed_allowed", Some(exit(2))), ("succeeded", None)]);
}
