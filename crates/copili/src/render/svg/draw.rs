//! The SVG of a laid-out [`Graph`]: one `<g class="node">` per container (with `data-name`,
//! `data-status` when drawn with a report, and a `<title>` tooltip with the full name), one
//! `<path class="edge" data-from data-to>` per dependency, arrowheads on the dependent's side.
//!
//! Marks, as in the DOT rendering: a service container has a double border (`service`), its
//! sidecars are listed in the node (`has-sidecars`), a container the selection excludes is
//! dashed and grey with the reason (`excluded`), one that will be cancelled is orange
//! (`will-be-cancelled`); an edge to or from a container that does not run is dashed.

use std::fmt::Write as _;

use super::layout::Layout;
use super::Graph;
use crate::report::json::ReportStatus;

/// A node's size and the gaps between them, in pixels: fixed, so a large graph stays legible
/// (it grows; the viewer scrolls).
const NODE_WIDTH: usize = 200;
const NODE_HEIGHT: usize = 70;
const GAP_X: usize = 70;
const GAP_Y: usize = 18;
const MARGIN: usize = 16;
/// The longest name and image shown in full; longer ones end in `…` (the tooltip has them).
const NAME_CHARS: usize = 24;
const LINE_CHARS: usize = 30;

const STYLE: &str = "\
.copili-graph{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif}\
.copili-graph .node rect.box{fill:#ffffff;stroke:#5f6b7a;stroke-width:1.5}\
.copili-graph .node rect.inner{fill:none;stroke:#5f6b7a;stroke-width:1}\
.copili-graph .node text{fill:#1f2933;font-size:11px}\
.copili-graph .node text.name{font-size:13px;font-weight:600}\
.copili-graph .node text.status{font-weight:600}\
.copili-graph .node.excluded rect.box{stroke:#9aa5b1;stroke-dasharray:5 4;fill:#f5f7fa}\
.copili-graph .node.excluded text{fill:#7b8794}\
.copili-graph .node.will-be-cancelled rect.box{stroke:#e69500;stroke-width:2}\
.copili-graph .node.succeeded rect.box{fill:#e3f6e5;stroke:#2e7d32}\
.copili-graph .node.failed rect.box{fill:#fde8e8;stroke:#c62828;stroke-width:2.5}\
.copili-graph .node.failed_allowed rect.box{fill:#fff4e0;stroke:#c62828;stroke-dasharray:6 3;stroke-width:2}\
.copili-graph .node.cancelled rect.box{fill:#fff4e0;stroke:#e69500}\
.copili-graph .node.skipped rect.box{fill:#f0f2f5;stroke:#9aa5b1;stroke-dasharray:2 3}\
.copili-graph .node.running rect.box{fill:#e3effd;stroke:#1565c0;stroke-width:2}\
.copili-graph .node.pending rect.box{fill:#ffffff;stroke:#9aa5b1}\
.copili-graph .edge{fill:none;stroke:#7b8794;stroke-width:1.3}\
.copili-graph .edge.not-run{stroke-dasharray:5 4;stroke:#b8c2cc}\
.copili-graph .arrowhead{fill:#7b8794}";

/// Writes the SVG; `standalone` adds the XML declaration and the namespace a file needs.
pub fn draw(graph: &Graph, layout: &Layout, standalone: bool) -> String {
    let columns = layout.columns.len().max(1);
    let rows = layout.rows().max(1);
    let width = 2 * MARGIN + columns * NODE_WIDTH + (columns - 1) * GAP_X;
    let height = 2 * MARGIN + rows * NODE_HEIGHT + (rows - 1) * GAP_Y;
    let mut out = String::new();
    if standalone {
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"copili-graph\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">",
        attr(&format!("dependency graph of {}", graph.title))
    );
    let _ = writeln!(out, "<title>{}</title>", text(&graph.title));
    let _ = writeln!(out, "<style>{STYLE}</style>");
    out.push_str(
        "<defs><marker id=\"copili-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" \
         markerHeight=\"8\" orient=\"auto\"><path class=\"arrowhead\" d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>\n",
    );
    // A shorter column is centred against the tallest: its edges fan out both ways, shorter.
    let offset: Vec<usize> =
        layout.columns.iter().map(|column| (rows - column.len().min(rows)) * (NODE_HEIGHT + GAP_Y) / 2).collect();
    let position = |node: usize| {
        let level = layout.level[node];
        let x = MARGIN + level * (NODE_WIDTH + GAP_X);
        let y = MARGIN + offset.get(level).copied().unwrap_or(0) + layout.row[node] * (NODE_HEIGHT + GAP_Y);
        (x, y)
    };
    out.push_str("<g class=\"edges\">\n");
    for (to, node) in graph.nodes.iter().enumerate() {
        for &from in &node.depends_on {
            let Some(dependency) = graph.nodes.get(from) else { continue };
            let (x1, y1) = position(from);
            let (x2, y2) = position(to);
            let (x1, y1) = (x1 + NODE_WIDTH, y1 + NODE_HEIGHT / 2);
            let y2 = y2 + NODE_HEIGHT / 2;
            let runs = |n: &super::Node| n.excluded.is_none();
            let class = if runs(node) && runs(dependency) { "edge" } else { "edge not-run" };
            let d = if layout.level[to] > layout.level[from] + 1 {
                // Over a level: along the gap above the higher end's row, not through the
                // nodes of the levels between.
                let gap = y1.min(y2) - NODE_HEIGHT / 2 - GAP_Y / 2;
                format!(
                    "M{x1},{y1} C{},{y1} {},{gap} {},{gap} L{},{gap} C{},{gap} {},{y2} {x2},{y2}",
                    x1 + GAP_X / 2,
                    x1 + GAP_X / 2,
                    x1 + GAP_X,
                    x2 - GAP_X,
                    x2 - GAP_X / 2,
                    x2 - GAP_X / 2
                )
            } else {
                let bend = (x2.saturating_sub(x1) / 2).max(20);
                format!("M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}", x1 + bend, x2.saturating_sub(bend))
            };
            let _ = writeln!(
                out,
                "<path class=\"{class}\" data-from=\"{}\" data-to=\"{}\" d=\"{d}\" marker-end=\"url(#copili-arrow)\"/>",
                attr(&dependency.name),
                attr(&node.name),
            );
        }
    }
    out.push_str("</g>\n<g class=\"nodes\">\n");
    for column in &layout.columns {
        for &index in column {
            let node = &graph.nodes[index];
            let (x, y) = position(index);
            draw_node(&mut out, node, x, y);
        }
    }
    out.push_str("</g>\n</svg>\n");
    out
}

