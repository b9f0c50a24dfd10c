//! End-to-end tests of `copili run` on real engines: rootful podman, rootless podman (as the
//! unprivileged user of `cargo xtask setup`) and docker, each scenario once per engine.
//!
//! Every test runs under its own pipeline identity (`--name e2e-<scenario>-<engine>-<pid>`), in
//! its own temporary directory, so tests run in parallel with each other and with another
//! `cargo test` in the same tree. After every run the engine is asked, by copili's
//! `io.copili.pipeline` label, whether anything was left behind: nothing may be.
//!
//! The engines must have been set up (`cargo xtask setup`, which `cargo xtask test` runs): a
//! missing engine fails these tests, it never skips them.

use std::path::Path;
use std::time::{Duration, Instant};

use copili_e2e::{
    all_output, assert_finished, assert_no_output_from, assert_output_line, assert_reason, assert_summary,
    engine_tests, is_rfc3339, read_report, repo_root, report_entry, run, summary_row, wait_until, CmdlineSampler,
    Engine, Output, Running, Scene, RUN_TIMEOUT,
};
use serde_json::Value;

/// How long copili may take to stop everything and exit after a signal (each `sleep` ignores
/// SIGTERM and is killed after `--stop-timeout 1s`).
const INTERRUPT_TIMEOUT: Duration = Duration::from_secs(15);

// One test function per engine per scenario: `<engine>::<scenario>` (see `engine_tests!`), so
// that `cargo test --test engines docker::` or `cargo test --test engines sidecars` select them.
// `swarm` runs the same scenarios on Docker Swarm mode (`--engine swarm`): every container a
// swarm job, sidecars services on an overlay network.
engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker,
    swarm => copili_e2e::Engine::Swarm;
    [
        quickstart,
        exit_codes,
        sidecars,
        shared_sidecar_name,
        live_sidecar_output,
        policies,
        fail_fast,
        env_and_secrets,
        bind_mounts,
        sigint_before_anything_started,
        sigint_while_sidecars_start,
        sigint_while_mains_run,
        sigterm_while_mains_run,
        second_sigint_skips_the_grace_period,
        ctrl_c_to_the_whole_process_group,
        engine_unavailable,
        dry_run_needs_no_engine,
        one_run_per_identity,
        crashed_run_leftovers_are_removed,
    ]
);

// Each test runs in a `Scene` of its own (`copili_e2e::Scene`): its pipeline identity and
// private directory; what the pipeline left on the engine is removed if the test fails.

// --- Reading copili's report and log files ----------------------------------------------------

/// Asserts the report's top level and that it lists exactly `containers`.
fn assert_report_run(report: &Value, identity: &str, engine: Engine, exit_code: i32, containers: &[&str]) {
    assert_eq!(report["pipeline"], identity, "{report:#}");
    assert_eq!(report["exit_code"], exit_code, "{report:#}");
    assert!(report["engine"].as_str().is_some_and(|e| e.contains(engine.engine_arg())), "engine: {report:#}");
    assert!(report["run_id"].as_str().is_some_and(|id| !id.is_empty()), "run_id: {report:#}");
    for key in ["started_at", "finished_at"] {
        assert!(report[key].as_str().is_some_and(is_rfc3339), "{key} is not an RFC 3339 time: {report:#}");
    }
    let mut names: Vec<&str> =
        report["containers"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
    names.sort_unstable();
    let mut expected = containers.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected, "the report lists every container of the pipeline: {report:#}");
}

/// Asserts one container's entry: status, exit code (`None`: null), attempts, and that the
/// reason contains `reason` (`None`: null).
fn assert_report_container(
    report: &Value,
    container: &str,
    status: &str,
    exit_code: Option<i64>,
    attempts: u64,
    reason: Option<&str>,
) {
    let entry = report_entry(report, container);
    assert_eq!(entry["status"], status, "{container}: {entry:#}");
    assert_eq!(entry["exit_code"].as_i64(), exit_code, "{container}: {entry:#}");
    assert!(exit_code.is_some() || entry["exit_code"].is_null(), "{container}: exit_code must be null: {entry:#}");
    assert_eq!(entry["attempts"].as_u64(), Some(attempts), "{container}: {entry:#}");
    assert_reason(entry, container, reason);
    assert!(entry["image"].as_str().is_some_and(|i| i.contains("localhost/copili-test")), "{entry:#}");
    if attempts > 0 {
        for key in ["started_at", "finished_at"] {
            assert!(entry[key].as_str().is_some_and(is_rfc3339), "{container}: {key}: {entry:#}");
        }
        assert!(entry["duration_s"].as_f64().is_some_and(|d| d >= 0.0), "{container}: duration_s: {entry:#}");
    }
}

/// The log file of `container` in `log_dir` (issue 4, item 6: `<name>.log`).
fn read_log(log_dir: &Path, container: &str, output: &Output) -> String {
    let path = log_dir.join(format!("{container}.log"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("no log file {} (--log-dir, issue 4 item 6): {e}\n{}", path.display(), output.describe())
    })
}

/// One run's section of a log file, in the layout docs/cli.md documents: a `=== run …` header,
/// `key: value` lines, the output after `--- attempt N` lines, a `--- result` block.
struct LogSection {
    /// The header line, `=== run <time> (run id <id>)`.
    header: String,
    /// Every line between the header and the result block.
    body: Vec<String>,
    /// The result block's `key: value` lines.
    result: std::collections::BTreeMap<String, String>,
}

