//! End-to-end tests of run state and service mode on real engines (issue 6): `copili service`
//! rerunning service containers on their schedule and stopping on SIGTERM, the state file
//! (`.copili/<identity>.json`) surviving a SIGKILL, one run per pipeline identity, `run_once`,
//! `--force`, `force_rerun` and `--resume`, `copili status`, and `catch_up`; each scenario once
//! per engine (rootful podman, rootless podman, docker).
//!
//! As in `engines.rs`, every test runs under its own pipeline identity
//! (`--name e2e-<scenario>-<engine>-<pid>`) in its own temporary directory, which also holds
//! the pipeline's state (`.copili/` beside the pipeline file). Afterwards the engine is asked,
//! by copili's `io.copili.pipeline` label, whether anything was left behind: nothing may be.
//!
//! Service mode is watched while it runs ([`Running`] collects its console as it comes), so the
//! timing assertions count what happened between two lines, not since the process started.
//!
//! The engines must have been set up (`cargo xtask setup`, which `cargo xtask test` runs): a
//! missing engine fails these tests, it never skips them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use copili_e2e::{
    assert_finished, assert_no_output_from, assert_output_line, assert_summary, engine_tests, format_rfc3339,
    is_output_line, parse_rfc3339, run, summary_row, unix_now, wait_until, Engine, Output, Running, Scene, RUN_TIMEOUT,
};
use serde_json::Value;

/// How long service mode may take to stop and remove everything after SIGTERM (the `sleep`s
/// ignore SIGTERM and are killed after `--stop-timeout 1s`).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `service_every_2s` lets service mode run after the initial run.
const WINDOW: Duration = Duration::from_secs(6);

/// The test image, busybox.
const IMAGE: &str = "localhost/copili-test";

// One test function per engine per scenario: `<engine>::<scenario>` (see `engine_tests!`), as in
// `engines.rs`, so that `cargo test --test service docker::` or `cargo test --test service
// catch_up` select them.
engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker;
    [
        service_every_2s,
        a_due_group_ending_does_not_release_a_running_container,
        sigkill_leaves_valid_state,
        two_runs_lock,
        run_once_force_resume,
        status_shows_runs_and_next_due,
        catch_up,
    ]
);

// --- The scene of one test --------------------------------------------------------------------
//
// Each test runs in a `Scene` of its own (`copili_e2e::Scene`): its private directory, which
// also holds the pipeline's state, and the pipeline identities it uses. What those identities
// left on the engine is removed when the scene is dropped after a failure, and their lock
// files always.

/// What the service tests do in a [`Scene`] beyond `copili run`: service mode, `copili
/// status` and the state file.
trait ServiceScene {
    /// `copili service FILE …` with a grace period of one second (the `sleep`s ignore SIGTERM).
    fn service_command(&self, file: &Path, identity: &str) -> Command;

    /// `copili status FILE --name IDENTITY` (no engine needed).
    fn status_command(&self, file: &Path, identity: &str) -> Command;

    /// The state file of `identity` in the default state directory, `.copili/` beside the
    /// pipeline files.
    fn state_path(&self, identity: &str) -> PathBuf;

    /// Writes the state file of `identity` by hand, as the user copili runs as would have.
    fn write_state(&self, identity: &str, state: &Value);
}

impl ServiceScene for Scene {
    fn service_command(&self, file: &Path, identity: &str) -> Command {
        let mut command = self.command_as("service", file, identity);
        command.args(["--stop-timeout", "1s"]);
        command
    }

    fn status_command(&self, file: &Path, identity: &str) -> Command {
        let mut command = self.copili();
        command.arg("status").arg(file).args(["--name", identity]);
        command
    }

    fn state_path(&self, identity: &str) -> PathBuf {
        self.path(&format!(".copili/{identity}.json"))
    }

    fn write_state(&self, identity: &str, state: &Value) {
        use std::os::unix::fs::MetadataExt as _;
        let dir = self.path(".copili");
        if !dir.exists() {
            std::fs::create_dir(&dir).expect("create .copili/");
            self.engine.hand_over_dir(&dir);
        }
        let owner = std::fs::metadata(&dir).expect("stat .copili/");
        let path = self.state_path(identity);
        std::fs::write(&path, state.to_string()).expect("write a state file");
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).expect("chown the state file");
    }
}

// --- Watching service mode ----------------------------------------------------------------------

/// Samples, in a thread and until stopped, how many containers of one pipeline container run
/// at once; the most seen and how many samples saw any.
struct RunningSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, usize)>,
}

impl RunningSampler {
    fn start(engine: Engine, identity: &str, container: &str) -> RunningSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let labels = [format!("io.copili.pipeline={identity}"), format!("io.copili.container={container}")];
        let thread = std::thread::spawn(move || {
            let (mut most, mut seen) = (0, 0);
            while !stopped.load(Ordering::SeqCst) {
                let running = engine.containers_with_labels(&[&labels[0], &labels[1]], false).len();
                most = most.max(running);
                seen += usize::from(running > 0);
                std::thread::sleep(Duration::from_millis(250));
            }
            (most, seen)
        });
        RunningSampler { stop, thread }
    }

    fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the sampler does not panic")
    }
}

// --- Reading copili's output and state ----------------------------------------------------------

