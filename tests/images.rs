//! End-to-end tests of images on real engines (issue 5): pulls with per-container credentials
//! from the registry of `cargo xtask setup`, pull policies, builds from a directory and from a
//! git repository, `run --dry-run` and `copili plan`; each scenario once per engine (rootful
//! podman, rootless podman, docker).
//!
//! Every test pushes repositories of its own to the registry (`copili/<identity>-<role>`, the
//! identity holding the scenario, the engine and the pid), so that what the registry's access
//! log says about a repository is about one test alone, and an image of that name can only be
//! on the engine because the test pulled it. Whatever a test pulled or built is removed from
//! the engine when the test ends, failed or not.
//!
//! The engines must have been set up (`cargo xtask setup`, which `cargo xtask test` runs): a
//! missing engine fails these tests, it never skips them.

use std::cell::{OnceCell, RefCell};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use copili_e2e::{
    all_output, assert_finished, assert_no_output_from, assert_output_line, assert_reason, assert_report_status,
    assert_summary, build_test_image_variant, engine_setup, engine_tests, manifest_requests, push_image, read_report,
    registry_address, registry_password, registry_user, remove_test_image_variant, report_item, run, CmdlineSampler,
    CmdlineSamples, Engine, Output, Running, Scene, RUN_TIMEOUT,
};
use serde_json::Value;

// One test function per engine per scenario: `<engine>::<scenario>` (see `engine_tests!`), as in
// `engines.rs`, so that `cargo test --test images docker::` or `cargo test --test images
// pull_always` select them.
engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker;
    [
        registry_credentials,
        one_pull_for_three_containers,
        pull_never_absent,
        pull_always,
        build_local_and_git,
        dry_run_lists_login_pull_build,
        plan_shows_images,
    ]
);

// --- The scene of one test --------------------------------------------------------------------

/// One test's [`Scene`] (its pipeline identity `e2e-img-<scenario>-<engine>-<pid>` and private
/// directory) and its images on one engine. When the scene is dropped, the images it pulled and
/// those built under its identity are removed, and, if the test failed, whatever the pipeline
/// left on the engine.
struct ImageScene {
    scene: Scene,
    /// Images to remove from the engine at the end.
    images: RefCell<Vec<String>>,
    /// The image this test pushes (rootful podman's, the test image with an id of its own).
    source: OnceCell<String>,
}

/// A repository of one test in the registry, holding the test image as `:latest`.
struct RegistryImage {
    /// `copili/<identity>-<role>`, as the registry's log names it.
    repository: String,
    /// `127.0.0.1:5858/copili/<identity>-<role>`, a container's `image_repo`.
    image_repo: String,
    /// `<image_repo>:latest`.
    reference: String,
}

impl std::ops::Deref for ImageScene {
    type Target = Scene;

    fn deref(&self) -> &Scene {
        &self.scene
    }
}

impl ImageScene {
    fn new(engine: Engine, scenario: &str) -> ImageScene {
        let scene = Scene::new(engine, &format!("img-{scenario}"));
        ImageScene { scene, images: RefCell::new(Vec::new()), source: OnceCell::new() }
    }

    /// Writes a pipeline file made from `template` (see [`pipeline`]); its path.
    fn write_pipeline(&self, relative: &str, template: &str, values: &[(&str, &str)]) -> PathBuf {
        self.write(relative, &pipeline(&self.identity, template, values))
    }

    /// Pushes the test image (with an id of this test's own) to a new repository of this test,
    /// makes sure the engine does not have it (a crashed earlier test of the same pid may have
    /// left it), and has it removed from the engine at the end (a run may pull it).
    fn registry_image(&self, role: &str) -> RegistryImage {
        let repository = format!("copili/{}-{role}", self.identity);
        let source = self.source.get_or_init(|| build_test_image_variant(&self.identity));
        let reference = push_image(source, &repository, "latest");
        self.remove_at_end(&reference);
        if self.engine.has_image(&reference) {
            self.engine.remove_image(&reference);
        }
        RegistryImage { image_repo: format!("{}/{repository}", registry_address()), repository, reference }
    }

    /// Has `image` removed from the engine when the scene is dropped.
    fn remove_at_end(&self, image: &str) {
        self.images.borrow_mut().push(image.to_string());
    }

    /// `copili plan FILE --engine ENGINE`, run in the scene's directory.
    fn plan_command(&self, file: &Path) -> Command {
        let mut command = self.copili();
        command.arg("plan").arg(file).args(["--engine", self.engine.engine_arg()]);
        command
    }

    /// The label copili puts on what it creates for this pipeline, built images included.
    fn pipeline_label(&self) -> String {
        format!("io.copili.pipeline={}", self.identity)
    }
}

impl Drop for ImageScene {
    fn drop(&mut self) {
        // What the pipeline left first, so that no container keeps an image below (the inner
        // scene, dropped next, looks again and removes the lock files).
        if std::thread::panicking() {
            self.scene.remove_leftovers();
        }
        // Never a panic here: it would abort a test that is already failing.
        for image in self.images.borrow().iter() {
            self.engine.try_remove_image(image);
        }
        if let Some(source) = self.source.get() {
            remove_test_image_variant(source);
        }
        for id in self.engine.try_images_with_label(&self.pipeline_label()).unwrap_or_default() {
            let _ = run(self.engine.client().args(["rmi", "--force", &id]));
        }
    }
}

/// `.env` lines with the registry's user and password as `REG_USER` and `REG_PASSWORD`.
fn registry_env() -> String {
    format!("REG_USER={}\nREG_PASSWORD={}\n", registry_user(), registry_password())
}

/// The properties of a container pulling `image` with credentials from `.env`: `${REG_USER}`
/// and `${password_variable}`, over plain HTTP.
fn credentialed(image: &RegistryImage, password_variable: &str) -> String {
    [
        format!("image_repo: {}", image.image_repo),
        "image_reg_username: ${REG_USER}".to_string(),
        format!("image_reg_password: ${{{password_variable}}}"),
        "tls_verify: false".to_string(),
    ]
    .join("\n")
}