/// The sections of a log file, oldest first.
fn log_sections(log: &str) -> Vec<LogSection> {
    let mut sections: Vec<LogSection> = Vec::new();
    let mut in_result = false;
    for line in log.lines() {
        if line.starts_with("====") && line.contains(" run ") {
            sections.push(LogSection { header: line.to_string(), body: Vec::new(), result: Default::default() });
            in_result = false;
        } else if let Some(section) = sections.last_mut() {
            if line.starts_with("----") && line.trim_start_matches('-').trim() == "result" {
                in_result = true;
            } else if in_result {
                if let Some((key, value)) = line.split_once(':') {
                    section.result.insert(key.trim().to_string(), value.trim().to_string());
                }
            } else {
                section.body.push(line.to_string());
            }
        }
    }
    sections
}

/// Asserts that the last section of `container`'s log file holds the output line `line` and
/// a result block with `status` and `exit code`; returns all sections.
fn assert_log(
    log_dir: &Path,
    container: &str,
    line: &str,
    status: &str,
    exit_code: &str,
    output: &Output,
) -> Vec<LogSection> {
    let log = read_log(log_dir, container, output);
    let sections = log_sections(&log);
    let last = sections.last().unwrap_or_else(|| panic!("{container}.log has no `=== run` section:\n{log}"));
    assert!(last.body.iter().any(|l| l == line), "{container}.log lacks the line `{line}`:\n{log}");
    assert_eq!(last.result.get("status").map(String::as_str), Some(status), "{container}.log:\n{log}");
    assert_eq!(last.result.get("exit code").map(String::as_str), Some(exit_code), "{container}.log:\n{log}");
    sections
}

// --- Scenarios --------------------------------------------------------------------------------

/// The seed's quick example, as shipped: every container runs once, in order, and succeeds.
/// Run twice: the second run neither clashes with the first's names nor finds anything left,
/// and appends a section to each log file.
fn quickstart(engine: Engine) {
    let scene = Scene::new(engine, "quick");
    let file = scene.copy_in(&repo_root().join("examples/quickstart.yaml"));
    let containers = ["dataloader_01", "dataloader_02", "dataloader_03", "servicecontainer01"];
    let mut run_ids = Vec::new();
    for run_number in 1..=2 {
        let report = scene.path(&format!("report-{run_number}.json"));
        // No --log-dir: the default `./logs` is relative to the working directory.
        let output = run(scene.run_command(&file).arg("--report").arg(&report));
        assert_eq!(output.code(), Some(0), "run {run_number}\n{}", output.describe());
        for name in ["dataloader_01", "dataloader_02", "dataloader_03"] {
            assert_output_line(&output, name, &format!("loading {name}"));
            assert_finished(&output, name, "succeeded", "");
        }
        assert_output_line(&output, "servicecontainer01", "hello from servicecontainer01");
        assert_finished(&output, "servicecontainer01", "succeeded", "");
        // Dependency order: 01 before 02 before 03.
        let stdout = output.stdout();
        let position = |name: &str| stdout.find(&format!("loading {name}")).expect("the line is there");
        assert!(position("dataloader_01") < position("dataloader_02"), "{}", output.describe());
        assert!(position("dataloader_02") < position("dataloader_03"), "{}", output.describe());
        scene.assert_no_leftovers();

        for name in containers {
            assert_summary(&output, name, "succeeded", "0", "1");
        }
        let report = read_report(&report, &output);
        assert_report_run(&report, &scene.identity, engine, 0, &containers);
        for name in containers {
            assert_report_container(&report, name, "succeeded", Some(0), 1, None);
        }
        let run_id = report["run_id"].as_str().expect("a run id").to_string();
        let logs = scene.path("logs");
        for name in containers {
            let line = match name {
                "servicecontainer01" => "hello from servicecontainer01".to_string(),
                _ => format!("loading {name}"),
            };
            let sections = assert_log(&logs, name, &line, "succeeded", "0", &output);
            assert_eq!(sections.len(), run_number, "{name}.log: one section per run");
            let header = &sections[run_number - 1].header;
            assert!(header.contains(&run_id), "{name}.log: section of run {run_id}: `{header}`");
        }
        run_ids.push(run_id);
    }
    assert_ne!(run_ids[0], run_ids[1], "each run has its own id");
}

/// Exit codes 0, 3 and 137 are the containers' own; a failure cancels its dependents
/// (transitively) while an independent branch completes; copili exits 1.
fn exit_codes(engine: Engine) {
    let scene = Scene::new(engine, "exit");
    let file = scene.fixture("exit-codes.yaml");
    let report = scene.path("report.json");
    let logs = scene.path("my-logs");
    let output =
        run(scene.run_command(&file).args(["--jobs", "4", "--log-dir"]).arg(&logs).arg("--report").arg(&report));
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    assert_output_line(&output, "succeeds", "succeeds-ran");
    assert_finished(&output, "succeeds", "succeeded", "");
    assert_output_line(&output, "fails", "fails-ran");
    assert_finished(&output, "fails", "failed", "exit code 3");
    assert_output_line(&output, "killed", "killed-ran");
    assert_finished(&output, "killed", "failed", "exit code 137");
    assert_finished(&output, "needs_fails", "cancelled", "dependency fails failed");
    // Transitively cancelled: the reason may name the failed container or the cancelled one.
    assert_finished(&output, "needs_needs_fails", "cancelled", "dependency ");
    assert_no_output_from(&output, "needs_fails");
    assert_no_output_from(&output, "needs_needs_fails");
    assert_output_line(&output, "independent", "independent-ran");
    assert_finished(&output, "independent", "succeeded", "");
    assert_output_line(&output, "needs_independent", "needs_independent-ran");
    assert_finished(&output, "needs_independent", "succeeded", "");
    scene.assert_no_leftovers();

    assert_summary(&output, "succeeds", "succeeded", "0", "1");
    assert_summary(&output, "fails", "failed", "3", "1");
    assert_summary(&output, "killed", "failed", "137", "1");
    assert_summary(&output, "needs_fails", "cancelled", "-", "0");
    let report = read_report(&report, &output);
    let all = ["succeeds", "fails", "needs_fails", "needs_needs_fails", "killed", "independent", "needs_independent"];
    assert_report_run(&report, &scene.identity, engine, 1, &all);
    assert_report_container(&report, "succeeds", "succeeded", Some(0), 1, None);
    assert_report_container(&report, "fails", "failed", Some(3), 1, Some("exit code 3"));
    assert_report_container(&report, "killed", "failed", Some(137), 1, Some("exit code 137"));
    assert_report_container(&report, "needs_fails", "cancelled", None, 0, Some("dependency fails failed"));
    assert_report_container(&report, "needs_needs_fails", "cancelled", None, 0, Some("dependency "));
    assert_report_container(&report, "independent", "succeeded", Some(0), 1, None);
    assert_report_container(&report, "needs_independent", "succeeded", Some(0), 1, None);
    assert_log(&logs, "fails", "fails-ran", "failed", "3", &output);
    assert_log(&logs, "killed", "killed-ran", "failed", "137", &output);
    assert_log(&logs, "succeeds", "succeeds-ran", "succeeded", "0", &output);
}