/// Asserts from the console that `container` never had two runs at once: after its `--> NAME
/// started`, neither another start nor a run given up before it started (`<-- NAME cancelled:
/// interrupted`, no duration) comes before the `<-- NAME STATUS in …` that ends it. `why` says
/// what could have led to a second run. The number of starts.
fn assert_never_two_at_once(output: &Output, container: &str, why: &str) -> usize {
    let stdout = output.stdout();
    let (started, ended) = (format!("--> {container} started"), format!("<-- {container} "));
    let (mut running, mut starts) = (false, 0);
    for line in stdout.lines() {
        if line == started {
            assert!(!running, "a second {container} started while one ran ({why})\n{}", output.describe());
            running = true;
            starts += 1;
        } else if let Some(rest) = line.strip_prefix(&ended) {
            let had_started = rest.split_whitespace().nth(1) == Some("in");
            assert_eq!(
                running,
                had_started,
                "`{line}`: a second {container} was due while one ran ({why})\n{}",
                output.describe()
            );
            running = false;
        }
    }
    starts
}

/// The state file, which must be valid JSON of schema version 1.
fn read_state(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no state file {}: {e}", path.display()));
    let state: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the state file {} is not valid JSON: {e}\n{text}", path.display()));
    assert_eq!(state["version"], 1, "{state:#}");
    state
}

/// The runs of the state's history, oldest first.
fn history(state: &Value) -> &Vec<Value> {
    state["history"].as_array().unwrap_or_else(|| panic!("the state has no `history` list: {state:#}"))
}

// --- Time, without a date library ------------------------------------------------------------
//
// `copili_e2e`'s RFC 3339 helpers, checked against known dates.

#[test]
fn the_time_helpers_agree() {
    assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(parse_rfc3339("2026-11-25T16:00:00Z"), Some(1_795_622_400.0));
    assert_eq!(format_rfc3339(1_795_622_400), "2026-11-25T16:00:00Z");
    assert_eq!(parse_rfc3339("2026-11-25T17:00:00.5+01:00"), Some(1_795_622_400.5));
    assert_eq!(parse_rfc3339("2024-02-29T00:00:00.000000001Z").map(f64::floor), Some(1_709_164_800.0));
    assert_eq!(format_rfc3339(1_709_164_800), "2024-02-29T00:00:00Z");
    assert_eq!(parse_rfc3339("yesterday"), None);
}

// --- Scenarios --------------------------------------------------------------------------------

