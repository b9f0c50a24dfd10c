//! A process in flight: its output collected as it comes, signalled, waited for with a timeout,
//! and killed when a failing test drops it.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{run, Output};

/// A process running in the background with its output collected as it comes, so that a test
/// can act on what it printed so far ([`Running::lines`], [`Running::wait_for_line`]; service
/// mode runs until signalled); killed (SIGKILL) and waited for if dropped before
/// [`Running::wait`], so a failing test leaves no process.
#[derive(Debug)]
pub struct Running {
    child: std::process::Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The readers of standard output and standard error, in that order.
    readers: Vec<std::thread::JoinHandle<()>>,
    /// When it was started.
    pub started: Instant,
}

impl Running {
    /// Starts `command` with an empty standard input, collecting its output.
    pub fn spawn(command: &mut Command) -> Running {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the command can be started");
        let started = Instant::now();
        let (stdout, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let collect = |mut stream: Box<dyn std::io::Read + Send>, buffer: &Arc<Mutex<Vec<u8>>>| {
            let buffer = Arc::clone(buffer);
            std::thread::spawn(move || {
                let mut chunk = [0; 8192];
                loop {
                    match stream.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => buffer.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            })
        };
        let readers = vec![
            collect(Box::new(child.stdout.take().expect("stdout is piped")), &stdout),
            collect(Box::new(child.stderr.take().expect("stderr is piped")), &stderr),
        ];
        Running { child, stdout, stderr, readers, started }
    }

    /// Starts `command` as the leader of a new process group, as a shell does with a
    /// foreground job: [`Running::signal_group`] then signals it and every process it started,
    /// like Ctrl-C in a terminal.
    pub fn spawn_in_own_process_group(command: &mut Command) -> Running {
        use std::os::unix::process::CommandExt as _;
        Running::spawn(command.process_group(0))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines of standard output so far, without their line ends. A line still being
    /// written is not one yet (unless the stream has ended).
    pub fn lines(&self) -> Vec<String> {
        let ended = self.readers.first().is_none_or(std::thread::JoinHandle::is_finished);
        let bytes = self.stdout.lock().unwrap_or_else(PoisonError::into_inner);
        let complete = if ended { bytes.len() } else { bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) };
        String::from_utf8_lossy(&bytes[..complete]).lines().map(String::from).collect()
    }

    /// Both streams so far, for assertion messages.
    pub fn describe(&self) -> String {
        let text = |buffer: &Arc<Mutex<Vec<u8>>>| {
            String::from_utf8_lossy(&buffer.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
        };
        format!("--- stdout so far\n{}--- stderr so far\n{}", text(&self.stdout), text(&self.stderr))
    }

    /// Waits until a line of standard output satisfies `matches`; its index in
    /// [`Running::lines`]. Fails the test if the process ends first or after `timeout`.
    pub fn wait_for_line(&mut self, timeout: Duration, what: &str, matches: impl Fn(&str) -> bool) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(index) = self.lines().iter().position(|l| matches(l)) {
                return index;
            }
            assert!(self.is_running(), "the process ended before {what}\n{}", self.describe());
            assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}\n{}", self.describe());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`INT`, `TERM`, …) to the process, with `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let pid = self.pid().to_string();
        let output = run(Command::new("kill").args(["-s", signal, &pid]));
        assert_eq!(output.code(), Some(0), "kill -s {signal} {pid}\n{}", output.describe());
    }

    /// Sends `signal` to the process group this process leads (see
    /// [`Running::spawn_in_own_process_group`]).
    pub fn signal_group(&self, signal: &str) {
        let group = format!("-{}", self.pid());
        let output = run(Command::new("kill").args(["-s", signal, "--", &group]));
        assert_eq!(output.code(), Some(0), "kill -s {signal} -- {group}\n{}", output.describe());
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("the child can be polled").is_none()
    }

    /// Waits for the end, at most `timeout`: a process still running then is killed and the
    /// test fails, showing what it printed. The output is byte for byte what it wrote.
    pub fn wait(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let finished = status.is_some();
        let status = match status {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                self.child.wait().expect("the killed child can be waited for")
            }
        };
        for reader in std::mem::take(&mut self.readers) {
            reader.join().expect("the reader does not panic");
        }
        let take =
            |buffer: &Arc<Mutex<Vec<u8>>>| std::mem::take(&mut *buffer.lock().unwrap_or_else(PoisonError::into_inner));
        let output =
            Output { raw: std::process::Output { status, stdout: take(&self.stdout), stderr: take(&self.stderr) } };
        assert!(finished, "still running after {timeout:?}, killed\n{}", output.describe());
        output
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `condition` every 20 ms until it holds; fails the test after `timeout`, describing
/// what was awaited.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