/// A pipeline file's text from an indented template: the common indentation is removed,
/// `@ID@` becomes the pipeline's identity and each other `@NAME@` its value from `values`. A
/// value of several lines stands on a line of its own and gets that line's indentation.
fn pipeline(identity: &str, template: &str, values: &[(&str, &str)]) -> String {
    let lines: Vec<&str> = template.lines().skip_while(|l| l.trim().is_empty()).collect();
    let indent = lines.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min();
    let mut out = String::new();
    for line in lines {
        let line = line.get(indent.unwrap_or(0)..).unwrap_or("");
        let own_line = values.iter().find(|(name, _)| line.trim() == *name);
        match own_line {
            Some((_, value)) => {
                let prefix = &line[..line.len() - line.trim_start().len()];
                for value_line in value.lines() {
                    out.push_str(&format!("{prefix}{value_line}\n"));
                }
            }
            None => {
                let mut line = line.replace("@ID@", identity);
                for (name, value) in values {
                    line = line.replace(name, value);
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
    }
    out
}

// --- Reading copili's output ------------------------------------------------------------------

/// The lines about `image` (`--> image IMAGE …`, `<-- image IMAGE …`, `=== image IMAGE …`).
fn image_lines(output: &Output, image: &str) -> Vec<String> {
    all_output(output)
        .lines()
        .filter(|l| ["-->", "<--", "==="].iter().any(|mark| l.starts_with(&format!("{mark} image {image} "))))
        .map(String::from)
        .collect()
}

/// How many pulls of `image` were announced (`--> image IMAGE pulling`, retries included).
fn pulls_announced(output: &Output, image: &str) -> usize {
    let start = format!("--> image {image} pulling");
    all_output(output).lines().filter(|l| l.starts_with(&start)).count()
}

/// Asserts that the image's lines are exactly one pull, pulled.
fn assert_pulled_once(output: &Output, image: &str) {
    let lines = image_lines(output, image);
    assert_eq!(pulls_announced(output, image), 1, "one `--> image {image} pulling` line\n{}", output.describe());
    let pulled = format!("<-- image {image} pulled in ");
    assert!(
        lines.len() == 2 && lines[1].starts_with(&pulled),
        "expected `--> image {image} pulling` and `{pulled}…`, found {lines:#?}\n{}",
        output.describe()
    );
}

/// The report's entry of `image` in its `images` list.
fn report_image<'a>(report: &'a Value, image: &str) -> &'a Value {
    report_item(report, "images", "image", image)
}

/// Asserts the report's entry of `image`: status, attempts, and that the reason contains
/// `reason` (`None`: null).
fn assert_report_image(report: &Value, image: &str, status: &str, attempts: u64, reason: Option<&str>) {
    let entry = report_image(report, image);
    assert_eq!(entry["status"], status, "{image}: {entry:#}");
    assert_eq!(entry["attempts"].as_u64(), Some(attempts), "{image}: {entry:#}");
    assert_reason(entry, image, reason);
    if matches!(status, "pulled" | "built") {
        assert!(entry["duration_s"].as_f64().is_some_and(|d| d >= 0.0), "{image}: duration_s: {entry:#}");
    }
}

/// Asserts that `text` (what copili wrote to `place`) holds none of the `secrets`.
fn assert_no_secret(place: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{place} holds the secret `{secret}`:\n{text}");
    }
}

/// Asserts that the sampler saw no command line holding its secret, and that it did watch:
/// many passes, and some command line of its marker with all of `words`.
fn assert_sampled_without_secret(samples: &CmdlineSamples, what: &str, words: &[&str]) {
    assert!(samples.with_secret.is_empty(), "command lines holding {what}: {:#?}", samples.with_secret);
    assert!(samples.sweeps >= 10, "only {} passes over /proc", samples.sweeps);
    let seen = samples.with_marker.iter().any(|c| words.iter().all(|w| c.split(' ').any(|a| a == *w)));
    assert!(seen, "the sampler saw no command line with {words:?}: {:#?}", samples.with_marker);
}

// --- Registry credentials -------------------------------------------------------------------

/// What a test writes into a credential store it creates: credentials for another registry,
/// and a setting.
const STORE_CONTENT: &str = r#"{
    "auths": {
        "registry.example.invalid": {
            "auth": "dXNlcjpwYXNz"
        }
    },
    "detachKeys": "ctrl-e,e"
}
"#;

/// A credential store of the user copili runs as (docker's `config.json`, podman's
/// `auth.json`), with content of the test's own or the user's; created files and directories
/// are removed when this is dropped.
struct UserStore {
    path: PathBuf,
    before: Vec<u8>,
    created: Vec<PathBuf>,
}

impl UserStore {
    /// Makes sure `path` exists, with content naming another registry when the test creates
    /// it (owned like the directory it is in, so the user could change it); records its bytes.
    fn prepare(path: PathBuf) -> UserStore {
        use std::os::unix::fs::MetadataExt as _;
        let mut created = Vec::new();
        let mut missing = Vec::new();
        let mut dir = path.parent().expect("a store in a directory").to_path_buf();
        while !dir.exists() {
            missing.push(dir.clone());
            dir = dir.parent().expect("an existing ancestor").to_path_buf();
        }
        let owner = std::fs::metadata(&dir).expect("the store's directory can be read");
        let own = |p: &Path| {
            std::os::unix::fs::chown(p, Some(owner.uid()), Some(owner.gid()))
                .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()))
        };
        for dir in missing.into_iter().rev() {
            std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
            own(&dir);
            created.push(dir);
        }
        if !path.exists() {
            std::fs::write(&path, STORE_CONTENT).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            own(&path);
            created.push(path.clone());
        }
        let before = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        UserStore { path, before, created }
    }

    fn assert_unchanged(&self) {
        let after = std::fs::read(&self.path).unwrap_or_else(|e| panic!("{} is gone: {e}", self.path.display()));
        assert!(
            after == self.before,
            "{} changed:\n--- before\n{}\n--- after\n{}",
            self.path.display(),
            String::from_utf8_lossy(&self.before),
            String::from_utf8_lossy(&after)
        );
    }
}

impl Drop for UserStore {
    fn drop(&mut self) {
        for path in self.created.iter().rev() {
            let _ = if path.is_dir() { std::fs::remove_dir(path) } else { std::fs::remove_file(path) };
        }
    }
}