/// Service mode: the initial run, then `tick` (every 2 s, after the static `load`) about three
/// times in six seconds, and `slow` (every 1 s, runs 3 s) never twice at once; SIGTERM stops
/// it with exit 0, removing everything; the service runs are in the state's history. The
/// scheduling itself (overlaps, DST days, catch-up) is unit-tested with a fake clock in
/// `copili::service`; this proves the real binary on a real engine, in as little time as that
/// takes.
fn service_every_2s(engine: Engine) {
    let scene = Scene::new(engine, "every2s");
    let file = scene.write(
        "service.yaml",
        &format!(
            r#"every2s:
  - name: load
    image_repo: {IMAGE}
    command: [sh, -c, "echo load-done"]
  - name: tick
    image_repo: {IMAGE}
    is_service_container: true
    schedule: every 2s
    dependencies: [load]
    command: [sh, -c, "echo tick-at-$$(date +%s)"]
  - name: slow
    image_repo: {IMAGE}
    is_service_container: true
    schedule: every 1s
    command: [sleep, "3"]
"#
        ),
    );
    let mut service = Running::spawn(&mut scene.service_command(&file, &scene.identity));
    let first_due = service.wait_for_line(RUN_TIMEOUT, "the initial run's end (`=== … next due at`)", |l| {
        l.starts_with("=== ") && l.contains(" next due at ")
    });
    let sampler = RunningSampler::start(engine, &scene.identity, "slow");
    let started = Instant::now();
    // The schedule is saved before the first service run starts.
    service.wait_for_line(RUN_TIMEOUT, "the first service run", |l| {
        l.starts_with("=== service run ") && !l.contains(" done: ")
    });
    // While it runs, `status` shows the next due times service mode scheduled.
    let status = run(scene.status_command(&file, &scene.identity).args(["--format", "json"]));
    assert_eq!(status.code(), Some(0), "{}", status.describe());
    let status: Value = serde_json::from_str(&status.stdout()).unwrap_or_else(|e| panic!("not JSON: {e}"));
    let bases: Vec<&Value> =
        status["service"].as_array().expect("service").iter().map(|s| &s["next_due_basis"]).collect();
    assert!(bases.len() == 2 && bases.iter().all(|b| *b == "scheduled by the running service"), "{status:#}");
    std::thread::sleep(WINDOW.saturating_sub(started.elapsed()));
    assert!(service.is_running(), "service mode ended by itself\n{}", service.describe());
    service.signal("TERM");
    let output = service.wait(STOP_TIMEOUT);
    let (most_slow, samples_with_slow) = sampler.stop();
    assert_eq!(output.code(), Some(0), "SIGTERM ends service mode with 0\n{}", output.describe());
    let stdout = output.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.last().copied(), Some("=== service mode stopped"), "{}", output.describe());

    // The initial run: the whole pipeline, with the summary table, then each service
    // container's next due time with its schedule.
    for name in ["load", "tick", "slow"] {
        assert_summary(&output, name, "succeeded", "0", "1");
    }
    let due_lines: Vec<&str> = lines[first_due..].iter().take(2).copied().collect();
    assert!(
        due_lines.iter().any(|l| l.starts_with("=== tick next due at ") && l.ends_with("(every 2s)")),
        "{due_lines:?}"
    );
    assert!(
        due_lines.iter().any(|l| l.starts_with("=== slow next due at ") && l.ends_with("(every 1s)")),
        "{due_lines:?}"
    );

    // `slow` is due every second but runs for three: never two at once.
    let slow_starts = assert_never_two_at_once(&output, "slow", "slow is due every second but runs for three");
    // Each service run is announced (`=== service run ID: a, b`) and closed (`=== service run
    // ID done: a succeeded, b succeeded`). The last run of each container may have been cut
    // short by SIGTERM (cancelled before or while it ran).
    let service_runs: Vec<(&str, Vec<&str>)> = lines
        .iter()
        .filter(|l| l.starts_with("=== service run ") && !l.contains(" done: "))
        .filter_map(|l| l["=== service run ".len()..].split_once(": "))
        .map(|(run_id, names)| (run_id, names.split(", ").collect()))
        .collect();
    let last_run_of = |name: &str| service_runs.iter().rposition(|(_, names)| names.contains(&name));
    for (index, (run_id, names)) in service_runs.iter().enumerate() {
        let done = format!("=== service run {run_id} done: ");
        let closed = lines.iter().find(|l| l.starts_with(&done)).map(|l| &l[done.len()..]);
        let closed = closed.unwrap_or_else(|| panic!("service run {run_id} has no `done` line\n{}", output.describe()));
        let results: Vec<&str> = closed.split(", ").collect();
        assert_eq!(results.len(), names.len(), "service run {run_id}: `{closed}`\n{}", output.describe());
        for (name, result) in names.iter().zip(results) {
            let cut_short = last_run_of(name) == Some(index) && result == format!("{name} cancelled");
            assert!(
                result == format!("{name} succeeded") || cut_short,
                "service run {run_id} ended `{closed}`\n{}",
                output.describe()
            );
        }
    }

    // `tick`, every 2 s for 6 s: about three slots, each run after `load` succeeded. A slot is a
    // run, or skipped when the previous run still runs (possible on a loaded machine, where
    // starting a container can take two seconds).
    let tick_runs = service_runs.iter().filter(|(_, names)| names.contains(&"tick")).count();
    let tick_still_running = lines.iter().filter(|l| l.starts_with("=== tick is due but still running")).count();
    let tick_slots = tick_runs + tick_still_running;
    assert!((2..=4).contains(&tick_slots), "{tick_slots} slots of tick in 6 s, expected 3\n{}", output.describe());
    // Every run of tick printed its marker, but a last one that SIGTERM cancelled.
    let ticks = lines[first_due..].iter().filter(|l| is_output_line(l, "tick", "tick-at-")).count();
    assert!(
        ticks == tick_runs || ticks + 1 == tick_runs,
        "{ticks} outputs of tick for {tick_runs} service runs of it\n{}",
        output.describe()
    );
    assert!((2..=4).contains(&(ticks + tick_still_running)), "{ticks} runs of tick in 6 s\n{}", output.describe());
    let load_succeeded = lines.iter().position(|l| l.starts_with("<-- load succeeded")).expect("load succeeded");
    let first_tick = lines.iter().position(|l| *l == "--> tick started").expect("tick started");
    assert!(load_succeeded < first_tick, "tick started before load succeeded\n{}", output.describe());
    assert!(!stdout.contains("tick skipped"), "{}", output.describe());
    // After each run of it: `=== tick next due at …`.
    let tick_due = lines[first_due..].iter().filter(|l| l.starts_with("=== tick next due at ")).count();
    assert!(tick_due > ticks, "a next due line after each run of tick\n{}", output.describe());

    assert!(slow_starts >= 2, "slow ran {slow_starts} times (initial run + service runs)\n{}", output.describe());
    assert!(
        stdout.contains("=== slow is due but still running: not started again (next due at "),
        "{}",
        output.describe()
    );
    assert_eq!(most_slow, 1, "at most (and at some time) one slow container runs; {samples_with_slow} samples saw one");
    engine.assert_no_leftovers(&scene.identity);

    // The state: valid, the service runs recorded as such.
    let state = read_state(&scene.state_path(&scene.identity));
    let runs = history(&state);
    let service_history: Vec<&Value> = runs.iter().filter(|r| r["command"] == "service").collect();
    assert_eq!(service_history.len(), service_runs.len(), "each service run is in the history: {state:#}");
    for record in &service_history {
        let results = record["results"].as_object().expect("results");
        assert!(results.keys().all(|k| k == "tick" || k == "slow"), "only service containers rerun: {record:#}");
    }
    let tick_records = service_history.iter().filter(|r| r["results"]["tick"] == "succeeded").count();
    assert!(tick_records >= ticks, "{tick_records} service runs of tick recorded, {ticks} printed: {state:#}");
    // The initial run is the first in the history, with every container.
    let initial = &runs[0];
    assert_eq!(initial["results"]["load"], "succeeded", "{state:#}");
    assert_eq!(initial["exit_code"], 0, "{state:#}");
    for name in ["tick", "slow"] {
        let record = &state["service"][name];
        for key in ["last_due", "last_run_started"] {
            assert!(record[key].as_str().and_then(parse_rfc3339).is_some(), "service.{name}.{key}: {state:#}");
        }
        // Stopped: nothing is scheduled any more.
        assert!(record["next_due"].is_null(), "service.{name}.next_due after the stop: {state:#}");
    }
    // So `status` says when service mode would run them if it started now.
    let status = run(scene.status_command(&file, &scene.identity).args(["--format", "json"]));
    assert_eq!(status.code(), Some(0), "{}", status.describe());
    let status: Value = serde_json::from_str(&status.stdout()).unwrap_or_else(|e| panic!("not JSON: {e}"));
    let service = status["service"].as_array().expect("service");
    assert_eq!(service.len(), 2, "{status:#}");
    for entry in service {
        assert_eq!(entry["next_due_basis"], "if service mode started now", "{status:#}");
    }
    let load_finished = state["containers"]["load"]["finished_at"].as_str().and_then(parse_rfc3339);
    let load_finished = load_finished.unwrap_or_else(|| panic!("containers.load.finished_at: {state:#}"));
    for record in service_history.iter().filter(|r| r["results"]["tick"] == "succeeded") {
        let started = record["started_at"].as_str().and_then(parse_rfc3339).expect("started_at");
        assert!(started > load_finished, "a service run of tick started before load finished: {record:#}");
    }
}

