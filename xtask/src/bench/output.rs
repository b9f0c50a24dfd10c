//! The output half of `cargo xtask bench` (`--only output` runs it alone): how fast a
//! container's output reaches the console and the log file under `copili run`, against the
//! same container run as `ENGINE run --rm IMAGE CMD > file`, and how much memory copili
//! itself needs for it.
//!
//! Three containers, each a generator in the test image's busybox:
//!
//! - **long lines:** 100 MB of 1000-byte lines (`yes` of 999 characters, `head -c`);
//! - **short lines:** 100 MB of 16-byte lines (`yes 0123456789abcde`), as `seq` would write;
//! - **one 50 MB line:** 50 MB without a single line end (`head -c … /dev/zero | tr`): copili
//!   must hand it on in 1 MiB pieces, never holding it whole.
//!
//! copili runs as a user piping it would: its console to a file, its log file in a directory
//! of its own (removed before each run, as the file is appended to). The baseline writes to a
//! file too. Each figure is the median of several runs, baseline and copili alternating; the
//! throughput ratio is copili's throughput over the baseline's (goal ≥ 0.8), whole commands;
//! the net ratio takes off each side the time of a container writing nothing, measured in the
//! same run: copili's fixed cost (engine check, leftover check, lock, removal) is a few tenths
//! of a second, as much as a second of podman's output, and not a matter of throughput. copili's own
//! peak resident memory is its `VmHWM` from `/proc/PID/status`, read every 10 ms until it
//! exits: the engine clients it starts are processes of their own and not counted (`wait4`'s
//! `ru_maxrss` would count the largest of them). Bound: 20 MiB.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{display_command, Error, Result};

const IMAGE: &str = "localhost/copili-test:latest";
/// The goal: copili's throughput over the raw engine's.
const THROUGHPUT_GOAL: f64 = 0.8;
/// The bound on copili's own peak resident memory, MiB.
const RSS_BOUND_MIB: f64 = 20.0;

/// A container writing a known number of bytes.
struct Variant {
    name: &'static str,
    /// The `sh -c` script.
    script: String,
    /// What it writes, in bytes.
    bytes: u64,
}

fn variants() -> Vec<Variant> {
    vec![
        Variant {
            name: "100 MB in 1000-byte lines",
            script: format!("yes {} | head -c 100000000", "x".repeat(999)),
            bytes: 100_000_000,
        },
        Variant {
            name: "100 MB in 16-byte lines",
            script: "yes 0123456789abcde | head -c 100000000".into(),
            bytes: 100_000_000,
        },
        Variant {
            name: "one 50 MB line, no line end",
            script: "head -c 50000000 /dev/zero | tr '\\0' x".into(),
            bytes: 50_000_000,
        },
    ]
}

/// One engine: its client and the environment it needs.
struct Engine {
    name: &'static str,
    env: Vec<(&'static str, String)>,
}

/// The figures of one variant on one engine.
struct Figures {
    engine: &'static str,
    variant: &'static str,
    bytes: u64,
    raw_s: f64,
    copili_s: f64,
    peak_rss_mib: f64,
    /// The same run's times for a container writing nothing (raw, copili).
    fixed: Option<(f64, f64)>,
}

impl Figures {
    /// copili's throughput over the raw engine's, whole commands.
    fn ratio(&self) -> f64 {
        if self.copili_s > 0.0 {
            self.raw_s / self.copili_s
        } else {
            f64::NAN
        }
    }