/// A sidecar is reached by its name from its main container; a `ready:` check holds the main
/// container back until the sidecar answers; sidecar output is prefixed `main/sidecar`; the
/// sidecars and their networks are gone afterwards.
fn sidecars(engine: Engine) {
    let scene = Scene::new(engine, "sidecar");
    let file = scene.fixture("sidecars.yaml");
    let logs = scene.path("logs");
    let output = run(scene.run_command(&file).args(["--jobs", "2", "--log-dir"]).arg(&logs));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_output_line(&output, "client", "ok-from-sidecar");
    assert_output_line(&output, "client/web", "web-starting");
    assert_finished(&output, "client", "succeeded", "");
    assert_output_line(&output, "after_ready", "ok-after-ready");
    assert_finished(&output, "after_ready", "succeeded", "");
    scene.assert_no_leftovers();

    // The sidecar's output is in its main container's log file, marked with its name.
    let sections = assert_log(&logs, "client", "ok-from-sidecar", "succeeded", "0", &output);
    let body = &sections[sections.len() - 1].body;
    assert!(body.iter().any(|l| l == "[web] web-starting"), "client.log lacks `[web] web-starting`: {body:#?}");
}

/// Sidecars are scoped to their container (issue 12, item 3): one sidecar `db`, anchored and
/// reused by the jobs `a` and `b`, next to a container named `db` that `a` depends on. Each
/// main reaches its own sidecar (the token its `db` printed); the console, the log files and
/// the report keep them apart; nothing is left behind.
fn shared_sidecar_name(engine: Engine) {
    let scene = Scene::new(engine, "shside");
    let file = scene.fixture("shared-sidecar-name.yaml");
    let logs = scene.path("logs");
    let report_path = scene.path("report.json");
    let output =
        run(scene.run_command(&file).args(["--jobs", "3", "--log-dir"]).arg(&logs).arg("--report").arg(&report_path));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    scene.assert_no_leftovers();

    // The token each sidecar printed, by its console prefix.
    let stdout = output.stdout();
    let token_of = |prefix: &str| -> String {
        let tokens: Vec<&str> = stdout
            .lines()
            .filter_map(|l| copili_e2e::output_line_text(l, prefix))
            .filter(|t| t.starts_with("token-"))
            .collect();
        assert_eq!(tokens.len(), 1, "one token line from `{prefix}`\n{}", output.describe());
        tokens[0].to_string()
    };
    let (token_a, token_b) = (token_of("a/db"), token_of("b/db"));
    assert_ne!(token_a, token_b, "two sidecars, two tokens\n{}", output.describe());
    assert_output_line(&output, "a", &format!("got-{token_a}"));
    assert_output_line(&output, "b", &format!("got-{token_b}"));
    // The container `db` is a container of its own, not a sidecar.
    assert_output_line(&output, "db", "plain-db-container");
    assert_no_output_from(&output, "db/db");
    for name in ["db", "a", "b"] {
        assert_finished(&output, name, "succeeded", "");
    }

    // Each main's log holds its own sidecar's line; the container `db` has a log of its own.
    for (main, token) in [("a", &token_a), ("b", &token_b)] {
        let sections = assert_log(&logs, main, &format!("got-{token}"), "succeeded", "0", &output);
        let body = &sections[sections.len() - 1].body;
        let sidecar_lines: Vec<&String> = body.iter().filter(|l| l.starts_with("[db] ")).collect();
        assert_eq!(sidecar_lines, vec![&format!("[db] {token}")], "{main}.log: {body:#?}");
    }
    assert_log(&logs, "db", "plain-db-container", "succeeded", "0", &output);

    // The report lists each container once; `db` is the container.
    let report = read_report(&report_path, &output);
    assert_report_run(&report, &scene.identity, engine, 0, &["db", "a", "b"]);
    for name in ["db", "a", "b"] {
        assert_report_container(&report, name, "succeeded", Some(0), 1, None);
    }
}

