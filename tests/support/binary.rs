//! The real `copili` binary: built once per test process, run from the repository root in a
//! clean environment, and copied where the rootless user can execute it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::{run, Engine};

/// The repository root: the working directory of every [`copili`] command, so that the paths
/// in its messages are the short relative paths a user would type.
pub fn repo_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        root.canonicalize().expect("the repository root exists")
    })
}

/// The path of the `copili` binary, built first if needed (once per test process).
///
/// The test executable lives in `<target>/<profile>/deps/`, the binary in
/// `<target>/<profile>/copili`. `cargo build` is always run once: it is quick when nothing
/// changed, and it is the only reliable answer to "is the binary older than the sources".
pub fn copili_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable has a path");
        let deps = exe.parent().expect("the test executable is in a directory");
        let profile_dir = if deps.file_name().is_some_and(|n| n == "deps") {
            deps.parent().expect("`deps` is inside the profile directory")
        } else {
            deps
        };
        let binary = profile_dir.join(format!("copili{}", std::env::consts::EXE_SUFFIX));
        build_copili(profile_dir);
        assert!(binary.is_file(), "`cargo build -p copili` did not produce {}", binary.display());
        binary
    })
}

/// Runs `$CARGO build -p copili --bin copili` for the profile the tests were built with.
fn build_copili(profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command.current_dir(repo_root()).args(["build", "--quiet", "-p", "copili", "--bin", "copili"]);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{} build -p copili`: {e}", Path::new(&cargo).display()));
    assert!(
        output.status.success(),
        "`cargo build -p copili` failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A command running the real `copili` binary from the repository root, in an environment
/// holding only `PATH`, `HOME` and `LANG=C`, so that the host's `ENV`, registry credentials
/// or locale cannot leak into results or snapshots.
pub fn copili() -> Command {
    let mut command = Command::new(copili_binary());
    command.current_dir(repo_root()).env_clear().env("LANG", "C");
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// A fixture file of `tests/fixtures/`, as a path relative to the repository root (the form
/// the commands are given, so that messages show it as a user would see it).
pub fn fixture(relative: &str) -> PathBuf {
    let path = Path::new("tests/fixtures").join(relative);
    assert!(repo_root().join(&path).exists(), "missing fixture {}", path.display());
    path
}

/// The target directory the tests were built in: `<target>/<profile>/deps/<test>` → `<target>`.
pub(crate) fn target_dir() -> PathBuf {
    copili_binary().parent().and_then(Path::parent).expect("the binary is in <target>/<profile>").to_path_buf()
}

/// A copy of the `copili` binary that the rootless user can execute, whatever the checkout's
/// permissions (CI clones into directories other users cannot enter): in a world-readable
/// directory of its own under /tmp, made once per test process and replaced atomically.
pub fn rootless_copili_binary() -> &'static Path {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = PathBuf::from("/tmp/copili-e2e-bin");
        std::fs::create_dir_all(&dir).expect("create /tmp/copili-e2e-bin");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod /tmp/copili-e2e-bin");
        let staged = dir.join(format!(".copili.{}", std::process::id()));
        std::fs::copy(copili_binary(), &staged).expect("copy the copili binary");
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).expect("chmod the copy");
        let target = dir.join(format!("copili-{}", std::process::id()));
        std::fs::rename(&staged, &target).expect("move the copy in place");
        // Copies of earlier test processes are no longer needed; those of test processes still
        // running (another test target, another checkout's) are theirs.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let pid = name.strip_prefix("copili-").and_then(|pid| pid.parse::<u32>().ok());
                if path != target && pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let output = run(Engine::as_rootless_user(Path::new("test")).arg("-x").arg(&target));
        assert_eq!(
            output.code(),
            Some(0),
            "the rootless user cannot execute {}\n{}",
            target.display(),
            output.describe()
        );
        target
    })
}