    /// The same, each time net of the fixed cost of its run (a container writing nothing).
    fn net_ratio(&self) -> Option<f64> {
        let (raw_fixed, copili_fixed) = self.fixed?;
        let (raw, copili) = (self.raw_s - raw_fixed, self.copili_s - copili_fixed);
        (raw > 0.0 && copili > 0.0).then(|| raw / copili)
    }
}

/// Runs the output benchmark on rootful podman (with `containers_conf`) and docker; returns
/// its Markdown section.
pub(crate) fn run(copili: &Path, bench_dir: &Path, containers_conf: &Path, n_runs: usize) -> Result<String> {
    let engines = [
        Engine { name: "podman", env: vec![("CONTAINERS_CONF", containers_conf.display().to_string())] },
        Engine { name: "docker", env: Vec::new() },
    ];
    let dir = bench_dir.join("output");
    fs::create_dir_all(&dir).map_err(|e| failed("cannot create", &dir, e))?;
    let mut figures = Vec::new();
    for engine in &engines {
        // The fixed cost of a run (copili: the engine check, the leftover check, the lock,
        // the removal; the engine: create, start, remove), for the net figures.
        let empty = Variant { name: "nothing", script: "true".into(), bytes: 0 };
        let pipeline = dir.join("output-empty.yaml");
        write(&pipeline, &pipeline_yaml(&empty.script))?;
        eprintln!("measuring output on {}: {}", engine.name, empty.name);
        let fixed = measure(copili, &dir, engine, &empty, &pipeline, n_runs)?;
        for (index, variant) in variants().iter().enumerate() {
            let pipeline = dir.join(format!("output-{index}.yaml"));
            write(&pipeline, &pipeline_yaml(&variant.script))?;
            eprintln!("measuring output on {}: {}", engine.name, variant.name);
            let mut measured = measure(copili, &dir, engine, variant, &pipeline, n_runs)?;
            measured.fixed = Some((fixed.raw_s, fixed.copili_s));
            figures.push(measured);
        }
    }
    // 100 MB files: not kept.
    let _ = fs::remove_dir_all(&dir);
    Ok(markdown(&figures, n_runs))
}

/// The pipeline of one container running `script`.
fn pipeline_yaml(script: &str) -> String {
    // A YAML single-quoted scalar: quotes doubled.
    format!(
        "bench-output:\n  - {{name: out, image_repo: localhost/copili-test, command: [sh, -c, '{}']}}\n",
        script.replace('\'', "''")
    )
}

/// Medians of `n_runs` alternating runs after a warm-up of each; the largest peak RSS.
fn measure(
    copili: &Path,
    dir: &Path,
    engine: &Engine,
    variant: &Variant,
    pipeline: &Path,
    n_runs: usize,
) -> Result<Figures> {
    let raw_out = dir.join("raw.out");
    let console_out = dir.join("console.out");
    let logs = dir.join("logs");
    let raw = || -> Result<f64> {
        let mut command = Command::new(engine.name);
        command.args(["run", "--rm", IMAGE, "sh", "-c", &variant.script]);
        let started = Instant::now();
        run_to_file(command, engine, &raw_out)?;
        let seconds = started.elapsed().as_secs_f64();
        expect_at_least(&raw_out, variant.bytes)?;
        Ok(seconds)
    };
    let copili_run = || -> Result<(f64, f64)> {
        let _ = fs::remove_dir_all(&logs);
        let mut command = Command::new(copili);
        command.args(["run", "--engine", engine.name, "--log-dir"]).arg(&logs).arg(pipeline);
        let started = Instant::now();
        let peak_kib = run_sampling_peak(command, engine, &console_out)?;
        let seconds = started.elapsed().as_secs_f64();
        expect_at_least(&console_out, variant.bytes)?;
        expect_at_least(&logs.join("out.log"), variant.bytes)?;
        Ok((seconds, peak_kib as f64 / 1024.0))
    };
    raw()?;
    copili_run()?;
    let (mut raw_s, mut copili_s, mut peak) = (Vec::new(), Vec::new(), 0.0f64);
    for _ in 0..n_runs.max(1) {
        raw_s.push(raw()?);
        let (seconds, rss) = copili_run()?;
        copili_s.push(seconds);
        peak = peak.max(rss);
    }
    let _ = fs::remove_file(&raw_out);
    let _ = fs::remove_file(&console_out);
    let _ = fs::remove_dir_all(&logs);
    Ok(Figures {
        engine: engine.name,
        variant: variant.name,
        bytes: variant.bytes,
        raw_s: median(raw_s),
        copili_s: median(copili_s),
        peak_rss_mib: peak,
        fixed: None,
    })
}

fn prepared(mut command: Command, engine: &Engine, out: &Path) -> Result<Command> {
    let file = File::create(out).map_err(|e| failed("cannot create", out, e))?;
    command.envs(engine.env.iter().map(|(k, v)| (*k, v.as_str())));
    command.stdin(Stdio::null()).stdout(file).stderr(Stdio::piped());
    Ok(command)
}

/// Runs `command` with its stdout in `out`; fails with its stderr if it fails.
fn run_to_file(command: Command, engine: &Engine, out: &Path) -> Result {
    let mut command = prepared(command, engine, out)?;
    let line = display_command(&command);
    let output = command.output().map_err(|e| Error::Failed(format!("cannot start `{line}`: {e}")))?;
    checked(&line, output.status, &output.stderr)
}

/// Runs `command` with its stdout in `out`, reading its `VmHWM` every 10 ms; the last value
/// read, in KiB (the peak is monotonic: the last read misses at most the last 10 ms).
fn run_sampling_peak(command: Command, engine: &Engine, out: &Path) -> Result<u64> {
    let mut command = prepared(command, engine, out)?;
    // stderr to a file: a pipe nobody reads while we poll could fill up and stall copili.
    let stderr_path = out.with_extension("stderr");
    let stderr = File::create(&stderr_path).map_err(|e| failed("cannot create", &stderr_path, e))?;
    command.stderr(stderr);
    let line = display_command(&command);
    let mut child = command.spawn().map_err(|e| Error::Failed(format!("cannot start `{line}`: {e}")))?;
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak_kib = 0;
    let status = loop {
        if let Some(kib) = fs::read_to_string(&status_file).ok().as_deref().and_then(vm_hwm_kib) {
            peak_kib = peak_kib.max(kib);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(Error::Failed(format!("cannot wait for `{line}`: {e}"))),
        }
    };
    let stderr = fs::read(&stderr_path).unwrap_or_default();
    let _ = fs::remove_file(&stderr_path);
    checked(&line, status, &stderr)?;
    Ok(peak_kib)
}

/// `VmHWM:    8436 kB` → 8436.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?.trim().strip_suffix("kB")?.trim().parse().ok()
}