/// `good` pulls with the right password from `.env`, `bad` with a wrong one, `nocreds` with
/// none: the two fail without starting, naming the registry, and `bad`'s dependent is
/// cancelled, while `local` runs. Neither password is ever on a command line, in the output,
/// the log files, the report or the plan, and the user's own credential stores are neither
/// changed nor left with copili's temporary credentials.
fn registry_credentials(engine: Engine) {
    let scene = ImageScene::new(engine, "creds");
    let registry = registry_address();
    let right = registry_password();
    let wrong = format!("wr0ng-pa55-{}-{}", engine.slug(), std::process::id());
    let good = scene.registry_image("good");
    let bad = scene.registry_image("bad");
    let nocreds = scene.registry_image("nocreds");
    let local = engine_setup().get("COPILI_TEST_IMAGE");
    scene.write(".env", &format!("{}WRONG_PASSWORD={wrong}\n", registry_env()));
    let file = scene.write_pipeline(
        "pipeline.yaml",
        r#"
        @ID@:
          - name: good
            @GOOD@
            command: [sh, -c, "echo good-ran"]
          - name: bad
            @BAD@
            command: [sh, -c, "echo bad-ran"]
          - name: after_bad
            image_repo: localhost/copili-test
            dependencies: [bad]
            command: [sh, -c, "echo after-bad-ran"]
          - name: nocreds
            image_repo: @NOCREDS@
            tls_verify: false
            command: [sh, -c, "echo nocreds-ran"]
          - name: local
            image_repo: localhost/copili-test
            command: [sh, -c, "echo local-ran"]
        "#,
        &[
            ("@GOOD@", &credentialed(&good, "REG_PASSWORD")),
            ("@BAD@", &credentialed(&bad, "WRONG_PASSWORD")),
            ("@NOCREDS@", &nocreds.image_repo),
        ],
    );

    // The user's own stores, which copili must neither read for these credentials nor change:
    // in a home and runtime directory of the test's own, or the rootless user's.
    let (home, runtime_dir) = match engine {
        Engine::RootlessPodman => {
            let setup = engine_setup();
            (
                PathBuf::from(setup.get("COPILI_TEST_ROOTLESS_HOME")),
                PathBuf::from(setup.get("COPILI_TEST_ROOTLESS_XDG_RUNTIME_DIR")),
            )
        }
        Engine::RootfulPodman | Engine::Docker | Engine::Swarm => {
            let (home, runtime_dir) = (scene.path("home"), scene.path("runtime"));
            scene.make_dirs(&home);
            scene.make_dirs(&runtime_dir);
            (home, runtime_dir)
        }
    };
    let docker_config = UserStore::prepare(home.join(".docker/config.json"));
    let podman_auth = UserStore::prepare(runtime_dir.join("containers/auth.json"));
    // copili's private temporary directories go here: nothing of theirs may stay.
    let tmp = scene.path("tmp");
    scene.make_dirs(&tmp);

    let report = scene.path("report.json");
    let logs = scene.path("logs");
    let mut command = scene.run_command(&file);
    command
        .args(["--jobs", "4", "--log-dir"])
        .arg(&logs)
        .arg("--report")
        .arg(&report)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("TMPDIR", &tmp)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("DOCKER_CONFIG");
    // Every 10 ms: a login or pull client lives longer than that.
    let right_sampler = CmdlineSampler::start(right, &good.repository, Duration::from_millis(10));
    let wrong_sampler = CmdlineSampler::start(&wrong, "--password-stdin", Duration::from_millis(10));
    let output = Running::spawn(&mut command).wait(RUN_TIMEOUT);
    let (right_samples, wrong_samples) = (right_sampler.stop(), wrong_sampler.stop());

    assert_eq!(output.code(), Some(1), "{}", output.describe());
    assert_output_line(&output, "good", "good-ran");
    assert_finished(&output, "good", "succeeded", "");
    assert_output_line(&output, "local", "local-ran");
    assert_finished(&output, "local", "succeeded", "");
    let refused = format!("authentication failed: registry {registry} refused the credentials");
    let missing = format!(
        "authentication failed: registry {registry} requires credentials for {} and none were given",
        nocreds.reference
    );
    assert_finished(&output, "bad", "failed", &format!(": {refused}"));
    assert_finished(&output, "after_bad", "cancelled", "dependency bad failed");
    assert_finished(&output, "nocreds", "failed", &format!(": {missing}"));
    for name in ["bad", "after_bad", "nocreds"] {
        assert_no_output_from(&output, name);
    }
    assert_pulled_once(&output, &good.reference);
    // Refused credentials are not tried again.
    for (image, reason) in [(&bad.reference, &refused), (&nocreds.reference, &missing)] {
        assert_eq!(pulls_announced(&output, image), 1, "{image} is pulled once, not retried\n{}", output.describe());
        let failed = format!("<-- image {image} failed: {reason}");
        assert!(
            image_lines(&output, image).iter().any(|l| l.starts_with(&failed)),
            "no line `{failed}…`\n{}",
            output.describe()
        );
        assert!(!engine.has_image(image), "{image} was not pulled, yet the engine has it");
    }
    assert!(engine.has_image(&good.reference), "the engine lacks the pulled {}", good.reference);
    assert_summary(&output, "good", "succeeded", "0", "1");
    assert_summary(&output, "bad", "failed", "-", "0");
    assert_summary(&output, "after_bad", "cancelled", "-", "0");
    assert_summary(&output, "nocreds", "failed", "-", "0");
    assert_summary(&output, "local", "succeeded", "0", "1");
    scene.assert_no_leftovers();

    let report_text = std::fs::read_to_string(&report).unwrap_or_default();
    let report_json = read_report(&report, &output);
    assert_eq!(report_json["exit_code"], 1, "{report_json:#}");
    assert_report_status(&report_json, "good", "succeeded", None);
    assert_report_status(&report_json, "bad", "failed", Some(&refused));
    assert_report_status(&report_json, "after_bad", "cancelled", Some("dependency bad failed"));
    assert_report_status(&report_json, "nocreds", "failed", Some(&missing));
    assert_report_status(&report_json, "local", "succeeded", None);
    assert_report_image(&report_json, &good.reference, "pulled", 1, None);
    assert_report_image(&report_json, &bad.reference, "failed", 1, Some(&refused));
    assert_report_image(&report_json, &nocreds.reference, "failed", 1, Some(&missing));
    assert_report_image(&report_json, local, "present", 0, None);

    // Neither password anywhere copili writes.
    let secrets = [right, wrong.as_str()];
    assert_no_secret("stdout", &output.stdout(), &secrets);
    assert_no_secret("stderr", &output.stderr(), &secrets);
    assert_no_secret("the report", &report_text, &secrets);
    let mut log_files = 0;
    for entry in std::fs::read_dir(&logs).expect("copili wrote log files").flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("a log file is text");
        assert_no_secret(&entry.path().display().to_string(), &text, &secrets);
        log_files += 1;
    }
    assert!(log_files >= 2, "log files of good and local at least: {log_files}");
    for format in ["text", "json"] {
        let plan = run(scene.plan_command(&file).args(["--format", format]).env("HOME", &home));
        assert_eq!(plan.code(), Some(0), "plan --format {format}\n{}", plan.describe());
        assert_no_secret(&format!("`copili plan --format {format}`"), &all_output(&plan), &secrets);
        if format == "json" {
            let plan: Value = serde_json::from_str(&plan.stdout()).expect("the plan is JSON");
            let entry = plan["containers"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "good"));
            assert_eq!(entry.map(|c| &c["image_reg_password"]), Some(&Value::from("****")), "{plan:#}");
        }
    }
    // Nor on a command line, though the sampler saw the pull of `good` and the logins.
    assert_sampled_without_secret(&right_samples, "the registry password", &["pull", &good.reference]);
    assert_sampled_without_secret(&wrong_samples, "the wrong password", &["login", "--password-stdin", registry]);
    if engine != Engine::Docker {
        // podman's private auth file is in TMPDIR, so that nothing left there below says that
        // the credentials were removed (docker's DOCKER_CONFIG is not on its command line).
        let auth_file = format!("--authfile {}/copili-auth-", tmp.display());
        assert!(
            wrong_samples.with_marker.iter().any(|c| c.contains(" login ") && c.contains(&auth_file)),
            "no `podman login {auth_file}…` seen: {:#?}",
            wrong_samples.with_marker
        );
    }

    docker_config.assert_unchanged();
    podman_auth.assert_unchanged();
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .expect("read the temporary directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("copili"))
        .collect();
    assert!(left.is_empty(), "copili left temporary files (credentials?) in TMPDIR: {left:?}");
}

