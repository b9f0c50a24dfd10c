//! Soak: `copili service` for some minutes (10 by default) on a pipeline made to stress it — a
//! container failing at random, a slow one whose runs would overlap, a chatty one — with the
//! copili process sampled from `/proc` every few seconds. Goal: flat memory, file descriptors
//! and threads — the last minute's median no higher than the first minute's (memory: 10 % +
//! 1 MiB, what the allocator keeps; threads and descriptors: 2). The median, not the maximum:
//! each running container has a worker thread, its output followers and its client's pipes, so
//! the maximum of a minute says how many of the three containers happened to run at once at a
//! sampled instant (idle, the service has 3 threads; with `slow` alone running, 9; all three,
//! 19), while a leak of one descriptor or thread per run moves the median by hundreds. Every
//! sample is written to `soak/samples.tsv` beside the logs.
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::procfs::{sample_until, Sample};
use super::runtime::write;
use crate::setup::EngineEnv;
use crate::{Error, Result};

pub(super) const PIPELINE: &str = r#"bench-soak:
  - name: seed
    image_repo: localhost/copili-test
    command: ['true']
  - name: flaky
    image_repo: localhost/copili-test
    is_service_container: true
    schedule: every 2s
    dependencies: [seed]
    command: [sh, -c, 'exit $$(( $$RANDOM % 3 == 0 ))']
  - name: slow
    image_repo: localhost/copili-test
    is_service_container: true
    schedule: every 2s
    command: [sleep, '5']
  - name: chatty
    image_repo: localhost/copili-test
    is_service_container: true
    schedule: every 3s
    command: [sh, -c, 'seq 1 20000; seq 1 2000 >&2']
"#;

const SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// Runs the soak on rootful podman for `minutes`; its Markdown section.
pub(crate) fn run(copili: &Path, bench_dir: &Path, env: &EngineEnv, minutes: u64) -> Result<String> {
    let file = bench_dir.join("run-soak.yaml");
    write(&file, PIPELINE)?;
    let dir = bench_dir.join("soak");
    let _ = std::fs::remove_dir_all(&dir);
    let mut command = Command::new(copili);
    command.args(["service", "--engine", "podman", "--log-dir"]).arg(dir.join("logs"));
    command.arg("--state-dir").arg(dir.join("state")).arg(&file);
    command.envs(env.vars().into_iter().filter(|(k, _)| *k == "CONTAINERS_CONF"));
    std::fs::create_dir_all(&dir).map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let console = dir.join("console.log");
    let console_file = std::fs::File::create(&console)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", console.display())))?;
    command.stdin(Stdio::null()).stdout(console_file).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| Error::Failed(format!("cannot start copili service: {e}")))?;
    let pid = child.id();
    let duration = Duration::from_secs(minutes * 60);
    let started = Instant::now();
    let stop = AtomicBool::new(false);
    let samples = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| sample_until(pid, SAMPLE_EVERY, || stop.load(Ordering::SeqCst)));
        while started.elapsed() < duration {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        stop.store(true, Ordering::SeqCst);
        sampler.join().unwrap_or_default()
    });
    // The child has not been reaped yet: the pid is still its own.
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let output = child.wait_with_output().map_err(|e| Error::Failed(format!("cannot wait for copili service: {e}")))?;
    let ran_s = started.elapsed().as_secs_f64();
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "copili service failed ({}) after {ran_s:.0} s: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    write(&dir.join("samples.tsv"), &tsv(&samples))?;
    let runs = count_runs(&std::fs::read_to_string(&console).unwrap_or_default());
    Ok(markdown(&Soak::from_samples(&samples), minutes, runs) + &minutes_table(&samples))
}

/// The samples as tab-separated columns, one line each.
fn tsv(samples: &[Sample]) -> String {
    let mut out = String::from("seconds\trss_kib\tthreads\tfds\n");
    for s in samples {
        out.push_str(&format!("{:.1}\t{}\t{}\t{}\n", s.at.as_secs_f64(), s.rss_kib, s.threads, s.fds));
    }
    out
}

/// How many container runs the service made: the console's `<-- NAME succeeded|failed …` lines.
fn count_runs(console: &str) -> usize {
    console.lines().filter(|l| l.starts_with("<-- ") && (l.contains(" succeeded ") || l.contains(" failed "))).count()
}

