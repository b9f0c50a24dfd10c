//! What `copili run` and `copili service` leave in the state directory beside the state file,
//! for the dashboard (`copili ui`, a process of its own) to read:
//!
//! ```text
//! <state-dir>/<name>.json                 the run state (run_state, copili-state)
//! <state-dir>/<name>.runs/live.json       the process running the pipeline (LiveProcess)
//! <state-dir>/<name>.runs/<run-id>.json   each run's JSON report, current while it runs
//! <state-dir>/<name>.runs/metrics.json    the counters of the metrics (crate::report::metrics)
//! ```
//!
//! `<name>` is the state file's name without `.json`. `live.json` is written (atomically) when
//! the run or service starts and is left when it ends: whether it still runs is whether its
//! `pid` is still a copili process. A run's report has the shape of `--report`
//! ([`crate::report::json::RunReport`]): rewritten atomically whenever a container starts or
//! ends, `finished_at` null until the run is over. The reports of the runs the state's history
//! keeps (the last 100) are kept, older ones removed after each run. The containers' live
//! output is in the log files the run already writes (`<log_dir>/<container>.log`).

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file name of the live process document in a runs directory.
pub const LIVE_FILE: &str = "live.json";

/// The process that runs (or last ran) a pipeline: `<name>.runs/live.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveProcess {
    /// The pipeline's identity.
    pub pipeline: String,
    /// The copili process.
    pub pid: u32,
    /// `run` or `service`.
    pub command: String,
    /// Where its containers' log files are (`--log-dir`), absolute.
    pub log_dir: PathBuf,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// The dashboard it serves (`service --ui`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui: Option<String>,
}

/// The runs directory of the state file `state_file` (`<dir>/<name>.json` → `<dir>/<name>.runs`).
pub fn runs_dir(state_file: &Path) -> PathBuf {
    let name = state_file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    state_file.with_file_name(format!("{name}.runs"))
}

/// The file name of the metrics' store in a runs directory.
pub const METRICS_FILE: &str = "metrics.json";

/// The metrics' store of `runs_dir` (kept between runs: the counters grow across them).
pub fn metrics_path(runs_dir: &Path) -> PathBuf {
    runs_dir.join(METRICS_FILE)
}

/// The file of a run's report in `runs_dir`: `<run-id>.json`, the id kept to `[A-Za-z0-9_.-]`.
pub fn report_path(runs_dir: &Path, run_id: &str) -> PathBuf {
    runs_dir.join(format!("{}.json", file_safe(run_id)))
}

/// `text` with every character outside `[A-Za-z0-9_.-]` replaced by `_`, and never `.` or `..`.
pub fn file_safe(text: &str) -> String {
    let safe: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
    if safe.is_empty() || safe.chars().all(|c| c == '.') {
        return format!("_{safe}");
    }
    safe
}

/// Writes `live.json` into `runs_dir` atomically (a temporary file renamed over it).
pub fn write_live(runs_dir: &Path, live: &LiveProcess) -> io::Result<()> {
    std::fs::create_dir_all(runs_dir)?;
    let mut text = serde_json::to_vec_pretty(live).map_err(io::Error::other)?;
    text.push(b'\n');
    let temporary = runs_dir.join(format!(".{LIVE_FILE}.{}.tmp", std::process::id()));
    let result = std::fs::write(&temporary, &text).and_then(|()| std::fs::rename(&temporary, runs_dir.join(LIVE_FILE)));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Reads `live.json` of `runs_dir`; `None` when it is missing or unreadable.
pub fn read_live(runs_dir: &Path) -> Option<LiveProcess> {
    let bytes = std::fs::read(runs_dir.join(LIVE_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Removes the run reports of `runs_dir` whose run is not among `keep` (ids as in the state's
/// history) and is over: a report still running (`finished_at` null: a service run in flight)
/// stays, unless it is a week old (a run that was killed). `live.json` stays. Errors are
/// ignored: an old report left is harmless.
pub fn prune_reports<'a>(runs_dir: &Path, keep: impl IntoIterator<Item = &'a str>) {
    let keep: std::collections::HashSet<String> =
        keep.into_iter().map(|id| format!("{}.json", file_safe(id))).collect();
    let Ok(entries) = std::fs::read_dir(runs_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == LIVE_FILE
            || name == METRICS_FILE
            || name.starts_with('.')
            || !name.ends_with(".json")
            || keep.contains(&name)
        {
            continue;
        }
        if still_running(&entry.path()) {
            continue;
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

/// Whether the report at `path` is of a run not over yet, and less than a week old.
fn still_running(path: &Path) -> bool {
    #[derive(Deserialize)]
    struct Finished {
        finished_at: Option<String>,
    }
    const WEEK: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
    let recent = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age < WEEK));
    let running = std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Finished>(&bytes).ok())
        .is_some_and(|report| report.finished_at.is_none());
    running && recent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_beside_the_state_file() {
        assert_eq!(runs_dir(Path::new("/s/nightly.json")), Path::new("/s/nightly.runs"));
        assert_eq!(report_path(Path::new("/s/n.runs"), "2026T1-4-2"), Path::new("/s/n.runs/2026T1-4-2.json"));
        assert_eq!(report_path(Path::new("r"), "../x"), Path::new("r/.._x.json"));
        assert_eq!(file_safe(".."), "_..");
        assert_eq!(file_safe(""), "_");
    }

    #[test]
    fn live_file_round_trip_and_prune() {
        let dir = tempfile::tempdir().expect("temp dir");
        let runs = dir.path().join("p.runs");
        let live = LiveProcess {
            pipeline: "p".into(),
            pid: 42,
            command: "service".into(),
            log_dir: "/logs".into(),
            started_at: "2026-11-25T12:00:00Z".into(),
            ui: None,
        };
        write_live(&runs, &live).expect("written");
        assert_eq!(read_live(&runs), Some(live));
        for id in ["a", "b", "c"] {
            std::fs::write(report_path(&runs, id), r#"{"finished_at": "2026-11-25T12:00:00Z"}"#).expect("written");
        }
        std::fs::write(report_path(&runs, "d"), r#"{"finished_at": null}"#).expect("written");
        prune_reports(&runs, ["b"]);
        let mut left: Vec<String> = std::fs::read_dir(&runs)
            .expect("listed")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["b.json", "d.json", "live.json"], "the running d stays");
    }
}
