//! What the dashboard shows, read from the state directories ([`crate::run_files`]): every
//! pipeline with a state file, its process, its runs in flight, next due times and history.
//!
//! Every file read is found by listing a state directory or a runs directory and comparing
//! names with what a request asked for: a name from a request is never joined to a path
//! before it matched a listed entry, and a log file is `<log_dir>/<container>.log` only for a
//! container the pipeline's reports or state name.

use std::path::{Path, PathBuf};

use copili_state::{PipelineState, RunRecord};
use serde::Serialize;

use crate::report::json::RunReport;
use crate::run_files::{self, LiveProcess};
use crate::ui::limits;

/// The state directories the dashboard reads, as given (`--state-dir`, repeatable).
#[derive(Debug, Clone)]
pub struct Catalog {
    dirs: Vec<PathBuf>,
}

/// One pipeline found: `<dir>/<name>.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The index of its state directory in the catalog.
    pub dir: usize,
    /// The state file's name without `.json`.
    pub name: String,
    /// The state file.
    pub state_file: PathBuf,
}

/// Everything the page shows, as one JSON document (`/api/overview`).
#[derive(Debug, Serialize)]
pub struct Overview {
    /// The state directories read.
    pub state_dirs: Vec<String>,
    /// The pipelines found, by directory then name.
    pub pipelines: Vec<PipelineView>,
}

/// One pipeline of the [`Overview`].
#[derive(Debug, Serialize)]
pub struct PipelineView {
    /// `<dir>/<name>`, the key of its URLs.
    pub key: String,
    /// Its identity (from `live.json`, else the state file's name).
    pub identity: String,
    /// The state file.
    pub state_file: String,
    /// The process that runs or last ran it.
    pub process: Option<LiveProcess>,
    /// Whether that process still runs.
    pub running: bool,
    /// Its runs in flight (reports with no `finished_at`), newest first.
    pub current_runs: Vec<RunReport>,
    /// Each service container's next due time (and last slot).
    pub next_due: Vec<NextDue>,
    /// The last runs, newest first, each with whether its report is kept.
    pub history: Vec<HistoryRun>,
    /// What the state file could not tell (unreadable, another version).
    pub problem: Option<String>,
}

/// A service container's schedule in the [`PipelineView`].
#[derive(Debug, Serialize)]
pub struct NextDue {
    /// The container.
    pub name: String,
    /// When it is due next (RFC 3339), if scheduled.
    pub next_due: Option<String>,
    /// Its last slot.
    pub last_due: Option<String>,
}

/// One run of the history.
#[derive(Debug, Serialize)]
pub struct HistoryRun {
    /// The state's record of it.
    #[serde(flatten)]
    pub record: RunRecord,
    /// Whether its report is in the runs directory (then `/runs/<key>/<run_id>` serves it).
    pub report: bool,
}

impl Catalog {
    /// A catalog of these state directories.
    pub fn new(dirs: Vec<PathBuf>) -> Catalog {
        Catalog { dirs }
    }