/// A service container is never started while a run of it is still going, also when the due
/// group it was first started with (here: caught up at start-up together with `long`) ends
/// while a later run of it goes on.
///
/// Found by this test: a container was released both when it ended and when its group ended,
/// so a later run of it could be released early and the next slot start a second one. Each
/// service run also names its containers apart (`<identity>-s<N>-<name>`), so that a new
/// instance never waits for, or collides with, the removal of the previous one.
fn a_due_group_ending_does_not_release_a_running_container(engine: Engine) {
    let scene = Scene::new(engine, "group");
    let file = scene.write(
        "group.yaml",
        &format!(
            r#"group:
  - name: quick
    image_repo: {IMAGE}
    is_service_container: true
    schedule: every 1s
    catch_up: true
    command: [sleep, "3"]
  - name: long
    image_repo: {IMAGE}
    is_service_container: true
    schedule: daily 00:00
    timezone: UTC
    catch_up: true
    command: [sleep, "5"]
"#
        ),
    );
    // Both missed a slot: caught up at start-up in one run, which ends with `long`, while
    // `quick` (always due, runs three seconds) is most likely in its second run.
    let long_ago = format_rfc3339((unix_now() as i64).div_euclid(86_400) * 86_400 - 3 * 86_400);
    let missed = serde_json::json!({"last_due": long_ago});
    scene
        .write_state(&scene.identity, &serde_json::json!({"version": 1, "service": {"quick": missed, "long": missed}}));
    let mut service = Running::spawn(scene.service_command(&file, &scene.identity).arg("--no-initial-run"));
    let sampler = RunningSampler::start(engine, &scene.identity, "quick");
    service.wait_for_line(RUN_TIMEOUT, "the catch-up run of quick and long", |l| {
        l.starts_with("=== service run ") && l.ends_with(": quick, long")
    });
    service.wait_for_line(RUN_TIMEOUT, "the end of the catch-up run", |l| {
        l.starts_with("=== service run ") && l.contains(" done: ") && l.contains("long ")
    });
    // Quick starts again after the catch-up run ended: wait for its third start (not for a
    // fixed time, which a loaded machine's slower containers may not fill), then stop.
    wait_until(RUN_TIMEOUT, "quick's third start", || {
        service.lines().iter().filter(|l| *l == "--> quick started").count() >= 3
    });
    service.signal("TERM");
    let output = service.wait(STOP_TIMEOUT);
    let (most_quick, _) = sampler.stop();
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let stdout = output.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_never_two_at_once(&output, "quick", "the catch-up run of quick and long ended while quick ran again");
    assert!(!stdout.contains("engine error"), "{}", output.describe());
    let quick_results: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("<-- quick "))
        .map(|rest| rest.split_whitespace().next().unwrap_or(""))
        .collect();
    let (last, earlier) = quick_results.split_last().expect("quick ran");
    assert!(earlier.iter().all(|r| *r == "succeeded"), "every run of quick succeeds\n{}", output.describe());
    assert!(["succeeded", "cancelled"].contains(last), "{}", output.describe());
    assert!(quick_results.len() >= 3, "quick ran at least three times\n{}", output.describe());
    assert_eq!(most_quick, 1, "one quick container at a time");
    engine.assert_no_leftovers(&scene.identity);
}

/// copili killed with SIGKILL while service runs come and go and a container runs: the state
/// file is valid JSON; the next `copili run` of the pipeline gets the lock at once, removes
/// what the killed one left, and succeeds.
fn sigkill_leaves_valid_state(engine: Engine) {
    let scene = Scene::new(engine, "sigkill");
    let file = scene.write(
        "killed.yaml",
        &format!(
            r#"killed:
  - name: tick
    image_repo: {IMAGE}
    is_service_container: true
    schedule: every 1s
    command: [sh, -c, "echo tick"]
  - name: long
    image_repo: {IMAGE}
    is_service_container: true
    schedule: every 1s
    command: [sleep, "${{SLEEP:-30}}"]
"#
        ),
    );
    // Straight to the schedule: both are due at once, `tick` again every second (each run
    // saves the state), while `long` sleeps.
    let mut service = Running::spawn(scene.service_command(&file, &scene.identity).arg("--no-initial-run"));
    let tick_done = |l: &str| l.starts_with("=== service run ") && l.ends_with(" done: tick succeeded");
    wait_until(RUN_TIMEOUT, "long runs and tick has run twice", || {
        assert!(service.is_running(), "service mode ended\n{}", service.describe());
        service.lines().iter().filter(|l| tick_done(l)).count() >= 2
            && !scene.running_container(&scene.identity, "long").is_empty()
    });
    service.signal("KILL");
    let killed = service.wait(STOP_TIMEOUT);
    assert_eq!(killed.shell_status(), 137, "{}", killed.describe());
    assert!(
        !scene.running_container(&scene.identity, "long").is_empty(),
        "a killed copili cannot have stopped its container"
    );

    let state_path = scene.state_path(&scene.identity);
    let state = read_state(&state_path);
    let runs = history(&state);
    assert!(runs.iter().any(|r| r["command"] == "service" && r["results"]["tick"] == "succeeded"), "{state:#}");

    let started = Instant::now();
    let output = run(scene.run_command(&file).env("SLEEP", "0"));
    let took = started.elapsed();
    assert_eq!(output.code(), Some(0), "the next run gets the lock and succeeds\n{}", output.describe());
    assert!(took < Duration::from_secs(30), "the next run took {took:?}\n{}", output.describe());
    assert_finished(&output, "long", "succeeded", "");
    assert_finished(&output, "tick", "succeeded", "");
    engine.assert_no_leftovers(&scene.identity);
    let state = read_state(&state_path);
    let last = history(&state).last().cloned().expect("a run");
    assert_eq!(last["command"], "run", "{state:#}");
    assert_eq!(last["exit_code"], 0, "{state:#}");
    assert_eq!(last["results"]["long"], "succeeded", "{state:#}");
}