fn draw_node(out: &mut String, node: &super::Node, x: usize, y: usize) {
    let mut classes = vec!["node"];
    if node.service {
        classes.push("service");
    }
    if !node.sidecars.is_empty() {
        classes.push("has-sidecars");
    }
    if node.excluded.is_some() {
        classes.push("excluded");
    } else if node.will_be_cancelled {
        classes.push("will-be-cancelled");
    }
    let status = node.status.map(status_word);
    if let Some(status) = status {
        classes.push(status);
    }
    let mut status_attr = status.map(|s| format!(" data-status=\"{s}\"")).unwrap_or_default();
    if let Some(matrix) = &node.matrix {
        status_attr.push_str(&format!(" data-matrix=\"{}\"", attr(matrix)));
    }
    let _ = writeln!(
        out,
        "<g class=\"{}\" data-name=\"{}\"{status_attr} transform=\"translate({x},{y})\">",
        classes.join(" "),
        attr(&node.name)
    );
    // The tooltip: everything in full.
    let mut tooltip = vec![node.name.clone(), node.image.clone()];
    let mut marks = Vec::new();
    if let Some(matrix) = &node.matrix {
        marks.push(matrix.clone());
    }
    if node.service {
        marks.push("service".to_string());
    }
    if !node.sidecars.is_empty() {
        marks.push(format!("sidecars: {}", node.sidecars.join(", ")));
    }
    if let Some(reason) = &node.excluded {
        marks.push(reason.clone());
    } else if node.will_be_cancelled {
        marks.push("will be cancelled".into());
    }
    tooltip.extend(marks.iter().cloned());
    let status_line = status.map(|s| match node.duration_s {
        Some(seconds) => format!("{s} · {}", seconds_word(seconds)),
        None => s.to_string(),
    });
    tooltip.extend(status_line.iter().cloned());
    let _ = writeln!(out, "<title>{}</title>", text(&tooltip.join("\n")));
    let _ = writeln!(out, "<rect class=\"box\" width=\"{NODE_WIDTH}\" height=\"{NODE_HEIGHT}\" rx=\"6\"/>");
    if node.service {
        let _ = writeln!(
            out,
            "<rect class=\"inner\" x=\"3\" y=\"3\" width=\"{}\" height=\"{}\" rx=\"4\"/>",
            NODE_WIDTH - 6,
            NODE_HEIGHT - 6
        );
    }
    let _ = writeln!(out, "<text class=\"name\" x=\"10\" y=\"19\">{}</text>", text(&shorten(&node.name, NAME_CHARS)));
    let _ = writeln!(out, "<text class=\"image\" x=\"10\" y=\"35\">{}</text>", text(&shorten(&node.image, LINE_CHARS)));
    if !marks.is_empty() {
        let _ = writeln!(
            out,
            "<text class=\"marks\" x=\"10\" y=\"50\">{}</text>",
            text(&shorten(&marks.join(" · "), LINE_CHARS))
        );
    }
    if let Some(line) = status_line {
        let _ = writeln!(out, "<text class=\"status\" x=\"10\" y=\"64\">{}</text>", text(&line));
    }
    out.push_str("</g>\n");
}

/// The word of a status, as in the JSON report (and the node's class).
pub fn status_word(status: ReportStatus) -> &'static str {
    match status {
        ReportStatus::Pending => "pending",
        ReportStatus::Running => "running",
        ReportStatus::Succeeded => "succeeded",
        ReportStatus::Failed => "failed",
        ReportStatus::FailedAllowed => "failed_allowed",
        ReportStatus::Cancelled => "cancelled",
        ReportStatus::Skipped => "skipped",
    }
}

/// How a person reads a status: [`status_word`], but `failed (allowed)` for an allowed failure.
pub fn status_label(status: ReportStatus) -> &'static str {
    match status {
        ReportStatus::FailedAllowed => "failed (allowed)",
        other => status_word(other),
    }
}

fn seconds_word(seconds: f64) -> String {
    crate::report::human_duration(std::time::Duration::from_millis((seconds.max(0.0) * 1000.0) as u64))
}

/// `text` cut to `max` characters, the last one `…`.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// Text content: control characters made visible, markup escaped.
pub fn text(raw: &str) -> String {
    let shown = copili_model::escape::escape_controls_in_lines(raw);
    let mut out = String::with_capacity(shown.len());
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// An attribute value (between double quotes).
pub fn attr(raw: &str) -> String {
    text(raw).replace('"', "&quot;").replace('\'', "&#39;").replace('\n', "&#10;")
}
