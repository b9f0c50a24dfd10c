//! Running the client: captured, streamed line by line (both streams as they come),
//! cancellable, with input on stdin; each in its own process group.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use crate::engine::{EngineError, LogLine, LogStream};

use super::render::dry_run_answer;
use super::{CliEngine, DryRunSink, STDERR_TAIL_LINES};

impl CliEngine {
    /// Runs the client with `args`; the captured standard output on success.
    pub(crate) fn run(&self, args: &[String]) -> Result<String, EngineError> {
        self.run_with_env(args, &[])
    }

    pub(crate) fn run_with_env(&self, args: &[String], env: &[(&str, &str)]) -> Result<String, EngineError> {
        if let Some(DryRunSink(sink)) = &self.dry_run {
            sink(self.render_dry(args, env));
            return Ok(dry_run_answer(args));
        }
        self.checked(args, self.spawn_captured(args, env, None)?)
    }

    /// Runs the client (never in a dry run) with its outputs captured, `env` added to its
    /// environment and `input` (or nothing) on its standard input, in its own process group.
    pub(super) fn spawn_captured(
        &self,
        args: &[String],
        env: &[(&str, &str)],
        input: Option<&[u8]>,
    ) -> Result<std::process::Output, EngineError> {
        let mut expression = duct::cmd(&self.binary, args).stdout_capture().stderr_capture().unchecked();
        expression = match input {
            Some(bytes) => expression.stdin_bytes(bytes.to_vec()),
            None => expression.stdin_null(),
        };
        for (name, value) in env {
            expression = expression.env(name, value);
        }
        own_process_group(expression)
            .run()
            .map_err(|e| EngineError::NotFound { binary: self.display.clone(), reason: e.to_string() })
    }

    /// The standard output of a client that exited 0; otherwise its failure.
    pub(super) fn checked(&self, args: &[String], output: std::process::Output) -> Result<String, EngineError> {
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(EngineError::Failed {
            command: self.render(args),
            code: output.status.code(),
            stderr: tail(&output.stderr),
        })
    }

    /// Runs the client, calling `on_line` for every line of its stdout and stderr as soon as it
    /// is read, in the order read (each pipe has a reader of its own, so that neither can fill
    /// up and stall, nor hold back the other's lines); its exit code (`None` if killed) and the
    /// last lines of its stderr.
    pub(super) fn stream(
        &self,
        argv: &[String],
        env: &[(&str, &str)],
        on_line: &mut dyn FnMut(LogLine),
    ) -> Result<(Option<i32>, String), EngineError> {
        self.stream_cancellable(argv, env, on_line, None)
    }

    /// [`CliEngine::stream`], killing the client when `cancelled` turns true.
    pub(crate) fn stream_cancellable(
        &self,
        argv: &[String],
        env: &[(&str, &str)],
        on_line: &mut dyn FnMut(LogLine),
        cancelled: Option<&(dyn Fn() -> bool + Sync)>,
    ) -> Result<(Option<i32>, String), EngineError> {
        if self.dry_run.is_some() {
            self.run_with_env(argv, env)?;
            return Ok((Some(0), String::new()));
        }
        let spawn_error =
            |e: std::io::Error| EngineError::NotFound { binary: self.display.clone(), reason: e.to_string() };
        let (err_reader, err_writer) = std::io::pipe().map_err(spawn_error)?;
        let mut expression = duct::cmd(&self.binary, argv).stderr_file(err_writer).stdin_null().unchecked();
        for (name, value) in env {
            expression = expression.env(name, value);
        }
        let handle = own_process_group(expression).reader().map_err(spawn_error)?;
        let mut stderr_tail: Vec<String> = Vec::new();
        let finished = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            // Both readers send to one channel; the lines are handed on here, on the caller's
            // thread, as they arrive. A container that writes to stderr only (PostgreSQL does)
            // is followed as live as one that writes to stdout.
            let (tx, rx) = std::sync::mpsc::channel::<LogLine>();
            let (handle, finished) = (&handle, &finished);
            let stdout_tx = tx.clone();
            scope.spawn(move || send_lines(handle, LogStream::Stdout, &stdout_tx));
            scope.spawn(move || send_lines(err_reader, LogStream::Stderr, &tx));
            if let Some(cancelled) = cancelled {
                scope.spawn(move || {
                    while !finished.load(std::sync::atomic::Ordering::SeqCst) {
                        if cancelled() {
                            let _ = handle.kill();
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                });
            }
            // Ends when both pipes have ended.
            for line in rx {
                if line.stream == LogStream::Stderr {
                    stderr_tail.push(line.text.clone());
                    if stderr_tail.len() > STDERR_TAIL_LINES {
                        stderr_tail.remove(0);
                    }
                }
                on_line(line);
            }
            finished.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let status = match handle.try_wait() {
            Ok(Some(output)) => output.status.code(),
            _ => None,
        };
        Ok((status, stderr_tail.join("\n")))
    }

    /// Runs the client; its standard output and error, whatever its exit status.
    pub(crate) fn run_capturing_both(&self, args: &[String]) -> Result<(bool, String, String), EngineError> {
        if let Some(DryRunSink(sink)) = &self.dry_run {
            sink(self.render_quoted(args));
            return Ok((true, String::new(), String::new()));
        }
        let output = self.spawn_captured(args, &[], None)?;
        Ok((
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }

    /// Runs the client with `input` on its standard input.
    pub(crate) fn run_with_input(
        &self,
        args: &[String],
        env: &[(&str, &str)],
        input: &[u8],
    ) -> Result<String, EngineError> {
        if let Some(DryRunSink(sink)) = &self.dry_run {
            sink(self.render_dry(args, env));
            return Ok(String::new());
        }
        self.checked(args, self.spawn_captured(args, env, Some(input))?)
    }

    /// Streams a pull or build: `Ok` when the client exits 0.
    pub(crate) fn stream_to_end(
        &self,
        argv: &[String],
        env: &[(&str, &str)],
        on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), EngineError> {
        if self.dry_run.is_some() {
            return self.run_with_env(argv, env).map(|_| ());
        }
        let (status, stderr) = self.stream_cancellable(argv, env, on_line, Some(cancelled))?;
        match status {
            Some(0) => Ok(()),
            code => Err(EngineError::Failed {
                command: self.render(argv),
                code,
                stderr: if code.is_none() && cancelled() { "interrupted".into() } else { stderr },
            }),
        }
    }
}

/// Sends every line read from `source` as a line of `stream`, as soon as it is read, until the
/// source ends or nobody listens. Bytes that are not UTF-8 are replaced, never the end of the
/// stream.
pub(super) fn send_lines(source: impl std::io::Read, stream: LogStream, tx: &std::sync::mpsc::Sender<LogLine>) {
    let mut reader = BufReader::new(source);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer) {
            Ok(0) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buffer).trim_end_matches(['\n', '\r']).to_string();
                if tx.send(LogLine { stream, text }).is_err() {
                    return;
                }
            }
            // A pipe that fails ends like one that ended; the client's status is read from its
            // handle afterwards.
            Err(_) => return,
        }
    }
}

/// Each client in its own process group: a Ctrl-C at the terminal reaches copili only, which
/// then stops the containers itself, with the grace period.
pub(crate) fn own_process_group(expression: duct::Expression) -> duct::Expression {
    #[cfg(unix)]
    {
        expression.before_spawn(|command| {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
            Ok(())
        })
    }
    #[cfg(not(unix))]
    {
        expression
    }
}

/// The last lines of an error output, trimmed.
pub(crate) fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n")
}