/// Sidecar output is live (issue 12, item 5): a sidecar's start-up lines, the last one on
/// stderr, reach the console and the main container's log file while the sidecar runs, before
/// the lines its main container writes after seeing them there (it reads its own log file
/// through a mount); the main's own stderr line too. The order is the content's, not a sleep's:
/// a line held back makes the main give up (`never saw: …`, exit 3).
fn live_sidecar_output(engine: Engine) {
    let scene = Scene::new(engine, "live_side");
    let file = scene.fixture("live-sidecar-output.yaml");
    let logs = scene.shared_dir("logs");
    let output = run(scene.run_command(&file).arg("--log-dir").arg(&logs));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_finished(&output, "main", "succeeded", "");
    scene.assert_no_leftovers();

    let expected =
        [("main/side", "side-out-1"), ("main/side", "side-err-2"), ("main", "main-err-3"), ("main", "main-out-4")];
    let stdout = output.stdout();
    let console: Vec<(&str, &str)> = stdout
        .lines()
        .filter_map(|line| {
            let (who, text) = line.split_once('|')?;
            let who = who.trim_end();
            (who == "main" || who == "main/side").then(|| (who, text.trim()))
        })
        .collect();
    assert_eq!(console, expected, "the console's container lines, in order\n{}", output.describe());

    let log = read_log(&logs, "main", &output);
    let sections = log_sections(&log);
    let body = &sections.last().unwrap_or_else(|| panic!("main.log has no run section:\n{log}")).body;
    // The output, after the header's `key: value` lines, without the `--- attempt 1` rule.
    let lines: Vec<&str> = body
        .iter()
        .map(String::as_str)
        .skip_while(|l| !l.starts_with("----"))
        .filter(|l| !l.starts_with("----"))
        .collect();
    assert_eq!(lines, ["[side] side-out-1", "[side] side-err-2", "main-err-3", "main-out-4"], "main.log:\n{log}");
}

/// `timeout` stops and fails a container (cancelling its dependent); `retries` runs a failing
/// container again until it succeeds, each attempt counted.
fn policies(engine: Engine) {
    let scene = Scene::new(engine, "policy");
    let file = scene.fixture("policies.yaml");
    scene.shared_dir("state");
    let report = scene.path("report.json");
    let started = Instant::now();
    let output = run(scene.run_command(&file).args(["--jobs", "2", "--stop-timeout", "1s", "--report"]).arg(&report));
    let elapsed = started.elapsed();
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    assert!(elapsed < Duration::from_secs(25), "the 1 s timeout did not stop `sleep 30` ({elapsed:?})");
    assert_finished(&output, "too_slow", "failed", "timed out after 1s");
    assert_finished(&output, "needs_too_slow", "cancelled", "dependency too_slow failed");
    for attempt in 1..=3 {
        assert_output_line(&output, "flaky", &format!("flaky-attempt-{attempt}"));
    }
    assert_no_output_from(&output, "needs_too_slow");
    assert_finished(&output, "flaky", "succeeded", "");
    let retries = all_output(&output).lines().filter(|l| l.contains("flaky") && l.contains("retrying")).count();
    assert_eq!(retries, 2, "two retries announced\n{}", output.describe());
    let attempts = std::fs::read_to_string(scene.path("state/attempts")).expect("the attempt counter");
    assert_eq!(attempts.trim(), "3");
    scene.assert_no_leftovers();

    let report = read_report(&report, &output);
    assert_report_run(&report, &scene.identity, engine, 1, &["too_slow", "needs_too_slow", "flaky"]);
    assert_report_container(&report, "too_slow", "failed", None, 1, Some("timed out"));
    assert_report_container(&report, "flaky", "succeeded", Some(0), 3, None);
    // The default log directory, `./logs` in the working directory: every attempt is marked.
    let logs = scene.path("logs");
    let sections = assert_log(&logs, "flaky", "flaky-attempt-3", "succeeded", "0", &output);
    let section = &sections[sections.len() - 1];
    for attempt in 1..=3 {
        let mark = format!("attempt {attempt}");
        let marked = section.body.iter().any(|l| l.starts_with("----") && l.trim_start_matches('-').trim() == mark);
        assert!(marked, "flaky.log marks no `{mark}`: {:#?}", section.body);
    }
    assert_eq!(section.result.get("attempts").map(String::as_str), Some("3"), "flaky.log: {:#?}", section.result);
    let log = read_log(&logs, "too_slow", &output);
    let sections = log_sections(&log);
    let result = &sections.last().expect("a section").result;
    assert_eq!(result.get("status").map(String::as_str), Some("failed"), "too_slow.log:\n{log}");
    assert!(result.get("reason").is_some_and(|r| r.contains("timed out")), "too_slow.log:\n{log}");
}

/// `--fail-fast` with one job: after the first failure nothing else starts.
fn fail_fast(engine: Engine) {
    let scene = Scene::new(engine, "failfast");
    let file = scene.fixture("fail-fast.yaml");
    let output = run(scene.run_command(&file).args(["--jobs", "1", "--fail-fast"]));
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    assert_output_line(&output, "first", "first-ran");
    assert_finished(&output, "first", "failed", "exit code 2");
    for name in ["second", "third"] {
        assert_finished(&output, name, "cancelled", "");
        assert_no_output_from(&output, name);
    }
    scene.assert_no_leftovers();
}