// --- One pull per image ---------------------------------------------------------------------

/// A pipeline of one container `only` pulling `image` with credentials; the run's output.
fn run_one_container_pull(scene: &ImageScene, name: &str, image: &RegistryImage) -> Output {
    let template = r#"
        @ID@:
          - name: only
            @IMAGE@
            command: [sh, -c, "echo only-ran"]
    "#;
    let file =
        scene.write_pipeline(&format!("{name}.yaml"), template, &[("@IMAGE@", &credentialed(image, "REG_PASSWORD"))]);
    let output = run(&mut scene.run_command(&file));
    assert_eq!(output.code(), Some(0), "{name}\n{}", output.describe());
    assert_output_line(&output, "only", "only-ran");
    assert_pulled_once(&output, &image.reference);
    output
}

/// Three containers (two of them a dependency chain) and a fourth's sidecar use one image,
/// absent at first: it is pulled once, early. The registry is asked for its manifest as often
/// as when one container pulls the same image alone.
fn one_pull_for_three_containers(engine: Engine) {
    let scene = ImageScene::new(engine, "once");
    scene.write(".env", &registry_env());
    // Whether the engine already has the image's layers changes what it asks the registry: a
    // first pull of the content warms the engine up, so the two pulls compared find the same.
    let warm_up = scene.registry_image("warm");
    run_one_container_pull(&scene, "warm-up", &warm_up);

    let single = scene.registry_image("single");
    let before = manifest_requests(&single.repository);
    run_one_container_pull(&scene, "single", &single);
    let single_requests = manifest_requests(&single.repository) - before;
    assert!(single_requests > 0, "the registry's log shows no manifest request for {}", single.repository);

    let shared = scene.registry_image("shared");
    let file = scene.write_pipeline(
        "shared.yaml",
        r#"
        @ID@:
          - name: first
            @IMAGE@
            command: [sh, -c, "echo first-ran"]
          - name: second
            @IMAGE@
            dependencies: [first]
            command: [sh, -c, "echo second-ran"]
          - name: third
            @IMAGE@
            command: [sh, -c, "echo third-ran"]
          - name: host
            image_repo: localhost/copili-test
            command: [sh, -c, "echo host-ran"]
            sidecars:
              - name: side
                @IMAGE@
                command: [sh, -c, "trap 'exit 0' TERM; echo side-up; while true; do sleep 0.1; done"]
        "#,
        &[("@IMAGE@", &credentialed(&shared, "REG_PASSWORD"))],
    );
    let report = scene.path("report.json");
    let before = manifest_requests(&shared.repository);
    let output = run(scene.run_command(&file).args(["--jobs", "4", "--stop-timeout", "1s", "--report"]).arg(&report));
    let shared_requests = manifest_requests(&shared.repository) - before;
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    for name in ["first", "second", "third", "host"] {
        assert_output_line(&output, name, &format!("{name}-ran"));
        assert_finished(&output, name, "succeeded", "");
    }
    assert_output_line(&output, "host/side", "side-up");
    assert_pulled_once(&output, &shared.reference);
    assert_eq!(
        shared_requests,
        single_requests,
        "manifest requests for the image of four containers vs. one container's pull\n{}",
        output.describe()
    );
    let report = read_report(&report, &output);
    assert_report_image(&report, &shared.reference, "pulled", 1, None);
    let listed = report["images"].as_array().map_or(0, |i| i.iter().filter(|i| i["image"] == shared.reference).count());
    assert_eq!(listed, 1, "the image is listed once in the report: {report:#}");
    scene.assert_no_leftovers();
}

