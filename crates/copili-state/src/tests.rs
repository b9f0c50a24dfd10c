//! The store on a real temporary directory: round trip, missing and broken files, crash
//! leftovers, concurrent saves and loads, the history cap.

use std::collections::BTreeMap;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::Timestamp;

use super::*;

const IDENTITY: &str = "nightly";

fn at(text: &str) -> Timestamp {
    text.parse().expect("valid timestamp")
}

fn store() -> (tempfile::TempDir, StateStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = StateStore::open(dir.path().join(".copili")).expect("state directory");
    (dir, store)
}

fn record(status: ContainerStatus, run_id: &str) -> ContainerRecord {
    ContainerRecord {
        status,
        exit_code: Some(if status == ContainerStatus::Succeeded { 0 } else { 1 }),
        started_at: at("2026-05-01T10:00:00Z"),
        finished_at: Some(at("2026-05-01T10:05:00Z")),
        image_id: Some("sha256:0123".to_string()),
        spec_hash: spec_hash(b"alpine echo hi"),
        run_id: run_id.to_string(),
        last_success_at: None,
    }
}

fn run(number: usize) -> RunRecord {
    RunRecord {
        run_id: format!("run-{number}"),
        command: RunCommand::Run,
        started_at: at("2026-05-01T10:00:00Z"),
        finished_at: at("2026-05-01T10:05:00Z"),
        results: BTreeMap::from([("build".to_string(), ContainerStatus::Succeeded)]),
        exit_code: 0,
    }
}

fn sample_state() -> PipelineState {
    let mut state = PipelineState::default();
    state.record_result("build", record(ContainerStatus::Succeeded, "run-1"));
    state.record_result("test", record(ContainerStatus::Failed, "run-1"));
    state.push_run(run(1));
    *state.service_mut("backup") = ServiceRecord {
        last_due: Some(at("2026-05-01T01:00:00Z")),
        last_run_started: Some(at("2026-05-01T01:00:02Z")),
        next_due: Some(at("2026-05-02T01:00:00Z")),
    };
    state
}

#[test]
fn round_trip() {
    let (_dir, store) = store();
    let state = sample_state();
    store.save(IDENTITY, &state).expect("saved");
    assert_eq!(store.load(IDENTITY).expect("loaded"), state);

    let text = fs::read_to_string(store.path(IDENTITY)).expect("state file");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(json["version"], 1);
    assert_eq!(json["containers"]["build"]["status"], "succeeded");
    assert_eq!(json["containers"]["build"]["started_at"], "2026-05-01T10:00:00Z");
    assert_eq!(json["history"][0]["command"], "run");
    assert_eq!(json["service"]["backup"]["next_due"], "2026-05-02T01:00:00Z");
}

#[test]
fn missing_file_is_empty_state() {
    let (_dir, store) = store();
    assert_eq!(store.load(IDENTITY).expect("loaded"), PipelineState::default());
    assert_eq!(PipelineState::default().version, SCHEMA_VERSION);
}

