//! End-to-end tests of outputs between steps (issue 17, item 3): every container's writable
//! `/copili/out`, its dependents' read-only `/copili/in/<dependency>/`, and the `*.env` files'
//! `KEY=VALUE` lines as `${{ steps.NAME.outputs.KEY }}` in their `command` and `env_vars`, on
//! rootful podman, rootless podman and docker. Docker Swarm refuses the expressions
//! (`validate --for swarm`, tested in tests/errors.rs), and mounts no `/copili` directories.

use copili_e2e::{assert_finished, assert_output_line, engine_tests, read_report, report_entry, run, Engine, Scene};

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker;
    [outputs_between_steps]
);

/// `producer` writes files and outputs, `consumer` reads them and receives the values; a
/// missing key and a bad outputs file fail their containers with a clear reason; the report
/// shows the outputs, and the host directories stay under the run's directory.
fn outputs_between_steps(engine: Engine) {
    let scene = Scene::new(engine, "outputs");
    let file = scene.fixture("outputs.yaml");
    let report_path = scene.path("report.json");
    let output = run(scene.run_command(&file).args(["--log-dir", "logs", "--report"]).arg(&report_path));
    assert_eq!(output.code(), Some(1), "wants_more and bad_writer fail\n{}", output.describe());
    assert_output_line(&output, "producer", "produced");
    assert_output_line(&output, "consumer", "rows=5000 env=5000 table=genes v2");
    assert_output_line(&output, "consumer", "ROWS=5000");
    assert_output_line(&output, "consumer", "gene-data");
    assert_output_line(&output, "consumer", "in-is-read-only");
    assert_finished(&output, "consumer", "succeeded", "");
    assert_finished(&output, "wants_more", "failed", "`steps.producer.outputs.COLUMNS` not written by producer");
    assert_finished(
        &output,
        "bad_writer",
        "failed",
        "outputs: /copili/out/x.env line 1: `bad-key` is not an output key",
    );
    scene.assert_no_leftovers();

    let report = read_report(&report_path, &output);
    let producer = report_entry(&report, "producer");
    assert_eq!(producer["status"], "succeeded", "{producer:#}");
    assert_eq!(producer["outputs"], serde_json::json!({"ROWS": "5000", "TABLE": "genes v2"}), "{producer:#}");
    let wants_more = report_entry(&report, "wants_more");
    assert_eq!(wants_more["reason_kind"], "output_missing", "{wants_more:#}");
    assert_eq!(wants_more["attempts"], 0, "it never started: {wants_more:#}");
    let bad = report_entry(&report, "bad_writer");
    assert_eq!((bad["status"].as_str(), bad["exit_code"].as_i64()), (Some("failed"), Some(0)), "{bad:#}");
    assert_eq!(bad["reason_kind"], "outputs", "{bad:#}");
    assert!(report_entry(&report, "consumer").get("outputs").is_none(), "consumer wrote none");

    // The files stay on the host, under the run's directory of the log directory.
    let run_id = report["run_id"].as_str().expect("a run id");
    let out = scene.path("logs").join(run_id).join("out");
    let written = std::fs::read_to_string(out.join("producer/result.env")).expect("producer's result.env on the host");
    assert_eq!(written, "ROWS=5000\n");
    assert!(out.join("producer/data.txt").is_file());
    assert!(!out.join("producer/new").exists(), "the read-only mount was written to");
    let mut dirs: Vec<String> = std::fs::read_dir(&out)
        .expect("the run's outputs directory")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    // consumer wrote nothing: its empty directory is removed when the run ends, as is that of
    // wants_more, which never started.
    assert_eq!(dirs, ["bad_writer", "producer"]);
}