// --- Pull policies ----------------------------------------------------------------------------

/// `pull: never` with an absent image fails its container at once (dependents cancelled, no
/// pull tried), while a `pull: never` container with a present image and an independent one
/// run; `--pull never` does the same to a container without `pull:`, even when the registry
/// has the image and the credentials are right.
fn pull_never_absent(engine: Engine) {
    let scene = ImageScene::new(engine, "never");
    let absent = format!("localhost/copili-{}-absent:latest", scene.identity);
    assert!(!engine.has_image(&absent), "{absent} must be absent");
    let file = scene.write_pipeline(
        "never.yaml",
        r#"
        @ID@:
          - name: never_absent
            image_repo: localhost/copili-@ID@-absent
            pull: never
            command: [sh, -c, "echo never-absent-ran"]
          - name: after_never
            image_repo: localhost/copili-test
            dependencies: [never_absent]
            command: [sh, -c, "echo after-ran"]
          - name: never_present
            image_repo: localhost/copili-test
            pull: never
            command: [sh, -c, "echo never-present-ran"]
          - name: independent
            image_repo: localhost/copili-test
            command: [sh, -c, "sleep 1; echo independent-ran"]
        "#,
        &[],
    );
    let report = scene.path("report.json");
    let started = Instant::now();
    let output = run(scene.run_command(&file).args(["--jobs", "4", "--report"]).arg(&report));
    let took = started.elapsed();
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    let never = format!("image {absent} is not present and its pull policy is `never`");
    assert_finished(&output, "never_absent", "failed", &format!(": {never}"));
    assert_finished(&output, "after_never", "cancelled", "dependency never_absent failed");
    assert_no_output_from(&output, "never_absent");
    assert_no_output_from(&output, "after_never");
    assert_eq!(pulls_announced(&output, &absent), 0, "no pull of {absent} with `pull: never`\n{}", output.describe());
    assert_output_line(&output, "never_present", "never-present-ran");
    assert_finished(&output, "never_present", "succeeded", "");
    assert_output_line(&output, "independent", "independent-ran");
    assert_finished(&output, "independent", "succeeded", "");
    assert_summary(&output, "never_absent", "failed", "-", "0");
    // At once: before the independent container, which sleeps a second, is done.
    let text = all_output(&output);
    let position = |prefix: &str| text.find(prefix).unwrap_or_else(|| panic!("no `{prefix}`\n{}", output.describe()));
    assert!(
        position("<-- never_absent failed") < position("<-- independent succeeded"),
        "`never_absent` did not fail at once\n{}",
        output.describe()
    );
    assert!(took < Duration::from_secs(20), "a run of four small containers took {took:?}\n{}", output.describe());
    assert!(!engine.has_image(&absent), "{absent} appeared");
    let report = read_report(&report, &output);
    assert_report_status(&report, "never_absent", "failed", Some(&never));
    assert_report_status(&report, "after_never", "cancelled", Some("dependency never_absent failed"));
    assert_report_status(&report, "never_present", "succeeded", None);
    assert_report_image(&report, &absent, "failed", 0, Some(&never));
    scene.assert_no_leftovers();

    // `--pull never` on the command line, for a container that says nothing about pulling.
    scene.write(".env", &registry_env());
    let pullable = scene.registry_image("pullable");
    let file = scene.write_pipeline(
        "cli-never.yaml",
        r#"
        @ID@:
          - name: plain
            @IMAGE@
            command: [sh, -c, "echo plain-ran"]
          - name: after_plain
            image_repo: localhost/copili-test
            dependencies: [plain]
            command: [sh, -c, "echo after-ran"]
          - name: independent
            image_repo: localhost/copili-test
            command: [sh, -c, "echo independent-ran"]
        "#,
        &[("@IMAGE@", &credentialed(&pullable, "REG_PASSWORD"))],
    );
    let before = manifest_requests(&pullable.repository);
    let output = run(scene.run_command(&file).args(["--pull", "never"]));
    let requests = manifest_requests(&pullable.repository) - before;
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    let never = format!("image {} is not present and its pull policy is `never`", pullable.reference);
    assert_finished(&output, "plain", "failed", &format!(": {never}"));
    assert_finished(&output, "after_plain", "cancelled", "dependency plain failed");
    assert_no_output_from(&output, "plain");
    assert_output_line(&output, "independent", "independent-ran");
    assert_finished(&output, "independent", "succeeded", "");
    assert_eq!(pulls_announced(&output, &pullable.reference), 0, "{}", output.describe());
    assert_eq!(requests, 0, "`--pull never` asked the registry for {}", pullable.repository);
    assert!(!engine.has_image(&pullable.reference), "{} was pulled", pullable.reference);
    scene.assert_no_leftovers();
}

/// An absent image is pulled once (`missing`, the default) and then used as it is; `pull:
/// always` and `--pull always` pull it again, the registry asked each time.
fn pull_always(engine: Engine) {
    let scene = ImageScene::new(engine, "always");
    scene.write(".env", &registry_env());
    let image = scene.registry_image("always");
    let template = r#"
        @ID@:
          - name: puller
            @IMAGE@
            @POLICY@
            command: [sh, -c, "echo puller-ran"]
    "#;
    let image_properties = credentialed(&image, "REG_PASSWORD");
    let write = |name: &str, policy: &str| {
        scene.write_pipeline(name, template, &[("@IMAGE@", &image_properties), ("@POLICY@", policy)])
    };
    // No `pull:`: the default, `missing`.
    let missing = write("missing.yaml", "");
    let always = write("always.yaml", "pull: always");
    let report = scene.path("report.json");
    // A run's output, how many manifest requests it made, and its report.
    let run_policy = |file: &Path, args: &[&str]| -> (Output, usize, Value) {
        let before = manifest_requests(&image.repository);
        let output = run(scene.run_command(file).args(args).arg("--report").arg(&report));
        let requests = manifest_requests(&image.repository) - before;
        assert_eq!(output.code(), Some(0), "{}", output.describe());
        assert_output_line(&output, "puller", "puller-ran");
        let report = read_report(&report, &output);
        (output, requests, report)
    };

    let (output, requests, report) = run_policy(&missing, &[]);
    assert_pulled_once(&output, &image.reference);
    assert!(requests > 0, "the first pull asked the registry nothing\n{}", output.describe());
    assert_report_image(&report, &image.reference, "pulled", 1, None);

    let (output, requests, report) = run_policy(&missing, &[]);
    assert_eq!(
        image_lines(&output, &image.reference),
        Vec::<String>::new(),
        "present: not pulled\n{}",
        output.describe()
    );
    assert_eq!(requests, 0, "`pull: missing` with the image present asked the registry");
    assert_report_image(&report, &image.reference, "present", 0, None);

    let (output, requests, report) = run_policy(&always, &[]);
    assert_pulled_once(&output, &image.reference);
    assert!(requests > 0, "`pull: always` did not ask the registry\n{}", output.describe());
    assert_report_image(&report, &image.reference, "pulled", 1, None);

    let (output, requests, report) = run_policy(&missing, &["--pull", "always"]);
    assert_pulled_once(&output, &image.reference);
    assert!(requests > 0, "`--pull always` did not ask the registry\n{}", output.describe());
    assert_report_image(&report, &image.reference, "pulled", 1, None);
    scene.assert_no_leftovers();
}

