//! A run's report as the dashboard's history links open it: the self-contained HTML report
//! (`copili::report::html`, the page `copili report` writes), built from the run's JSON
//! report and the log files of its log directory.

use std::path::Path;

use crate::report::html::{self, HtmlInputs};
use crate::report::json::RunReport;

/// A rendered report: its content type and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedReport {
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// The page of one run: `report` as parsed, `log_dir` where its log files are (when known). A log is looked for by its
/// file name in `log_dir` only, whatever path the report names: the dashboard reads no file
/// outside the directories it serves.
pub fn render_run_report(report: &RunReport, log_dir: Option<&Path>) -> RenderedReport {
    let mut inputs = HtmlInputs::default();
    if let Some(dir) = log_dir {
        let mut confined = report.clone();
        for container in &mut confined.containers {
            container.log_file = container
                .log_file
                .as_deref()
                .and_then(|file| Path::new(file).file_name())
                .map(|name| dir.join(name).display().to_string());
        }
        inputs = inputs.read_logs(&confined, dir);
    }
    RenderedReport { content_type: "text/html; charset=utf-8", body: html::render(report, &inputs).into_bytes() }
}