    /// The pipelines of every directory: state files `<name>.json` and runs directories
    /// `<name>.runs` (at most
    /// [`limits::MAX_PIPELINES_PER_DIR`] per directory, by name).
    pub fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for (dir, path) in self.dirs.iter().enumerate() {
            // A state file, or a runs directory: the first run of a pipeline has no state
            // file until it ends.
            let mut names: Vec<String> = list_names(path, ".json")
                .into_iter()
                .filter(|name| path.join(format!("{name}.json")).is_file())
                .chain(list_names(path, ".runs").into_iter().filter(|name| path.join(format!("{name}.runs")).is_dir()))
                .collect();
            names.sort();
            names.dedup();
            names.truncate(limits::MAX_PIPELINES_PER_DIR);
            out.extend(names.into_iter().map(|name| Entry {
                dir,
                state_file: path.join(format!("{name}.json")),
                name,
            }));
        }
        out
    }

    /// The pipeline `name` of directory `dir`, if listed.
    pub fn find(&self, dir: usize, name: &str) -> Option<Entry> {
        self.entries().into_iter().find(|e| e.dir == dir && e.name == name)
    }

    /// The whole overview.
    pub fn overview(&self) -> Overview {
        Overview {
            state_dirs: self.dirs.iter().map(|d| d.display().to_string()).collect(),
            pipelines: self.entries().iter().map(view).collect(),
        }
    }

    /// The report of run `run_id` of a pipeline (its bytes as written, and parsed), if its
    /// runs directory lists it.
    pub fn report(&self, entry: &Entry, run_id: &str) -> Option<(Vec<u8>, RunReport)> {
        let runs = run_files::runs_dir(&entry.state_file);
        let wanted = format!("{}.json", run_files::file_safe(run_id));
        let listed = list_names(&runs, ".json").into_iter().any(|name| format!("{name}.json") == wanted);
        if !listed || wanted == run_files::LIVE_FILE || wanted == run_files::METRICS_FILE {
            return None;
        }
        let bytes = read_bounded(&runs.join(wanted), limits::MAX_REPORT_BYTES)?;
        let report = serde_json::from_slice(&bytes).ok()?;
        Some((bytes, report))
    }

    /// The metrics of every pipeline whose runs kept them (`metrics.json`), for `/metrics`.
    pub fn metrics(&self) -> Vec<crate::report::metrics::PipelineMetrics> {
        self.entries()
            .iter()
            .filter_map(|entry| {
                let path = run_files::metrics_path(&run_files::runs_dir(&entry.state_file));
                serde_json::from_slice(&read_bounded(&path, limits::MAX_STATE_BYTES)?).ok()
            })
            .collect()
    }

    /// The log file of `container` of a pipeline: `<log_dir>/<container>.log` of its process,
    /// when `container` is one the pipeline's state or reports name.
    pub fn log_file(&self, entry: &Entry, container: &str) -> Option<PathBuf> {
        let runs = run_files::runs_dir(&entry.state_file);
        let live = run_files::read_live(&runs)?;
        let known = read_state(&entry.state_file).is_ok_and(|s| s.containers.contains_key(container))
            || current_and_latest_reports(&runs).iter().any(|r| r.containers.iter().any(|c| c.name == container));
        if !known || !crate::ui::routes::is_safe_segment(container) {
            return None;
        }
        Some(live.log_dir.join(format!("{container}.log")))
    }
}

/// The names of the files of `dir` ending in `suffix`, without it (safe names only, at most
/// [`limits::MAX_LISTED`]).
fn list_names(dir: &Path, suffix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .take(limits::MAX_LISTED)
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter_map(|name| name.strip_suffix(suffix).map(String::from))
        .filter(|name| crate::ui::routes::is_safe_segment(name))
        .collect()
}

/// A file's bytes, if it is at most `limit` long.
fn read_bounded(path: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= limit).then_some(bytes)
}

