//! End-to-end tests of containers created ahead of their start, on the local engines (rootful
//! podman, rootless podman, docker; swarm creates nothing ahead): while a container's
//! dependency runs, the dependent's container exists, created (on podman initialised) and not
//! running, seen from the engine (`ps --all --filter label=…`, `inspect`); it starts only once
//! the dependency succeeded, and it is removed, never started, when the dependency fails or the
//! run is interrupted; one the engine refuses to start fails with the engine's reason and no
//! exit code, as when it is run at once.

use std::time::Duration;

use copili_e2e::{
    assert_finished, assert_no_output_from, assert_output_line, engine_tests, parse_rfc3339, read_report, report_entry,
    wait_until, Engine, Running, Scene, RUN_TIMEOUT,
};

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker;
    [
        created_while_its_dependency_runs_and_started_after_it,
        a_failed_dependency_leaves_no_created_dependent,
        sigint_while_a_container_is_created_ahead_leaves_nothing,
        a_created_container_the_engine_cannot_start_fails_with_its_reason,
    ]
);

/// `first` runs `first_command`; `second` depends on it and prints `second-ran`.
fn chain(first_command: &str) -> String {
    format!(
        "ahead:
  - {{name: first, image_repo: localhost/copili-test, command: [sh, -c, '{first_command}']}}
  - {{name: second, image_repo: localhost/copili-test, command: [sh, -c, 'echo second-ran'], dependencies: [first]}}
"
    )
}

/// Starts the chain and waits until `second` is created while `first` runs (and `second`
/// does not).
fn run_until_second_is_created(scene: &Scene, first_command: &str, report: &std::path::Path) -> Running {
    let file = scene.write("ahead.yaml", &chain(first_command));
    let mut command = scene.run_command(&file);
    command.args(["--stop-timeout", "1s", "--report"]).arg(report);
    let mut copili = Running::spawn(&mut command);
    let (first, second) = (format!("{}-first", scene.identity), format!("{}-second", scene.identity));
    wait_until(Duration::from_secs(60), "second is created while first runs", || {
        assert!(copili.is_running(), "copili ended before second was created");
        let running = scene.running("main");
        let created = scene.created("main");
        assert!(!running.contains(&second), "second runs while first has not ended: {running:?}");
        running == [first.clone()] && created.contains(&second)
    });
    copili
}

fn created_while_its_dependency_runs_and_started_after_it(engine: Engine) {
    let scene = Scene::new(engine, "ahead-chain");
    let report = scene.path("report.json");
    let copili = run_until_second_is_created(&scene, "sleep 3", &report);
    // Ahead on podman means initialised too (`init`: storage, network, the runtime's process
    // made and waiting); docker only creates. Either way its command has not run.
    let second = format!("{}-second", scene.identity);
    let ready_state = if engine == Engine::Docker { "created" } else { "initialized" };
    wait_until(Duration::from_secs(20), "second is made ready ahead while first runs", || {
        let state = engine.client_output(&["inspect", "--format", "{{.State.Status}}", &second]);
        assert!(matches!(state.trim(), "created" | "initialized"), "second is {state} while first runs");
        state.trim() == ready_state
    });
    let output = copili.wait(RUN_TIMEOUT);
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_finished(&output, "second", "succeeded", "");
    assert_output_line(&output, "second", "second-ran");
    let report = read_report(&report, &output);
    let time = |name: &str, key: &str| {
        let entry = report_entry(&report, name);
        entry[key].as_str().and_then(parse_rfc3339).unwrap_or_else(|| panic!("{key} of {name}: {entry:#}"))
    };
    assert!(time("first", "finished_at") <= time("second", "started_at"), "{report:#}");
    scene.assert_no_leftovers();
}

fn a_failed_dependency_leaves_no_created_dependent(engine: Engine) {
    let scene = Scene::new(engine, "ahead-failed");
    let report = scene.path("report.json");
    let copili = run_until_second_is_created(&scene, "sleep 3; exit 3", &report);
    let output = copili.wait(RUN_TIMEOUT);
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    assert_finished(&output, "first", "failed", "exit code 3");
    assert_finished(&output, "second", "cancelled", "first");
    assert_no_output_from(&output, "second");
    let report = read_report(&report, &output);
    assert_eq!(report_entry(&report, "second")["attempts"], 0, "{report:#}");
    scene.assert_no_leftovers();
}

fn sigint_while_a_container_is_created_ahead_leaves_nothing(engine: Engine) {
    let scene = Scene::new(engine, "ahead-sigint");
    let report = scene.path("report.json");
    let copili = run_until_second_is_created(&scene, "sleep 30", &report);
    copili.signal("INT");
    let output = copili.wait(Duration::from_secs(15));
    assert_eq!(output.code(), Some(130), "{}", output.describe());
    assert_finished(&output, "first", "cancelled", "interrupted");
    assert_finished(&output, "second", "cancelled", "interrupted");
    assert_no_output_from(&output, "second");
    scene.assert_no_leftovers();
}

/// `second`, created ahead, names a program its image lacks: the engine refuses to start it
/// (docker's `start --attach` exits 1 then, podman's 125). It never ran, so it has no exit
/// code: the engine's reason is reported, as for a container run at once.
fn a_created_container_the_engine_cannot_start_fails_with_its_reason(engine: Engine) {
    let scene = Scene::new(engine, "ahead-refused");
    let file = scene.write(
        "refused.yaml",
        "ahead-refused:
  - {name: first, image_repo: localhost/copili-test, command: [sh, -c, 'sleep 1']}
  - {name: second, image_repo: localhost/copili-test, command: [no-such-program], dependencies: [first]}
",
    );
    let report = scene.path("report.json");
    let mut command = scene.run_command(&file);
    command.arg("--report").arg(&report);
    let output = Running::spawn(&mut command).wait(RUN_TIMEOUT);
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    assert_finished(&output, "first", "succeeded", "");
    assert_finished(&output, "second", "failed", "engine error");
    assert_finished(&output, "second", "failed", "no-such-program");
    let report = read_report(&report, &output);
    let entry = report_entry(&report, "second");
    assert!(entry["exit_code"].is_null(), "second never ran, it has no exit code: {entry:#}");
    assert_eq!(entry["status"], "failed", "{entry:#}");
    scene.assert_no_leftovers();
}