/// `env_vars` values (one from `${SECRET_VALUE}`, one with a line break), a sidecar's, and a
/// `--set-env NAME` from copili's environment arrive in the containers, and no command line of
/// any process on the host ever holds them while the pipeline runs.
fn env_and_secrets(engine: Engine) {
    let scene = Scene::new(engine, "secrets");
    let file = scene.fixture("env-secrets.yaml");
    let secret = format!("s3cret-{}-{}", engine.slug(), std::process::id());
    let multiline = format!("{secret}-first\n{secret}-second");
    let global = format!("{secret}-global");
    let mut command = scene.run_command(&file);
    command
        .args(["--set-env", "GLOBAL_TOKEN", "--label", "team=e2e"])
        .env("SECRET_VALUE", &secret)
        .env("SECRET_MULTILINE", &multiline)
        .env("GLOBAL_TOKEN", &global);
    // Every 10 ms, far shorter than an engine client's life (`create` alone takes ~100 ms).
    let sampler = CmdlineSampler::start(&secret, &scene.identity, Duration::from_millis(10));
    let output = Running::spawn(&mut command).wait(RUN_TIMEOUT);
    let samples = sampler.stop();
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_output_line(&output, "show", &format!("token={secret}"));
    assert_output_line(&output, "show", &format!("global={global}"));
    assert_output_line(&output, "show", &format!("multi={secret}-first"));
    assert_output_line(&output, "show", &format!("{secret}-second"));
    assert_output_line(&output, "show/side", &format!("side-token={secret}"));
    // The values appear only as the containers printed them.
    let printed = all_output(&output).lines().filter(|l| l.contains(&secret)).count();
    assert_eq!(printed, 5, "the secret is printed only by the containers\n{}", output.describe());

    assert!(samples.with_secret.is_empty(), "command lines holding the secret: {:#?}", samples.with_secret);
    // A run of over two seconds: some 200 passes, each over every process on the host.
    assert!(samples.sweeps >= 100, "only {} passes over /proc", samples.sweeps);
    assert!(samples.cmdlines_read >= 5000, "only {} command lines read", samples.cmdlines_read);
    // The sampler saw the engine commands that get the values: those creating the containers
    // (`create`, or `run` for a main container). At least one of the two: a detached `create`
    // (every swarm service) lives some 50 ms, and on a loaded machine the sampler can be
    // descheduled for that long; one seen proves it watched the engine's clients.
    let created: Vec<String> = [format!("{}-show", scene.identity), format!("{}-show-side", scene.identity)]
        .into_iter()
        .filter(|container| {
            samples.with_marker.iter().any(|c| {
                let args: Vec<&str> = c.split(' ').collect();
                args.windows(2).any(|w| w == ["--name", container.as_str()])
                    && args.iter().any(|a| *a == "create" || *a == "run")
            })
        })
        .collect();
    assert!(!created.is_empty(), "the sampler saw no command creating a container: {:#?}", samples.with_marker);
    scene.assert_no_leftovers();
}

/// A host directory mounted read-only can be read and not written (the container's `touch`
/// fails), one mounted read-write receives a file the host then reads.
fn bind_mounts(engine: Engine) {
    let scene = Scene::new(engine, "mounts");
    let file = scene.fixture("mounts.yaml");
    let content = format!("hello-from-host-{}", engine.slug());
    let ro = scene.path("ro");
    std::fs::create_dir(&ro).expect("create ro/");
    engine.hand_over_dir(&ro);
    std::fs::write(ro.join("input.txt"), format!("{content}\n")).expect("write ro/input.txt");
    scene.shared_dir("rw");
    let report = scene.path("report.json");
    let output = run(scene.run_command(&file).args(["--jobs", "2", "--report"]).arg(&report));
    assert_eq!(output.code(), Some(1), "writes_read_only must fail\n{}", output.describe());
    assert_output_line(&output, "reads_and_writes", &content);
    assert_finished(&output, "reads_and_writes", "succeeded", "");
    let written = std::fs::read_to_string(scene.path("rw/output.txt")).expect("the container wrote rw/output.txt");
    assert_eq!(written, "written-inside\n");
    assert_finished(&output, "writes_read_only", "failed", "exit code 1");
    assert!(output.stdout().contains("Read-only file system"), "touch's own error\n{}", output.describe());
    assert!(!ro.join("new-file").exists(), "the read-only mount was written to");
    scene.assert_no_leftovers();

    let report = read_report(&report, &output);
    assert_report_container(&report, "writes_read_only", "failed", Some(1), 1, Some("exit code 1"));
}

// --- Interrupts -------------------------------------------------------------------------------

/// When the signal is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    /// 50 ms after copili was started: it may not even have read the pipeline.
    BeforeAnythingStarted,
    /// As soon as a sidecar container exists.
    WhileSidecarsStart,
    /// When all four main containers (and the sidecar) run.
    WhileMainsRun,
}

/// How the signal is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// To copili only (`kill -s SIGNAL PID`), as a supervisor does.
    ToCopili,
    /// Twice to copili, 300 ms apart: the second skips the grace period.
    TwiceToCopili,
    /// To copili's whole process group, engine clients included, as Ctrl-C in a terminal does.
    ToProcessGroup,
}

