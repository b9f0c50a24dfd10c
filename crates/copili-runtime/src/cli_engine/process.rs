//! Running the client: captured, streamed a batch of lines at a time (both streams as they
//! come), cancellable, with input on stdin; each in its own process group. A captured call has a
//! bound: past it the client is killed with its whole group ([`EngineError::TimedOut`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use crate::engine::{EngineError, LogLine, LogLines, LogStream};

use super::outlived::{Activity, WATCH_POLL};
use super::reader::{send_lines, widen};
use super::render::dry_run_answer;
use super::{CliEngine, DryRunSink, STDERR_TAIL_LINES};

/// How long a killed client (and what it started in its group) has to be reaped before the
/// call returns anyway: a process outside the group holding its output pipe must not hold the
/// caller.
const REAP_GRACE: Duration = Duration::from_secs(2);
/// How often a cancellable stream asks whether it is cancelled.
const CANCEL_POLL: Duration = Duration::from_millis(50);

impl CliEngine {
    /// Runs the client with `args`, bounded by the engine's timeout; the captured standard
    /// output on success.
    pub(crate) fn run(&self, args: &[String]) -> Result<String, EngineError> {
        self.run_with_env(args, &[])
    }

    /// [`CliEngine::run`] with `env` added to the client's environment.
    pub(crate) fn run_with_env(&self, args: &[String], env: &[(&str, &str)]) -> Result<String, EngineError> {
        self.run_bounded(args, env, Some(self.timeout))
    }

    /// [`CliEngine::run_with_env`] bounded by `limit` instead (`None`: a call that lasts as
    /// long as a container, such as `wait`).
    pub(crate) fn run_bounded(
        &self,
        args: &[String],
        env: &[(&str, &str)],
        limit: Option<Duration>,
    ) -> Result<String, EngineError> {
        if let Some(DryRunSink(sink)) = &self.dry_run {
            sink(self.render_dry(args, env));
            return Ok(dry_run_answer(args));
        }
        self.checked(args, self.spawn_captured(args, env, None, limit)?)
    }

    /// Runs the client (never in a dry run) with its outputs captured, `env` added to its
    /// environment and `input` (or nothing) on its standard input, in its own process group.
    /// Still running after `limit`, the client is killed with its whole process group, reaped,
    /// and the call is [`EngineError::TimedOut`].
    pub(super) fn spawn_captured(
        &self,
        args: &[String],
        env: &[(&str, &str)],
        input: Option<&[u8]>,
        limit: Option<Duration>,
    ) -> Result<std::process::Output, EngineError> {
        let mut expression = duct::cmd(&self.binary, args).stdout_capture().stderr_capture().unchecked();
        expression = match input {
            Some(bytes) => expression.stdin_bytes(bytes.to_vec()),
            None => expression.stdin_null(),
        };
        for (name, value) in env {
            expression = expression.env(name, value);
        }
        let spawn_error =
            |e: std::io::Error| EngineError::NotFound { binary: self.display.clone(), reason: e.to_string() };
        let handle = own_process_group(expression).start().map_err(spawn_error)?;
        // A bound too far away to be reached is no bound.
        let Some(deadline) = limit.and_then(|limit| Instant::now().checked_add(limit)) else {
            return handle.into_output().map_err(spawn_error);
        };
        if handle.wait_deadline(deadline).map_err(spawn_error)?.is_some() {
            return handle.into_output().map_err(spawn_error);
        }
        kill_group(&handle);
        let _ = handle.wait_timeout(REAP_GRACE);
        let error = EngineError::TimedOut { command: self.render(args), after: limit.unwrap_or_default() };
        self.note_killed(&error);
        Err(error)
    }

