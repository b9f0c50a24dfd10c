//! The runtime half of `cargo xtask bench`: copili against the raw engine CLI, side by side in
//! one run, on each engine (rootful podman, docker).
//!
//! - **Chain:** ten containers running `true`, each depending on the previous one. Baseline:
//!   `ENGINE run --rm IMAGE true` ten times in a row. Goal: copili / baseline < 1.0 — faster
//!   than the raw engine, as copili creates each next container while the previous one runs
//!   and removes ended ones in the background, where `run --rm` does both on the critical path.
//! - **Diamond:** `a → (b, c) → d`, each `sleep 1`, critical path 3 s. Baseline: the raw
//!   engine doing the same levels (a; b and c in parallel; d). Goal: copili ≤ 1.1 × baseline.
//!
//! Each measurement is the median of several runs, baseline and copili alternating so that
//! the machine's drift hits both alike; the figures are wall-clock times of whole commands.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::setup::EngineEnv;
use crate::{display_command, Error, Result};

pub(super) const IMAGE: &str = "localhost/copili-test:latest";
const CHAIN_LENGTH: usize = 10;
const CHAIN_GOAL: Goal = Goal::Below(1.0);
const DIAMOND_GOAL: Goal = Goal::AtMost(1.1);

/// A goal for copili / baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Goal {
    /// At most this ratio.
    AtMost(f64),
    /// Strictly below this ratio.
    Below(f64),
}

impl Goal {
    fn is_met(self, ratio: f64) -> bool {
        match self {
            Goal::AtMost(goal) => ratio <= goal,
            Goal::Below(goal) => ratio < goal,
        }
    }

    fn describe(self) -> String {
        match self {
            Goal::AtMost(goal) => format!("≤ {goal}"),
            Goal::Below(goal) => format!("< {goal:.1}"),
        }
    }
}

/// One engine to measure on.
pub(super) struct Engine {
    pub(super) name: &'static str,
    pub(super) env: Vec<(&'static str, String)>,
}

/// The engines measured: rootful podman (with the test setup's `CONTAINERS_CONF`) and docker.
pub(super) fn engines(env: &EngineEnv) -> [Engine; 2] {
    [
        Engine { name: "podman", env: env.vars().into_iter().filter(|(k, _)| *k == "CONTAINERS_CONF").collect() },
        Engine { name: "docker", env: Vec::new() },
    ]
}

/// A measured pair.
struct Pair {
    engine: &'static str,
    scenario: &'static str,
    baseline_s: f64,
    copili_s: f64,
    goal: Goal,
}

/// Runs the runtime benchmark; returns its Markdown section.
pub(crate) fn run(copili: &Path, bench_dir: &Path, env: &EngineEnv, n_runs: usize) -> Result<String> {
    let chain = bench_dir.join("run-chain.yaml");
    let diamond = bench_dir.join("run-diamond.yaml");
    write(&chain, &chain_yaml())?;
    write(&diamond, DIAMOND)?;
    let logs = bench_dir.join("run-logs");
    let engines = engines(env);
    let mut pairs = Vec::new();
    for engine in &engines {
        let copili_chain = |_: ()| {
            let mut c = Command::new(copili);
            // The default `--jobs`, as a user runs a chain.
            c.args(["run", "--engine", engine.name, "--log-dir"]).arg(&logs).arg(&chain);
            c
        };
        let (baseline_s, copili_s) = measure_pair(
            n_runs,
            || {
                for _ in 0..CHAIN_LENGTH {
                    run_ok(raw(engine, &["run", "--rm", IMAGE, "true"]))?;
                }
                Ok(())
            },
            || run_ok(with_env(copili_chain(()), engine)),
        )?;
        pairs.push(Pair {
            engine: engine.name,
            scenario: "chain of 10 `true`",
            baseline_s,
            copili_s,
            goal: CHAIN_GOAL,
        });

        let sleep = |name: &str| raw(engine, &["run", "--rm", "--name", name, IMAGE, "sleep", "1"]);
        let (baseline_s, copili_s) = measure_pair(
            n_runs,
            || {
                run_ok(sleep("bench-raw-a"))?;
                let b = spawn(sleep("bench-raw-b"))?;
                let c = spawn(sleep("bench-raw-c"))?;
                wait_ok(b)?;
                wait_ok(c)?;
                run_ok(sleep("bench-raw-d"))
            },
            || {
                let mut c = Command::new(copili);
                c.args(["run", "--engine", engine.name, "--jobs", "2", "--log-dir"]).arg(&logs).arg(&diamond);
                run_ok(with_env(c, engine))
            },
        )?;
        pairs.push(Pair {
            engine: engine.name,
            scenario: "diamond of `sleep 1`",
            baseline_s,
            copili_s,
            goal: DIAMOND_GOAL,
        });
    }
    Ok(markdown(&pairs, n_runs))
}

const DIAMOND: &str = "bench-diamond:
  - {name: a, image_repo: localhost/copili-test, command: [sleep, '1']}
  - {name: b, image_repo: localhost/copili-test, command: [sleep, '1'], dependencies: [a]}
  - {name: c, image_repo: localhost/copili-test, command: [sleep, '1'], dependencies: [a]}
  - {name: d, image_repo: localhost/copili-test, command: [sleep, '1'], dependencies: [b, c]}
";

fn chain_yaml() -> String {
    let mut yaml = String::from("bench-chain:\n");
    for i in 0..CHAIN_LENGTH {
        yaml.push_str(&format!("  - {{name: c{i}, image_repo: localhost/copili-test, command: ['true']"));
        if i > 0 {
            yaml.push_str(&format!(", dependencies: [c{}]", i - 1));
        }
        yaml.push_str("}\n");
    }
    yaml
}

pub(super) fn write(path: &PathBuf, text: &str) -> Result {
    fs::write(path, text).map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))
}