/// Runs `interrupt.yaml`, sends `signal` at `moment`, and checks the exit status, that
/// nothing is left, and (once containers ran) the report. Returns copili's output and the
/// time from the (first) signal to copili's exit.
fn interrupt(
    engine: Engine,
    scenario: &str,
    moment: Moment,
    signal: &str,
    delivery: Delivery,
    stop_timeout: &str,
) -> (Output, Duration) {
    let scene = Scene::new(engine, scenario);
    let file = scene.fixture("interrupt.yaml");
    let report = scene.path("report.json");
    let mut command = scene.run_command(&file);
    command.args(["--jobs", "4", "--stop-timeout", stop_timeout, "--report"]).arg(&report);
    let mut copili = if delivery == Delivery::ToProcessGroup {
        Running::spawn_in_own_process_group(&mut command)
    } else {
        Running::spawn(&mut command)
    };
    let wait_for = Duration::from_secs(60);
    match moment {
        Moment::BeforeAnythingStarted => std::thread::sleep(Duration::from_millis(50)),
        Moment::WhileSidecarsStart => wait_until(wait_for, "the sidecar container exists", || {
            assert!(copili.is_running(), "copili ended before the sidecar was created");
            !scene.created("sidecar").is_empty()
        }),
        Moment::WhileMainsRun => wait_until(wait_for, "four main containers and the sidecar run", || {
            assert!(copili.is_running(), "copili ended before all containers ran");
            scene.running("main").len() == 4 && scene.running("sidecar").len() == 1
        }),
    }
    let signalled = Instant::now();
    match delivery {
        Delivery::ToCopili => copili.signal(signal),
        Delivery::TwiceToCopili => {
            copili.signal(signal);
            std::thread::sleep(Duration::from_millis(300));
            copili.signal(signal);
        }
        Delivery::ToProcessGroup => copili.signal_group(signal),
    }
    let output = copili.wait(INTERRUPT_TIMEOUT);
    let took = signalled.elapsed();
    let expected = match signal {
        "INT" => 130,
        "TERM" => 143,
        other => panic!("no expected status for SIG{other}"),
    };
    // Before copili handles signals, SIGINT ends it as it ends any program; a shell sees 130
    // either way, which is what matters to a caller.
    assert_eq!(output.shell_status(), expected, "{}", output.describe());
    scene.assert_no_leftovers();

    if moment == Moment::BeforeAnythingStarted {
        return (output, took);
    }
    // Signal handling was in place: copili itself exits with the code, every container is
    // cancelled as interrupted (also the one that never started), the summary is printed and
    // the report written.
    assert_eq!(output.code(), Some(expected), "copili exits with the code itself\n{}", output.describe());
    let all = ["sleeper_1", "sleeper_2", "sleeper_3", "with_sidecar", "after_sleeper"];
    for name in all {
        assert_finished(&output, name, "cancelled", "interrupted");
        assert_eq!(summary_row(&output, name)[1], "cancelled", "summary row of {name}\n{}", output.describe());
    }
    assert_no_output_from(&output, "after_sleeper");
    let report = read_report(&report, &output);
    assert_report_run(&report, &scene.identity, engine, expected, &all);
    for name in ["sleeper_1", "sleeper_2", "sleeper_3", "with_sidecar"] {
        let entry = report_entry(&report, name);
        assert_eq!(entry["status"], "cancelled", "{entry:#}");
        assert!(entry["reason"].as_str().is_some_and(|r| r.contains("interrupted")), "{entry:#}");
        if moment == Moment::WhileMainsRun {
            assert_eq!(entry["attempts"], 1, "{entry:#}");
        }
    }
    assert_report_container(&report, "after_sleeper", "cancelled", None, 0, Some("interrupted"));
    (output, took)
}

fn sigint_before_anything_started(engine: Engine) {
    interrupt(engine, "int-early", Moment::BeforeAnythingStarted, "INT", Delivery::ToCopili, "1s");
}

fn sigint_while_sidecars_start(engine: Engine) {
    interrupt(engine, "int-sidecar", Moment::WhileSidecarsStart, "INT", Delivery::ToCopili, "1s");
}

fn sigint_while_mains_run(engine: Engine) {
    interrupt(engine, "int-mains", Moment::WhileMainsRun, "INT", Delivery::ToCopili, "1s");
}

fn sigterm_while_mains_run(engine: Engine) {
    interrupt(engine, "term-mains", Moment::WhileMainsRun, "TERM", Delivery::ToCopili, "1s");
}

/// With the default grace period of 10 s, which `sleep` would use up entirely, a second
/// SIGINT makes copili kill at once (and still remove everything).
fn second_sigint_skips_the_grace_period(engine: Engine) {
    let (output, took) = interrupt(engine, "int-twice", Moment::WhileMainsRun, "INT", Delivery::TwiceToCopili, "10s");
    assert!(
        took < Duration::from_secs(8),
        "the second SIGINT did not skip the 10 s grace period: {took:?}\n{}",
        output.describe()
    );
}

/// Ctrl-C in a terminal signals the whole foreground process group: the engine clients copili
/// started (`logs --follow`, `wait`, …) get SIGINT too. copili must still stop, remove and
/// report everything as interrupted.
fn ctrl_c_to_the_whole_process_group(engine: Engine) {
    interrupt(engine, "ctrl-c", Moment::WhileMainsRun, "INT", Delivery::ToProcessGroup, "1s");
}

// --- Engine selection -------------------------------------------------------------------------

/// Asserts exit code 3 with exactly one line on stderr naming the engine, and nothing run.
fn assert_engine_unavailable(output: &Output, engine_name: &str) {
    assert_eq!(output.code(), Some(3), "{}", output.describe());
    let stderr = output.stderr();
    assert_eq!(stderr.lines().count(), 1, "exactly one line on stderr\n{}", output.describe());
    assert!(stderr.contains(engine_name), "the line names `{engine_name}`\n{}", output.describe());
    assert_eq!(output.stdout(), "", "{}", output.describe());
}

/// The engine's client is not on `PATH`, or it cannot work (docker: no daemon at
/// `DOCKER_HOST`; podman: its configuration is unreadable): exit code 3, one line.
fn engine_unavailable(engine: Engine) {
    let scene = Scene::new(engine, "noengine");
    let file = scene.copy_in(&repo_root().join("examples/quickstart.yaml"));
    let empty_bin = scene.path("empty-bin");
    std::fs::create_dir(&empty_bin).expect("create empty-bin/");
    engine.hand_over_dir(&empty_bin);
    let output = run(scene.run_command(&file).env("PATH", &empty_bin));
    assert_engine_unavailable(&output, engine.engine_arg());

    let mut command = scene.run_command(&file);
    match engine {
        Engine::Docker | Engine::Swarm => command.env("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        Engine::RootfulPodman | Engine::RootlessPodman => {
            command.env("CONTAINERS_CONF", "/nonexistent/containers.conf")
        }
    };
    let output = run(&mut command);
    assert_engine_unavailable(&output, engine.engine_arg());
    scene.assert_no_leftovers();
}

