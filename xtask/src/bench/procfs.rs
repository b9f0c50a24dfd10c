//! Sampling one process from `/proc`: its resident memory, its peak, its threads and its open
//! file descriptors. Only that process: the engine clients it starts are processes of their
//! own and are not counted (unlike `wait4`'s `ru_maxrss`, which covers waited-for descendants).

use std::fs;
use std::time::{Duration, Instant};

/// One reading of `/proc/PID`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sample {
    /// Since the sampling started.
    pub(super) at: Duration,
    /// `VmRSS`, KiB.
    pub(super) rss_kib: u64,
    /// `VmHWM` (the peak resident set so far), KiB.
    pub(super) hwm_kib: u64,
    /// `Threads`.
    pub(super) threads: u64,
    /// Entries of `/proc/PID/fd`.
    pub(super) fds: u64,
}

/// Reads `/proc/PID/status` and `/proc/PID/fd`; `None` once the process is gone (or a zombie:
/// its memory lines are absent then).
pub(super) fn sample(pid: u32, at: Duration) -> Option<Sample> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(Sample { at, rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")?, threads: field("Threads:")?, fds })
}

/// Samples `pid` every `every` until it is gone or `done()` says so.
pub(super) fn sample_until(pid: u32, every: Duration, done: impl Fn() -> bool) -> Vec<Sample> {
    let started = Instant::now();
    let mut samples = Vec::new();
    while !done() {
        match sample(pid, started.elapsed()) {
            Some(s) => samples.push(s),
            None => break,
        }
        std::thread::sleep(every);
    }
    samples
}

/// The largest `VmHWM` seen, in MiB: the process's peak resident memory up to its last sample.
pub(super) fn peak_mib(samples: &[Sample]) -> Option<f64> {
    samples.iter().map(|s| s.hwm_kib).max().map(|kib| kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id(), Duration::ZERO).expect("this process is there");
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib, "{s:?}");
        assert!(s.threads >= 1 && s.fds >= 3, "{s:?}");
    }

    #[test]
    fn a_child_is_sampled_until_it_ends() {
        let mut child = std::process::Command::new("sleep").arg("0.3").spawn().expect("sleep runs");
        let pid = child.id();
        let waiter = std::thread::spawn(move || child.wait());
        let samples = sample_until(pid, Duration::from_millis(20), || false);
        waiter.join().expect("joined").expect("waited");
        assert!(samples.len() >= 3, "{samples:?}");
        assert!(peak_mib(&samples).is_some_and(|mib| mib > 0.0));
    }
}
