//! Wide levels: `N` independent containers (`sleep 1`, as a loader that waits; `true`, as one
//! that only costs the engine), `copili run` against the raw engine started with the same
//! parallelism, `seq N | xargs -P P ENGINE run --rm IMAGE CMD`.
//!
//! For each engine, size and workload the raw engine is timed at every parallelism of
//! [`levels`] (the CPU count to unbounded), which gives the best raw figure; copili with its
//! default `--jobs` is then measured against that best figure, alternating, median of the runs:
//! the goal is at most [`GOAL`] ×. For `sleep 1` at the smallest and largest size, copili is
//! also timed at every `--jobs` of [`levels`], the figures the default was chosen from
//! (docs/benchmarks.md).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
#[cfg(test)]
use std::time::Duration;
use std::time::Instant;

use super::runtime::{alternating, engines, run_ok, with_env, write, Engine, IMAGE};
use crate::setup::EngineEnv;
use crate::{Error, Result};

/// The sizes, in containers (`--sizes` picks some).
pub(super) const SIZES: [usize; 3] = [20, 100, 200];
/// What each container runs.
const WORKLOADS: [(&str, &[&str]); 2] = [("sleep 1", &["sleep", "1"]), ("true", &["true"])];
/// copili's default `--jobs` against the best raw figure.
const GOAL: f64 = 1.1;

/// The parallelisms measured for `n` containers: the CPU count, 8, 20, 50 and unbounded (`n`).
pub(super) fn levels(n: usize, cpus: usize) -> Vec<usize> {
    let mut levels: Vec<usize> = [cpus, 8, 20, 50, n].into_iter().filter(|&p| p <= n).collect();
    levels.sort_unstable();
    levels.dedup();
    levels
}

/// The pipeline of `n` independent containers running `command`.
pub(super) fn pipeline_yaml(name: &str, n: usize, command: &[&str]) -> String {
    let command: Vec<String> = command.iter().map(|word| format!("'{word}'")).collect();
    let mut yaml = format!("{name}:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - {{name: w{i:03}, image_repo: localhost/copili-test, command: [{}]}}\n",
            command.join(", ")
        ));
    }
    yaml
}

/// A timed configuration of one engine, size and workload.
struct Row {
    engine: &'static str,
    n: usize,
    workload: &'static str,
    /// (parallelism, raw engine s; `None`: not run, it could not be the best).
    raw: Vec<(usize, Option<f64>)>,
    /// The same for copili `--jobs P` (empty: not swept).
    copili: Vec<(usize, Option<f64>)>,
    best_p: usize,
    best_raw_s: f64,
    copili_default_s: f64,
    /// The alternating runs of the last two figures.
    runs: usize,
}