/// One `copili run` holds the lock of its identity: a second `copili run` and a `copili
/// service` of it exit 1 at once, naming the first's pid; another identity of the same file,
/// and a file with another top-level key, run meanwhile.
fn two_runs_lock(engine: Engine) {
    let mut scene = Scene::new(engine, "lock2");
    let other = scene.other_identity("other");
    // The identity is the top-level key: no `--name` for this file.
    let keyed = scene.other_identity("key");
    let holder = format!(
        r#"  - name: holder
    image_repo: {IMAGE}
    volumes:
      - ./sync:/sync:ro
    command: [sh, -c, "i=0; while [ ! -e /sync/go ] && [ $$i -lt 300 ]; do sleep 0.1; i=$$((i + 1)); done; echo holder-done"]
"#
    );
    let file = scene.write("lock.yaml", &format!("lock:\n{holder}"));
    let quick = scene.write(
        "quick.yaml",
        &format!("{keyed}:\n  - name: quick\n    image_repo: {IMAGE}\n    command: [echo, quick-done]\n"),
    );
    scene.shared_dir("sync");

    let mut first = Running::spawn(&mut scene.run_command(&file));
    let mut beside = Running::spawn(&mut scene.command_as("run", &file, &other));
    wait_until(RUN_TIMEOUT, "both identities' holders run", || {
        assert!(
            first.is_running() && beside.is_running(),
            "a run ended early\n{}\n{}",
            first.describe(),
            beside.describe()
        );
        !scene.running_container(&scene.identity, "holder").is_empty()
            && !scene.running_container(&other, "holder").is_empty()
    });

    let refusal = format!(
        "error: pipeline `{}` is already running (pid {}); wait for it or stop it",
        scene.identity,
        first.pid()
    );
    for subcommand in ["run", "service"] {
        let started = Instant::now();
        let second = run(&mut scene.command_as(subcommand, &file, &scene.identity));
        let took = started.elapsed();
        assert_eq!(second.code(), Some(1), "copili {subcommand}\n{}", second.describe());
        assert!(took < Duration::from_secs(2), "copili {subcommand} did not refuse at once ({took:?})");
        assert!(
            second.stderr().lines().any(|l| l == refusal),
            "copili {subcommand}: expected `{refusal}`\n{}",
            second.describe()
        );
        assert_no_output_from(&second, "holder");
    }
    assert_eq!(
        scene.running_container(&scene.identity, "holder").len(),
        1,
        "the refused runs must not touch the first's container"
    );

    // Another top-level key, no `--name`: its own identity, its own lock.
    let mut command = scene.copili();
    command.arg("run").arg(&quick).args(["--engine", engine.engine_arg()]);
    let output = run(&mut command);
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_output_line(&output, "quick", "quick-done");
    assert!(scene.state_path(&keyed).is_file(), "the state of `{keyed}` is beside the file");
    assert!(first.is_running(), "the first run still holds its lock\n{}", first.describe());

    std::fs::write(scene.path("sync/go"), "").expect("create sync/go");
    for (running, who) in [(first, "the first run"), (beside, "the other identity")] {
        let output = running.wait(RUN_TIMEOUT);
        assert_eq!(output.code(), Some(0), "{who}\n{}", output.describe());
        assert_output_line(&output, "holder", "holder-done");
    }
    // The lock went with the first run.
    let again = run(&mut scene.run_command(&file));
    assert_eq!(again.code(), Some(0), "{}", again.describe());
    for identity in [&scene.identity, &other, &keyed] {
        engine.assert_no_leftovers(identity);
    }
    // The refused runs left no trace in the state: two runs, both of `copili run`.
    let state = read_state(&scene.state_path(&scene.identity));
    let commands: Vec<&Value> = history(&state).iter().map(|r| &r["command"]).collect();
    assert_eq!(commands, ["run", "run"], "{state:#}");
}

