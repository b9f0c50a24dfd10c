//! `copili report RUN.json -o FILE` and `run --report-html FILE`: the HTML report of a run,
//! written atomically.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use copili::render::svg::Graph;
use copili::report::html::{self, HtmlInputs};
use copili::report::json::{write_atomically, RunReport};
use copili::report::{system_clock, JsonReport, Reporter as _, RunInfo, RunSummary};

use crate::cli::{InputArgs, RunArgs, RunOnceArgs};
use crate::error::CliError;
use crate::output::errln;

/// Reads a JSON report (`run --report`).
pub(crate) fn read_report(path: &Path) -> Result<RunReport, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read the report {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{}: not a JSON report of copili run: {e}", path.display())))
}

/// `copili report`.
pub(crate) fn report(
    report: &Path,
    output: &Path,
    state_dir: Option<&Path>,
    logs_from: Option<&Path>,
) -> Result<i32, CliError> {
    let run = read_report(report)?;
    let mut inputs = HtmlInputs::default().read_logs(&run, logs_from.unwrap_or(Path::new(".")));
    if let Some(dir) = state_dir {
        inputs = inputs.read_history(dir, &run.pipeline);
    }
    write_page(output, &html::render(&run, &inputs))?;
    Ok(copili::exit_code::SUCCESS)
}

/// Writes the page through a temporary file of the same directory.
pub(crate) fn write_page(path: &Path, page: &str) -> Result<(), CliError> {
    write_atomically(path, page.as_bytes()).map_err(|source| CliError::Write { path: path.to_path_buf(), source })
}

/// `run --report-html`: the JSON report's document, kept in memory for the page (no log
/// files in a dry run).
pub(crate) fn html_report(once: &RunOnceArgs, args: &RunArgs, info: &RunInfo) -> Option<Mutex<JsonReport>> {
    once.report_html.as_ref()?;
    let report = JsonReport::in_memory(info, system_clock());
    Some(Mutex::new(if once.dry_run { report } else { report.with_log_dir(&args.log_dir) }))
}

/// Writes the page of `run --report-html` once the run is over (its log files flushed, its
/// state recorded); a failure to write is a warning (the run itself happened).
pub(crate) fn write_after_run(
    path: &Path,
    html: Mutex<JsonReport>,
    summary: &RunSummary,
    (input, args): (&InputArgs, &RunArgs),
    pipeline: &copili::Pipeline,
    plan: &copili::Plan,
) {
    let state_dir = args.state_dir.clone().unwrap_or_else(|| copili::run_state::default_dir(&input.file));
    let mut html = html.into_inner().unwrap_or_else(PoisonError::into_inner);
    html.finish(summary);
    let report = html.report();
    let inputs = HtmlInputs { graph: Some(Graph::from_plan(pipeline, plan)), ..HtmlInputs::default() }
        .read_logs(&report, Path::new("."))
        .read_history(&state_dir, pipeline.identity());
    if let Err(error) = write_atomically(path, html::render(&report, &inputs).as_bytes()) {
        errln!("warning: cannot write {}: {error}", path.display());
    }
}