/// The first minute against the last: each one's median, and the peaks of the whole run.
#[derive(Debug, PartialEq)]
pub(super) struct Soak {
    pub(super) samples: usize,
    /// (first minute's median, last minute's median): RSS KiB, threads, fds.
    pub(super) rss_kib: (u64, u64),
    pub(super) threads: (u64, u64),
    pub(super) fds: (u64, u64),
    /// The largest of the whole run: RSS KiB, threads, fds.
    pub(super) peaks: (u64, u64, u64),
}

impl Soak {
    pub(super) fn from_samples(samples: &[Sample]) -> Soak {
        let end = samples.last().map_or(Duration::ZERO, |s| s.at);
        let minute = Duration::from_secs(60);
        let median = |window: &dyn Fn(&Sample) -> bool, f: fn(&Sample) -> u64| {
            let mut values: Vec<u64> = samples.iter().filter(|s| window(s)).map(f).collect();
            values.sort_unstable();
            values.get(values.len() / 2).copied().unwrap_or(0)
        };
        let first = |s: &Sample| s.at <= minute;
        let last = |s: &Sample| s.at + minute >= end;
        let peak = |f: fn(&Sample) -> u64| samples.iter().map(f).max().unwrap_or(0);
        Soak {
            samples: samples.len(),
            rss_kib: (median(&first, |s| s.rss_kib), median(&last, |s| s.rss_kib)),
            threads: (median(&first, |s| s.threads), median(&last, |s| s.threads)),
            fds: (median(&first, |s| s.fds), median(&last, |s| s.fds)),
            peaks: (peak(|s| s.rss_kib), peak(|s| s.threads), peak(|s| s.fds)),
        }
    }

    pub(super) fn flat(&self) -> bool {
        let (rss0, rss1) = self.rss_kib;
        rss1 as f64 <= rss0 as f64 * 1.1 + 1024.0
            && self.threads.1 <= self.threads.0 + 2
            && self.fds.1 <= self.fds.0 + 2
    }
}

/// One minute of the run: the least, the median and the largest of its samples.
#[derive(Debug, PartialEq)]
pub(super) struct Minute {
    pub(super) minute: u64,
    pub(super) rss_kib: [u64; 3],
    pub(super) threads: [u64; 3],
    pub(super) fds: [u64; 3],
}

/// The samples minute by minute: a leak is a floor that rises, not a peak that comes and goes.
pub(super) fn minutes(samples: &[Sample]) -> Vec<Minute> {
    let mut out: Vec<Minute> = Vec::new();
    let spread = |values: &mut Vec<u64>| {
        values.sort_unstable();
        [values[0], values[values.len() / 2], values[values.len() - 1]]
    };
    let last = samples.last().map_or(0, |s| s.at.as_secs() / 60);
    for minute in 0..=last {
        let within: Vec<&Sample> = samples.iter().filter(|s| s.at.as_secs() / 60 == minute).collect();
        if within.is_empty() {
            continue;
        }
        out.push(Minute {
            minute,
            rss_kib: spread(&mut within.iter().map(|s| s.rss_kib).collect()),
            threads: spread(&mut within.iter().map(|s| s.threads).collect()),
            fds: spread(&mut within.iter().map(|s| s.fds).collect()),
        });
    }
    out
}

fn minutes_table(samples: &[Sample]) -> String {
    let mut table = String::from(
        "\n| minute | RSS MiB (median) | threads (least / median / most) | open fds (least / median / most) |\n\
         |---:|---:|---|---|\n",
    );
    for m in minutes(samples) {
        table.push_str(&format!(
            "| {} | {:.2} | {} / {} / {} | {} / {} / {} |\n",
            m.minute + 1,
            m.rss_kib[1] as f64 / 1024.0,
            m.threads[0],
            m.threads[1],
            m.threads[2],
            m.fds[0],
            m.fds[1],
            m.fds[2]
        ));
    }
    table
}

