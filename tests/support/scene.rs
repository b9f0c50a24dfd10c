//! The scene of one engine test: its pipeline identities and its private directory on one
//! engine, tidied up when it is dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{engine_setup, repo_root, Engine};

/// One test's pipeline identity (`e2e-<scenario>-<engine>-<pid>`, so that tests run in parallel
/// with each other and with another `cargo test` in the same tree), further identities it runs
/// under, and its private directory (under /tmp, usable by the user copili runs as), on one
/// engine.
///
/// When the scene is dropped after a failure, what its identities left on the engine is
/// removed (after the assertions have seen it), so that a failure does not pollute the next
/// run; their lock files are removed always.
#[derive(Debug)]
pub struct Scene {
    /// The engine variant the test runs on.
    pub engine: Engine,
    /// The test's pipeline identity (`--name`).
    pub identity: String,
    /// Further identities the test runs under (`--name`, or a file's top-level key).
    others: Vec<String>,
    dir: tempfile::TempDir,
}

impl Scene {
    /// A scene of `scenario` (`_` become `-` in the identity) on `engine`, which must be ready
    /// (see [`Engine::assert_ready`]).
    pub fn new(engine: Engine, scenario: &str) -> Scene {
        engine.assert_ready();
        let identity = format!("e2e-{}-{}-{}", scenario.replace('_', "-"), engine.slug(), std::process::id());
        let dir = tempfile::Builder::new().prefix("copili-e2e-").tempdir_in("/tmp").expect("a temporary directory");
        engine.hand_over_dir(dir.path());
        Scene { engine, identity, others: Vec::new(), dir }
    }

    /// The scene's private directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Another identity for this test, `<identity>-<suffix>`, cleaned up with the scene.
    pub fn other_identity(&mut self, suffix: &str) -> String {
        let identity = format!("{}-{suffix}", self.identity);
        self.others.push(identity.clone());
        identity
    }

    /// The path of `relative` in the scene's directory.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Copies `tests/fixtures/run/<name>` into the scene's directory (relative host paths in
    /// it resolve there); the copy's absolute path.
    pub fn fixture(&self, name: &str) -> PathBuf {
        self.copy_in(&repo_root().join("tests/fixtures/run").join(name))
    }

    /// Copies a file of the repository into the scene's directory, which the rootless user can
    /// read wherever the checkout is; the copy's absolute path.
    pub fn copy_in(&self, source: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let name = source.file_name().expect("a file name");
        let target = self.dir.path().join(name);
        std::fs::copy(source, &target).unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod a copy");
        target
    }