/// `run_once`: skipped once it succeeded (its dependent still runs); `--force` and
/// `force_rerun: true` run it again. `--resume`: only what failed or was cancelled runs again;
/// without a previous run it is refused.
fn run_once_force_resume(engine: Engine) {
    let mut scene = Scene::new(engine, "once");
    let file = scene.write(
        "once.yaml",
        &format!(
            r#"once:
  - name: once
    image_repo: {IMAGE}
    run_once: true
    force_rerun: ${{FORCE_RERUN:-false}}
    command: [sh, -c, "echo once-ran"]
  - name: needs_once
    image_repo: {IMAGE}
    dependencies: [once]
    command: [sh, -c, "echo needs-once-ran"]
"#
        ),
    );
    let skipped_reason = "succeeded before (run_once; `--force` runs it again)";
    // (extra arguments, FORCE_RERUN, whether `once` runs)
    let runs: [(&[&str], &str, bool); 5] = [
        (&[], "false", true),
        (&[], "false", false),
        (&["--force"], "false", true),
        (&[], "true", true),
        (&[], "false", false),
    ];
    for (number, (args, force_rerun, once_runs)) in runs.into_iter().enumerate() {
        let what = format!("run {} ({args:?}, FORCE_RERUN={force_rerun})", number + 1);
        let output = run(scene.run_command(&file).args(args).env("FORCE_RERUN", force_rerun));
        assert_eq!(output.code(), Some(0), "{what}\n{}", output.describe());
        if once_runs {
            assert_output_line(&output, "once", "once-ran");
            assert_finished(&output, "once", "succeeded", "");
            assert_summary(&output, "once", "succeeded", "0", "1");
        } else {
            assert_no_output_from(&output, "once");
            assert_finished(&output, "once", "skipped", skipped_reason);
            assert_summary(&output, "once", "skipped", "-", "0");
            assert!(summary_row(&output, "once").join(" ").contains(skipped_reason), "{what}\n{}", output.describe());
        }
        // Skipped or not, `once` is a met dependency.
        assert_output_line(&output, "needs_once", "needs-once-ran");
        assert_finished(&output, "needs_once", "succeeded", "");
    }
    let state = read_state(&scene.state_path(&scene.identity));
    let results: Vec<&Value> = history(&state).iter().map(|r| &r["results"]["once"]).collect();
    assert_eq!(results, ["succeeded", "skipped", "succeeded", "succeeded", "skipped"], "{state:#}");
    assert_eq!(state["containers"]["once"]["status"], "succeeded", "{state:#}");
    engine.assert_no_leftovers(&scene.identity);

    // --resume: `flaky` fails until `flag/ok` exists.
    let resumed = scene.other_identity("resume");
    let file = scene.write(
        "resume.yaml",
        &format!(
            r#"resume:
  - name: a
    image_repo: {IMAGE}
    command: [sh, -c, "echo a-ran"]
  - name: flaky
    image_repo: {IMAGE}
    dependencies: [a]
    volumes:
      - ./flag:/flag:ro
    command: [sh, -c, "echo flaky-ran; test -e /flag/ok"]
  - name: after
    image_repo: {IMAGE}
    dependencies: [flaky]
    command: [sh, -c, "echo after-ran"]
"#
        ),
    );
    let flag = scene.shared_dir("flag");
    let output = run(&mut scene.command_as("run", &file, &resumed));
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    assert_finished(&output, "a", "succeeded", "");
    assert_finished(&output, "flaky", "failed", "exit code 1");
    assert_finished(&output, "after", "cancelled", "dependency flaky failed");

    std::fs::write(flag.join("ok"), "").expect("create flag/ok");
    let output = run(scene.command_as("run", &file, &resumed).arg("--resume"));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_no_output_from(&output, "a");
    assert_finished(&output, "a", "skipped", "succeeded in the previous run (--resume)");
    assert_summary(&output, "a", "skipped", "-", "0");
    assert_output_line(&output, "flaky", "flaky-ran");
    assert_finished(&output, "flaky", "succeeded", "");
    assert_output_line(&output, "after", "after-ran");
    assert_finished(&output, "after", "succeeded", "");
    let state = read_state(&scene.state_path(&resumed));
    let last = history(&state).last().cloned().expect("a run");
    assert_eq!(last["command"], "resume", "{state:#}");
    assert_eq!(last["exit_code"], 0, "{state:#}");
    assert_eq!(last["results"]["a"], "skipped", "{state:#}");
    assert_eq!(last["results"]["flaky"], "succeeded", "{state:#}");
    engine.assert_no_leftovers(&resumed);

    // Nothing to resume: refused, nothing run.
    let fresh = scene.other_identity("fresh");
    let output = run(scene.command_as("run", &file, &fresh).arg("--resume"));
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    assert!(output.stderr().contains("--resume"), "the error mentions --resume\n{}", output.describe());
    assert_no_output_from(&output, "a");
    engine.assert_no_leftovers(&fresh);
}

