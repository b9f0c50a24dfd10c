//! The self-contained HTML report of a run (`copili run --report-html FILE`, `copili report
//! RUN.json -o FILE`): one file, everything inline, that opens from `file://` with no network.
//!
//! A Content-Security-Policy meta tag forbids every fetch (`default-src 'none'`); the page is
//! readable with scripts off (logs are `<details>`, collapsed but for a failed container's),
//! and its small script only filters containers and logs by a search. Every text is HTML-escaped; nothing is read from
//! the environment: what the page shows is the JSON report, the log files it names (written by
//! copili, with what its messages mask masked), and the run history of the state.
//!
//! Sections, each with an id a test (or a person's link) finds: `#graph` (the SVG of
//! [`crate::render::svg`], coloured by status), `#timeline` (a bar per image preparation and
//! per attempt: `.bar` with `data-container`, `data-start-ms`, `data-end-ms`), `#summary` (a
//! table like the console's), `#failures` (each failure's typed reason), `#logs` (a
//! `<details class="log" data-name>` per container, open for a failed one), `#images`, `#history`.

pub mod logs;
mod timeline;

use std::fmt::Write as _;
use std::path::Path;

pub use logs::LogExcerpt;

use super::json::{ContainerReport, ReportStatus, RunReport};
use crate::render::svg::{
    self,
    draw::{status_label, status_word},
    Graph,
};

/// What the page shows beside the JSON report itself.
#[derive(Debug, Clone, Default)]
pub struct HtmlInputs {
    /// The graph to draw; without one, it is drawn from the report's `depends_on`.
    pub graph: Option<Graph>,
    /// Each container's log, by name (read with [`HtmlInputs::read_logs`]).
    pub logs: Vec<(String, LogExcerpt)>,
    /// The pipeline's last runs, oldest first (from the state), when known.
    pub history: Option<Vec<copili_state::RunRecord>>,
}

impl HtmlInputs {
    /// Reads the log file of each container the report names (`log_file`), relative paths
    /// from `base` (the directory the run ran in).
    pub fn read_logs(mut self, report: &RunReport, base: &Path) -> HtmlInputs {
        self.logs = report
            .containers
            .iter()
            .filter_map(|c| {
                let path = c.log_file.as_ref()?;
                Some((c.name.clone(), logs::read_log(base, Path::new(path), &report.run_id)))
            })
            .collect();
        self
    }

    /// Reads the pipeline's history from the state directory `dir`; none when it has no
    /// state there (or cannot be read: the page says so rather than failing).
    pub fn read_history(mut self, dir: &Path, pipeline: &str) -> HtmlInputs {
        if !dir.is_dir() {
            return self;
        }
        self.history =
            copili_state::StateStore::open(dir).and_then(|store| store.load(pipeline)).ok().map(|state| state.history);
        self
    }
}

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; \
                   base-uri 'none'; form-action 'none'";

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("script.js");

/// The page of `report`.
pub fn render(report: &RunReport, inputs: &HtmlInputs) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("copili run {} of {}", report.run_id, report.pipeline);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    header(&mut out, report);
    out.push_str("<input id=\"search\" type=\"search\" placeholder=\"Filter containers and logs…\" hidden>\n");

    let graph = inputs.graph.clone().map(|g| g.with_report(report)).unwrap_or_else(|| Graph::from_report(report));
    out.push_str("<section id=\"graph\"><h2>Graph</h2>\n<div class=\"scroll\">\n");
    out.push_str(&svg::to_inline_svg(&graph));
    out.push_str("</div>\n</section>\n");

    timeline::render(&mut out, report);
    summary(&mut out, report);
    failures(&mut out, report);
    logs_section(&mut out, report, inputs);
    images(&mut out, report);
    history(&mut out, inputs);
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, report: &RunReport) {
    let outcome = match report.exit_code {
        None => "running".to_string(),
        Some(0) => "succeeded".to_string(),
        Some(code) => format!("failed (exit code {code})"),
    };
    let class = match report.exit_code {
        None => "running",
        Some(0) => "succeeded",
        Some(_) => "failed",
    };
    let count = |status: ReportStatus| report.containers.iter().filter(|c| c.status == status).count();
    let _ = write!(
        out,
        "<header>\n<h1>{} <span class=\"run-status {class}\">{}</span></h1>\n<p class=\"meta\">run <code>{}</code> on \
         <b>{}</b> · started {} · finished {} · {} succeeded, {} failed{}, {} cancelled, {} skipped</p>\n</header>\n",
        esc(&report.pipeline),
        esc(&outcome),
        esc(&report.run_id),
        esc(&report.engine),
        esc(&report.started_at),
        esc(report.finished_at.as_deref().unwrap_or("-")),
        count(ReportStatus::Succeeded),
        count(ReportStatus::Failed),
        match count(ReportStatus::FailedAllowed) {
            0 => String::new(),
            allowed => format!(", {allowed} failed (allowed)"),
        },
        count(ReportStatus::Cancelled),
        count(ReportStatus::Skipped),
    );
}