    /// Writes a file of the scene (its directories made and handed over first, see
    /// [`Scene::make_dirs`]), readable by every user; its absolute path.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.path(relative);
        let parent = path.parent().expect("a file in the scene's directory");
        self.make_dirs(parent);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod a file");
        path
    }

    /// Creates `dir` and its missing parents, each handed over to the user copili runs as
    /// (see [`Engine::hand_over_dir`]).
    pub fn make_dirs(&self, dir: &Path) {
        if dir.is_dir() {
            return;
        }
        if let Some(parent) = dir.parent() {
            self.make_dirs(parent);
        }
        std::fs::create_dir(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        self.engine.hand_over_dir(dir);
    }

    /// A directory of the scene that every container user may write to (rootless podman's
    /// containers write as a mapped uid); its path.
    pub fn shared_dir(&self, relative: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = self.path(relative);
        std::fs::create_dir_all(&dir).expect("create a directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod a directory");
        dir
    }

    /// `copili` in the scene's directory, as the engine variant runs it (see
    /// [`Engine::copili`]).
    pub fn copili(&self) -> Command {
        self.engine.copili(self.dir.path())
    }

    /// `copili SUBCOMMAND FILE --name IDENTITY --engine ENGINE`, run in the scene's directory.
    pub fn command_as(&self, subcommand: &str, file: &Path, identity: &str) -> Command {
        let mut command = self.copili();
        command.arg(subcommand).arg(file).args(["--name", identity, "--engine", self.engine.engine_arg()]);
        command
    }

    /// `copili run FILE --name IDENTITY --engine ENGINE` under the scene's identity, run in
    /// the scene's directory.
    pub fn run_command(&self, file: &Path) -> Command {
        self.command_as("run", file, &self.identity)
    }

    /// Fails the test when anything with the scene's identity is left on the engine.
    pub fn assert_no_leftovers(&self) {
        self.engine.assert_no_leftovers(&self.identity);
    }

    /// Names of the running containers of the scene's identity with role `role` (`main`,
    /// `sidecar`).
    pub fn running(&self, role: &str) -> Vec<String> {
        self.with_role(role, false)
    }

    /// Names of the containers (any state) of the scene's identity with role `role`.
    pub fn created(&self, role: &str) -> Vec<String> {
        self.with_role(role, true)
    }

    fn with_role(&self, role: &str, all: bool) -> Vec<String> {
        let pipeline = format!("io.copili.pipeline={}", self.identity);
        let role = format!("io.copili.role={role}");
        self.engine.containers_with_labels(&[&pipeline, &role], all)
    }

    /// Names of `identity`'s running containers of pipeline container `container`.
    pub fn running_container(&self, identity: &str, container: &str) -> Vec<String> {
        let pipeline = format!("io.copili.pipeline={identity}");
        let container = format!("io.copili.container={container}");
        self.engine.containers_with_labels(&[&pipeline, &container], false)
    }

    /// A stand-in for the engine's client in the directory `fake-bin/` of the scene, for a
    /// `PATH` of that directory alone: it records each call in `engine-calls` and fails.
    pub fn fake_engine(&self) -> FakeEngine {
        use std::os::unix::fs::PermissionsExt as _;
        let bin = self.path("fake-bin");
        self.make_dirs(&bin);
        let calls = self.path("engine-calls");
        let fake = bin.join(self.engine.client_name());
        std::fs::write(&fake, format!("#!/bin/sh\necho \"$0 $*\" >> '{}'\nexit 1\n", calls.display()))
            .expect("write the fake engine");
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod the fake engine");
        FakeEngine { bin, calls }
    }

    /// Removes whatever the scene's identities left on the engine (see
    /// [`Engine::remove_leftovers`]); done when a failed test's scene is dropped.
    pub fn remove_leftovers(&self) {
        for identity in std::iter::once(&self.identity).chain(&self.others) {
            self.engine.remove_leftovers(identity);
        }
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.remove_leftovers();
        }
        // Tidying only: the identities are this test process's own, their lock files (in
        // copili's per-user lock directory: `$XDG_RUNTIME_DIR/copili` or `/tmp/copili-<uid>`)
        // would otherwise stay behind, one per test and run.
        for identity in std::iter::once(&self.identity).chain(&self.others) {
            let lock = format!("{identity}.lock");
            let _ = std::fs::remove_file(std::env::temp_dir().join("copili-0").join(&lock));
            if self.engine == Engine::RootlessPodman {
                let runtime_dir = engine_setup().get("COPILI_TEST_ROOTLESS_XDG_RUNTIME_DIR");
                let _ = std::fs::remove_file(Path::new(runtime_dir).join("copili").join(&lock));
            }
        }
    }
}

/// An engine client that records its calls and fails (see [`Scene::fake_engine`]): proof that
/// a dry run or a plan ran no engine.
#[derive(Debug)]
pub struct FakeEngine {
    /// The directory holding the stand-in, for `PATH`.
    pub bin: PathBuf,
    /// The file each call is appended to.
    pub calls: PathBuf,
}

impl FakeEngine {
    /// Fails the test if the stand-in was called.
    pub fn assert_not_called(&self) {
        assert!(!self.calls.exists(), "the dry run ran the engine: {:?}", std::fs::read_to_string(&self.calls));
    }
}
