//! A bundle written and loaded with the fake engine; every flipped byte and every truncation
//! refused before anything is loaded.

use std::path::{Path, PathBuf};

use copili_model::{load as load_pipeline, EnvFile, Input, LoadOptions};

use crate::fake::FakeEngine;

use super::*;

const PIPELINE: &str = "p:
  - {name: a, image_repo: r.io/app, tag: '1'}
  - {name: b, image_repo: localhost/b, sidecars: [{name: db, image_repo: localhost/db}]}
";

struct Scene {
    dir: tempfile::TempDir,
    pipeline_file: PathBuf,
    lock_file: PathBuf,
    lock: LockFile,
}

fn scene(engine: &FakeEngine) -> Scene {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pipeline_file = dir.path().join("p.yaml");
    std::fs::write(&pipeline_file, PIPELINE).expect("write the pipeline");
    let options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
    let pipeline = load_pipeline(Input::Text(PIPELINE), &options).expect("valid");
    let lock = lock_of(engine, &pipeline, "p").expect("every image present");
    let lock_file = LockFile::path_for(&pipeline_file);
    lock.write(&lock_file).expect("write the lock");
    Scene { dir, pipeline_file, lock_file, lock }
}

fn save_bundle(engine: &FakeEngine, scene: &Scene, env: Option<&Path>) -> PathBuf {
    let output = scene.dir.path().join("out.tar");
    let images = scene.lock.images.keys().map(|i| (i.clone(), 1000)).collect();
    let request = SaveRequest {
        output: &output,
        pipeline_file: &scene.pipeline_file,
        lock: &scene.lock,
        lock_file: &scene.lock_file,
        env_file: env,
        images,
        copili_version: "0.0.0-test",
    };
    let saved = save(engine, &request, &|| false, &|_| {}).expect("saved");
    assert_eq!(saved.bundle_size, std::fs::metadata(&output).expect("written").len());
    output
}

#[test]
fn a_bundle_loads_its_images_checks_them_and_unpacks_the_pipeline() {
    let saving = FakeEngine::new([]);
    let scene = scene(&saving);
    let env = scene.dir.path().join(".env");
    std::fs::write(&env, "TOKEN=s3cret\n").expect("write .env");
    let bundle = save_bundle(&saving, &scene, Some(&env));
    assert_eq!(
        saving.calls().last().map(String::as_str),
        Some("save localhost/b:latest localhost/db:latest r.io/app:1")
    );
    // No temporary file is left beside the bundle.
    let mut names: Vec<String> = std::fs::read_dir(scene.dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".env", "out.tar", "p.yaml", "p.yaml.lock"]);

    let verified = verify(&bundle, &|_| {}).expect("intact");
    assert_eq!(verified.manifest.copili_version, "0.0.0-test");
    assert_eq!(verified.lock, scene.lock);

    let loading = FakeEngine::new([]).with_absent_images(&["localhost/b:latest", "localhost/db:latest", "r.io/app:1"]);
    let target = scene.dir.path().join("offline");
    let loaded = load(&loading, &bundle, &target, &|_| {}).expect("loaded");
    assert_eq!(loaded.names, ["localhost/b:latest", "localhost/db:latest", "r.io/app:1"]);
    assert!(loaded.checks.iter().all(|c| c.verdict.kind() == "present-at-locked-identity"), "{:?}", loaded.checks);
    assert_eq!(std::fs::read_to_string(target.join("p.yaml")).expect("unpacked"), PIPELINE);
    assert_eq!(LockFile::read(&target.join("p.yaml.lock"), &target.join("p.yaml")).expect("lock"), scene.lock);
    assert_eq!(std::fs::read_to_string(target.join(".env")).expect("env"), "TOKEN=s3cret\n");
    let leftovers = std::fs::read_dir(&target)
        .expect("list")
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".copili-images-")));
    assert_eq!(leftovers.count(), 0, "the unpacked images' archive is removed");
}