// --- Builds -----------------------------------------------------------------------------------

/// Runs `git` with `args` in `dir` (as the test's user, in a directory that may be the
/// rootless user's), failing the test if it fails.
fn git(dir: &Path, args: &[&str]) {
    let output = run(Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=copili-e2e", "-c", "user.email=e2e@copili.invalid", "-c", "init.defaultBranch=main"])
        .args(["-c", "safe.directory=*"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir));
    assert_eq!(output.code(), Some(0), "git {}\n{}", args.join(" "), output.describe());
}

/// Hands over every directory under `dir` (itself included) to the user copili runs as: git
/// refuses to read a repository another user owns.
fn hand_over_tree(engine: Engine, dir: &Path) {
    engine.hand_over_dir(dir);
    for entry in std::fs::read_dir(dir).expect("read a directory").flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            hand_over_tree(engine, &entry.path());
        }
    }
}

/// The id of `image` on the engine.
fn image_id(engine: Engine, image: &str) -> String {
    engine.client_output(&["image", "inspect", "--format", "{{.Id}}", image]).trim().to_string()
}

/// A directory context (`COPY` of a file, an `ARG` from `build.args`) and a git repository at a
/// tag (its root, and a subdirectory with its own Dockerfile) are built under the default
/// names, and the images run. A second run rebuilds nothing; after a change in the directory,
/// only its image is rebuilt. The build argument's value is never on a command line.
fn build_local_and_git(engine: Engine) {
    let scene = ImageScene::new(engine, "build");
    let base = engine_setup().get("COPILI_TEST_IMAGE");
    scene.write("ctx/msg.txt", "hello-from-the-context\n");
    scene.write(
        "ctx/Dockerfile",
        &format!("FROM {base}\nARG GREETING\nCOPY msg.txt /msg.txt\nRUN echo \"greeting=$GREETING\" > /greeting.txt\n"),
    );
    // The repository: `v1` tagged, then a later commit the build must not see.
    scene.write("repo/msg.txt", "from-git-v1\n");
    scene.write("repo/Dockerfile", &format!("FROM {base}\nCOPY msg.txt /msg.txt\n"));
    scene.write("repo/sub/msg.txt", "from-git-subdir-v1\n");
    scene.write("repo/sub/Dockerfile", &format!("FROM {base}\nCOPY msg.txt /sub.txt\n"));
    let repo = scene.path("repo");
    git(&repo, &["init", "--quiet"]);
    git(&repo, &["add", "--all"]);
    git(&repo, &["commit", "--quiet", "--message", "v1"]);
    git(&repo, &["tag", "v1"]);
    scene.write("repo/msg.txt", "from-git-after-v1\n");
    scene.write("repo/sub/msg.txt", "from-git-subdir-after-v1\n");
    git(&repo, &["commit", "--quiet", "--all", "--message", "after v1"]);
    hand_over_tree(engine, &repo);

    let build_arg = format!("build-arg-{}-{}", engine.slug(), std::process::id());
    let file = scene.write_pipeline(
        "build.yaml",
        r#"
        @ID@:
          - name: local
            build:
              context: ./ctx
              args: {GREETING: @ARG@}
            command: [sh, -c, "cat /msg.txt /greeting.txt"]
          - name: fromgit
            build: "file://@REPO@#v1"
            command: [cat, /msg.txt]
          - name: fromsub
            build: "file://@REPO@#v1:sub"
            command: [cat, /sub.txt]
        "#,
        &[("@ARG@", &build_arg), ("@REPO@", &repo.display().to_string())],
    );
    let image = |name: &str| format!("localhost/copili-{}-{name}:latest", scene.identity);
    let names = ["local", "fromgit", "fromsub"];
    for name in names {
        scene.remove_at_end(&image(name));
        assert!(!engine.has_image(&image(name)), "{} must not exist yet", image(name));
    }
    let logs = scene.path("logs");
    let report = scene.path("report.json");
    let run_build = || {
        let output =
            run(scene.run_command(&file).args(["--jobs", "3", "--log-dir"]).arg(&logs).arg("--report").arg(&report));
        assert_eq!(output.code(), Some(0), "{}", output.describe());
        for name in names {
            assert_finished(&output, name, "succeeded", "");
        }
        assert_output_line(&output, "local", &format!("greeting={build_arg}"));
        assert_output_line(&output, "fromgit", "from-git-v1");
        assert_output_line(&output, "fromsub", "from-git-subdir-v1");
        let report = read_report(&report, &output);
        (output, report)
    };
    let built = |output: &Output, report: &Value, name: &str| {
        let lines = image_lines(output, &image(name));
        let building = format!("--> image {} building for {name}", image(name));
        let done = format!("<-- image {} built in ", image(name));
        assert!(
            lines.len() == 2 && lines[0] == building && lines[1].starts_with(&done),
            "expected `{building}` and `{done}…`, found {lines:#?}\n{}",
            output.describe()
        );
        assert_report_image(report, &image(name), "built", 0, None);
    };
    let up_to_date = |output: &Output, report: &Value, name: &str| {
        let lines = image_lines(output, &image(name));
        let expected = format!("=== image {} up to date (build inputs unchanged): not rebuilt", image(name));
        assert_eq!(lines, vec![expected], "{}", output.describe());
        assert_report_image(report, &image(name), "up-to-date", 0, None);
    };

    let sampler = CmdlineSampler::start(&build_arg, &scene.identity, Duration::from_millis(10));
    let (output, report_json) = run_build();
    let samples = sampler.stop();
    assert_output_line(&output, "local", "hello-from-the-context");
    for name in names {
        built(&output, &report_json, name);
        assert!(
            output.stdout().lines().any(|l| l.starts_with(&format!("{name} (build) |"))),
            "no build output line `{name} (build) | …`\n{}",
            output.describe()
        );
    }
    let log = std::fs::read_to_string(logs.join("local.log")).expect("local.log");
    assert!(log.lines().any(|l| l.starts_with("[build] ")), "local.log has no `[build] ` lines:\n{log}");
    assert_sampled_without_secret(&samples, "the build argument's value", &["build", "--build-arg", "GREETING"]);

    let (output, report_json) = run_build();
    assert_output_line(&output, "local", "hello-from-the-context");
    for name in names {
        up_to_date(&output, &report_json, name);
    }
    assert!(!all_output(&output).contains(" building for "), "nothing is rebuilt\n{}", output.describe());

    let before = image_id(engine, &image("local"));
    scene.write("ctx/msg.txt", "changed-context\n");
    let (output, report_json) = run_build();
    assert_output_line(&output, "local", "changed-context");
    built(&output, &report_json, "local");
    up_to_date(&output, &report_json, "fromgit");
    up_to_date(&output, &report_json, "fromsub");
    assert_ne!(image_id(engine, &image("local")), before, "the rebuilt image is a new one");
    scene.assert_no_leftovers();

    let left = engine.remove_images_with_label(&scene.pipeline_label());
    assert_eq!(left, Vec::<String>::new(), "built images that could not be removed");
    for name in names {
        assert!(!engine.has_image(&image(name)), "{} is still there", image(name));
    }
}