/// Runs the scenario; its Markdown section.
pub(crate) fn run(copili: &Path, bench_dir: &Path, env: &EngineEnv, n_runs: usize, sizes: &[usize]) -> Result<String> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let logs = bench_dir.join("run-logs");
    let mut rows = Vec::new();
    for engine in &engines(env) {
        let mut warmed_up = false;
        for &n in sizes {
            for (workload, command) in WORKLOADS {
                let file = bench_dir.join(format!("run-wide-{n}-{}.yaml", workload.replace(' ', "")));
                write(&file, &pipeline_yaml(&format!("bench-wide-{n}"), n, command))?;
                let copili_run = |jobs: Option<usize>| {
                    let mut c = Command::new(copili);
                    c.args(["run", "--engine", engine.name, "--log-dir"]).arg(&logs).arg(&file);
                    if let Some(jobs) = jobs {
                        c.args(["--jobs", &jobs.to_string()]);
                    }
                    run_ok(with_env(c, engine))
                };
                if !warmed_up {
                    // Once per engine, untimed: the image and the engine's caches warm.
                    raw_parallel(engine, n, n, command)?;
                    copili_run(None)?;
                    warmed_up = true;
                }
                let seconds = if workload == "sleep 1" { 1.0 } else { 0.0 };
                let raw = sweep(n, cpus, seconds, |p| raw_parallel(engine, n, p, command))?;
                let sweep_copili = workload == "sleep 1" && (n == SIZES[0] || n == SIZES[SIZES.len() - 1]);
                let copili_sweep =
                    if sweep_copili { sweep(n, cpus, seconds, |p| copili_run(Some(p)))? } else { Vec::new() };
                let (best_p, _) = raw
                    .iter()
                    .filter_map(|(p, s)| s.map(|s| (*p, s)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap_or((n, f64::NAN));
                // The acceptance is set on the smallest and largest size: their medians have the
                // runs asked for (at most 3 at the largest, whose runs take a minute each); the
                // middle size one.
                let runs = match n {
                    n if n == SIZES[1] => 1,
                    n if n == SIZES[2] => n_runs.min(3),
                    _ => n_runs,
                };
                let (best_raw_s, copili_default_s) =
                    alternating(runs, || raw_parallel(engine, n, best_p, command), || copili_run(None))?;
                eprintln!(
                    "  wide {} {n}× {workload}: raw -P {best_p} {best_raw_s:.2} s, copili (default --jobs) {copili_default_s:.2} s",
                    engine.name
                );
                rows.push(Row {
                    engine: engine.name,
                    n,
                    workload,
                    raw,
                    copili: copili_sweep,
                    best_p,
                    best_raw_s,
                    copili_default_s,
                    runs,
                });
            }
        }
    }
    Ok(markdown(&rows, cpus))
}

/// Times `op` once at each parallelism of [`levels`], the largest first. A level whose own
/// arithmetic cannot beat the best so far — `ceil(n / p)` waves of `seconds` each — is not
/// run (`None`): 200 containers of `sleep 1` two at a time take at least 100 s.
fn sweep(
    n: usize,
    cpus: usize,
    seconds: f64,
    mut op: impl FnMut(usize) -> Result,
) -> Result<Vec<(usize, Option<f64>)>> {
    let mut best = f64::INFINITY;
    let mut out = Vec::new();
    for p in levels(n, cpus).into_iter().rev() {
        let floor = n.div_ceil(p) as f64 * seconds;
        if floor > best {
            out.push((p, None));
            continue;
        }
        let s = timed(|| op(p))?;
        best = best.min(s);
        out.push((p, Some(s)));
    }
    out.reverse();
    Ok(out)
}

fn timed(op: impl FnOnce() -> Result) -> Result<f64> {
    let started = Instant::now();
    op()?;
    Ok(started.elapsed().as_secs_f64())
}

/// `seq n | xargs -P p -I{} ENGINE run --rm --name bench-wide-raw-{} IMAGE CMD`.
fn raw_parallel(engine: &Engine, n: usize, p: usize, command: &[&str]) -> Result {
    let mut xargs = Command::new("xargs");
    xargs.args(["-P", &p.to_string(), "-I{}", engine.name, "run", "--rm", "--name", "bench-wide-raw-{}", IMAGE]);
    xargs.args(command);
    let mut xargs = with_env(xargs, engine);
    xargs.stdin(Stdio::piped());
    let mut child = xargs.spawn().map_err(|e| Error::Failed(format!("cannot start xargs: {e}")))?;
    let input: String = (0..n).map(|i| format!("{i}\n")).collect();
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(|e| Error::Failed(format!("cannot write to xargs: {e}")))?;
    }
    let output = child.wait_with_output().map_err(|e| Error::Failed(format!("cannot wait for xargs: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "`xargs -P {p} {} run --rm …` failed ({}): {}",
            engine.name,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

fn markdown(rows: &[Row], cpus: usize) -> String {
    let mut out = format!(
        "\n## Wide levels: copili's default `--jobs` against the raw engine in parallel\n\n\
         {cpus} CPUs; copili run without `--jobs` (its default). Raw: `seq N | xargs -P P ENGINE run --rm IMAGE CMD`, \
         one run per P (`-`: not run, `ceil(N / P)` waves of the command's own time cannot beat the best); the best P \
         against copili's default, median of the alternating runs given.\n\n\
         | engine | containers | command | raw by -P, s | copili by --jobs, s | best raw s (P) | copili default s | runs | ratio | goal |\n\
         |---|---:|---|---|---|---:|---:|---:|---:|---|\n"
    );
    let figures = |sweep: &[(usize, Option<f64>)]| -> String {
        if sweep.is_empty() {
            return "-".into();
        }
        let items: Vec<String> =
            sweep.iter().map(|(p, s)| format!("{p}: {}", s.map_or("-".to_string(), |s| format!("{s:.2}")))).collect();
        items.join(", ")
    };
    for r in rows {
        let ratio = if r.best_raw_s > 0.0 { r.copili_default_s / r.best_raw_s } else { f64::NAN };
        let verdict = if ratio <= GOAL { format!("met (≤ {GOAL})") } else { format!("NOT met (> {GOAL})") };
        out.push_str(&format!(
            "| {} | {} | `{}` | {} | {} | {:.2} ({}) | {:.2} | {} | {ratio:.3} | {verdict} |\n",
            r.engine,
            r.n,
            r.workload,
            figures(&r.raw),
            figures(&r.copili),
            r.best_raw_s,
            r.best_p,
            r.copili_default_s,
            r.runs,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_go_from_the_cpu_count_to_unbounded() {
        assert_eq!(levels(20, 2), [2, 8, 20]);
        assert_eq!(levels(200, 2), [2, 8, 20, 50, 200]);
        assert_eq!(levels(100, 64), [8, 20, 50, 64, 100]);
    }

    #[test]
    fn a_level_that_cannot_beat_the_best_is_not_run() {
        // Waves of 1 ms, plus 10 ms of engine: 200 at once is the best (11 ms); 50 and 20 at
        // once could still beat it (4 and 10 ms of waves), 8 and 2 could not (25, 100 ms).
        let mut ran = Vec::new();
        let sweep = sweep(200, 2, 0.001, |p| {
            ran.push(p);
            std::thread::sleep(Duration::from_millis(200usize.div_ceil(p) as u64 + 10));
            Ok(())
        })
        .expect("no failure");
        assert_eq!(ran, [200, 50, 20]);
        assert_eq!(
            sweep.iter().map(|(p, s)| (*p, s.is_some())).collect::<Vec<_>>(),
            [(2, false), (8, false), (20, true), (50, true), (200, true)]
        );
    }

    #[test]
    fn the_pipeline_has_n_independent_containers() {
        let yaml = pipeline_yaml("bench-wide-3", 3, &["sleep", "1"]);
        assert_eq!(
            yaml,
            "bench-wide-3:\n  - {name: w000, image_repo: localhost/copili-test, command: ['sleep', '1']}\n  \
             - {name: w001, image_repo: localhost/copili-test, command: ['sleep', '1']}\n  \
             - {name: w002, image_repo: localhost/copili-test, command: ['sleep', '1']}\n"
        );
    }
}
