//! End-to-end tests of allowed failures and dependency conditions (issue 17, item 2) on real
//! engines: `allow_failure` reports `failed (allowed)` in the console, the JSON report and the
//! log files, lets its dependents run and leaves the exit code 0; `condition: completed` runs a
//! cleanup after a failure that still fails the run, while a plain dependent is cancelled.

use std::path::Path;

use copili_e2e::{
    assert_finished, assert_no_output_from, assert_output_line, assert_summary, engine_tests, read_report,
    report_entry, run, summary_row, Engine, Output, Scene,
};
use serde_json::Value;

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker,
    swarm => copili_e2e::Engine::Swarm;
    [allowed_failures_and_completed_dependencies, only_an_allowed_failure_exits_0]
);

/// The result block of the last run section of `<container>.log`: `status`, `exit code`, ….
fn log_result(log_dir: &Path, container: &str, output: &Output) -> Vec<(String, String)> {
    let path = log_dir.join(format!("{container}.log"));
    let log = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no log file {}: {e}\n{}", path.display(), output.describe()));
    let result = log.rsplit_once("result\n").map_or("", |(_, r)| r);
    result
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| k == "status" || k == "exit code")
        .collect()
}

fn result(status: &str, code: &str) -> Vec<(String, String)> {
    vec![("status".into(), status.into()), ("exit code".into(), code.into())]
}

fn assert_entry(report: &Value, container: &str, status: &str, exit_code: Value, allowed: bool) {
    let entry = report_entry(report, container);
    assert_eq!(entry["status"], status, "{container}: {entry:#}");
    assert_eq!(entry["exit_code"], exit_code, "{container}: {entry:#}");
    assert_eq!(entry.get("allowed").and_then(Value::as_bool).unwrap_or(false), allowed, "{container}: {entry:#}");
}

/// `a` exits 3 with `allow_failure: [3]` and `b` runs after it; `c` fails, `cleanup` runs after
/// it (`condition: completed`) and `d` is cancelled: the run fails with exit code 1.
fn allowed_failures_and_completed_dependencies(engine: Engine) {
    let scene = Scene::new(engine, "flow");
    let file = scene.fixture("flow.yaml");
    let report = scene.path("report.json");
    let logs = scene.path("logs");
    let output =
        run(scene.run_command(&file).args(["--jobs", "2", "--log-dir"]).arg(&logs).arg("--report").arg(&report));
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    assert_output_line(&output, "a", "a-ran");
    assert_finished(&output, "a", "failed (allowed)", "exit code 3");
    assert_output_line(&output, "b", "b-ran");
    assert_finished(&output, "b", "succeeded", "");
    assert_finished(&output, "c", "failed", "exit code 4");
    assert_output_line(&output, "cleanup", "cleanup-ran");
    assert_finished(&output, "cleanup", "succeeded", "");
    assert_finished(&output, "d", "cancelled", "dependency c failed");
    assert_no_output_from(&output, "d");
    scene.assert_no_leftovers();

    assert_eq!(summary_row(&output, "a")[1..5], ["failed", "(allowed)", "3", "1"], "{}", output.describe());
    assert_summary(&output, "b", "succeeded", "0", "1");
    assert_summary(&output, "c", "failed", "4", "1");
    assert_summary(&output, "cleanup", "succeeded", "0", "1");
    assert_summary(&output, "d", "cancelled", "-", "0");
    assert!(
        output.stdout().contains("2 succeeded, 1 failed, 1 failed (allowed), 1 cancelled, 0 skipped"),
        "{}",
        output.describe()
    );

    let report = read_report(&report, &output);
    assert_eq!(report["exit_code"], 1, "{report:#}");
    assert_entry(&report, "a", "failed_allowed", 3.into(), true);
    assert_entry(&report, "b", "succeeded", 0.into(), false);
    assert_entry(&report, "c", "failed", 4.into(), false);
    assert_entry(&report, "cleanup", "succeeded", 0.into(), false);
    assert_entry(&report, "d", "cancelled", Value::Null, false);
    assert_eq!(report_entry(&report, "cleanup")["completed_dependencies"], serde_json::json!(["c"]), "{report:#}");

    assert_eq!(log_result(&logs, "a", &output), result("failed (allowed)", "3"));
    assert_eq!(log_result(&logs, "b", &output), result("succeeded", "0"));
    assert_eq!(log_result(&logs, "c", &output), result("failed", "4"));
    assert_eq!(log_result(&logs, "cleanup", &output), result("succeeded", "0"));
}

/// Without `c` and its dependents (excluded in the environment), the only failure is allowed:
/// the run exits 0.
fn only_an_allowed_failure_exits_0(engine: Engine) {
    let scene = Scene::new(engine, "flow-ok");
    let file = scene.fixture("flow.yaml");
    let report = scene.path("report.json");
    let output = run(scene.run_command(&file).args(["--environment", "ALLOWED_ONLY", "--report"]).arg(&report));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_finished(&output, "a", "failed (allowed)", "exit code 3");
    assert_finished(&output, "b", "succeeded", "");
    assert_no_output_from(&output, "c");
    assert_no_output_from(&output, "cleanup");
    scene.assert_no_leftovers();
    let report = read_report(&report, &output);
    assert_eq!(report["exit_code"], 0, "{report:#}");
    assert_entry(&report, "a", "failed_allowed", 3.into(), true);
    assert_entry(&report, "b", "succeeded", 0.into(), false);
    assert_eq!(report_entry(&report, "c")["status"], "skipped", "{report:#}");
}