// --- Dry run and plan -------------------------------------------------------------------------

/// `run --dry-run` prints the login (password on standard input), the pull into the same
/// private credentials, then the run of the container, and the build with its argument by
/// name; it runs nothing (the engine on `PATH` is a stand-in that records calls and fails) and
/// prints no secret.
fn dry_run_lists_login_pull_build(engine: Engine) {
    let scene = ImageScene::new(engine, "dryrun");
    let password = format!("dry-pa55-{}-{}", engine.slug(), std::process::id());
    let build_arg = format!("dry-arg-{}-{}", engine.slug(), std::process::id());
    scene.write(".env", &format!("REG_USER={}\nREG_PASSWORD={password}\n", registry_user()));
    scene.write("ctx/Dockerfile", &format!("FROM {}\nARG TOKEN\n", engine_setup().get("COPILI_TEST_IMAGE")));
    let image_repo = format!("{}/copili/{}-pulled", registry_address(), scene.identity);
    let pulled_image = format!("{image_repo}:latest");
    let built_image = format!("localhost/copili-{}-built:latest", scene.identity);
    let file = scene.write_pipeline(
        "dry.yaml",
        r#"
        @ID@:
          - name: pulled
            image_repo: @REPO@
            image_reg_username: ${REG_USER}
            image_reg_password: ${REG_PASSWORD}
            tls_verify: false
            command: [echo, pulled]
          - name: built
            build:
              context: ./ctx
              args: {TOKEN: @ARG@}
            command: [echo, built]
        "#,
        &[("@REPO@", &image_repo), ("@ARG@", &build_arg)],
    );
    let fake = scene.fake_engine();
    let output = run(scene.run_command(&file).arg("--dry-run").env("PATH", &fake.bin).env_remove("CONTAINERS_CONF"));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    fake.assert_not_called();
    assert_no_secret("the dry run's output", &all_output(&output), &[&password, &build_arg]);

    let stdout = output.stdout();
    let prefix = format!("{} ", engine.engine_arg());
    // docker's login and pull name their private config directory, so that a copied line does
    // not log in to the user's own `~/.docker/config.json`.
    const DOCKER_CONFIG: &str = "DOCKER_CONFIG='<private temporary directory>' ";
    if engine.engine_arg() == "docker" {
        for verb in ["login", "pull"] {
            assert!(
                stdout.lines().any(|l| l.starts_with(&format!("{DOCKER_CONFIG}docker {verb} "))),
                "docker {verb} without its DOCKER_CONFIG:\n{stdout}"
            );
        }
    }
    let commands: Vec<&str> =
        stdout.lines().map(|l| l.strip_prefix(DOCKER_CONFIG).unwrap_or(l)).filter(|l| l.starts_with(&prefix)).collect();
    let position = |what: &str, matches: &dyn Fn(&[&str]) -> bool| {
        commands
            .iter()
            .position(|c| matches(&c.split(' ').collect::<Vec<_>>()))
            .unwrap_or_else(|| panic!("no {what} command\n{}", output.describe()))
    };
    let registry = registry_address();
    let login = position("login", &|a| {
        a.get(1) == Some(&"login") && a.contains(&"--password-stdin") && a.last() == Some(&registry)
    });
    let pull = position("pull", &|a| a.get(1) == Some(&"pull") && a.last() == Some(&pulled_image.as_str()));
    let pulled_name = format!("{}-pulled", scene.identity);
    let start = position("run of `pulled`", &|a| {
        matches!(a.get(1), Some(&"run") | Some(&"create"))
            && a.windows(2).any(|w| w == ["--name", pulled_name.as_str()])
    });
    assert!(login < pull && pull < start, "login, pull, then run of `pulled`\n{}", output.describe());
    let (login_line, pull_line) = (commands[login], commands[pull]);
    assert!(login_line.contains(&format!(" --username {} ", registry_user())), "`{login_line}`");
    if engine != Engine::Docker {
        // The login's private auth file is the pull's, and the registry is plain HTTP.
        let auth_file = |line: &str| {
            let args: Vec<&str> = line.split(' ').collect();
            args.windows(2).find(|w| w[0] == "--authfile").map(|w| w[1].to_string())
        };
        assert!(auth_file(login_line).is_some(), "`{login_line}` names no --authfile");
        assert_eq!(auth_file(login_line), auth_file(pull_line), "`{login_line}` / `{pull_line}`");
        for line in [login_line, pull_line] {
            assert!(line.contains(" --tls-verify=false "), "`{line}`");
        }
    }
    let build = position("build", &|a| a.get(1..4) == Some(&["build", "--tag", built_image.as_str()]));
    let build_line = commands[build];
    assert!(build_line.contains(" --build-arg TOKEN "), "the argument goes by name: `{build_line}`");
    let built_name = format!("{}-built", scene.identity);
    let start_built = position("run of `built`", &|a| {
        matches!(a.get(1), Some(&"run") | Some(&"create")) && a.windows(2).any(|w| w == ["--name", built_name.as_str()])
    });
    assert!(build < start_built, "build before the run of `built`\n{}", output.describe());
}

