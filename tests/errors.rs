//! End-to-end tests of the errors that stop a command, as the real binary says them: each
//! message (with its whole cause chain) and its exit code, snapshotted. No engine is needed: a
//! stand-in client (a shell script answering as docker would) plays the engine that answers,
//! fails or lacks a network.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use copili_e2e::{copili, redact, run, Output};

/// The pipeline of these tests, `errs`: one container, on a network when `network` is given.
fn pipeline(dir: &Path, network: Option<&str>) -> PathBuf {
    let networks = network.map(|n| format!("    networks: [{n}]\n")).unwrap_or_default();
    let path = dir.join("p.yaml");
    std::fs::write(&path, format!("errs:\n  - name: a\n    image_repo: localhost/copili-test\n{networks}"))
        .expect("write the pipeline");
    path
}

/// A stand-in `docker` in `dir`: answers `version` (unless `arms` says otherwise), and every other
/// command with nothing, successfully; `arms` are `case` arms over `"$*"` tried first.
fn stand_in(dir: &Path, arms: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;

    let docker = dir.join("docker");
    std::fs::write(&docker, format!("#!/bin/sh\ncase \"$*\" in\n{arms}  version*) echo 24.0.7 ;;\n  *) ;;\nesac\n"))
        .expect("write the stand-in");
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    docker
}

/// `copili ARGS` in `dir`, its locks in `dir/run` (never the user's own).
fn in_dir(dir: &Path, args: &[&str]) -> Command {
    let mut command = copili();
    command.current_dir(dir).env("XDG_RUNTIME_DIR", dir.join("run")).args(args);
    command
}

/// What a snapshot shows of a command that failed: its exit code and standard error, with
/// temporary paths redacted. Standard output must be empty: an error writes nothing there.
fn failure(output: &Output) -> String {
    assert_eq!(output.stdout(), "", "an error writes nothing on stdout\n{}", output.describe());
    let code = output.code().map_or_else(|| "killed by a signal".to_string(), |c| c.to_string());
    format!("exit code: {code}\n{}", redact(&output.stderr()))
}

#[test]
fn engine_unavailable() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), None);
    let output = run(&mut in_dir(dir.path(), &["run", "p.yaml", "--engine", "/nonexistent"]));
    insta::assert_snapshot!("engine_unavailable_run", failure(&output));
    let output = run(&mut in_dir(dir.path(), &["clean", "--engine", "/nonexistent"]));
    insta::assert_snapshot!("engine_unavailable_clean", failure(&output));
}

#[test]
fn engine_that_does_not_answer() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), None);
    stand_in(
        dir.path(),
        "  version*) echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\n    \
         echo 'Is the docker daemon running?' >&2; exit 1 ;;\n",
    );
    let output = run(&mut in_dir(dir.path(), &["run", "p.yaml", "--engine", "./docker"]));
    insta::assert_snapshot!("engine_silent_run", failure(&output));
    let output = run(&mut in_dir(dir.path(), &["clean", "--engine", "./docker"]));
    insta::assert_snapshot!("engine_silent_clean", failure(&output));
}

#[test]
fn missing_network() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), Some("backbone"));
    stand_in(dir.path(), "  'network inspect'*) echo 'Error: No such network: backbone' >&2; exit 1 ;;\n");
    let output = run(&mut in_dir(dir.path(), &["run", "p.yaml", "--engine", "./docker"]));
    insta::assert_snapshot!("network_missing", failure(&output));
}

#[test]
fn networks_that_cannot_be_listed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), Some("backbone"));
    stand_in(dir.path(), "  'network inspect'*) echo 'Error: permission denied' >&2; exit 1 ;;\n");
    let output = run(&mut in_dir(dir.path(), &["run", "p.yaml", "--engine", "./docker"]));
    insta::assert_snapshot!("networks_unlisted", failure(&output));
}

/// The lock of `errs` held by another process, which wrote pid 4242 into it, until dropped.
struct HeldLock(Child);

impl HeldLock {
    fn take(dir: &Path) -> HeldLock {
        use std::io::BufRead as _;

        let locks = dir.join("run/copili");
        std::fs::create_dir_all(&locks).expect("the lock directory");
        let file = locks.join("errs.lock");
        std::fs::write(&file, "4242\n").expect("write the lock file");
        // The shell becomes `sleep`, holding the locked descriptor: killing it frees the lock.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec 9<>\"$1\" && flock -n 9 && echo locked && exec sleep 60")
            .arg("sh")
            .arg(&file)
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh and flock can be started");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        std::io::BufReader::new(stdout).read_line(&mut line).expect("read the holder's line");
        assert_eq!(line, "locked\n", "the lock could not be taken");
        HeldLock(child)
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn lock_held() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), None);
    stand_in(dir.path(), "");
    let _held = HeldLock::take(dir.path());
    let output = run(&mut in_dir(dir.path(), &["run", "p.yaml", "--engine", "./docker"]));
    insta::assert_snapshot!("lock_held_run", failure(&output));
    let output = run(&mut in_dir(dir.path(), &["clean", "p.yaml", "--engine", "./docker"]));
    insta::assert_snapshot!("lock_held_clean", failure(&output));
}