#[test]
fn broken_files_are_errors_naming_the_path() {
    let (_dir, store) = store();
    let path = store.path(IDENTITY);
    let valid = serde_json::to_string(&sample_state()).expect("JSON");
    for content in ["", "{ not json", &valid[..valid.len() / 2], r#"{"version": 1, "containers": 7}"#, "[]"] {
        fs::write(&path, content).expect("written");
        let error = store.load(IDENTITY).expect_err(content);
        assert!(matches!(error, StateError::Corrupt { .. }), "{content}: {error:?}");
        assert_eq!(error.to_string(), format!("the state file {} is corrupt", path.display()));
        assert!(std::error::Error::source(&error).is_some(), "serde's reason is kept");
    }

    fs::write(&path, r#"{"version": 2, "future": true}"#).expect("written");
    let error = store.load(IDENTITY).expect_err("version 2");
    assert_eq!(
        error.to_string(),
        format!("the state file {} has schema version 2; this copili reads version 1", path.display())
    );

    fs::remove_file(&path).expect("removed");
    fs::create_dir(&path).expect("a directory where the file should be");
    let error = store.load(IDENTITY).expect_err("a directory");
    assert!(matches!(error, StateError::Read { .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("cannot read the state file {}", path.display()));
    let error = store.save(IDENTITY, &sample_state()).expect_err("a directory");
    assert!(matches!(error, StateError::Write { .. }), "{error:?}");
}

#[test]
fn a_crash_before_the_rename_leaves_the_old_file() {
    let (_dir, store) = store();
    let old = sample_state();
    store.save(IDENTITY, &old).expect("saved");
    // What a crash between writing the temporary file and renaming it leaves behind.
    let stray = store.dir().join(".state-crashed.tmp");
    let valid = serde_json::to_string(&PipelineState::default()).expect("JSON");
    fs::write(&stray, &valid[..valid.len() / 2]).expect("written");

    assert_eq!(store.load(IDENTITY).expect("loaded"), old);
    let mut new = old.clone();
    new.push_run(run(2));
    store.save(IDENTITY, &new).expect("saved");
    assert_eq!(store.load(IDENTITY).expect("loaded"), new);
    // Only the target and the stray are there: the save's own temporary file is gone.
    let mut names: Vec<String> = fs::read_dir(store.dir())
        .expect("listing")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".state-crashed.tmp", "nightly.json"]);
}

#[test]
fn concurrent_saves_never_leave_a_half_written_file() {
    let (_dir, store) = store();
    store.save(IDENTITY, &PipelineState::default()).expect("saved");
    let writers_done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..2)
            .map(|writer| {
                let store = &store;
                scope.spawn(move || {
                    let mut state = sample_state();
                    for number in 0..200 {
                        // Files of different lengths, so that a torn write would show.
                        state.push_run(run(writer * 1000 + number));
                        store.save(IDENTITY, &state).expect("saved");
                    }
                })
            })
            .collect();
        let reader = scope.spawn(|| {
            let mut loads = 0;
            while !writers_done.load(Ordering::SeqCst) || loads < 10 {
                let state = store.load(IDENTITY).expect("every load parses");
                assert!(state.history.len() <= HISTORY_LIMIT);
                loads += 1;
            }
            loads
        });
        for writer in writers {
            writer.join().expect("writer finished");
        }
        writers_done.store(true, Ordering::SeqCst);
        assert!(reader.join().expect("reader finished") >= 10);
    });
    let last = store.load(IDENTITY).expect("loaded");
    assert_eq!(last.history.len(), HISTORY_LIMIT);
    let leftovers = fs::read_dir(store.dir()).expect("listing").count();
    assert_eq!(leftovers, 1, "no temporary files left");
}

#[test]
fn history_keeps_the_last_hundred_runs() {
    let mut state = PipelineState::default();
    for number in 0..150 {
        state.push_run(run(number));
    }
    assert_eq!(state.history.len(), HISTORY_LIMIT);
    assert_eq!(state.history[0].run_id, "run-50");
    assert_eq!(state.last_run().map(|run| run.run_id.as_str()), Some("run-149"));
    assert_eq!(PipelineState::default().last_run(), None);
}

#[test]
fn results_and_last_success() {
    let mut state = PipelineState::default();
    state.record_result("build", record(ContainerStatus::Succeeded, "run-1"));
    assert!(state.succeeded_before("build"));
    assert!(state.succeeded_with("build", &spec_hash(b"alpine echo hi")));
    assert!(!state.succeeded_with("build", &spec_hash(b"alpine echo changed")));
    assert_eq!(state.containers["build"].last_success_at, Some(at("2026-05-01T10:05:00Z")));

    let mut failed = record(ContainerStatus::Failed, "run-2");
    failed.started_at = at("2026-05-02T10:00:00Z");
    state.record_result("build", failed);
    assert!(!state.succeeded_before("build"));
    assert_eq!(state.containers["build"].last_success_at, Some(at("2026-05-01T10:05:00Z")), "carried over");
    assert!(!state.succeeded_before("unknown"));
}

