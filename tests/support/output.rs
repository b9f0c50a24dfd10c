//! What a finished command printed and how it exited, and that output made stable for
//! snapshots.

use std::process::{Command, Stdio};

use crate::repo_root;

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

    /// The status as a shell reports it (`$?`): the exit code, or 128 + the signal that
    /// killed the process.
    pub fn shell_status(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt as _;
        match (self.raw.status.code(), self.raw.status.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => 128 + signal,
            (None, None) => unreachable!("a finished process has a code or a signal"),
        }
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