#[test]
fn every_flipped_byte_and_every_truncation_is_refused_and_nothing_is_loaded() {
    let saving = FakeEngine::new([]);
    let scene = scene(&saving);
    let bundle = save_bundle(&saving, &scene, None);
    let bytes = std::fs::read(&bundle).expect("read");
    // Thousands of small writes: in memory where the host has a tmpfs.
    let scratch = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir()).expect("a temporary directory");
    let tampered = scratch.path().join("tampered.tar");
    let loading = FakeEngine::new([]);
    let target = scene.dir.path().join("never");
    for at in 0..bytes.len() {
        let mut changed = bytes.clone();
        changed[at] ^= 0x20;
        std::fs::write(&tampered, &changed).expect("write");
        match load(&loading, &tampered, &target, &|_| {}) {
            Err(LoadError::Bundle(BundleError::Damaged { reason, .. })) => assert!(!reason.is_empty()),
            other => panic!("byte {at} of {} flipped: {other:?}", bytes.len()),
        }
    }
    for len in [0, 1, 511, 512, 1024, bytes.len() / 2, bytes.len() - 1024, bytes.len() - 512, bytes.len() - 1] {
        std::fs::write(&tampered, &bytes[..len]).expect("write");
        assert!(
            matches!(load(&loading, &tampered, &target, &|_| {}), Err(LoadError::Bundle(BundleError::Damaged { .. }))),
            "cut to {len} bytes"
        );
    }
    assert!(loading.calls().iter().all(|c| !c.starts_with("load")), "{:?}", loading.calls());
    assert!(!target.exists(), "nothing unpacked");
}

#[test]
fn a_loaded_image_that_is_not_the_locked_one_is_said() {
    let saving = FakeEngine::new([]);
    let scene = scene(&saving);
    let bundle = save_bundle(&saving, &scene, None);
    let other = "sha256:59d90a0a7c1b3a613c0e93e5d37a179d11efb4b55e1b0effba793a656d003933";
    let loading = FakeEngine::new([]).with_image_id("r.io/app:1", other);
    let target = scene.dir.path().join("offline");
    match load(&loading, &bundle, &target, &|_| {}) {
        Err(LoadError::NotLocked { checks }) => {
            let differ: Vec<&str> = checks
                .iter()
                .filter(|c| c.verdict.kind() == "present-but-different")
                .map(|c| c.image.as_str())
                .collect();
            assert_eq!(differ, ["r.io/app:1"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(!target.join("p.yaml").exists(), "the pipeline is not unpacked for images that are not the locked ones");
}

#[test]
fn a_file_of_other_content_is_not_written_over() {
    let saving = FakeEngine::new([]);
    let scene = scene(&saving);
    let bundle = save_bundle(&saving, &scene, None);
    let target = scene.dir.path().join("offline");
    std::fs::create_dir_all(&target).expect("mkdir");
    std::fs::write(target.join("p.yaml"), "mine").expect("write");
    let loading = FakeEngine::new([]);
    assert!(matches!(load(&loading, &bundle, &target, &|_| {}), Err(LoadError::Bundle(BundleError::Exists { .. }))));
    assert!(loading.calls().iter().all(|c| !c.starts_with("load")));
}

#[test]
fn the_host_against_the_lock() {
    let engine = FakeEngine::new([]);
    let scene = scene(&engine);
    let other = "sha256:59d90a0a7c1b3a613c0e93e5d37a179d11efb4b55e1b0effba793a656d003933";
    let host =
        FakeEngine::new([]).with_absent_images(&["localhost/db:latest"]).with_image_id("localhost/b:latest", other);
    let options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
    let mut text = PIPELINE.to_string();
    text.push_str("  - {name: c, image_repo: localhost/new}\n");
    let pipeline = load_pipeline(Input::Text(&text), &options).expect("valid");
    let checks = check(&host, &scene.lock, &images_of(&pipeline)).expect("checked");
    let verdicts: Vec<(&str, &str)> = checks.iter().map(|c| (c.image.as_str(), c.verdict.kind())).collect();
    assert_eq!(
        verdicts,
        [
            ("localhost/b:latest", "present-but-different"),
            ("localhost/db:latest", "absent"),
            ("localhost/new:latest", "not-locked"),
            ("r.io/app:1", "present-at-locked-identity"),
        ]
    );
}

#[test]
fn an_interrupted_save_leaves_no_bundle_and_no_temporary_file() {
    let engine = FakeEngine::new([]);
    let scene = scene(&engine);
    let output = scene.dir.path().join("out.tar");
    let request = SaveRequest {
        output: &output,
        pipeline_file: &scene.pipeline_file,
        lock: &scene.lock,
        lock_file: &scene.lock_file,
        env_file: None,
        images: scene.lock.images.keys().map(|i| (i.clone(), 1000)).collect(),
        copili_version: "0.0.0-test",
    };
    assert!(matches!(save(&engine, &request, &|| true, &|_| {}), Err(BundleError::Interrupted)));
    let mut names: Vec<String> = std::fs::read_dir(scene.dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["p.yaml", "p.yaml.lock"]);
}