fn markdown(soak: &Soak, minutes: u64, runs: usize) -> String {
    let verdict = if soak.flat() { "met (flat)" } else { "NOT met (grows)" };
    let mib = |kib: u64| kib as f64 / 1024.0;
    format!(
        "\n## Soak: copili service for {minutes} min\n\n\
         rootful podman; `flaky` fails one run in three (every 2 s), `slow` runs 5 s every 2 s (its runs would \
         overlap), `chatty` writes 22,000 lines every 3 s; {runs} container runs; the copili process sampled \
         every {} s ({} samples, in soak/samples.tsv); first minute's median → last minute's median, and the \
         run's peak.\n\n\
         | RSS MiB | threads | open fds | peak RSS MiB, threads, fds | goal |\n|---|---|---|---|---|\n\
         | {:.1} → {:.1} | {} → {} | {} → {} | {:.1}, {}, {} | {verdict} |\n",
        SAMPLE_EVERY.as_secs(),
        soak.samples,
        mib(soak.rss_kib.0),
        mib(soak.rss_kib.1),
        soak.threads.0,
        soak.threads.1,
        soak.fds.0,
        soak.fds.1,
        mib(soak.peaks.0),
        soak.peaks.1,
        soak.peaks.2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, rss_kib: u64, threads: u64, fds: u64) -> Sample {
        Sample { at: Duration::from_secs(secs), rss_kib, hwm_kib: rss_kib, threads, fds }
    }

    #[test]
    fn runs_are_the_finished_lines() {
        let console =
            "--> a started\n<-- a succeeded in 0.3s\n<-- b failed in 0.2s: exit code 1\nx | <-- a succeeded \n";
        assert_eq!(count_runs(console), 2);
    }

    #[test]
    fn first_minute_against_last() {
        let samples = [at(0, 5000, 3, 8), at(30, 6000, 9, 20), at(40, 6000, 9, 11), at(120, 5500, 4, 9)];
        let later = [at(200, 6100, 9, 11), at(202, 6100, 19, 20), at(204, 6200, 9, 11)];
        let soak = Soak::from_samples(&[&samples[..], &later[..]].concat());
        assert_eq!(soak.rss_kib, (6000, 6100));
        assert_eq!((soak.threads, soak.fds), ((9, 9), (11, 11)));
        assert_eq!(soak.peaks, (6200, 19, 20));
        assert!(soak.flat(), "three containers at once at one instant is no growth");
        let growing = [at(0, 5000, 3, 8), at(200, 9000, 3, 8)];
        assert!(!Soak::from_samples(&growing).flat());
        let leaking_fds = [at(0, 5000, 3, 8), at(200, 5000, 3, 40)];
        assert!(!Soak::from_samples(&leaking_fds).flat());
        let leaking_threads = [at(0, 5000, 9, 11), at(1, 5000, 9, 11), at(200, 5000, 12, 11), at(201, 5000, 12, 11)];
        assert!(!Soak::from_samples(&leaking_threads).flat());
    }

    #[test]
    fn minute_by_minute() {
        let samples = [at(0, 5000, 3, 8), at(30, 6000, 19, 20), at(40, 6000, 9, 11), at(61, 6100, 9, 11)];
        let by_minute = minutes(&samples);
        assert_eq!(by_minute.len(), 2);
        assert_eq!(
            by_minute[0],
            Minute { minute: 0, rss_kib: [5000, 6000, 6000], threads: [3, 9, 19], fds: [8, 11, 20] }
        );
        assert_eq!(by_minute[1].threads, [9, 9, 9]);
        let table = minutes_table(&samples);
        assert!(table.contains("| 1 | 5.86 | 3 / 9 / 19 | 8 / 11 / 20 |"), "{table}");
        assert!(table.contains("| 2 | 5.96 | 9 / 9 / 9 | 11 / 11 / 11 |"), "{table}");
        assert!(minutes(&[]).is_empty());
    }

    #[test]
    fn samples_as_columns() {
        assert_eq!(tsv(&[at(2, 100, 3, 8)]), "seconds\trss_kib\tthreads\tfds\n2.0\t100\t3\t8\n");
    }

    #[test]
    fn section_names_medians_and_peaks() {
        let soak =
            Soak { samples: 300, rss_kib: (10240, 10752), threads: (9, 9), fds: (11, 11), peaks: (11264, 19, 17) };
        let section = markdown(&soak, 10, 598);
        assert!(section.contains("| 10.0 → 10.5 | 9 → 9 | 11 → 11 | 11.0, 19, 17 | met (flat) |"), "{section}");
    }
}