/// `copili status` after two runs (one failed): the runs newest first with their exit codes
/// and counts, the containers' last results, and a service container's schedule and next due
/// time, as text and JSON; `--runs` and `--state-dir`.
fn status_shows_runs_and_next_due(engine: Engine) {
    let scene = Scene::new(engine, "status");
    let file = scene.write(
        "status.yaml",
        &format!(
            r#"status:
  - name: a
    image_repo: {IMAGE}
    command: [sh, -c, "echo a-ran"]
  - name: b
    image_repo: {IMAGE}
    command: [sh, -c, "echo b-ran; exit ${{B_EXIT:-0}}"]
  - name: nightly
    image_repo: {IMAGE}
    is_service_container: true
    schedule: daily 03:30
    timezone: Europe/Berlin
    dependencies: [a]
    command: [sh, -c, "echo nightly-ran"]
"#
        ),
    );
    let output = run(&mut scene.run_command(&file));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let output = run(scene.run_command(&file).env("B_EXIT", "3"));
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    engine.assert_no_leftovers(&scene.identity);

    let text = run(&mut scene.status_command(&file, &scene.identity));
    assert_eq!(text.code(), Some(0), "{}", text.describe());
    let stdout = text.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    let section = |title: &str| -> Vec<&str> {
        let start = lines.iter().position(|l| *l == title).unwrap_or_else(|| panic!("no `{title}`\n{stdout}"));
        lines[start + 1..].iter().take_while(|l| l.starts_with("  ")).copied().collect()
    };
    assert!(lines[0].starts_with(&format!("pipeline {} (state ", scene.identity)), "{stdout}");
    let runs = section("last runs (newest first):");
    assert_eq!(runs.len(), 2, "{stdout}");
    let words = |line: &str| line.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert!(words(runs[0]).windows(3).any(|w| w == ["run", "exit", "1"]), "newest first: {stdout}");
    assert!(runs[0].contains("1 failed, 2 succeeded"), "{stdout}");
    assert!(words(runs[1]).windows(3).any(|w| w == ["run", "exit", "0"]), "{stdout}");
    assert!(runs[1].contains("3 succeeded") && !runs[1].contains("failed"), "{stdout}");
    let containers = section("containers (last result):");
    let b = containers.iter().find(|l| words(l)[0] == "b").unwrap_or_else(|| panic!("no b\n{stdout}"));
    assert!(words(b)[1..4] == ["failed", "exit", "3"], "{stdout}");
    let a = containers.iter().find(|l| words(l)[0] == "a").unwrap_or_else(|| panic!("no a\n{stdout}"));
    assert!(words(a)[1..4] == ["succeeded", "exit", "0"], "{stdout}");
    let service = section("service containers:");
    assert_eq!(service.len(), 1, "{stdout}");
    assert!(service[0].trim_start().starts_with("nightly  daily 03:30 (Europe/Berlin)  next due "), "{stdout}");

    let json = run(scene.status_command(&file, &scene.identity).args(["--format", "json"]));
    assert_eq!(json.code(), Some(0), "{}", json.describe());
    let status: Value =
        serde_json::from_str(&json.stdout()).unwrap_or_else(|e| panic!("not JSON: {e}\n{}", json.describe()));
    assert_eq!(status["pipeline"], scene.identity.as_str(), "{status:#}");
    let state_file = status["state_file"].as_str().expect("state_file");
    assert!(state_file.ends_with(&format!(".copili/{}.json", scene.identity)), "{status:#}");
    let runs = status["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{status:#}");
    assert_eq!((&runs[0]["exit_code"], &runs[1]["exit_code"]), (&Value::from(1), &Value::from(0)), "{status:#}");
    assert_eq!(runs[0]["results"]["b"], "failed", "{status:#}");
    let started = |run: &Value| run["started_at"].as_str().and_then(parse_rfc3339).expect("started_at");
    assert!(started(&runs[0]) > started(&runs[1]), "newest first: {status:#}");
    assert!(runs.iter().all(|r| r["command"] == "run"), "{status:#}");
    assert_eq!(status["containers"]["b"]["status"], "failed", "{status:#}");
    assert_eq!(status["containers"]["b"]["exit_code"], 3, "{status:#}");
    let service = status["service"].as_array().expect("service");
    assert_eq!(service.len(), 1, "{status:#}");
    let nightly = &service[0];
    assert_eq!(nightly["name"], "nightly", "{status:#}");
    assert_eq!(nightly["schedule"], "daily 03:30", "{status:#}");
    assert_eq!(nightly["timezone"], "Europe/Berlin", "{status:#}");
    assert_eq!(nightly["catch_up"], false, "{status:#}");
    assert!(nightly["next_due_basis"].as_str().is_some_and(|b| !b.is_empty()), "{status:#}");
    let next_due = nightly["next_due"].as_str().and_then(parse_rfc3339);
    let next_due = next_due.unwrap_or_else(|| panic!("next_due is not RFC 3339: {status:#}"));
    let now = unix_now();
    assert!(next_due > now && next_due <= now + 86_400.0, "next_due within a day from now: {status:#}");
    // 03:30 in Berlin is 02:30 UTC in winter (CET), 01:30 in summer (CEST).
    let time_of_day = next_due.rem_euclid(86_400.0);
    assert!(time_of_day == 2.5 * 3600.0 || time_of_day == 1.5 * 3600.0, "03:30 Berlin time: {status:#}");

    let one = run(scene.status_command(&file, &scene.identity).args(["--format", "json", "--runs", "1"]));
    let one: Value =
        serde_json::from_str(&one.stdout()).unwrap_or_else(|e| panic!("not JSON: {e}\n{}", one.describe()));
    assert_eq!(one["runs"].as_array().map(Vec::len), Some(1), "{one:#}");
    assert_eq!(one["runs"][0]["exit_code"], 1, "{one:#}");

    // --state-dir: the state elsewhere, and `status` reads it from there.
    let elsewhere = scene.path("elsewhere");
    std::fs::create_dir(&elsewhere).expect("create elsewhere/");
    engine.hand_over_dir(&elsewhere);
    let output = run(scene.run_command(&file).arg("--state-dir").arg(&elsewhere));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert!(elsewhere.join(format!("{}.json", scene.identity)).is_file(), "the state is in --state-dir");
    let moved =
        run(scene.status_command(&file, &scene.identity).args(["--format", "json", "--state-dir"]).arg(&elsewhere));
    let moved: Value =
        serde_json::from_str(&moved.stdout()).unwrap_or_else(|e| panic!("not JSON: {e}\n{}", moved.describe()));
    assert_eq!(moved["runs"].as_array().map(Vec::len), Some(1), "{moved:#}");
    assert_eq!(moved["runs"][0]["exit_code"], 0, "{moved:#}");
    let default = read_state(&scene.state_path(&scene.identity));
    assert_eq!(history(&default).len(), 2, "a run with --state-dir leaves .copili/ alone");
    engine.assert_no_leftovers(&scene.identity);
}

