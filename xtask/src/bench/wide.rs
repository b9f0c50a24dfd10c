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
use std::time::Instant;

use super::runtime::{engines, measure_pair, run_ok, with_env, write, Engine, IMAGE};
use crate::setup::EngineEnv;
use crate::{Error, Result};

/// The sizes, in containers.
const SIZES: [usize; 3] = [20, 100, 200];
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
    /// (parallelism, raw engine s, copili `--jobs P` s when measured).
    sweep: Vec<(usize, f64, Option<f64>)>,
    best_p: usize,
    best_raw_s: f64,
    copili_default_s: f64,
}

/// Runs the scenario; its Markdown section.
pub(crate) fn run(copili: &Path, bench_dir: &Path, env: &EngineEnv, n_runs: usize) -> Result<String> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let logs = bench_dir.join("run-logs");
    let mut rows = Vec::new();
    for engine in &engines(env) {
        for n in SIZES {
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
                // One untimed run of each, then the sweep: one run per parallelism.
                raw_parallel(engine, n, n, command)?;
                copili_run(None)?;
                let sweep_copili = workload == "sleep 1" && (n == SIZES[0] || n == SIZES[SIZES.len() - 1]);
                let mut sweep = Vec::new();
                for p in levels(n, cpus) {
                    let raw_s = timed(|| raw_parallel(engine, n, p, command))?;
                    let copili_s = if sweep_copili { Some(timed(|| copili_run(Some(p)))?) } else { None };
                    eprintln!(
                        "  wide {} {n}× {workload}: raw -P {p} {raw_s:.2} s{}",
                        engine.name,
                        copili_s.map(|s| format!(", copili --jobs {p} {s:.2} s")).unwrap_or_default()
                    );
                    sweep.push((p, raw_s, copili_s));
                }
                let best_p = sweep.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map_or(n, |s| s.0);
                let (best_raw_s, copili_default_s) =
                    measure_pair(n_runs, || raw_parallel(engine, n, best_p, command), || copili_run(None))?;
                eprintln!(
                    "  wide {} {n}× {workload}: raw -P {best_p} {best_raw_s:.2} s, copili (default --jobs) {copili_default_s:.2} s",
                    engine.name
                );
                rows.push(Row { engine: engine.name, n, workload, sweep, best_p, best_raw_s, copili_default_s });
            }
        }
    }
    Ok(markdown(&rows, n_runs, cpus))
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

fn markdown(rows: &[Row], n_runs: usize, cpus: usize) -> String {
    let mut out = format!(
        "\n## Wide levels: copili's default `--jobs` against the raw engine in parallel\n\n\
         {cpus} CPUs; copili run without `--jobs` (its default). Raw: `seq N | xargs -P P ENGINE run --rm IMAGE CMD`, \
         one run per P; the best P is then measured against copili, median of {n_runs} alternating runs after a warm-up.\n\n\
         | engine | containers | command | raw -P: s | copili --jobs: s | best raw s (P) | copili default s | ratio | goal |\n\
         |---|---:|---|---|---|---:|---:|---:|---|\n"
    );
    for r in rows {
        let raw: Vec<String> = r.sweep.iter().map(|(p, s, _)| format!("{p}: {s:.2}")).collect();
        let copili: Vec<String> = r.sweep.iter().filter_map(|(p, _, c)| c.map(|c| format!("{p}: {c:.2}"))).collect();
        let ratio = if r.best_raw_s > 0.0 { r.copili_default_s / r.best_raw_s } else { f64::NAN };
        let verdict = if ratio <= GOAL { format!("met (≤ {GOAL})") } else { format!("NOT met (> {GOAL})") };
        out.push_str(&format!(
            "| {} | {} | `{}` | {} | {} | {:.2} ({}) | {:.2} | {ratio:.3} | {verdict} |\n",
            r.engine,
            r.n,
            r.workload,
            raw.join(", "),
            if copili.is_empty() { "-".to_string() } else { copili.join(", ") },
            r.best_raw_s,
            r.best_p,
            r.copili_default_s,
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