/// `--engine PATH` naming no file: exit code 3, one line naming the path.
#[test]
fn no_such_engine_binary() {
    let scene = Scene::new(Engine::Docker, "nobinary");
    let file = scene.copy_in(&repo_root().join("examples/quickstart.yaml"));
    let mut command = scene.copili();
    command.arg("run").arg(&file).args(["--name", &scene.identity, "--engine", "/no/such/binary"]);
    let output = run(&mut command);
    assert_engine_unavailable(&output, "/no/such/binary");
}

/// `--dry-run` prints the engine commands, `--env NAME` without values, and runs none: the
/// engine binary on `PATH` is a stand-in that records any call and fails.
fn dry_run_needs_no_engine(engine: Engine) {
    let scene = Scene::new(engine, "dryrun");
    let file = scene.fixture("env-secrets.yaml");
    let fake = scene.fake_engine();
    let secret = format!("dry-s3cret-{}-{}", engine.slug(), std::process::id());
    let output = run(scene
        .run_command(&file)
        .args(["--dry-run", "--set-env", "GLOBAL_TOKEN"])
        .env("PATH", &fake.bin)
        .env_remove("CONTAINERS_CONF")
        .env("SECRET_VALUE", &secret)
        .env("SECRET_MULTILINE", format!("{secret}\nsecond line"))
        .env("GLOBAL_TOKEN", &secret));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    fake.assert_not_called();
    assert!(!all_output(&output).contains(&secret), "a secret value was printed\n{}", output.describe());

    let stdout = output.stdout();
    let commands: Vec<&str> = stdout.lines().filter(|l| l.starts_with(&format!("{} ", engine.client_name()))).collect();
    let main = format!("{}-show", scene.identity);
    if engine == Engine::Swarm {
        // The exact `docker service` commands: the overlay network, the sidecar as a service
        // reachable by its name, the main container as a job, then their removal.
        let network = format!("{}-show-net", scene.identity);
        let position = |prefix: &str| {
            commands
                .iter()
                .position(|c| c.starts_with(prefix))
                .unwrap_or_else(|| panic!("no `{prefix}…`\n{}", output.describe()))
        };
        let net = position("docker network create --driver overlay --attachable ");
        let side = position(&format!(
            "docker service create --detach --quiet --name {}-show-side --replicas 1",
            scene.identity
        ));
        let job = position(&format!(
            "docker service create --detach --quiet --name {main} --mode replicated-job --restart-condition none"
        ));
        assert!(net < side && side < job, "{}", output.describe());
        assert!(commands[side].contains(&format!("--network name={network},alias=side")), "{}", commands[side]);
        for name in ["API_TOKEN", "MULTILINE_TOKEN", "GLOBAL_TOKEN"] {
            assert!(commands[job].contains(&format!("--env {name} ")), "`--env {name}` in `{}`", commands[job]);
        }
        assert!(
            commands[job].contains(&format!("--label io.copili.pipeline={} ", scene.identity)),
            "{}",
            commands[job]
        );
        let removed = position(&format!("docker service rm {main}"));
        assert!(job < removed && removed < position(&format!("docker network rm {network}")), "{}", output.describe());
        return;
    }
    let sidecar = format!("{}-show-side", scene.identity);
    // Where the first (or last) `what` command for container `name` is; `create` also finds
    // `run` (the main container may be created and started by one attached `run`).
    let find = |what: &str, name: &str, last: bool| {
        let matches = |c: &&&str| {
            let verb = c.split(' ').nth(1);
            (verb == Some(what) || (what == "create" && verb == Some("run"))) && c.split(' ').any(|a| a == name)
        };
        let found =
            if last { commands.iter().rposition(|c| matches(&c)) } else { commands.iter().position(|c| matches(&c)) };
        found.unwrap_or_else(|| panic!("no `{what}` command for {name}\n{}", output.describe()))
    };
    let first = |what: &str, name: &str| find(what, name, false);
    let last = |what: &str, name: &str| find(what, name, true);
    let create_main = commands[first("create", &main)];
    for name in ["API_TOKEN", "MULTILINE_TOKEN", "GLOBAL_TOKEN"] {
        assert!(create_main.contains(&format!("--env {name} ")), "`--env {name}` in `{create_main}`");
    }
    assert!(!create_main.contains("--env-file"), "a dry run writes no env file: `{create_main}`");
    assert!(create_main.contains(&format!("--label io.copili.pipeline={} ", scene.identity)), "`{create_main}`");
    let create_sidecar = commands[first("create", &sidecar)];
    assert!(create_sidecar.contains("--env SIDE_TOKEN "), "`{create_sidecar}`");
    assert!(create_sidecar.contains("--network-alias side "), "`{create_sidecar}`");
    // The order a run follows: the network and the sidecar up before the main container,
    // everything removed at the end, the network last.
    let network = format!("{}-show-net", scene.identity);
    assert!(first("network", &network) < first("create", &sidecar), "{}", output.describe());
    assert!(first("create", &sidecar) < first("start", &sidecar), "{}", output.describe());
    assert!(first("start", &sidecar) < first("create", &main), "{}", output.describe());
    assert!(first("create", &main) < last("rm", &main), "{}", output.describe());
    assert!(first("create", &main) < last("rm", &sidecar), "{}", output.describe());
    assert!(last("rm", &sidecar) < last("network", &network), "{}", output.describe());
}

// --- Locking ----------------------------------------------------------------------------------