    /// Notes a call killed at its bound, for whoever could only ignore its error.
    pub(super) fn note_killed(&self, error: &EngineError) {
        self.killed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(error.clone());
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

    /// Streams a follower (`logs --follow`) of a container the caller removes: once `removed`
    /// turns true the client has [`CliEngine::timeout`] to end, then it is killed with its
    /// group and the call is [`EngineError::TimedOut`], recorded as the bounded calls are.
    pub(super) fn follow_until_removed(
        &self,
        argv: &[String],
        on_output: &mut dyn FnMut(LogLines),
        removed: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), EngineError> {
        let removed_at = std::sync::OnceLock::new();
        let give_up = |_| removed() && removed_at.get_or_init(Instant::now).elapsed() >= self.timeout;
        // A follower lasts as long as its sidecar: its watcher wakes seldom, as an attached
        // client's does.
        let (status, stderr) = self.stream_watched(argv, &[], on_output, Some((&give_up, WATCH_POLL)))?;
        match status {
            Some(0) => Ok(()),
            None if removed_at.get().is_some_and(|at| at.elapsed() >= self.timeout) => {
                let error = EngineError::TimedOut { command: self.render(argv), after: self.timeout };
                self.note_killed(&error);
                Err(error)
            }
            code => Err(EngineError::Failed { command: self.render(argv), code, stderr }),
        }
    }

    /// Runs the client, calling `on_output` with the lines of its stdout and stderr as soon as
    /// they are read, a batch per read, in the order read (each pipe has a reader of its own,
    /// so that neither can fill up and stall, nor hold back the other's lines); its exit code
    /// (`None` if killed) and the last lines of its stderr.
    #[cfg(test)]
    pub(super) fn stream(
        &self,
        argv: &[String],
        env: &[(&str, &str)],
        on_output: &mut dyn FnMut(LogLines),
    ) -> Result<(Option<i32>, String), EngineError> {
        self.stream_cancellable(argv, env, on_output, None)
    }

    /// [`CliEngine::stream`], killing the client when `cancelled` turns true.
    ///
    /// Memory stays bounded: the readers wait while [`QUEUED_BATCHES`] batches are not yet
    /// handed on (the client then waits on its full pipe, and the container on the engine),
    /// and a line longer than [`crate::MAX_LINE_BYTES`] comes in pieces.
    pub(crate) fn stream_cancellable(
        &self,
        argv: &[String],
        env: &[(&str, &str)],
        on_output: &mut dyn FnMut(LogLines),
        cancelled: Option<&(dyn Fn() -> bool + Sync)>,
    ) -> Result<(Option<i32>, String), EngineError> {
        match cancelled {
            Some(cancelled) => self.stream_watched(argv, env, on_output, Some((&|_| cancelled(), CANCEL_POLL))),
            None => self.stream_watched(argv, env, on_output, None),
        }
    }

    /// [`CliEngine::stream_cancellable`], `give_up` asked every `poll` (or so) with what the
    /// client has done so far.
    pub(super) fn stream_watched(
        &self,
        argv: &[String],
        env: &[(&str, &str)],
        on_output: &mut dyn FnMut(LogLines),
        give_up: Option<(&(dyn Fn(Activity) -> bool + Sync), Duration)>,
    ) -> Result<(Option<i32>, String), EngineError> {
        if self.dry_run.is_some() {
            self.run_with_env(argv, env)?;
            return Ok((Some(0), String::new()));
        }
        let spawn_error =
            |e: std::io::Error| EngineError::NotFound { binary: self.display.clone(), reason: e.to_string() };
        // Pipes of our own (not duct's reader), so that a busy one can be widened.
        let (out_reader, out_writer) = std::io::pipe().map_err(spawn_error)?;
        let (err_reader, err_writer) = std::io::pipe().map_err(spawn_error)?;
        let mut expression =
            duct::cmd(&self.binary, argv).stdout_file(out_writer).stderr_file(err_writer).stdin_null().unchecked();
        for (name, value) in env {
            expression = expression.env(name, value);
        }
        // The expression, and with it the pipes' write ends, is dropped here: only the client
        // holds them, and its end is theirs.
        let handle = own_process_group(expression).start().map_err(spawn_error)?;
        let mut stderr_tail: VecDeque<String> = VecDeque::new();
        let finished = AtomicBool::new(false);
        let (batches, waiting) = (AtomicU64::new(0), AtomicBool::new(false));
        let status = std::thread::scope(|scope| {
            // Both readers send to one channel; the batches are handed on here, on the
            // caller's thread, as they arrive. A container that writes to stderr only
            // (PostgreSQL does) is followed as live as one that writes to stdout.
            let (tx, rx) = std::sync::mpsc::sync_channel::<LogLines>(QUEUED_BATCHES);
            let (handle, finished, batches, waiting) = (&handle, &finished, &batches, &waiting);
            let stdout_tx = tx.clone();
            scope.spawn(move || send_lines(&out_reader, LogStream::Stdout, &stdout_tx, || widen(&out_reader)));
            scope.spawn(move || send_lines(&err_reader, LogStream::Stderr, &tx, || widen(&err_reader)));
            let watcher = give_up.map(|(give_up, poll)| {
                scope.spawn(move || {
                    while !finished.load(SeqCst) {
                        if give_up(Activity { batches: batches.load(SeqCst), waiting: waiting.load(SeqCst) }) {
                            // The whole group: a helper of the client holding its output
                            // would keep the readers waiting.
                            kill_group(handle);
                            return;
                        }
                        // Woken when the client has ended.
                        std::thread::park_timeout(poll);
                    }
                })
            });
            // Ends when both pipes have ended.
            loop {
                waiting.store(true, SeqCst);
                let Ok(batch) = rx.recv() else { break };
                waiting.store(false, SeqCst);
                batches.fetch_add(1, SeqCst);
                if batch.stream == LogStream::Stderr {
                    keep_tail(&mut stderr_tail, &batch);
                }
                on_output(batch);
            }
            // The client has closed its outputs, so it is ending: its status (still
            // cancellable meanwhile).
            let status = handle.wait().ok().and_then(|output| output.status.code());
            finished.store(true, SeqCst);
            if let Some(watcher) = &watcher {
                watcher.thread().unpark();
            }
            status
        });
        Ok((status, Vec::from(stderr_tail).join("\n")))
    }

    /// Runs the client; its standard output and error, whatever its exit status.
    pub(crate) fn run_capturing_both(&self, args: &[String]) -> Result<(bool, String, String), EngineError> {
        if let Some(DryRunSink(sink)) = &self.dry_run {
            sink(self.render_quoted(args));
            return Ok((true, String::new(), String::new()));
        }
        let output = self.spawn_captured(args, &[], None, Some(self.timeout))?;
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
        self.checked(args, self.spawn_captured(args, env, Some(input), Some(self.timeout))?)
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
        // Progress comes a few lines at a time: one call per line is cheap enough here.
        let mut each_line = |batch: LogLines| {
            for text in batch.lines() {
                on_line(LogLine { stream: batch.stream, text: text.to_string() });
            }
        };
        let (status, stderr) = self.stream_cancellable(argv, env, &mut each_line, Some(cancelled))?;
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

/// Kills the client's whole process group (it is the group's leader, see
/// [`own_process_group`]): a client that runs helpers of its own (a shell script wrapping it,
/// podman's children) leaves none of them behind. Then the client itself, by duct, in case the
/// group is already gone.
///
/// Called when the client has not ended in time, or has ended while another member of its
/// group still holds its output: either way the group lives, and its id (the client's pid) is
/// not given to another process meanwhile.
fn kill_group(handle: &duct::Handle) {
    #[cfg(unix)]
    for pid in handle.pids() {
        // Never 0 or 1 (`kill(-1)` would signal every process); a child's pid is neither.
        if let Some(pid) = i32::try_from(pid).ok().filter(|&pid| pid > 1).and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
    let _ = handle.kill();
}

/// Keeps the last [`STDERR_TAIL_LINES`] lines of stderr, for the error of a failed client.
fn keep_tail(tail: &mut VecDeque<String>, batch: &LogLines) {
    let newest: Vec<&str> = batch.text.split_terminator('\n').rev().take(STDERR_TAIL_LINES).collect();
    for line in newest.into_iter().rev() {
        tail.push_back(line.to_string());
    }
    while tail.len() > STDERR_TAIL_LINES {
        tail.pop_front();
    }
}

/// How many batches the readers of a streamed client may have read ahead of their reader: a
/// few reads' worth of memory (64 KiB each, a piece of an over-long line 1 MiB at most).
const QUEUED_BATCHES: usize = 4;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli_engine::{args, EngineKind};

    /// Whether any process of group `pgid` is left (zombies included, until their parent
    /// reaps them).
    fn group_alive(pgid: i32) -> bool {
        rustix::process::Pid::from_raw(pgid).is_some_and(|pid| rustix::process::test_kill_process_group(pid).is_ok())
    }

    fn wait_until_gone(pgid: i32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while group_alive(pgid) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// A client that never answers (a shell waiting on a `sleep` of its own, which holds its
    /// output too) is killed at the bound, with its whole group, and the call says so.
    #[test]
    fn a_client_that_does_not_answer_is_killed_with_its_group_at_the_bound() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pid_file = dir.path().join("pid");
        let script = format!("echo $$ > '{}'; sleep 3600 & sleep 3600", pid_file.display());
        let engine = CliEngine::new("/bin/sh", EngineKind::Podman).timeout(Duration::from_millis(400));
        let started = Instant::now();
        let error = engine.run(&args(["-c", &script])).expect_err("the client never answers");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(400), "returned before the bound: {took:?}");
        assert!(took < Duration::from_millis(400) + REAP_GRACE, "took {took:?}");
        assert!(
            matches!(&error, EngineError::TimedOut { command, after }
                if command.starts_with("/bin/sh -c echo") && *after == Duration::from_millis(400)),
            "{error:?}"
        );
        // Noted for whoever could only ignore the error, once.
        assert_eq!(crate::engine::Engine::killed_calls(&engine), vec![error]);
        assert_eq!(crate::engine::Engine::killed_calls(&engine), Vec::new());
        let pgid: i32 =
            std::fs::read_to_string(&pid_file).expect("the script wrote its pid").trim().parse().expect("a pid");
        assert!(wait_until_gone(pgid), "a process of the client's group {pgid} survived");
    }

    /// A client that exits but leaves a process of its group holding its output is bounded
    /// too: the call neither waits for that process nor leaves it running.
    #[test]
    fn a_helper_holding_the_output_is_killed_at_the_bound() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pid_file = dir.path().join("pid");
        let script = format!("echo $$ > '{}'; sleep 3600 & exit 0", pid_file.display());
        let engine = CliEngine::new("/bin/sh", EngineKind::Docker).timeout(Duration::from_millis(300));
        let started = Instant::now();
        let error = engine.run(&args(["-c", &script])).expect_err("the output never ends");
        assert!(error.is_timed_out(), "{error:?}");
        assert!(started.elapsed() < Duration::from_millis(300) + REAP_GRACE, "took {:?}", started.elapsed());
        let pgid: i32 =
            std::fs::read_to_string(&pid_file).expect("the script wrote its pid").trim().parse().expect("a pid");
        assert!(wait_until_gone(pgid), "the helper in group {pgid} survived");
    }

    /// Within the bound, the output and the status are the client's, as without one; and a
    /// call without a bound waits as long as it takes.
    #[test]
    fn a_client_that_answers_in_time_is_not_touched() {
        let engine = CliEngine::new("/bin/sh", EngineKind::Docker).timeout(Duration::from_secs(10));
        assert_eq!(engine.run(&args(["-c", "echo hello"])).expect("answers"), "hello\n");
        let error = engine.run(&args(["-c", "echo oops >&2; exit 4"])).expect_err("fails");
        assert!(matches!(&error, EngineError::Failed { code: Some(4), stderr, .. } if stderr == "oops"), "{error:?}");
        let engine = engine.timeout(Duration::from_millis(100));
        let out = engine.run_bounded(&args(["-c", "sleep 0.3; echo late"]), &[], None).expect("unbounded");
        assert_eq!(out, "late\n");
        let out = engine.run_bounded(&args(["-c", "sleep 0.3; echo later"]), &[], Some(Duration::from_secs(5)));
        assert_eq!(out.expect("within its own bound"), "later\n");
    }

    /// A streamed client's lines all arrive, and its status is its own.
    #[test]
    fn a_streamed_client_ends_with_its_own_status() {
        let engine = CliEngine::new("/bin/sh", EngineKind::Podman);
        let mut bytes = 0;
        let script = "head -c 300000 /dev/zero | tr '\\0' x; echo; echo gone >&2; exit 7";
        let (status, stderr) =
            engine.stream(&args(["-c", script]), &[], &mut |batch| bytes += batch.text.len()).expect("streams");
        assert_eq!((status, stderr.as_str(), bytes), (Some(7), "gone", 300_001 + 5));
    }

    /// A follower is not bounded while its container is there; once the caller removed it, the
    /// follower has the bound to end, then it is killed with its group (here a helper that
    /// holds its output), and the call says so. One that ends by itself is untouched.
    #[test]
    fn a_follower_is_given_up_the_bound_after_its_container_is_removed() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pid_file = dir.path().join("pid");
        let script = format!("echo $$ > '{}'; echo following; sleep 3600 & wait", pid_file.display());
        let engine = CliEngine::new("/bin/sh", EngineKind::Docker).timeout(Duration::from_millis(300));
        let started = Instant::now();
        let removed = || started.elapsed() >= Duration::from_millis(500);
        let mut lines = String::new();
        let argv = args(["-c", &script]);
        let error = engine
            .follow_until_removed(&argv, &mut |batch| lines.push_str(&batch.text), &removed)
            .expect_err("the follower never ends");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(800), "killed before the bound after the removal: {took:?}");
        assert!(took < Duration::from_millis(800) + REAP_GRACE, "took {took:?}");
        assert!(matches!(&error, EngineError::TimedOut { after, .. } if *after == Duration::from_millis(300)));
        assert_eq!(lines.trim_end(), "following");
        assert_eq!(crate::engine::Engine::killed_calls(&engine), vec![error]);
        let pgid: i32 =
            std::fs::read_to_string(&pid_file).expect("the script wrote its pid").trim().parse().expect("a pid");
        assert!(wait_until_gone(pgid), "a process of the follower's group {pgid} survived");

        let ends = args(["-c", "sleep 0.5; echo done"]);
        engine.follow_until_removed(&ends, &mut |_| {}, &|| false).expect("a follower that ends is not touched");
    }

    /// `stop` is bounded by its grace period plus the timeout, the grace period in the whole
    /// seconds the client is given.
    #[test]
    fn a_stop_has_its_grace_period_on_top_of_the_bound() {
        let engine = CliEngine::new("docker", EngineKind::Docker).timeout(Duration::from_secs(30));
        assert_eq!(engine.stop_bound(Duration::from_millis(1500)), Duration::from_secs(32));
        assert_eq!(engine.stop_bound(Duration::ZERO), Duration::from_secs(30));
        assert_eq!(engine.timeout(Duration::MAX).stop_bound(Duration::from_secs(10)), Duration::MAX);
    }
}
