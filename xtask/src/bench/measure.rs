//! Running the copili binary and measuring it: wall time from spawn to exit, and the child's
//! peak RSS from `wait4(2)`; the machine's description for the report.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::io_failure;
use crate::{display_command, Error, Result};

/// Runs the copili binary from the bench directory and measures it.
pub(super) struct Bench<'a> {
    pub(super) copili: &'a Path,
    pub(super) dir: &'a Path,
    pub(super) n_runs: usize,
}

/// One run of a command.
struct Sample {
    wall: Duration,
    peak_rss_kib: Option<u64>,
}

/// The runs of one command, summarised.
pub(super) struct Measurement {
    pub(super) median_ms: f64,
    pub(super) min_ms: f64,
    /// The largest peak RSS over the runs; `None` where the platform does not tell.
    pub(super) peak_rss_mib: Option<f64>,
}

impl Bench<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.copili);
        command.args(args).current_dir(self.dir).stdin(Stdio::null());
        command
    }

    /// `copili --version`, for the report's header.
    pub(super) fn version(&self) -> Result<String> {
        let mut command = self.command(&["--version"]);
        let line = display_command(&command);
        let output = command.output().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
        if !output.status.success() {
            return Err(Error::Failed(format!("`{line}` failed ({})", output.status)));
        }
        let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
        Ok(if version.is_empty() { "copili (no version printed)".to_string() } else { version })
    }

    /// One warm-up run, then `n_runs` measured ones.
    pub(super) fn measure(&self, args: &[&str]) -> Result<Measurement> {
        eprintln!("measuring `{}`", display_command(&self.command(args)));
        self.run_once(args)?;
        let mut samples = Vec::with_capacity(self.n_runs);
        for _ in 0..self.n_runs {
            samples.push(self.run_once(args)?);
        }
        let mut milliseconds: Vec<f64> = samples.iter().map(|sample| sample.wall.as_secs_f64() * 1e3).collect();
        milliseconds.sort_by(f64::total_cmp);
        let peak_rss_kib = samples.iter().map(|sample| sample.peak_rss_kib).max().flatten();
        Ok(Measurement {
            median_ms: median(&milliseconds),
            min_ms: milliseconds.first().copied().unwrap_or(f64::NAN),
            peak_rss_mib: peak_rss_kib.map(|kib| kib as f64 / 1024.0),
        })
    }

    /// Runs the command with stdout discarded and stderr in a file (a pipe could fill up and
    /// stall the child, and would need a reader thread timed along with it).
    fn run_once(&self, args: &[&str]) -> Result<Sample> {
        let mut command = self.command(args);
        let line = display_command(&command);
        let stderr_path = self.dir.join("stderr.txt");
        let stderr = File::create(&stderr_path).map_err(|error| io_failure("cannot create", &stderr_path, error))?;
        command.stdout(Stdio::null()).stderr(stderr);
        let started = Instant::now();
        let child = command.spawn().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
        let (status, peak_rss_kib) =
            wait_with_peak_rss(child).map_err(|error| Error::Failed(format!("cannot wait for `{line}`: {error}")))?;
        let wall = started.elapsed();
        if !status.success() {
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(Error::Failed(format!(
                "`{line}` failed ({status}), run from {}; its stderr ends with:\n{}",
                self.dir.display(),
                tail.join("\n")
            )));
        }
        Ok(Sample { wall, peak_rss_kib })
    }
}

/// Waits for `child` with `wait4(2)`, which also returns the child's resource usage: its peak
/// resident set size, `ru_maxrss`, in KiB on Linux.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn wait_with_peak_rss(child: Child) -> io::Result<(ExitStatus, Option<u64>)> {
    use std::os::unix::process::ExitStatusExt;

    let pid = libc::pid_t::try_from(child.id()).map_err(|_| io::Error::other("process id out of range"))?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero bytes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child and not yet reaped (std reaps only in `Child::wait` and
        // `try_wait`, never called on `child`); both pointers are valid for the call.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if waited == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    // Dropping a `Child` neither waits nor kills; its stdio handles are closed.
    drop(child);
    Ok((ExitStatus::from_raw(status), u64::try_from(usage.ru_maxrss).ok()))
}

/// Elsewhere `ru_maxrss` has other units, or there is no `wait4`: no memory figures.
#[cfg(not(target_os = "linux"))]
fn wait_with_peak_rss(mut child: Child) -> io::Result<(ExitStatus, Option<u64>)> {
    Ok((child.wait()?, None))
}

/// The peak RSS of xtask itself. On Linux a child's `ru_maxrss` also counts the memory of the
/// process that spawned it (the address space it started from), so it can never read below this.
pub(super) fn own_peak_mib() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 =
        status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU model, CPU count and kernel, for the report: numbers mean little without them.
pub(super) fn machine_description() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|cpuinfo| {
            cpuinfo.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let n_cpus = std::thread::available_parallelism().map_or_else(|_| "?".to_string(), |n| n.to_string());
    let mut description = format!("{cpu}, {n_cpus} CPUs, {}", std::env::consts::OS);
    if let Ok(release) = fs::read_to_string("/proc/sys/kernel/osrelease") {
        description.push(' ');
        description.push_str(release.trim());
    }
    // Other work on the machine (a build, say) shows in the numbers: say how busy it was.
    if let Some(load) = fs::read_to_string("/proc/loadavg").ok().and_then(|loadavg| {
        let fields: Vec<&str> = loadavg.split_whitespace().take(3).collect();
        (fields.len() == 3).then(|| fields.join(" "))
    }) {
        let _ = write!(description, ", load average {load} before the runs");
    }
    description
}

/// The median of sorted values (NaN for none).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_sorted_values() {
        assert_eq!(median(&[1.0, 2.0, 10.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 10.0]), 3.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_failing_command_fails_the_bench_with_its_stderr() {
        let dir = std::env::temp_dir().join(format!("copili-xtask-bench-test-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temporary directory");
        let bench = Bench { copili: Path::new("sh"), dir: &dir, n_runs: 1 };
        let result = bench.measure(&["-c", "echo first; echo invalid pipeline >&2; exit 2"]);
        fs::remove_dir_all(&dir).expect("temporary directory removed");
        let Err(Error::Failed(message)) = result else { panic!("expected a failure") };
        assert!(message.starts_with("`sh -c 'echo first; echo invalid pipeline >&2; exit 2'` failed (exit status: 2)"));
        assert!(message.ends_with("its stderr ends with:\ninvalid pipeline"), "{message}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn wait4_reports_the_exit_status_and_a_peak_rss() {
        let child = Command::new("sh").args(["-c", "exit 3"]).spawn().expect("sh is there");
        let (status, peak_rss_kib) = wait_with_peak_rss(child).expect("waited");
        assert_eq!(status.code(), Some(3));
        assert!(peak_rss_kib.is_some_and(|kib| kib > 0), "{peak_rss_kib:?}");
    }
}
