//! End-to-end tests of air-gapped runs (issue 16): `copili lock`, `bundle save` on one engine,
//! `bundle load` on another (rootless podman included), `run --locked --pull never`, the
//! refusal of a replaced image, and the refusal of a damaged bundle.
//!
//! Every image a test uses is its own (a name with the test and the pid in it, an id of its own
//! from a label), so that tests in parallel never tag or remove names of one image; whatever a
//! test made is removed from every engine when it ends, failed or not. The shared test image is
//! only ever a base (`FROM`), never tagged, loaded over or removed.

use std::path::PathBuf;
use std::time::Instant;

use copili_e2e::{
    build_test_image_variant, engine_setup, manifest_requests, push_image, registry_password, registry_user,
    remove_test_image_variant, run, Engine, Output, Running,
};

/// One test's names, directory and images, removed from every engine when dropped.
struct AirgapScene {
    /// `airgap-<scenario>-<pid>`: the pipeline's name, and part of every image name.
    name: String,
    dir: tempfile::TempDir,
    /// (engine, reference) to remove at the end.
    images: std::cell::RefCell<Vec<(Engine, String)>>,
    /// Rootful podman images of `build_test_image_variant`.
    variants: std::cell::RefCell<Vec<String>>,
}

impl AirgapScene {
    fn new(scenario: &str) -> AirgapScene {
        for engine in [Engine::RootfulPodman, Engine::RootlessPodman, Engine::Docker] {
            engine.assert_ready();
        }
        let name = format!("airgap-{scenario}-{}", std::process::id());
        let dir =
            tempfile::Builder::new().prefix("copili-e2e-airgap-").tempdir_in("/tmp").expect("a temporary directory");
        Engine::RootlessPodman.hand_over_dir(dir.path());
        AirgapScene { name, dir, images: Default::default(), variants: Default::default() }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }

    /// Remembers an image to remove from `engine` at the end.
    fn owns(&self, engine: Engine, image: &str) {
        self.images.borrow_mut().push((engine, image.to_string()));
    }

    /// Builds an image of this test on `engine`: the test image with a label of its own (an id
    /// of its own), as `localhost/copili-e2e-<name>-<role>:latest`.
    fn local_image(&self, engine: Engine, role: &str) -> String {
        let reference = format!("localhost/copili-e2e-{}-{role}:latest", self.name);
        let context = self.path(&format!("ctx-{role}-{}", engine.slug()));
        std::fs::create_dir_all(&context).expect("mkdir");
        std::fs::write(context.join("Dockerfile"), format!("FROM {}\n", engine_setup().get("COPILI_TEST_IMAGE")))
            .expect("write");
        Engine::RootlessPodman.hand_over_dir(&context);
        self.owns(engine, &reference);
        let label = format!("io.copili.e2e={}-{role}", self.name);
        let mut command = engine.client();
        command.args(["build", "--quiet", "--tag", &reference, "--label", &label]).arg(&context);
        let output = run(&mut command);
        assert_eq!(output.code(), Some(0), "building {reference} on {engine:?}\n{}", output.describe());
        reference
    }

    /// The image id `engine` has for `image`, `sha256:…`; `None` when absent.
    fn id_on(&self, engine: Engine, image: &str) -> Option<String> {
        let output = run(engine.client().args(["image", "inspect", "--format", "{{.Id}}", image]));
        (output.code() == Some(0)).then(|| {
            let id = output.stdout().trim().to_string();
            if id.starts_with("sha256:") {
                id
            } else {
                format!("sha256:{id}")
            }
        })
    }

    /// copili as `engine` runs it, in this test's directory.
    fn copili(&self, engine: Engine, args: &[&str]) -> Output {
        let mut command = engine.copili(self.dir.path());
        command.args(args);
        run(&mut command)
    }