fn read_state(path: &Path) -> Result<PipelineState, String> {
    if !path.exists() {
        return Ok(PipelineState::default());
    }
    let bytes = read_bounded(path, limits::MAX_STATE_BYTES).ok_or_else(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The reports of a runs directory still running, and the newest one, newest first.
fn current_and_latest_reports(runs: &Path) -> Vec<RunReport> {
    let mut reports: Vec<(std::time::SystemTime, RunReport)> = list_names(runs, ".json")
        .into_iter()
        .filter(|name| name != "live" && name != "metrics")
        .filter_map(|name| {
            let path = runs.join(format!("{name}.json"));
            let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
            let report = serde_json::from_slice(&read_bounded(&path, limits::MAX_REPORT_BYTES)?).ok()?;
            Some((modified, report))
        })
        .collect();
    reports.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out = Vec::new();
    for (i, (_, report)) in reports.into_iter().enumerate() {
        if i == 0 || report.finished_at.is_none() {
            out.push(report);
        }
    }
    out
}

/// Whether `pid` is a running copili process (its command line names copili).
pub fn is_copili_process(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline.split(|&b| b == 0).next().is_some_and(|exe| exe.ends_with(b"copili")))
}

fn view(entry: &Entry) -> PipelineView {
    let runs = run_files::runs_dir(&entry.state_file);
    let process = run_files::read_live(&runs);
    let running = process.as_ref().is_some_and(|p| is_copili_process(p.pid));
    let (state, problem) = match read_state(&entry.state_file) {
        Ok(state) => (state, None),
        Err(problem) => (PipelineState::default(), Some(problem)),
    };
    let current_runs: Vec<RunReport> = if running {
        current_and_latest_reports(&runs).into_iter().filter(|r| r.finished_at.is_none()).collect()
    } else {
        Vec::new()
    };
    let kept: std::collections::HashSet<String> = list_names(&runs, ".json").into_iter().collect();
    let mut history: Vec<HistoryRun> = state
        .history
        .iter()
        .map(|record| HistoryRun {
            report: kept.contains(&run_files::file_safe(&record.run_id)),
            record: record.clone(),
        })
        .collect();
    history.sort_by_key(|r| std::cmp::Reverse(r.record.started_at));
    let next_due = state
        .service
        .iter()
        .map(|(name, record)| NextDue {
            name: name.clone(),
            next_due: record.next_due.filter(|_| running).map(|t| t.to_string()),
            last_due: record.last_due.map(|t| t.to_string()),
        })
        .collect();
    let identity = process.as_ref().map_or_else(|| entry.name.clone(), |p| p.pipeline.clone());
    PipelineView {
        key: format!("{}/{}", entry.dir, entry.name),
        identity,
        state_file: entry.state_file.display().to_string(),
        process,
        running,
        current_runs,
        next_due,
        history,
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state directory with pipeline `p` (container `c`, a run `r1` and its report) whose
    /// process wrote its log directory, and files beside that no request may reach.
    fn scene() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("state");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(state.join("p.runs")).expect("created");
        std::fs::create_dir_all(&logs).expect("created");
        std::fs::write(
            state.join("p.json"),
            r#"{"version": 1, "containers": {"c": {"status": "succeeded", "exit_code": 0, "started_at": "2026-11-25T12:00:00Z", "finished_at": "2026-11-25T12:00:01Z", "image_id": null, "spec_hash": "h", "run_id": "r1", "last_success_at": null}}, "history": [{"run_id": "r1", "command": "run", "started_at": "2026-11-25T12:00:00Z", "finished_at": "2026-11-25T12:00:01Z", "results": {"c": "succeeded"}, "exit_code": 0}]}"#,
        )
        .expect("written");
        std::fs::write(
            state.join("p.runs/r1.json"),
            r#"{"pipeline": "p", "run_id": "r1", "engine": "podman", "started_at": "2026-11-25T12:00:00.000Z", "finished_at": "2026-11-25T12:00:01.000Z", "exit_code": 0, "containers": []}"#,
        )
        .expect("written");
        let live = LiveProcess {
            pipeline: "p".into(),
            pid: u32::MAX,
            command: "run".into(),
            log_dir: logs.clone(),
            started_at: "2026-11-25T12:00:00Z".into(),
            ui: None,
        };
        run_files::write_live(&state.join("p.runs"), &live).expect("written");
        std::fs::write(logs.join("c.log"), "hello\n").expect("written");
        std::fs::write(logs.join("other.log"), "secret\n").expect("written");
        std::fs::write(state.join(".hidden.json"), "{}").expect("written");
        (dir, Catalog::new(vec![state]))
    }

    #[test]
    fn pipelines_runs_and_logs_are_found_by_listing() {
        let (_dir, catalog) = scene();
        let entries = catalog.entries();
        assert_eq!(
            entries.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["p"],
            "hidden files are not pipelines"
        );
        let entry = catalog.find(0, "p").expect("listed");
        assert!(catalog.find(1, "p").is_none() && catalog.find(0, "q").is_none());
        let log = catalog.log_file(&entry, "c").expect("a container of the state");
        assert_eq!(std::fs::read_to_string(log).expect("read"), "hello\n");
        for name in ["other", "../logs/c", "..", "/etc/passwd", ".hidden"] {
            assert!(catalog.log_file(&entry, name).is_none(), "{name}");
        }
        assert_eq!(catalog.report(&entry, "r1").expect("kept").1.run_id, "r1");
        for run in ["live", "r2", "../p", "../../p.runs/r1"] {
            assert!(catalog.report(&entry, run).is_none(), "{run}");
        }
        let overview = catalog.overview();
        let view = &overview.pipelines[0];
        assert_eq!((view.key.as_str(), view.identity.as_str(), view.running), ("0/p", "p", false));
        assert!(view.history[0].report && view.current_runs.is_empty() && view.problem.is_none());
    }
}
