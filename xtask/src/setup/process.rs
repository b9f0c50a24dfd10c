//! Running the commands of the setup steps: captured output, checked exit codes, and errors
//! that show the command line and the end of its stderr; plus the file helpers the steps share.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::{display_command, Error, Result};

/// Lines of a failing command's stderr (or of dockerd's log) shown in an error.
pub(super) const TAIL_LINES: usize = 25;

/// Runs `command` with its output captured; fails only if it cannot be started.
pub(crate) fn output(command: &mut Command) -> Result<Output> {
    command.stdin(Stdio::null());
    command.output().map_err(|error| Error::Failed(format!("cannot start `{}`: {error}", display_command(command))))
}

/// Runs `command` with its output captured; fails unless it exits 0, with its stderr.
pub(crate) fn checked(command: &mut Command) -> Result<Output> {
    let output = output(command)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(command_failed(command, &output, "failed"))
    }
}

/// Runs `command`, which must exit with `expected_code`.
pub(super) fn expect_exit_code(command: &mut Command, expected_code: i32) -> Result {
    let output = output(command)?;
    if output.status.code() == Some(expected_code) {
        Ok(())
    } else {
        Err(command_failed(command, &output, &format!("should have exited with {expected_code}")))
    }
}

/// `command`'s trimmed stdout; it must exit 0.
pub(crate) fn stdout_of(command: &mut Command) -> Result<String> {
    let output = checked(command)?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

pub(crate) fn command_failed(command: &Command, output: &Output, what: &str) -> Error {
    let mut message = format!("`{}` {what} ({})", display_command(command), output.status);
    for (name, bytes) in [("stderr", &output.stderr), ("stdout", &output.stdout)] {
        let text = String::from_utf8_lossy(bytes);
        if !text.trim().is_empty() {
            message.push_str(&format!("\n--- {name} (last {TAIL_LINES} lines) ---\n{}", tail(&text, TAIL_LINES)));
        }
    }
    Error::Failed(message)
}

/// The last `n_lines` lines of `text`, without trailing blank lines.
pub(super) fn tail(text: &str, n_lines: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n_lines)..].join("\n")
}

pub(crate) fn io_failed(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::Failed(format!("cannot {what} {}: {error}", path.display()))
}

/// Writes `content` to `path` unless it already holds exactly that; says whether it wrote.
pub(super) fn write_if_changed(path: &Path, content: &str) -> Result<bool> {
    match fs::read_to_string(path) {
        Ok(existing) if existing == content => return Ok(false),
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => return Err(io_failed("read", path, error)),
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|error| io_failed("create", parent, error))?;
    }
    fs::write(path, content).map_err(|error| io_failed("write", path, error))?;
    Ok(true)
}

/// The first executable file called `program` in the directories of `PATH`.
pub(super) fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| {
        fs::metadata(candidate).is_ok_and(|metadata| metadata.is_file() && metadata.mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n\n", 2), "b\nc");
        assert_eq!(tail("a\n", 5), "a");
        assert_eq!(tail("", 5), "");
    }
}