/// The block of `container` in `copili plan`'s text: its line and the detail lines below it.
fn plan_block<'a>(text: &'a str, container: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| l.split_whitespace().next() != Some(container) || !l.starts_with("  "));
    let Some(first) = lines.next() else { return Vec::new() };
    std::iter::once(first).chain(lines.take_while(|l| l.starts_with("      "))).collect()
}

/// `copili plan --engine E` says per container whether its image is present, will be pulled,
/// is absent with `pull: never` (the container will fail) or will be built, in text and JSON;
/// with an engine that cannot be run it could not tell.
fn plan_shows_images(engine: Engine) {
    let scene = ImageScene::new(engine, "plan");
    scene.write(".env", &registry_env());
    scene.write("ctx/Dockerfile", &format!("FROM {}\n", engine_setup().get("COPILI_TEST_IMAGE")));
    let absent = format!("{}/copili/{}-absent", registry_address(), scene.identity);
    let file = scene.write_pipeline(
        "plan.yaml",
        r#"
        @ID@:
          - name: here
            image_repo: localhost/copili-test
            command: [echo]
          - name: away
            image_repo: @ABSENT@
            image_reg_username: ${REG_USER}
            image_reg_password: ${REG_PASSWORD}
            command: [echo]
          - name: never
            image_repo: localhost/copili-@ID@-never
            pull: never
            command: [echo]
          - name: built
            build: ./ctx
            command: [echo]
        "#,
        &[("@ABSENT@", &absent)],
    );
    let expected = [
        ("here", "present", "image: present"),
        ("away", "pull", "image: absent: will be pulled"),
        ("never", "absent", "image: absent: the container will fail (pull: never)"),
        ("built", "build", "image: will be built"),
    ];
    // podman 4.3's `podman images` fails while another process removes an image (`image not
    // known`): copili tries the listing again, so the other tests' removals do not show here.
    let output = run(&mut scene.plan_command(&file));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let text = output.stdout();
    for (name, _, line) in expected {
        let block = plan_block(&text, name);
        assert!(
            block.iter().any(|l| l.trim() == line),
            "`{name}` lacks `{line}` (`could not tell … image not known`: the listing was not retried): {block:#?}\n{text}"
        );
    }
    let output = run(scene.plan_command(&file).args(["--format", "json"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let plan: Value = serde_json::from_str(&output.stdout()).expect("the plan is JSON");
    let container = |name: &str| -> Value {
        plan["containers"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no `{name}` in the plan: {plan:#}"))
    };
    for (name, status, _) in expected {
        assert_eq!(container(name)["image_status"]["status"], status, "{name}: {plan:#}");
    }
    assert_eq!(container("never")["pull"], "never", "{plan:#}");
    assert!(
        container("built")["image_status"]["build"].as_str().is_some_and(|b| b.ends_with("/ctx")),
        "the build context: {plan:#}"
    );
    assert_eq!(container("away")["image_reg_password"], "****", "{plan:#}");

    // An engine that cannot be run: the plan is still made, the presence unknown.
    let mut command = scene.copili();
    command.arg("plan").arg(&file).args(["--engine", "/nonexistent/podman"]);
    let output = run(&mut command);
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let text = output.stdout();
    for name in ["here", "away", "never"] {
        let block = plan_block(&text, name);
        assert!(
            block.iter().any(|l| l.trim().starts_with("image: could not tell")),
            "`{name}`: `could not tell`: {block:#?}\n{text}"
        );
    }
    let block = plan_block(&text, "built");
    assert!(block.iter().any(|l| l.trim() == "image: will be built"), "{block:#?}\n{text}");
    let mut command = scene.copili();
    command.arg("plan").arg(&file).args(["--engine", "/nonexistent/podman", "--format", "json"]);
    let output = run(&mut command);
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let plan: Value = serde_json::from_str(&output.stdout()).expect("the plan is JSON");
    let here = plan["containers"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "here")).cloned();
    assert_eq!(here.map(|c| c["image_status"]["status"].clone()), Some(Value::from("unknown")), "{plan:#}");

    // `--engine none` asks no engine (there is none on `PATH`).
    let empty_bin = scene.path("empty-bin");
    scene.make_dirs(&empty_bin);
    let mut command = scene.copili();
    command.arg("plan").arg(&file).args(["--engine", "none"]).env("PATH", &empty_bin);
    let output = run(&mut command);
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let text = output.stdout();
    // Not asked, the plan says nothing about images (and stays as quick as without them).
    for name in ["here", "away", "never"] {
        let block = plan_block(&text, name);
        assert!(!block.iter().any(|l| l.trim().starts_with("image:")), "`{name}`: {block:#?}\n{text}");
    }

    // `--pull always` makes every pulled image `will be pulled`, present or not.
    let output = run(scene.plan_command(&file).args(["--pull", "always"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let text = output.stdout();
    for name in ["here", "away", "never"] {
        let block = plan_block(&text, name);
        let line = "image: will be pulled (pull: always)";
        assert!(block.iter().any(|l| l.trim() == line), "`{name}` lacks `{line}`: {block:#?}\n{text}");
    }
}