/// `catch_up: true`: a daily slot missed while service mode was down (the state says it last
/// ran three days ago) runs once at start-up, not once per missed day; with `catch_up: false`
/// nothing runs before the next slot. A service container whose static dependency never
/// succeeded is skipped, saying so.
fn catch_up(engine: Engine) {
    let mut scene = Scene::new(engine, "catchup");
    let without = scene.other_identity("without");
    let file = scene.write(
        "catchup.yaml",
        &format!(
            r#"catchup:
  - name: load
    image_repo: {IMAGE}
    command: [sh, -c, "echo load-ran"]
  - name: nightly
    image_repo: {IMAGE}
    is_service_container: true
    schedule: daily 00:00
    timezone: UTC
    catch_up: ${{CATCH_UP}}
    command: [sh, -c, "echo nightly-ran"]
  - name: needs_load
    image_repo: {IMAGE}
    is_service_container: true
    schedule: daily 00:00
    timezone: UTC
    catch_up: true
    dependencies: [load]
    command: [sh, -c, "echo needs-load-ran"]
"#
        ),
    );
    let today = (unix_now() as i64).div_euclid(86_400) * 86_400;
    let three_days_ago = format_rfc3339(today - 3 * 86_400);
    for identity in [&scene.identity, &without] {
        scene.write_state(
            identity,
            &serde_json::json!({
                "version": 1,
                "service": {
                    "nightly": {"last_due": three_days_ago},
                    "needs_load": {"last_due": three_days_ago},
                },
            }),
        );
    }

    let announced = |l: &str| l.starts_with("=== service run ") && !l.contains(" done: ");
    let mut with =
        Running::spawn(scene.service_command(&file, &scene.identity).arg("--no-initial-run").env("CATCH_UP", "true"));
    let mut none =
        Running::spawn(scene.service_command(&file, &without).arg("--no-initial-run").env("CATCH_UP", "false"));
    let first_run = with.wait_for_line(RUN_TIMEOUT, "the catch-up run", announced);
    let caught_up_after = with.started.elapsed();
    with.wait_for_line(RUN_TIMEOUT, "the catch-up run's end", |l| {
        l.starts_with("=== service run ") && l.contains(" done: ")
    });
    none.wait_for_line(RUN_TIMEOUT, "the schedule", |l| l.starts_with("=== nightly next due at "));
    // That a missed slot is caught up once, never once per missed day, is unit-tested with a
    // fake clock (`copili::service`); no waiting here for a second run that cannot come.
    with.signal("TERM");
    none.signal("TERM");
    let with = with.wait(STOP_TIMEOUT);
    let none = none.wait(STOP_TIMEOUT);

    assert_eq!(with.code(), Some(0), "{}", with.describe());
    let stdout = with.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    let runs: Vec<&str> = lines.iter().copied().filter(|l| announced(l)).collect();
    assert_eq!(runs.len(), 1, "one catch-up run\n{}", with.describe());
    assert!(runs[0].ends_with(": nightly"), "the catch-up run is nightly's alone\n{}", with.describe());
    assert!(lines.iter().position(|l| announced(l)) == Some(first_run), "{}", with.describe());
    assert!(caught_up_after < Duration::from_secs(5), "the catch-up run started after {caught_up_after:?}");
    assert_eq!(lines.iter().filter(|l| is_output_line(l, "nightly", "nightly-ran")).count(), 1, "{}", with.describe());
    assert!(
        lines.iter().any(|l| l.starts_with("=== service run ") && l.ends_with(" done: nightly succeeded")),
        "{}",
        with.describe()
    );
    assert!(
        lines.contains(&"=== needs_load skipped: its dependency load has not succeeded yet"),
        "{}",
        with.describe()
    );
    assert_no_output_from(&with, "needs_load");
    assert_no_output_from(&with, "load");
    assert_eq!(lines.last().copied(), Some("=== service mode stopped"), "{}", with.describe());
    let tomorrow = format_rfc3339(today + 86_400).replace('T', " ").replace('Z', " UTC");
    assert!(
        lines.iter().any(|l| *l == format!("=== nightly next due at {tomorrow} (daily 00:00)")),
        "nightly next due at the next midnight, {tomorrow}\n{}",
        with.describe()
    );
    let state = read_state(&scene.state_path(&scene.identity));
    let last_due = state["service"]["nightly"]["last_due"].as_str().and_then(parse_rfc3339);
    assert_eq!(last_due, Some(today as f64), "the slot caught up is today's: {state:#}");
    let service_runs: Vec<&Value> = history(&state).iter().filter(|r| r["command"] == "service").collect();
    assert_eq!(service_runs.len(), 1, "{state:#}");
    assert_eq!(service_runs[0]["results"]["nightly"], "succeeded", "{state:#}");

    assert_eq!(none.code(), Some(0), "{}", none.describe());
    let stdout = none.stdout();
    assert!(!stdout.lines().any(announced), "catch_up: false runs nothing at start-up\n{}", none.describe());
    assert_no_output_from(&none, "nightly");
    assert!(
        stdout.lines().any(|l| l == format!("=== nightly next due at {tomorrow} (daily 00:00)")),
        "{}",
        none.describe()
    );
    let state = read_state(&scene.state_path(&without));
    let last_due = state["service"]["nightly"]["last_due"].as_str().and_then(parse_rfc3339);
    assert_eq!(last_due, Some((today - 3 * 86_400) as f64), "nothing ran: {state:#}");
    for identity in [&scene.identity, &without] {
        engine.assert_no_leftovers(identity);
    }
}