#[test]
fn file_names() {
    let (_dir, store) = store();
    let name = |identity: &str| store.path(identity).file_name().expect("file name").to_string_lossy().into_owned();
    assert_eq!(name("ci.build-1_x"), "ci.build-1_x.json");
    assert_eq!(name("a/b"), format!("a_b-{}.json", &spec_hash(b"a/b")[..12]));
    assert_ne!(name("a/b"), name("a_b"));
    assert_eq!(name("../../etc/passwd"), format!(".._.._etc_passwd-{}.json", &spec_hash(b"../../etc/passwd")[..12]));
    assert_eq!(name(""), format!("-{}.json", &spec_hash(b"")[..12]));
    assert_eq!(name(&"x".repeat(300)).len(), 100 + 1 + 12 + 5);
    for identity in ["a/b", "..", "", "späť", "x y"] {
        assert_eq!(store.path(identity).parent(), Some(store.dir()), "{identity}");
    }
}

#[test]
fn spec_hash_is_sha256_hex() {
    assert_eq!(spec_hash(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(spec_hash(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

#[cfg(unix)]
#[test]
fn the_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, store) = store();
    let mode = fs::metadata(store.dir()).expect("metadata").permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    store.save(IDENTITY, &sample_state()).expect("saved");
    let mode = fs::metadata(store.path(IDENTITY)).expect("metadata").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn canonical_hash_sorts_keys_at_every_level() {
    let one: serde_json::Value =
        serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": null}}"#).expect("JSON");
    let other: serde_json::Value =
        serde_json::from_str(r#"{"a": {"x": null, "y": [1, {"p": 2, "q": 1}]}, "b": 1}"#).expect("JSON");
    assert_eq!(canonical_hash(&one), canonical_hash(&other));
    assert_eq!(canonical_hash(&one), spec_hash(br#"{"a":{"x":null,"y":[1,{"p":2,"q":1}]},"b":1}"#));
    let reordered: serde_json::Value =
        serde_json::from_str(r#"{"a": {"x": null, "y": [{"p": 2, "q": 1}, 1]}, "b": 1}"#).expect("JSON");
    assert_ne!(canonical_hash(&one), canonical_hash(&reordered), "arrays keep their order");
}

#[test]
fn salted_hashes_differ_by_salt_and_never_equal_the_plain_hash() {
    assert_eq!(salted_hash("s", b"hunter2"), salted_hash("s", b"hunter2"));
    assert_ne!(salted_hash("s", b"hunter2"), salted_hash("t", b"hunter2"));
    assert_ne!(salted_hash("s", b"hunter2"), salted_hash("s", b"hunter3"));
    assert_ne!(salted_hash("", b"hunter2"), spec_hash(b"hunter2"));
    // The salt's length is hashed: moving bytes between salt and value changes the hash.
    assert_ne!(salted_hash("ab", b"c"), salted_hash("a", b"bc"));
}

/// A file of an older copili (no `hash_salt`, hashes of the former format) still loads; the
/// salt is made on first use and saved, and records keep their hashes until their container
/// runs again.
#[test]
fn a_state_without_a_salt_loads_and_gets_one() {
    let (_dir, store) = store();
    let old = r#"{"version": 1, "containers": {"build": {"status": "succeeded", "exit_code": 0,
        "started_at": "2026-11-25T12:00:00Z", "finished_at": "2026-11-25T12:00:01Z", "image_id": null,
        "spec_hash": "0000000000000000000000000000000000000000000000000000000000000000", "run_id": "r1",
        "last_success_at": "2026-11-25T12:00:01Z"}}, "history": [], "service": {}}"#;
    fs::write(store.path(IDENTITY), old).expect("written");
    let mut state = store.load(IDENTITY).expect("an old file loads");
    assert_eq!(state.hash_salt, "");
    assert_eq!(state.containers["build"].spec_hash, "0".repeat(64));
    let salt = state.hash_salt().expect("a salt").to_string();
    assert_eq!(salt.len(), 64);
    assert_eq!(state.hash_salt().expect("the same salt"), salt);
    store.save(IDENTITY, &state).expect("saved");
    let text = fs::read_to_string(store.path(IDENTITY)).expect("read");
    assert!(text.contains(&format!("\"hash_salt\": \"{salt}\"")), "{text}");
    assert_eq!(store.load(IDENTITY).expect("loads").hash_salt, salt);
    // A fresh state writes no empty salt.
    store.save(IDENTITY, &PipelineState::default()).expect("saved");
    assert!(!fs::read_to_string(store.path(IDENTITY)).expect("read").contains("hash_salt"));
}