    /// A pipeline of a registry image (with credentials from `.env`), a local image with a
    /// sidecar of it, and an image built from the test image.
    fn pipeline(&self, registry_image: Option<&str>, local: &str) -> PathBuf {
        let mut text = format!("{}:\n", self.name);
        if let Some(image) = registry_image {
            let (repo, tag) = image.rsplit_once(':').expect("a tag");
            text.push_str(&format!(
                "  - name: fetch\n    image_repo: {repo}\n    tag: {tag}\n    image_reg_username: ${{REG_USER}}\n    \
                 image_reg_password: ${{REG_PASS}}\n    tls_verify: false\n    command: [sh, -c, 'echo fetched']\n"
            ));
        }
        let (repo, _) = local.rsplit_once(':').expect("a tag");
        text.push_str(&format!(
            "  - name: built\n    build: ./built\n    command: [cat, /built.txt]\n  - name: local\n    \
             image_repo: {repo}\n    command: [sh, -c, 'echo local']\n    dependencies: [built]\n    sidecars:\n      \
             - name: side\n        image_repo: {repo}\n        command: [sleep, '60']\n"
        ));
        self.write(
            "connected/built/Dockerfile",
            &format!("FROM {}\nRUN echo built-{} > /built.txt\n", engine_setup().get("COPILI_TEST_IMAGE"), self.name),
        );
        self.write("connected/.env", &format!("REG_USER={}\nREG_PASS={}\n", registry_user(), registry_password()));
        self.write("connected/pipeline.yaml", &text)
    }

    /// The image `copili` builds for the container `built`.
    fn built_image(&self) -> String {
        format!("localhost/copili-{}-built:latest", self.name)
    }
}

impl Drop for AirgapScene {
    fn drop(&mut self) {
        for (engine, image) in self.images.borrow().iter().rev() {
            let _ = engine.try_remove_image(image);
        }
        for engine in [Engine::RootfulPodman, Engine::RootlessPodman, Engine::Docker] {
            engine.remove_leftovers(&self.name);
            for id in engine.try_images_with_label(&format!("io.copili.pipeline={}", self.name)).unwrap_or_default() {
                let _ = engine.try_remove_image(&id);
            }
        }
        for variant in self.variants.borrow().iter() {
            remove_test_image_variant(variant);
        }
    }
}

fn assert_success(output: &Output, what: &str) {
    assert_eq!(output.code(), Some(0), "{what}\n{}", output.describe());
}