/// `copili run` with the state file `state/errs.json` made by `make`.
fn run_with_state(make: impl FnOnce(&Path)) -> Output {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), None);
    stand_in(dir.path(), "");
    std::fs::create_dir(dir.path().join("state")).expect("the state directory");
    make(&dir.path().join("state/errs.json"));
    run(&mut in_dir(dir.path(), &["run", "p.yaml", "--engine", "./docker", "--state-dir", "state"]))
}

#[test]
fn unreadable_state_file_says_its_cause() {
    let output = run_with_state(|file| std::fs::create_dir(file).expect("a directory in its place"));
    insta::assert_snapshot!("state_file_is_a_directory", failure(&output));
    let output = run_with_state(|file| std::fs::write(file, "{ not json").expect("write"));
    insta::assert_snapshot!("state_file_not_json", failure(&output));
    let output = run_with_state(|file| std::fs::write(file, r#"{"version": 99}"#).expect("write"));
    insta::assert_snapshot!("state_file_of_another_version", failure(&output));
}

#[test]
fn resume_without_a_previous_run() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), None);
    stand_in(dir.path(), "");
    let output = run(&mut in_dir(dir.path(), &["run", "p.yaml", "--engine", "./docker", "--resume"]));
    insta::assert_snapshot!("resume_without_a_run", failure(&output));
}

#[test]
fn refused_by_swarm() {
    let file = "tests/fixtures/run/swarm-refused-options.yaml";
    let output = run(copili().args(["run", file, "--engine", "swarm", "--dry-run"]));
    insta::assert_snapshot!("refused_by_swarm", failure(&output));
}

#[test]
fn unwritable_report_is_said_after_the_reason_the_run_did_not_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), None);
    std::fs::write(dir.path().join("blocker"), "a file, not a directory").expect("write");
    let args = ["run", "p.yaml", "--engine", "/nonexistent", "--report", "blocker/report.json"];
    let output = run(&mut in_dir(dir.path(), &args));
    insta::assert_snapshot!("report_unwritable", failure(&output));
}

#[test]
fn malformed_globals_name_the_option_never_the_value() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), None);
    let cases: [(&str, &[&str]); 5] = [
        ("set_env_empty_name", &["--set-env", "=s3cr3t"]),
        ("set_env_space_in_name", &["--set-env", "A B=s3cr3t"]),
        ("set_env_unset", &["--set-env", "COPILI_TEST_UNSET_VARIABLE"]),
        ("label_copili_own", &["--label", "io.copili.run=x"]),
        ("label_without_value", &["--label", "team"]),
    ];
    for (name, extra) in cases {
        let mut args = vec!["run", "p.yaml", "--dry-run"];
        args.extend_from_slice(extra);
        let output = run(&mut in_dir(dir.path(), &args));
        assert!(!output.stderr().contains("s3cr3t"), "{name}: a value was shown\n{}", output.describe());
        insta::assert_snapshot!(name, failure(&output));
    }
}

#[test]
fn usage_errors_of_the_command_line() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), None);
    let output = run(&mut in_dir(dir.path(), &["run", "p.yaml", "--engine", "none"]));
    insta::assert_snapshot!("engine_none_run", failure(&output));
    let output = run(&mut in_dir(dir.path(), &["clean", "--engine", "none"]));
    insta::assert_snapshot!("engine_none_clean", failure(&output));
    let output = run(&mut in_dir(dir.path(), &["validate", "p.yaml", "--name", " "]));
    insta::assert_snapshot!("empty_name", failure(&output));
}

#[test]
fn clean_of_an_invalid_file_shows_its_diagnostics() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("bad.yaml"), "errs:\n  - name: a\n").expect("write");
    let output = run(&mut in_dir(dir.path(), &["clean", "bad.yaml", "--engine", "./docker"]));
    insta::assert_snapshot!("clean_invalid_file", failure(&output));
}

#[test]
fn clean_that_the_engine_fails() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    stand_in(dir.path(), "  ps*) echo 'Error: the daemon is busy' >&2; exit 1 ;;\n");
    let output = run(&mut in_dir(dir.path(), &["clean", "--name", "errs", "--engine", "./docker"]));
    insta::assert_snapshot!("clean_engine_failed", failure(&output));
}

#[test]
fn files_that_cannot_be_written() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), None);
    std::fs::write(dir.path().join("blocker"), "a file, not a directory").expect("write");
    let output = run(&mut in_dir(dir.path(), &["export", "argo", "p.yaml", "-o", "blocker/w.yaml"]));
    insta::assert_snapshot!("export_unwritable", failure(&output));
    let output = run(&mut in_dir(dir.path(), &["man", "blocker/man"]));
    insta::assert_snapshot!("man_unwritable", failure(&output));
}

#[test]
fn export_options_argo_cannot_take() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    pipeline(dir.path(), None);
    let output = run(&mut in_dir(dir.path(), &["export", "argo", "p.yaml", "--namespace", "Not_Valid"]));
    insta::assert_snapshot!("export_bad_namespace", failure(&output));
}

#[test]
fn standard_input_that_cannot_be_read() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // A directory opens for reading, but a read of it fails (EISDIR).
    let stdin = std::fs::File::open(dir.path()).expect("a directory opens");
    let raw = copili().args(["validate", "-"]).stdin(stdin).output().expect("copili can be started");
    insta::assert_snapshot!("stdin_unreadable", failure(&Output { raw }));
}
