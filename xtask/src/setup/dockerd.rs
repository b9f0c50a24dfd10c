//! Step 3: dockerd, started in a session of its own when `docker info` does not answer, and
//! Docker Swarm mode on it.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::process::{checked, io_failed, output, stdout_of, tail, TAIL_LINES};
use super::seconds;
use crate::{display_command, Error, Result};

/// How long dockerd may take to answer after it was started.
const DOCKERD_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) fn ensure_dockerd(docker: &Path, log: &Path) -> Result<String> {
    let mut info = docker_info(docker);
    if output(&mut info)?.status.success() {
        return Ok("dockerd already answers `docker info`".into());
    }
    // Appended to, not truncated: a dockerd that does answer elsewhere (another `DOCKER_HOST`)
    // may still be writing to it. Errors show only what this start wrote, after `log_start`.
    let mut log_file =
        fs::OpenOptions::new().create(true).append(true).open(log).map_err(|error| io_failed("open", log, error))?;
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    writeln!(log_file, "--- cargo xtask setup: starting dockerd at {since_epoch} s since the epoch ---")
        .map_err(|error| io_failed("write", log, error))?;
    let log_start = log_file.metadata().map_err(|error| io_failed("inspect", log, error))?.len();
    let log_file_for_stderr = log_file.try_clone().map_err(|error| io_failed("open", log, error))?;
    // `setsid` gives dockerd a session (and process group) of its own: it outlives xtask and is
    // not hit by a signal sent to xtask's process group or by a terminal hang-up. The child is
    // not a process group leader, so `setsid` execs dockerd without forking, and the child is
    // dockerd itself: an early exit shows in `try_wait`. Its working directory is `/`, so that
    // the daemon does not keep the checkout busy.
    let mut start = Command::new("setsid");
    start.arg("dockerd").current_dir("/").stdin(Stdio::null()).stdout(log_file).stderr(log_file_for_stderr);
    let line = display_command(&start);
    let mut dockerd = start.spawn().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
    eprintln!("    started `{line}` (pid {}), log in {}", dockerd.id(), log.display());
    wait_for_dockerd(&|| docker_info(docker), &mut dockerd, log, log_start)
}

/// Docker Swarm mode on this docker engine, a one-node swarm (ENGINE-NOTES' recipe), for
/// `copili run --engine swarm`. Regular containers keep working beside it.
pub(super) fn ensure_swarm(docker: &Path) -> Result<String> {
    let state = stdout_of(Command::new(docker).args(["info", "--format", "{{.Swarm.LocalNodeState}}"]))?;
    if state == "active" {
        return Ok("swarm mode active".into());
    }
    checked(Command::new(docker).args(["swarm", "init", "--advertise-addr", "127.0.0.1"]))?;
    let state = stdout_of(Command::new(docker).args(["info", "--format", "{{.Swarm.LocalNodeState}}"]))?;
    if state != "active" {
        return Err(Error::Failed(format!("`docker swarm init` left the node `{state}`, not active")));
    }
    Ok("swarm mode enabled (`docker swarm init --advertise-addr 127.0.0.1`)".into())
}

fn docker_info(docker: &Path) -> Command {
    let mut info = Command::new(docker);
    info.args(["info", "--format", "{{.ServerVersion}}"]);
    info
}

/// Polls `info` (a `docker info` for the daemon) until it answers; fails with the end of the
/// daemon's `log` (from `log_start`) when the daemon exits or does not answer in time.
pub(crate) fn wait_for_dockerd(
    info: &dyn Fn() -> Command,
    dockerd: &mut Child,
    log: &Path,
    log_start: u64,
) -> Result<String> {
    let started = Instant::now();
    loop {
        let answer = output(&mut info())?;
        if answer.status.success() {
            return Ok(format!("dockerd (pid {}) answers after {}", dockerd.id(), seconds(started.elapsed())));
        }
        let log_tail = || {
            let text = match fs::read(log) {
                Ok(bytes) => String::from_utf8_lossy(bytes.get(log_start as usize..).unwrap_or_default()).into_owned(),
                Err(error) => format!("(cannot read the log: {error})"),
            };
            format!("--- {} (last {TAIL_LINES} lines) ---\n{}", log.display(), tail(&text, TAIL_LINES))
        };
        if let Ok(Some(status)) = dockerd.try_wait() {
            return Err(Error::Failed(format!("dockerd exited ({status}) before answering\n{}", log_tail())));
        }
        if started.elapsed() > DOCKERD_TIMEOUT {
            return Err(Error::Failed(format!(
                "dockerd (pid {}, left running) did not answer `docker info` within {}s; last answer: {}\n{}",
                dockerd.id(),
                DOCKERD_TIMEOUT.as_secs(),
                String::from_utf8_lossy(&answer.stderr).trim(),
                log_tail()
            )));
        }
        thread::sleep(Duration::from_millis(250));
    }
}
