//! Scale: copili's own footprint on a run of 200 containers (`--jobs 20`, every tenth with a
//! sidecar), sampled from `/proc` every 50 ms: the peak resident memory (`VmHWM`), threads and
//! open file descriptors of the copili process alone, not of the engine clients it starts.
//! Goal: peak RSS ≤ [`RSS_GOAL_MIB`].
//!
//! Service mode over time is [`super::soak`].

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::procfs::{peak_mib, sample_until, Sample};
use super::runtime::{engines, write};
use crate::setup::EngineEnv;
use crate::{Error, Result};

const CONTAINERS: usize = 200;
const JOBS: usize = 20;
/// Every `SIDECAR_EVERY`-th container has a sidecar.
const SIDECAR_EVERY: usize = 10;
pub(super) const RSS_GOAL_MIB: f64 = 20.0;

/// The pipeline: `CONTAINERS` independent `sleep 1`, every tenth with a sidecar that waits
/// until it is stopped (and ends at once on SIGTERM).
pub(super) fn pipeline_yaml() -> String {
    let mut yaml = String::from("bench-scale:\n");
    for i in 0..CONTAINERS {
        yaml.push_str(&format!(
            "  - name: s{i:03}\n    image_repo: localhost/copili-test\n    command: [sleep, '1']\n"
        ));
        if i % SIDECAR_EVERY == 0 {
            yaml.push_str(
                "    sidecars:\n      - name: helper\n        image_repo: localhost/copili-test\n        \
                 command: [sh, -c, \"trap 'exit 0' TERM; sleep 3600 & wait\"]\n",
            );
        }
    }
    yaml
}

/// Runs `copili` with `args` (stdout and stderr to files in `dir`), sampling it every `every`
/// until it ends; its samples and wall time. A failing run fails the bench.
pub(super) fn sampled_run(mut command: Command, every: Duration, what: &str) -> Result<(Vec<Sample>, f64)> {
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let child = command.spawn().map_err(|e| Error::Failed(format!("cannot start {what}: {e}")))?;
    let pid = child.id();
    let ended = AtomicBool::new(false);
    let (samples, output) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| sample_until(pid, every, || ended.load(Ordering::SeqCst)));
        let output = child.wait_with_output();
        ended.store(true, Ordering::SeqCst);
        (sampler.join().unwrap_or_default(), output)
    });
    let wall = started.elapsed().as_secs_f64();
    let output = output.map_err(|e| Error::Failed(format!("cannot wait for {what}: {e}")))?;
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok((samples, wall))
}

/// Runs the scenario on each engine; its Markdown section.
pub(crate) fn run(copili: &Path, bench_dir: &Path, env: &EngineEnv) -> Result<String> {
    let file = bench_dir.join("run-scale-200.yaml");
    write(&file, &pipeline_yaml())?;
    let logs = bench_dir.join("run-logs");
    let mut out = format!(
        "\n## Scale: copili's own footprint on {CONTAINERS} containers\n\n\
         `copili run --jobs {JOBS}`, {CONTAINERS} containers of `sleep 1`, one in {SIDECAR_EVERY} with a sidecar; \
         the copili process alone, sampled from /proc every 50 ms (engine clients not included).\n\n\
         | engine | wall s | peak RSS MiB | max threads | max open fds | goal |\n|---|---:|---:|---:|---:|---|\n"
    );
    for engine in &engines(env) {
        let mut command = Command::new(copili);
        command.args(["run", "--engine", engine.name, "--jobs", &JOBS.to_string(), "--log-dir"]).arg(&logs).arg(&file);
        command.envs(engine.env.iter().map(|(k, v)| (*k, v.as_str())));
        let (samples, wall) = sampled_run(command, Duration::from_millis(50), "copili run (scale)")?;
        let peak = peak_mib(&samples).unwrap_or(f64::NAN);
        let threads = samples.iter().map(|s| s.threads).max().unwrap_or(0);
        let fds = samples.iter().map(|s| s.fds).max().unwrap_or(0);
        let verdict = if peak <= RSS_GOAL_MIB {
            format!("met (≤ {RSS_GOAL_MIB} MiB)")
        } else {
            format!("NOT met (> {RSS_GOAL_MIB} MiB)")
        };
        eprintln!("  scale {}: {wall:.1} s, peak RSS {peak:.1} MiB, {threads} threads, {fds} fds", engine.name);
        out.push_str(&format!("| {} | {wall:.1} | {peak:.1} | {threads} | {fds} | {verdict} |\n", engine.name));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenth_container_has_a_sidecar() {
        let yaml = pipeline_yaml();
        assert_eq!(yaml.matches("  - name: s").count(), CONTAINERS);
        assert_eq!(yaml.matches("      - name: helper").count(), CONTAINERS / SIDECAR_EVERY);
    }
}
