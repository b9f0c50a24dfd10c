//! The registry `cargo xtask setup` started (htpasswd authentication, plain HTTP on loopback),
//! and what the image tests ask the engines about images.

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::engines::lines;
use crate::{engine_setup, run, run_with_stdin, Engine};

/// The test registry's address, `127.0.0.1:5858`.
pub fn registry_address() -> &'static str {
    engine_setup().get("COPILI_TEST_REGISTRY")
}

/// The test registry's user.
pub fn registry_user() -> &'static str {
    engine_setup().get("COPILI_TEST_REGISTRY_USER")
}

/// The test registry's password: tests look for it in everything copili writes.
pub fn registry_password() -> &'static str {
    engine_setup().get("COPILI_TEST_REGISTRY_PASSWORD")
}

/// Rootful podman, as `cargo xtask setup` set it up.
fn rootful_podman() -> Command {
    let mut command = Command::new("podman");
    command.env("CONTAINERS_CONF", engine_setup().get("CONTAINERS_CONF")).current_dir("/").stdin(Stdio::null());
    command
}

/// Builds, in rootful podman, the test image with the label `io.copili.e2e=<name>` as
/// `localhost/copili-e2e-source-<name>:latest`; the reference. Its content is the test image's,
/// its id its own.
///
/// Why: podman 4.3 loses concurrent changes to the names of one image (two `rmi` of two names
/// of one id, run at once, can both report success while one name stays), so tests running in
/// parallel must not pull, tag or remove names of one image id. Each test pushes an image of
/// its own id; remove it with [`remove_test_image_variant`].
pub fn build_test_image_variant(name: &str) -> String {
    let reference = format!("localhost/copili-e2e-source-{name}:latest");
    let dir = std::env::temp_dir().join(format!("copili-e2e-source-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let containerfile = dir.join("Containerfile");
    std::fs::write(&containerfile, format!("FROM {}\n", engine_setup().get("COPILI_TEST_IMAGE")))
        .unwrap_or_else(|e| panic!("write {}: {e}", containerfile.display()));
    let label = format!("io.copili.e2e={name}");
    let output = run(rootful_podman()
        .args(["build", "--quiet", "--pull=never", "--tag", &reference, "--label", &label, "--file"])
        .arg(&containerfile)
        .arg(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(output.code(), Some(0), "building {reference} failed\n{}", output.describe());
    reference
}

/// Removes an image of [`build_test_image_variant`] (errors are ignored: called when tidying).
pub fn remove_test_image_variant(reference: &str) {
    let _ = run(rootful_podman().args(["rmi", "--force", reference]));
}

/// Pushes `source`, an image of rootful podman, to the registry as
/// `<registry>/<repository>:<tag>` (podman does not keep the pushed name locally); the
/// reference.
///
/// A test pushes repositories of its own (its scenario, engine and pid in the name), so that
/// what the registry's log says about one is about that test alone. The password goes on
/// standard input into an auth file of this push alone, never on a command line: tests look for
/// it in every process's command line while other tests push.
pub fn push_image(source: &str, repository: &str, tag: &str) -> String {
    use std::os::unix::fs::DirBuilderExt as _;
    static PUSHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    let reference = format!("{}/{repository}:{tag}", registry_address());
    let push = PUSHES.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("copili-e2e-push-{}-{push}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let auth_file = dir.join("auth.json");
    let login = run_with_stdin(
        rootful_podman()
            .args(["login", "--tls-verify=false", "--username", registry_user(), "--password-stdin", "--authfile"])
            .arg(&auth_file)
            .arg(registry_address()),
        registry_password(),
    );
    let pushed = (login.code() == Some(0)).then(|| {
        run(rootful_podman()
            .args(["push", "--quiet", "--tls-verify=false", "--authfile"])
            .arg(&auth_file)
            .args([source, &reference]))
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(login.code(), Some(0), "logging in to the test registry failed\n{}", login.describe());
    let pushed = pushed.expect("pushed after a login");
    assert_eq!(
        pushed.code(),
        Some(0),
        "pushing {reference} to the test registry failed: run `cargo xtask setup`\n{}",
        pushed.describe()
    );
    reference
}

/// How many manifest requests (`GET` or `HEAD` on `/v2/<repository>/manifests/…`) the
/// registry's access log holds for `repository` (`copili/x`) so far. A client's request is
/// logged when the registry's handler returns, a moment after the client has its answer: the
/// count is read until it stays the same for 100 ms.
pub fn manifest_requests(repository: &str) -> usize {
    let path = engine_setup().get("COPILI_TEST_REGISTRY_LOG");
    let patterns = [format!("\"GET /v2/{repository}/manifests/"), format!("\"HEAD /v2/{repository}/manifests/")];
    let count = || {
        let text = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read the registry log {path}: {e}"));
        let text = String::from_utf8_lossy(&text);
        text.lines().filter(|line| patterns.iter().any(|p| line.contains(p.as_str()))).count()
    };
    let mut last = count();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = count();
        if now == last {
            return now;
        }
        last = now;
    }
}

impl Engine {
    /// Whether the engine has an image of that reference.
    pub fn has_image(self, image: &str) -> bool {
        run(self.client().args(["image", "inspect", "--format", "{{.Id}}", image])).code() == Some(0)
    }

    /// Removes the image (`rmi -f`), trying again while it is still there (see
    /// [`build_test_image_variant`] on podman losing changes); whether it is gone.
    pub fn try_remove_image(self, image: &str) -> bool {
        for _ in 0..3 {
            let _ = run(self.client().args(["rmi", "--force", image]));
            if !self.has_image(image) {
                return true;
            }
        }
        false
    }

    /// Removes the image (`rmi -f`) and fails the test if it is still there.
    pub fn remove_image(self, image: &str) {
        assert!(self.try_remove_image(image), "{self:?} still has {image} after `rmi --force`");
    }

    /// The ids of the images carrying `label` (`KEY=VALUE`); `None` when the engine could not
    /// list them. Tried three times: podman's listing fails now and then while another process
    /// removes an image (`image not known`).
    pub fn try_images_with_label(self, label: &str) -> Option<Vec<String>> {
        let filter = format!("label={label}");
        for _ in 0..3 {
            let output = run(self.client().args(["images", "--quiet", "--filter", &filter]));
            if output.code() == Some(0) {
                let mut ids = lines(&output.stdout());
                ids.sort_unstable();
                ids.dedup();
                return Some(ids);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// The ids of the images carrying `label` (`KEY=VALUE`); fails the test when the engine
    /// cannot list them.
    pub fn images_with_label(self, label: &str) -> Vec<String> {
        self.try_images_with_label(label)
            .unwrap_or_else(|| panic!("{self:?} could not list the images with label {label}"))
    }

    /// Removes every image carrying `label` (a build's, with its older versions); errors are
    /// ignored (an image may go with its child), what remains is returned.
    pub fn remove_images_with_label(self, label: &str) -> Vec<String> {
        for id in self.images_with_label(label) {
            let _ = run(self.client().args(["rmi", "--force", &id]));
        }
        self.images_with_label(label)
    }
}
