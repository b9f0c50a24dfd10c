//! Helpers for the end-to-end tests: the real `copili` binary, run in a clean environment from
//! the repository root, and its output made stable for snapshots.
//!
//! Cargo builds the binaries of the package under test for its integration tests, but this
//! crate tests another package's binary, so [`copili`] builds it itself (once per test
//! process; a no-op when it is up to date).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

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

/// What a finished command printed and how it exited, as text.
#[derive(Debug, Clone)]
pub struct Output {
    /// The raw output.
    pub raw: std::process::Output,
}

impl Output {
    /// The exit code; `None` when the process was killed by a signal (never a guess).
    pub fn code(&self) -> Option<i32> {
        self.raw.status.code()
    }

    /// Standard output, lossily decoded.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.raw.stdout).into_owned()
    }

    /// Standard error, lossily decoded.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.raw.stderr).into_owned()
    }

    /// Both streams, labelled, for assertion messages.
    pub fn describe(&self) -> String {
        format!("exit code: {:?}\n--- stdout\n{}--- stderr\n{}", self.code(), self.stdout(), self.stderr())
    }
}

/// Runs a command to completion with an empty standard input.
pub fn run(command: &mut Command) -> Output {
    let raw = command.stdin(Stdio::null()).output().expect("the command can be started");
    Output { raw }
}

/// Runs a command to completion, writing `input` to its standard input.
pub fn run_with_stdin(command: &mut Command, input: &str) -> Output {
    use std::io::Write as _;

    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command can be started");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Written from a thread: a child that prints before reading all its input must not block
    // on a full stdout pipe while we block on a full stdin pipe.
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let raw = child.wait_with_output().expect("the command can be waited for");
    writer.join().expect("the stdin writer does not panic").expect("stdin can be written");
    Output { raw }
}

/// Replaces the machine-specific parts of `text` with stable tokens: the repository root
/// with `[REPO]` and temporary directories (`<temp>/.tmpXXXXXX`) with `[TEMP]`.
pub fn redact(text: &str) -> String {
    let mut text = text.replace(&repo_root().display().to_string(), "[REPO]");
    let temp = std::env::temp_dir();
    let mut prefixes = vec![temp.display().to_string()];
    if let Ok(canonical) = temp.canonicalize() {
        prefixes.push(canonical.display().to_string());
    }
    for prefix in prefixes {
        let prefix = format!("{}/.tmp", prefix.trim_end_matches('/'));
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find(&prefix) {
            out.push_str(&rest[..start]);
            out.push_str("[TEMP]");
            let after = &rest[start + prefix.len()..];
            let random = after.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(after.len());
            rest = &after[random..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}

/// A fixture file of `tests/fixtures/`, as a path relative to the repository root (the form
/// the commands are given, so that messages show it as a user would see it).
pub fn fixture(relative: &str) -> PathBuf {
    let path = Path::new("tests/fixtures").join(relative);
    assert!(repo_root().join(&path).exists(), "missing fixture {}", path.display());
    path
}