fn summary(out: &mut String, report: &RunReport) {
    out.push_str(
        "<section id=\"summary\"><h2>Summary</h2>\n<table>\n<thead><tr><th>container</th><th>status</th><th>exit \
         code</th><th>attempts</th><th>started</th><th>duration</th><th>image</th><th>reason</th></tr></thead>\n<tbody>\n",
    );
    for c in &report.containers {
        let (status, label) = (status_word(c.status), status_label(c.status));
        let _ = writeln!(
            out,
            "<tr class=\"container {status}\" data-name=\"{}\"><td>{}</td><td class=\"status\"><span class=\"badge \
             {status}\">{label}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&c.name),
            esc(&c.name),
            c.exit_code.map(|code| code.to_string()).unwrap_or_else(|| "-".into()),
            c.attempts,
            esc(c.started_at.as_deref().unwrap_or("-")),
            c.duration_s.map(seconds).unwrap_or_else(|| "-".into()),
            esc(&c.image),
            esc(c.reason.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn failures(out: &mut String, report: &RunReport) {
    let failed: Vec<&ContainerReport> = report
        .containers
        .iter()
        .filter(|c| matches!(c.status, ReportStatus::Failed | ReportStatus::FailedAllowed))
        .collect();
    let images: Vec<_> = report.images.iter().filter(|i| i.status == "failed").collect();
    if failed.is_empty() && images.is_empty() {
        return;
    }
    out.push_str("<section id=\"failures\"><h2>Failures</h2>\n<ul>\n");
    for c in failed {
        let kind = c.reason_fields.reason_kind.as_deref().unwrap_or("");
        let _ = writeln!(
            out,
            "<li class=\"failure{}\" data-name=\"{}\" data-kind=\"{}\"><a href=\"#log-{}\"><b>{}</b></a>{}: {}</li>",
            if c.allowed { " allowed" } else { "" },
            esc(&c.name),
            esc(kind),
            esc(&anchor(&c.name)),
            esc(&c.name),
            if c.allowed { " (allowed)" } else { "" },
            esc(c.reason.as_deref().unwrap_or("failed")),
        );
    }
    for i in images {
        let _ = writeln!(
            out,
            "<li class=\"failure image\">image <code>{}</code>: {}</li>",
            esc(&i.image),
            esc(i.reason.as_deref().unwrap_or("failed"))
        );
    }
    out.push_str("</ul>\n</section>\n");
}

fn logs_section(out: &mut String, report: &RunReport, inputs: &HtmlInputs) {
    out.push_str("<section id=\"logs\"><h2>Logs</h2>\n");
    for c in &report.containers {
        let (status, label) = (status_word(c.status), status_label(c.status));
        let log = inputs.logs.iter().find(|(name, _)| name == &c.name).map(|(_, log)| log);
        // A failed container's log is open: why it failed is what the page is opened for.
        let open = if matches!(c.status, ReportStatus::Failed | ReportStatus::FailedAllowed) { " open" } else { "" };
        let _ = write!(
            out,
            "<details class=\"log {status}\" id=\"log-{}\" data-name=\"{}\"{open}>\n<summary><span class=\"badge \
             {status}\">{label}</span> <b>{}</b> <code>{}</code>{}</summary>\n",
            esc(&anchor(&c.name)),
            esc(&c.name),
            esc(&c.name),
            esc(&c.image),
            c.exit_code.map(|code| format!(" · exit code {code}")).unwrap_or_default(),
        );
        match log {
            Some(log) => {
                let _ = writeln!(
                    out,
                    "<p class=\"log-file\">log file: <code>{}</code></p>",
                    esc(&log.path.display().to_string())
                );
                if let Some(error) = &log.error {
                    let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(error));
                }
                if log.truncated_bytes > 0 {
                    let _ = writeln!(
                        out,
                        "<p class=\"note truncated\">truncated: the first {} of this log are not shown; the whole log \
                         is in <code>{}</code></p>",
                        esc(&bytes_word(log.truncated_bytes)),
                        esc(&log.path.display().to_string())
                    );
                }
                let _ = writeln!(out, "<pre class=\"log-text\">{}</pre>", esc(&log.text));
            }
            None => out.push_str("<p class=\"note\">no log file for this container in this run</p>\n"),
        }
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n");
}

fn images(out: &mut String, report: &RunReport) {
    if report.images.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"images\"><h2>Images</h2>\n<table>\n<thead><tr><th>image</th><th>status</th><th>attempts</th>\
         <th>duration</th><th>reason</th></tr></thead>\n<tbody>\n",
    );
    for i in &report.images {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.image),
            esc(&i.status),
            i.attempts,
            i.duration_s.map(seconds).unwrap_or_else(|| "-".into()),
            esc(i.reason.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn history(out: &mut String, inputs: &HtmlInputs) {
    let Some(history) = &inputs.history else { return };
    out.push_str("<section id=\"history\"><h2>Last runs</h2>\n");
    if history.is_empty() {
        out.push_str("<p class=\"note\">no run recorded yet</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th>run id</th><th>command</th><th>started</th><th>finished</th><th>exit \
         code</th><th>results</th></tr></thead>\n<tbody>\n",
    );
    for run in history.iter().rev() {
        let mut counts = std::collections::BTreeMap::new();
        for status in run.results.values() {
            *counts.entry(format!("{status:?}").to_lowercase()).or_insert(0usize) += 1;
        }
        let results: Vec<String> = counts.iter().map(|(status, n)| format!("{n} {status}")).collect();
        let class = if run.exit_code == 0 { "succeeded" } else { "failed" };
        let _ = writeln!(
            out,
            "<tr class=\"{class}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&run.run_id),
            esc(&format!("{:?}", run.command).to_lowercase()),
            esc(&run.started_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
            esc(&run.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
            run.exit_code,
            esc(&results.join(", ")),
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// An id for a container's log section: its name, which is `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn anchor(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '-' }).collect()
}

fn seconds(seconds: f64) -> String {
    super::human_duration(std::time::Duration::from_millis((seconds.max(0.0) * 1000.0) as u64))
}

fn bytes_word(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}

/// HTML-escaped text, control characters made visible (line breaks and tabs kept).
pub(crate) fn esc(raw: &str) -> String {
    svg::draw::attr(raw).replace("&#10;", "\n")
}

#[cfg(test)]
mod tests;
