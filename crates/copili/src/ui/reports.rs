//! A run's report as the dashboard's history links open it.
//!
//! Today that is the run's JSON report itself, as it was written (the shape of `--report`).
//! [`render_run_report`] is the one place to change when the self-contained HTML report
//! (`copili::report::html::render`, issue 15 item 2) is there: it then returns that page,
//! built from the report and the log files of `log_dir`.

use std::path::Path;

use crate::report::json::RunReport;

/// A rendered report: its content type and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedReport {
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// The page of one run: `report` as parsed, `json` as written, `log_dir` where its log files
/// are (when known).
///
/// The plug-in point of the HTML report: replace the body with
/// `copili::report::html::render(report, log_dir)` and the content type with
/// `text/html; charset=utf-8`.
pub fn render_run_report(report: &RunReport, json: Vec<u8>, log_dir: Option<&Path>) -> RenderedReport {
    let _ = (report, log_dir);
    RenderedReport { content_type: "application/json", body: json }
}