/// Two runs of one pipeline identity at once: the second refuses at once, naming the first's
/// pid, and touches nothing of it. Another identity of the same file runs side by side.
fn one_run_per_identity(engine: Engine) {
    let scene = Scene::new(engine, "lock");
    let other = Scene::new(engine, "lock-other");
    let file = scene.fixture("lock.yaml");
    scene.shared_dir("sync");
    let mut first = Running::spawn(scene.run_command(&file).args(["--label", "team=e2e"]));
    let mut beside = Running::spawn(&mut scene.command_as("run", &file, &other.identity));
    let pipeline = format!("io.copili.pipeline={}", scene.identity);
    wait_until(Duration::from_secs(60), "both pipelines' containers run", || {
        assert!(first.is_running() && beside.is_running(), "a run ended before the other started");
        !scene.running("main").is_empty() && !other.running("main").is_empty()
    });
    // `--label` and the description's labels are on the container.
    let labelled = engine.containers_with_labels(&[&pipeline, "team=e2e", "purpose=lock-test"], false);
    assert_eq!(labelled, vec![format!("{}-holder", scene.identity)]);

    let started = Instant::now();
    let second = run(&mut scene.run_command(&file));
    let took = started.elapsed();
    assert_ne!(second.code(), Some(0), "{}", second.describe());
    assert!(took < Duration::from_secs(10), "the second run did not refuse at once ({took:?})");
    let stderr = second.stderr();
    assert!(
        stderr.contains(&format!("pid {}", first.pid())),
        "the refusal names pid {}\n{}",
        first.pid(),
        second.describe()
    );
    assert!(stderr.contains("already running"), "{}", second.describe());
    assert_eq!(scene.running("main").len(), 1, "the second run must not touch the first's container");

    std::fs::write(scene.path("sync/go"), "").expect("create sync/go");
    for (running, who) in [(first, "the first run"), (beside, "the other identity")] {
        let output = running.wait(RUN_TIMEOUT);
        assert_eq!(output.code(), Some(0), "{who}\n{}", output.describe());
        assert_output_line(&output, "holder", "holder-done");
    }
    scene.assert_no_leftovers();
    other.assert_no_leftovers();
}

// --- A crashed run --------------------------------------------------------------------------

/// A run killed with SIGKILL cannot clean up: its containers stay. The next run of the same
/// identity finds them by copili's labels, removes them before it starts, and proceeds.
fn crashed_run_leftovers_are_removed(engine: Engine) {
    let scene = Scene::new(engine, "crash");
    let file = scene.fixture("interrupt.yaml");
    let mut crashed = Running::spawn(scene.run_command(&file).args(["--jobs", "4"]));
    wait_until(Duration::from_secs(60), "the main containers run", || {
        assert!(crashed.is_running(), "copili ended before its containers ran");
        scene.running("main").len() == 4
    });
    crashed.signal("KILL");
    let killed = crashed.wait(RUN_TIMEOUT);
    assert_eq!(killed.shell_status(), 137, "{}", killed.describe());
    let left = scene.created("main");
    assert!(!left.is_empty(), "a killed copili cannot have removed its containers");

    // Another file under the same identity: a quick pipeline.
    let quick = scene.copy_in(&repo_root().join("examples/quickstart.yaml"));
    let output = run(&mut scene.run_command(&quick));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_finished(&output, "dataloader_03", "succeeded", "");
    scene.assert_no_leftovers();
}

/// `cargo run --example hooks` (examples/hooks.rs, docs/hooks.md) on rootful podman: the hook
/// calls in order for a three-container pipeline, and `did_run` / `dependencies_met` changing
/// what runs, as documented.
#[test]
fn hooks_example() {
    let engine = Engine::RootfulPodman;
    engine.assert_ready();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = run(std::process::Command::new(&cargo).current_dir(repo_root()).args([
        "build",
        "--quiet",
        "-p",
        "copili",
        "--example",
        "hooks",
    ]));
    assert_eq!(built.code(), Some(0), "{}", built.describe());
    let example =
        copili_e2e::copili_binary().parent().expect("the binary is in <target>/<profile>").join("examples/hooks");
    let setup = copili_e2e::engine_setup();
    let run_example = |args: &[&str]| {
        let mut command = std::process::Command::new(&example);
        command
            .args(args)
            .env("COPILI_ENGINE", "podman")
            .env("CONTAINERS_CONF", setup.get("CONTAINERS_CONF"))
            .env("COPILI_EXAMPLE_IMAGE", setup.get("COPILI_TEST_IMAGE"))
            .env("PATH", format!("{}:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default()));
        let output = run(&mut command);
        assert_eq!(output.code(), Some(0), "{}", output.describe());
        output.stdout()
    };
    let hooks = |stdout: &str| -> Vec<String> {
        stdout.lines().filter_map(|l| l.strip_prefix("hook: ")).map(String::from).collect()
    };

    let stdout = run_example(&[]);
    let image = setup.get("COPILI_TEST_IMAGE");
    assert_eq!(
        hooks(&stdout),
        [
            "did_run(extract) -> false".to_string(),
            "did_run(transform) -> false".into(),
            "did_run(publish) -> false".into(),
            format!("before_pull({image}) for extract, transform, publish"),
            "before_run(extract)".into(),
            "after_run(extract) -> succeeded Some(0)".into(),
            "before_run(transform)".into(),
            "after_run(transform) -> succeeded Some(0)".into(),
            "before_run(publish)".into(),
            "after_run(publish) -> succeeded Some(0)".into(),
        ],
        "{stdout}"
    );
    assert!(stdout.contains("publish | publishing"), "{stdout}");

    // `did_run` skips extract and transform (they count as met); publish's `dependencies_met`
    // rule then refuses it, as docs/hooks.md says.
    let stdout = run_example(&["--skip", "extract,transform"]);
    assert!(!hooks(&stdout).iter().any(|h| h.starts_with("before_run")), "{stdout}");
    assert!(stdout.contains("extract    skipped    it ran before (did_run)"), "{stdout}");
    assert!(stdout.contains("publish    cancelled  dependencies not met (dependencies_met hook)"), "{stdout}");
    engine.assert_no_leftovers("hooks-example");
}