fn checked(line: &str, status: std::process::ExitStatus, stderr: &[u8]) -> Result {
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(stderr);
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    Err(Error::Failed(format!("`{line}` failed ({status}): {}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))))
}

/// Fails unless `path` holds at least `bytes` bytes: the output arrived whole.
fn expect_at_least(path: &Path, bytes: u64) -> Result {
    let len = fs::metadata(path).map_err(|e| failed("cannot read", path, e))?.len();
    if len < bytes {
        return Err(Error::Failed(format!("{} has {len} bytes, expected at least {bytes}", path.display())));
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result {
    fs::write(path, text).map_err(|e| failed("cannot write", path, e))
}

fn failed(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::Failed(format!("{what} {}: {error}", path.display()))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn markdown(figures: &[Figures], n_runs: usize) -> String {
    let fixed = |engine: &str| {
        figures
            .iter()
            .find(|f| f.engine == engine)
            .and_then(|f| f.fixed)
            .map_or_else(|| "-".to_string(), |(raw, copili)| format!("{raw:.2} s / {copili:.2} s"))
    };
    let fixed_costs = format!("podman {}, docker {}", fixed("podman"), fixed("docker"));
    let mut out = format!(
        "\n## Output: copili run against `ENGINE run --rm … > file`\n\n\
         median of {n_runs} alternating runs after a warm-up; copili's console to a file, plus its log file; \
         throughput in MB/s (10^6 bytes) of the container's output; net ratio: the same with each time less \
         that of a container writing nothing in the same run (fixed cost, raw / copili: {fixed_costs}); copili's own peak \
         RSS (VmHWM), engine clients not included\n\n\
         | engine | output | raw engine s | copili s | raw MB/s | copili MB/s | throughput ratio | goal | net ratio | copili peak RSS MiB | bound |\n\
         |---|---|---:|---:|---:|---:|---:|---|---:|---:|---|\n"
    );
    for f in figures {
        let mb = f.bytes as f64 / 1e6;
        let ratio = f.ratio();
        let net = f.net_ratio().map_or_else(|| "-".to_string(), |net| format!("{net:.3}"));
        let verdict = if ratio >= THROUGHPUT_GOAL {
            format!("met (≥ {THROUGHPUT_GOAL})")
        } else {
            format!("NOT met (< {THROUGHPUT_GOAL})")
        };
        let bound = if f.peak_rss_mib <= RSS_BOUND_MIB {
            format!("met (≤ {RSS_BOUND_MIB})")
        } else {
            format!("NOT met (> {RSS_BOUND_MIB})")
        };
        out.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {ratio:.3} | {verdict} | {net} | {:.1} | {bound} |\n",
            f.engine,
            f.variant,
            f.raw_s,
            f.copili_s,
            mb / f.raw_s,
            mb / f.copili_s,
            f.peak_rss_mib
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_are_quoted_for_yaml() {
        let yaml = pipeline_yaml("head -c 5 /dev/zero | tr '\\0' x");
        assert_eq!(
            yaml,
            "bench-output:\n  - {name: out, image_repo: localhost/copili-test, command: [sh, -c, 'head -c 5 /dev/zero | tr ''\\0'' x']}\n"
        );
        assert_eq!(variants()[0].script.len(), "yes ".len() + 999 + " | head -c 100000000".len());
    }

    #[test]
    fn peak_rss_from_proc_status() {
        assert_eq!(vm_hwm_kib("Name:\tcopili\nVmHWM:\t    8436 kB\nVmRSS:\t 100 kB\n"), Some(8436));
        assert_eq!(vm_hwm_kib("Name:\tcopili\n"), None);
    }

    #[test]
    fn verdicts() {
        let figures = [
            Figures {
                engine: "podman",
                variant: "x",
                bytes: 100_000_000,
                raw_s: 2.0,
                copili_s: 2.2,
                peak_rss_mib: 8.5,
                fixed: Some((0.5, 0.6)),
            },
            Figures {
                engine: "docker",
                variant: "y",
                bytes: 50_000_000,
                raw_s: 1.0,
                copili_s: 2.0,
                peak_rss_mib: 30.0,
                fixed: None,
            },
        ];
        let text = markdown(&figures, 3);
        assert!(text.contains("raw / copili: podman 0.50 s / 0.60 s, docker -)"), "{text}");
        assert!(
            text.contains(
                "| podman | x | 2.00 | 2.20 | 50.0 | 45.5 | 0.909 | met (≥ 0.8) | 0.938 | 8.5 | met (≤ 20) |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| docker | y | 1.00 | 2.00 | 50.0 | 25.0 | 0.500 | NOT met (< 0.8) | - | 30.0 | NOT met (> 20) |"
            ),
            "{text}"
        );
    }
}
