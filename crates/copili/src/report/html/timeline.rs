//! The timeline (a Gantt chart) of a run: one row per image preparation and per container,
//! a bar per attempt (retries are further bars on the same row), positioned in percent of the
//! run's span so it needs no script. Each bar says its times in its tooltip and in
//! `data-start-ms` / `data-end-ms` (milliseconds from the run's start).

use std::fmt::Write as _;

use super::super::json::RunReport;
use super::esc;
use crate::render::svg::draw::status_word;

fn millis(time: &str) -> Option<i64> {
    time.parse::<copili_state::jiff::Timestamp>().ok().map(|t| t.as_millisecond())
}

/// A bar: start and end (ms since the epoch), CSS classes, tooltip.
type Bar = (i64, i64, String, String);

pub(super) fn render(out: &mut String, report: &RunReport) {
    out.push_str("<section id=\"timeline\"><h2>Timeline</h2>\n");
    let Some(start) = millis(&report.started_at) else {
        out.push_str("<p class=\"note\">the report's start time cannot be read</p>\n</section>\n");
        return;
    };
    let mut end = report.finished_at.as_deref().and_then(millis).unwrap_or(start);
    let mut rows: Vec<(String, String, Vec<Bar>)> = Vec::new();
    for image in &report.images {
        let (Some(from), Some(to)) =
            (image.started_at.as_deref().and_then(millis), image.finished_at.as_deref().and_then(millis))
        else {
            continue;
        };
        let label = format!("{} {}", image.status, image.image);
        rows.push((format!("image {}", image.image), "image".into(), vec![(from, to, "image".into(), label)]));
    }
    let mut containers: Vec<_> = report.containers.iter().collect();
    containers.sort_by_key(|c| {
        c.attempt_times
            .first()
            .and_then(|a| millis(&a.started_at))
            .or(c.started_at.as_deref().and_then(millis))
            .unwrap_or(i64::MAX)
    });
    for c in containers {
        let mut bars = Vec::new();
        let status = status_word(c.status);
        for attempt in &c.attempt_times {
            let Some(from) = millis(&attempt.started_at) else { continue };
            let to = attempt.finished_at.as_deref().and_then(millis).unwrap_or(from);
            let class =
                if attempt.reason.is_some() { "attempt retried".to_string() } else { format!("attempt {status}") };
            let mut label = format!("{} attempt {}", c.name, attempt.attempt);
            if let Some(reason) = &attempt.reason {
                label.push_str(&format!(": {reason}, retried"));
            }
            bars.push((from, to, class, label));
        }
        if bars.is_empty() {
            if let (Some(from), Some(to)) =
                (c.started_at.as_deref().and_then(millis), c.finished_at.as_deref().and_then(millis))
            {
                bars.push((from, to, format!("attempt {status}"), c.name.clone()));
            }
        }
        rows.push((c.name.clone(), status.to_string(), bars));
        rows.extend(sidecar_rows(c));
    }
    for (_, _, bars) in &rows {
        for (_, to, _, _) in bars {
            end = end.max(*to);
        }
    }
    let span = (end - start).max(1) as f64;
    let _ = writeln!(
        out,
        "<div class=\"gantt\" data-span-ms=\"{}\">\n<div class=\"axis\"><span>0s</span><span>{:.1}s</span></div>",
        end - start,
        span / 1000.0
    );
    for (name, status, bars) in &rows {
        let _ = write!(
            out,
            "<div class=\"row {}\" data-container=\"{}\"><div class=\"label\" title=\"{}\">{}</div><div class=\"track\">",
            esc(status),
            esc(name),
            esc(name),
            esc(name)
        );
        let name = name.split(" / ").next().unwrap_or(name);
        if bars.is_empty() {
            out.push_str("<span class=\"not-run\">did not run</span>");
        }
        for (from, to, class, label) in bars {
            let left = (from - start) as f64 / span * 100.0;
            let width = ((to - from) as f64 / span * 100.0).max(0.4);
            let _ = write!(
                out,
                "<div class=\"bar {}\" data-container=\"{}\" data-start-ms=\"{}\" data-end-ms=\"{}\" \
                 style=\"left:{left:.3}%;width:{width:.3}%\" title=\"{} ({:.1}s → {:.1}s)\"></div>",
                esc(class),
                esc(name),
                from - start,
                to - start,
                esc(label),
                (from - start) as f64 / 1000.0,
                (to - start) as f64 / 1000.0,
            );
        }
        out.push_str("</div></div>\n");
    }
    out.push_str(
        "</div>\n<p class=\"note\">Bars: image preparation (pull, build or check), and each attempt of each \
         container; a striped bar is an attempt that failed and was retried. Under a container with sidecars, \
         a row per sidecar: from its start to the end of the attempt, the part before its ready check \
         succeeded (the ready wait) hatched; the main container starts after the last.</p>\n</section>\n",
    );
}

/// The rows of a container's sidecars (`CONTAINER / SIDECAR`): per attempt, a bar from the
/// sidecar's start to the attempt's end, and over it the ready wait, from the start to the
/// ready check's success.
fn sidecar_rows(c: &super::super::json::ContainerReport) -> Vec<(String, String, Vec<Bar>)> {
    let mut rows: Vec<(String, String, Vec<Bar>)> = Vec::new();
    for attempt in &c.attempt_times {
        let end = attempt.finished_at.as_deref().and_then(millis);
        for sidecar in &attempt.sidecars {
            let Some(from) = millis(&sidecar.started_at) else { continue };
            let row_name = format!("{} / {}", c.name, sidecar.name);
            let mut bars = vec![(
                from,
                end.unwrap_or(from).max(from),
                "sidecar".to_string(),
                format!("sidecar {} of {} attempt {}", sidecar.name, c.name, attempt.attempt),
            )];
            if let Some(ready) = sidecar.ready_at.as_deref().and_then(millis) {
                let label = format!("{}: ready wait {:.1}s", sidecar.name, (ready - from) as f64 / 1000.0);
                bars.push((from, ready.max(from), "ready-wait".to_string(), label));
            }
            match rows.iter_mut().find(|row| row.0 == row_name) {
                Some(row) => row.2.extend(bars),
                None => rows.push((row_name, "sidecar".to_string(), bars)),
            }
        }
    }
    rows
}
