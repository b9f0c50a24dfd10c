//! Prometheus metrics of runs: counters of runs, failures and durations per container, the
//! last success, and in service mode when each service container is next due.
//!
//! [`PipelineMetrics`] (`store.rs`) is what is counted, kept between runs in the state
//! directory (`<state>/<name>.runs/metrics.json`, see [`crate::run_files`]) so that counters
//! keep growing across runs. [`render`] (`exposition.rs`) writes the text exposition format;
//! a [`MetricsFile`] writes it after each run (`--metrics FILE`, atomically, as node_exporter's
//! textfile collector needs), and the dashboard serves it on `/metrics`.

mod exposition;
mod store;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

pub use exposition::{render, CONTENT_TYPE};
pub use store::{unix_seconds, ContainerMetrics, PipelineMetrics};

use super::{Reporter, RunInfo, RunSummary};

/// A pipeline's metrics and where they are written: the store kept between runs and the
/// exposition file (`--metrics`). Shared by the runs of a service (one [`MetricsFile`] each).
#[derive(Debug)]
pub struct MetricsSink {
    metrics: PipelineMetrics,
    store: Option<PathBuf>,
    file: Option<PathBuf>,
}

impl MetricsSink {
    /// The metrics of `pipeline` as kept at `store` (nothing counted if there is none), written
    /// there and as an exposition to `file` by [`MetricsSink::save`].
    pub fn open(pipeline: &str, store: Option<PathBuf>, file: Option<PathBuf>) -> MetricsSink {
        let metrics = match &store {
            Some(path) => PipelineMetrics::load(path, pipeline),
            None => PipelineMetrics::new(pipeline),
        };
        MetricsSink { metrics, store, file }
    }

    /// What is counted.
    pub fn metrics(&self) -> &PipelineMetrics {
        &self.metrics
    }

    /// Counts a run.
    pub fn record(&mut self, info: &RunInfo, summary: &RunSummary) {
        self.metrics.record(info, summary);
    }

    /// When a service container is next due (seconds since the Unix epoch).
    pub fn set_next_due(&mut self, container: &str, at: f64) {
        self.metrics.next_due.insert(container.to_string(), at);
    }

    /// No service container is due any more (service mode stopped).
    pub fn clear_next_due(&mut self) {
        self.metrics.next_due.clear();
    }

    /// Writes the store and the exposition file, each replaced whole; the problems met, worded.
    pub fn save(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(path) = &self.store {
            let written = serde_json::to_vec_pretty(&self.metrics)
                .map_err(std::io::Error::other)
                .and_then(|bytes| super::atomic::write_atomically(path, &bytes));
            if let Err(e) = written {
                errors.push(format!("cannot write the metrics store {}: {e}", path.display()));
            }
        }
        if let Some(path) = &self.file {
            if let Err(e) = super::atomic::write_atomically(path, render(&[&self.metrics]).as_bytes()) {
                errors.push(format!("cannot write the metrics file {}: {e}", path.display()));
            }
        }
        errors
    }
}

/// A sink shared by a service's runs and its scheduler.
pub type SharedSink = Arc<Mutex<MetricsSink>>;

/// The reporter that counts its run in a [`MetricsSink`] and saves it when the run ends.
pub struct MetricsFile {
    sink: SharedSink,
    info: RunInfo,
    errors: Vec<String>,
}

impl MetricsFile {
    /// Counts the run of `info` in `sink`.
    pub fn new(sink: SharedSink, info: &RunInfo) -> MetricsFile {
        MetricsFile { sink, info: info.clone(), errors: Vec::new() }
    }

    /// The reporter of a `copili run`: counting in the state's runs directory, if there is
    /// one, and writing `file` (`--metrics`) if given; `None` when neither.
    pub fn for_run(info: &RunInfo, runs_dir: Option<&std::path::Path>, file: Option<PathBuf>) -> Option<MetricsFile> {
        if runs_dir.is_none() && file.is_none() {
            return None;
        }
        let sink = MetricsSink::open(&info.pipeline, runs_dir.map(crate::run_files::metrics_path), file);
        Some(MetricsFile::new(Arc::new(Mutex::new(sink)), info))
    }
}

impl Reporter for MetricsFile {
    fn event(&mut self, _event: &copili_runtime::runner::RunEvent) {}

    fn finish(&mut self, summary: &RunSummary) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        sink.record(&self.info, summary);
        self.errors = sink.save();
    }

    fn errors(&self) -> Vec<String> {
        self.errors.clone()
    }
}
