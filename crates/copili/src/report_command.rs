//! `copili report RUN.json -o FILE` and `run --report-html FILE`: the HTML report of a run,
//! written atomically.

use std::path::Path;

use copili::report::html::{self, HtmlInputs};
use copili::report::json::RunReport;

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
    write_atomically(path, page).map_err(|source| CliError::Write { path: path.to_path_buf(), source })
}

fn write_atomically(path: &Path, page: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let result = std::fs::write(&temporary, page).and_then(|()| std::fs::rename(&temporary, path));
        if result.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        result
    };
    write()
}

/// `run --report-html`: a failure to write is a warning (the run itself happened).
pub(crate) fn write_after_run(path: &Path, report: &RunReport, inputs: &HtmlInputs) {
    if let Err(error) = write_atomically(path, &html::render(report, inputs)) {
        errln!("warning: cannot write {}: {error}", path.display());
    }
}