/// The acceptance scenario: lock and bundle on docker, load into rootless podman (where none
/// of the images was), run locked with the registry never asked; then an image replaced under
/// the same tag is refused before anything starts, naming the container and both ids.
#[test]
fn a_bundle_from_docker_runs_locked_on_rootless_podman_and_a_replaced_image_is_refused() {
    let scene = AirgapScene::new("acceptance");
    // Connected side: docker, with a registry image, a local image, a built one, a sidecar.
    let variant = build_test_image_variant(&scene.name);
    scene.variants.borrow_mut().push(variant.clone());
    let repository = format!("copili/{}", scene.name);
    let registry_image = push_image(&variant, &repository, "v1");
    let local = scene.local_image(Engine::Docker, "local");
    let pipeline = scene.pipeline(Some(&registry_image), &local);
    for image in [&registry_image, &local, &scene.built_image()] {
        scene.owns(Engine::Docker, image);
        scene.owns(Engine::RootlessPodman, image);
    }
    let file = pipeline.display().to_string();

    let lock = scene.copili(Engine::Docker, &["lock", &file, "--engine", "docker"]);
    assert_success(&lock, "copili lock");
    let lock_file = scene.path("connected/pipeline.yaml.lock");
    let lock_text = std::fs::read_to_string(&lock_file).expect("the lock file is written");
    let lock_json: serde_json::Value = serde_json::from_str(&lock_text).expect("JSON");
    assert_eq!(lock_json["copili_lock"], 1);
    let images = lock_json["images"].as_object().expect("images");
    assert_eq!(images.len(), 3, "{lock_text}");
    let docker_local_id = scene.id_on(Engine::Docker, &local).expect("the local image");
    assert_eq!(images[&local]["id"], docker_local_id.as_str());
    assert_eq!(images[&local]["containers"], serde_json::json!(["local", "local/side"]));
    assert_eq!(images[&scene.built_image()]["source"], "build");
    let digest = images[&registry_image]["digest"].as_str().expect("a registry digest");
    assert!(digest.starts_with(&format!("{}@sha256:", registry_image.rsplit_once(':').expect("tag").0)), "{digest}");
    assert!(!lock_text.contains(registry_password()), "no secret in the lock file");

    let bundle = scene.path("nightly.tar");
    let bundle_arg = bundle.display().to_string();
    let started = Instant::now();
    let save = scene.copili(Engine::Docker, &["bundle", "save", &file, "-o", &bundle_arg, "--engine", "docker"]);
    let save_time = started.elapsed();
    assert_success(&save, "copili bundle save");
    let bundle_size = std::fs::metadata(&bundle).expect("the bundle").len();
    let sum: u64 = [&registry_image, &local, &scene.built_image()]
        .iter()
        .map(|image| {
            let size = Engine::Docker.client_output(&["image", "inspect", "--format", "{{.Size}}", image]);
            size.trim().parse::<u64>().expect("a size")
        })
        .sum();
    let entries = run(std::process::Command::new("tar").arg("tf").arg(&bundle));
    assert_success(&entries, "tar tf");
    assert!(!entries.stdout().contains(".env"), "the env file is not bundled without --include-env-file");
    let bundled = std::fs::read(&bundle).expect("read the bundle");
    assert!(
        !bundled.windows(registry_password().len()).any(|w| w == registry_password().as_bytes()),
        "no credential in the bundle"
    );

    // Offline side: rootless podman has none of the images.
    for image in [&registry_image, &local, &scene.built_image()] {
        let _ = Engine::RootlessPodman.try_remove_image(image);
        assert!(!Engine::RootlessPodman.has_image(image), "{image} on rootless podman before the load");
    }
    Engine::RootlessPodman.hand_over_dir(scene.dir.path());
    let offline = scene.path("offline");
    let offline_arg = offline.display().to_string();
    let started = Instant::now();
    let load = scene
        .copili(Engine::RootlessPodman, &["bundle", "load", &bundle_arg, "--engine", "podman", "-C", &offline_arg]);
    let load_time = started.elapsed();
    assert_success(&load, "copili bundle load");
    let offline_file = offline.join("pipeline.yaml").display().to_string();
    assert!(load.stdout().contains(&format!("copili run {offline_file} --locked --pull never")), "{}", load.describe());
    assert_eq!(scene.id_on(Engine::RootlessPodman, &local).as_deref(), Some(docker_local_id.as_str()));
    eprintln!(
        "figures: images {sum} B in all (docker's sizes), bundle {bundle_size} B; save {:.2}s, load {:.2}s",
        save_time.as_secs_f64(),
        load_time.as_secs_f64()
    );
    assert!(bundle_size < sum, "shared layers are in the bundle once: {bundle_size} B for {sum} B of images");

    let plan = scene.copili(Engine::RootlessPodman, &["plan", &offline_file, "--engine", "podman"]);
    assert_success(&plan, "copili plan");
    assert_eq!(plan.stdout().matches("present at locked identity").count(), 3, "{}", plan.describe());

    let requests = manifest_requests(&repository);
    let run_locked = scene.copili(
        Engine::RootlessPodman,
        &["run", &offline_file, "--locked", "--pull", "never", "--engine", "podman", "--log-dir", &offline_arg],
    );
    assert_success(&run_locked, "copili run --locked --pull never");
    assert!(
        run_locked.stdout().contains("fetched") && run_locked.stdout().contains("local"),
        "{}",
        run_locked.describe()
    );
    assert!(run_locked.stdout().contains(&format!("built-{}", scene.name)), "{}", run_locked.describe());
    assert_eq!(manifest_requests(&repository), requests, "the registry was never asked");

    // The local image replaced by another under the same tag: refused before anything starts.
    let context = scene.path("replacement");
    std::fs::create_dir_all(&context).expect("mkdir");
    std::fs::write(context.join("Dockerfile"), format!("FROM {local}\nLABEL io.copili.e2e.replaced=yes\n"))
        .expect("write");
    Engine::RootlessPodman.hand_over_dir(&context);
    let output = run(Engine::RootlessPodman.client().args(["build", "--quiet", "--tag", &local]).arg(&context));
    assert_success(&output, "building the replacement");
    let replaced_id = scene.id_on(Engine::RootlessPodman, &local).expect("the replacement");
    assert_ne!(replaced_id, docker_local_id);
    // Removed in reverse order: the replacement, then the image it replaced (now untagged).
    scene.owns(Engine::RootlessPodman, &docker_local_id);
    scene.owns(Engine::RootlessPodman, &replaced_id);
    let refused = scene.copili(
        Engine::RootlessPodman,
        &["run", &offline_file, "--locked", "--pull", "never", "--engine", "podman", "--log-dir", &offline_arg],
    );
    assert_eq!(refused.code(), Some(2), "{}", refused.describe());
    let line = refused
        .stderr()
        .lines()
        .find(|l| l.contains(&local))
        .map(String::from)
        .unwrap_or_else(|| panic!("no line names the image\n{}", refused.describe()));
    assert!(line.contains("`local`") && line.contains("`local/side`"), "{line}");
    assert!(line.contains(&replaced_id) && line.contains(&docker_local_id), "{line}");
    assert!(!refused.stdout().contains("started"), "{}", refused.describe());
    let created = Engine::RootlessPodman.containers_with_labels(&[&format!("io.copili.pipeline={}", scene.name)], true);
    assert!(created.is_empty(), "nothing was created: {created:?}");

    let plan = scene.copili(Engine::RootlessPodman, &["plan", &offline_file, "--engine", "podman", "--format", "json"]);
    assert_success(&plan, "copili plan --format json");
    let json: serde_json::Value = serde_json::from_str(&plan.stdout()).expect("JSON");
    let states: Vec<(String, String)> = json["locked_images"]
        .as_array()
        .expect("locked_images")
        .iter()
        .map(|i| (i["image"].as_str().unwrap_or("").to_string(), i["state"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(states.contains(&(local.clone(), "present-but-different".to_string())), "{states:?}");

    // Absent: the built image removed.
    Engine::RootlessPodman.remove_image(&scene.built_image());
    let plan = scene.copili(Engine::RootlessPodman, &["plan", &offline_file, "--engine", "podman"]);
    assert!(plan.stdout().contains("absent (locked"), "{}", plan.describe());
}

/// A bundle with one flipped byte, or cut short, is refused with a clear message, and nothing
/// is loaded; the intact bundle (from docker) then runs locked on rootful podman.
#[test]
fn a_damaged_bundle_is_refused_and_nothing_is_loaded() {
    let scene = AirgapScene::new("damaged");
    let local = scene.local_image(Engine::Docker, "local");
    let pipeline = scene.pipeline(None, &local);
    scene.owns(Engine::Docker, &scene.built_image());
    scene.owns(Engine::RootfulPodman, &local);
    scene.owns(Engine::RootfulPodman, &scene.built_image());
    let file = pipeline.display().to_string();
    assert_success(&scene.copili(Engine::Docker, &["lock", &file, "--engine", "docker"]), "copili lock");
    let bundle = scene.path("b.tar");
    let bundle_arg = bundle.display().to_string();
    let save = scene.copili(Engine::Docker, &["bundle", "save", &file, "-o", &bundle_arg, "--engine", "docker"]);
    assert_success(&save, "copili bundle save");
    let bytes = std::fs::read(&bundle).expect("read");

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let damaged = scene.write("flipped.tar", "");
    std::fs::write(&damaged, &flipped).expect("write");
    let cut = scene.write("cut.tar", "");
    std::fs::write(&cut, &bytes[..bytes.len() - 700]).expect("write");
    for bad in [&damaged, &cut] {
        let target = scene.path("never");
        let output = scene.copili(
            Engine::RootfulPodman,
            &["bundle", "load", &bad.display().to_string(), "--engine", "podman", "-C", &target.display().to_string()],
        );
        assert_eq!(output.code(), Some(2), "{}", output.describe());
        assert!(
            output.stderr().contains("is damaged or was altered") && output.stderr().contains("nothing was loaded"),
            "{}",
            output.describe()
        );
        assert!(!Engine::RootfulPodman.has_image(&local), "{local} was loaded from {}", bad.display());
        assert!(!target.join("pipeline.yaml").exists());
    }

    // The intact bundle loads into rootful podman and runs locked there.
    let offline = scene.path("offline");
    let load = scene.copili(
        Engine::RootfulPodman,
        &["bundle", "load", &bundle_arg, "--engine", "podman", "-C", &offline.display().to_string()],
    );
    assert_success(&load, "copili bundle load --engine podman (rootful)");
    let offline_file = offline.join("pipeline.yaml").display().to_string();
    let log_dir = offline.display().to_string();
    let output = scene.copili(
        Engine::RootfulPodman,
        &["run", &offline_file, "--locked", "--pull", "never", "--engine", "podman", "--log-dir", &log_dir],
    );
    assert_success(&output, "copili run --locked on rootful podman");
    assert!(output.stdout().contains(&format!("built-{}", scene.name)), "{}", output.describe());
}

/// The reverse way: a bundle saved from rootful podman loads into docker and runs locked there.
#[test]
fn a_bundle_from_podman_runs_locked_on_docker() {
    let scene = AirgapScene::new("reverse");
    let local = scene.local_image(Engine::RootfulPodman, "local");
    let pipeline = scene.pipeline(None, &local);
    scene.owns(Engine::RootfulPodman, &scene.built_image());
    scene.owns(Engine::Docker, &local);
    scene.owns(Engine::Docker, &scene.built_image());
    let file = pipeline.display().to_string();
    assert_success(&scene.copili(Engine::RootfulPodman, &["lock", &file, "--engine", "podman"]), "copili lock");
    let bundle = scene.path("b.tar");
    let bundle_arg = bundle.display().to_string();
    let save = scene.copili(Engine::RootfulPodman, &["bundle", "save", &file, "-o", &bundle_arg, "--engine", "podman"]);
    assert_success(&save, "copili bundle save --engine podman");
    assert!(!Engine::Docker.has_image(&local));
    let offline = scene.path("offline");
    let load = scene.copili(
        Engine::Docker,
        &["bundle", "load", &bundle_arg, "--engine", "docker", "-C", &offline.display().to_string()],
    );
    assert_success(&load, "copili bundle load --engine docker");
    let podman_id = scene.id_on(Engine::RootfulPodman, &local).expect("on podman");
    assert_eq!(scene.id_on(Engine::Docker, &local), Some(podman_id), "the id is kept across engines");
    let offline_file = offline.join("pipeline.yaml").display().to_string();
    let log_dir = offline.display().to_string();
    let output = scene.copili(
        Engine::Docker,
        &["run", &offline_file, "--locked", "--pull", "never", "--engine", "docker", "--log-dir", &log_dir],
    );
    assert_success(&output, "copili run --locked on docker");
    assert!(output.stdout().contains(&format!("built-{}", scene.name)), "{}", output.describe());
}

/// `run --locked` without a lock file is refused, saying how to write one.
#[test]
fn run_locked_without_a_lock_file_says_how_to_write_one() {
    let scene = AirgapScene::new("nolock");
    let pipeline = scene.write("p.yaml", &format!("{}:\n  - {{name: a, image_repo: localhost/x}}\n", scene.name));
    let file = pipeline.display().to_string();
    let output = scene.copili(Engine::Docker, &["run", &file, "--locked", "--engine", "docker"]);
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert!(output.stderr().contains(&format!("copili lock {file}")), "{}", output.describe());
}

/// Ctrl-C during a save (of the shared Debian test image, read only: a save of some seconds)
/// leaves no bundle and no temporary file, and exits 130.
#[test]
fn an_interrupted_bundle_save_leaves_nothing_behind() {
    let scene = AirgapScene::new("interrupted");
    let debian = engine_setup().get("COPILI_TEST_DEBIAN_IMAGE");
    let (repo, tag) = debian.rsplit_once(':').expect("a tag");
    let pipeline = scene.write(
        "connected/pipeline.yaml",
        &format!("{}:\n  - {{name: a, image_repo: {repo}, tag: '{tag}', pull: never}}\n", scene.name),
    );
    let file = pipeline.display().to_string();
    assert_success(&scene.copili(Engine::Docker, &["lock", &file, "--engine", "docker"]), "copili lock");
    let out_dir = scene.path("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    let bundle = out_dir.join("big.tar");
    let mut command = Engine::Docker.copili(scene.dir.path());
    command.args(["bundle", "save", &file, "-o", &bundle.display().to_string(), "--engine", "docker"]);
    let saving = Running::spawn_in_own_process_group(&mut command);
    let started = Instant::now();
    let entries = || -> Vec<String> {
        std::fs::read_dir(&out_dir)
            .expect("list")
            .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    while entries().is_empty() {
        assert!(started.elapsed().as_secs() < 60, "the save never started: {}", saving.describe());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    saving.signal_group("INT");
    let interrupted = Instant::now();
    let output = saving.wait(copili_e2e::RUN_TIMEOUT);
    // The engine's save is stopped, not waited for (docker's does not stop on SIGINT).
    assert!(interrupted.elapsed().as_secs() < 10, "{:?} after the interrupt", interrupted.elapsed());
    assert_eq!(output.code(), Some(130), "{}", output.describe());
    assert!(output.stderr().contains("interrupted: no bundle was written"), "{}", output.describe());
    assert_eq!(entries(), Vec::<String>::new(), "nothing is left in the output directory");
}