pub(super) fn raw(engine: &Engine, args: &[&str]) -> Command {
    let mut command = Command::new(engine.name);
    command.args(args);
    with_env(command, engine)
}

pub(super) fn with_env(mut command: Command, engine: &Engine) -> Command {
    command.envs(engine.env.iter().map(|(k, v)| (*k, v.as_str())));
    command.stdout(Stdio::null()).stderr(Stdio::piped()).stdin(Stdio::null());
    command
}

pub(super) fn spawn(mut command: Command) -> Result<(String, std::process::Child)> {
    let line = display_command(&command);
    let child = command.spawn().map_err(|e| Error::Failed(format!("cannot start `{line}`: {e}")))?;
    Ok((line, child))
}

pub(super) fn wait_ok((line, child): (String, std::process::Child)) -> Result {
    let output = child.wait_with_output().map_err(|e| Error::Failed(format!("cannot wait for `{line}`: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "`{line}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

pub(super) fn run_ok(command: Command) -> Result {
    wait_ok(spawn(command)?)
}

/// Medians of `n_runs` alternating runs of the baseline and of copili, after one warm-up each.
pub(super) fn measure_pair(
    n_runs: usize,
    mut baseline: impl FnMut() -> Result,
    mut copili: impl FnMut() -> Result,
) -> Result<(f64, f64)> {
    baseline()?;
    copili()?;
    alternating(n_runs, baseline, copili)
}

/// Medians of `n_runs` alternating runs of the baseline and of copili, without a warm-up.
pub(super) fn alternating(
    n_runs: usize,
    mut baseline: impl FnMut() -> Result,
    mut copili: impl FnMut() -> Result,
) -> Result<(f64, f64)> {
    let (mut b, mut c) = (Vec::new(), Vec::new());
    for _ in 0..n_runs.max(1) {
        let started = Instant::now();
        baseline()?;
        b.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        copili()?;
        c.push(started.elapsed().as_secs_f64());
    }
    Ok((median(b), median(c)))
}

pub(super) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn markdown(pairs: &[Pair], n_runs: usize) -> String {
    let mut out = format!(
        "\n## copili run against the raw engine CLI\n\nmedian of {n_runs} alternating runs after a warm-up; wall clock of whole commands\n\n\
         | engine | scenario | raw engine s | copili s | ratio | goal |\n|---|---|---:|---:|---:|---|\n"
    );
    for p in pairs {
        let ratio = if p.baseline_s > 0.0 { p.copili_s / p.baseline_s } else { f64::NAN };
        let verdict = if p.goal.is_met(ratio) {
            format!("met ({})", p.goal.describe())
        } else {
            format!("NOT met ({})", p.goal.describe())
        };
        out.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {:.3} | {verdict} |\n",
            p.engine, p.scenario, p.baseline_s, p.copili_s, ratio
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_depends_on_the_previous_container() {
        let yaml = chain_yaml();
        assert_eq!(yaml.lines().count(), CHAIN_LENGTH + 1);
        assert!(yaml.contains("{name: c9, image_repo: localhost/copili-test, command: ['true'], dependencies: [c8]}"));
    }

    #[test]
    fn verdicts() {
        let pair = |copili_s, goal| Pair { engine: "docker", scenario: "x", baseline_s: 2.0, copili_s, goal };
        let table = markdown(&[pair(2.05, Goal::AtMost(1.05)), pair(2.0, Goal::Below(1.0)), pair(1.9, CHAIN_GOAL)], 3);
        assert!(table.contains("| docker | x | 2.00 | 2.05 | 1.025 | met (≤ 1.05) |"), "{table}");
        assert!(table.contains("| docker | x | 2.00 | 2.00 | 1.000 | NOT met (< 1.0) |"), "{table}");
        assert!(table.contains("| docker | x | 2.00 | 1.90 | 0.950 | met (< 1.0) |"), "{table}");
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    }
}
