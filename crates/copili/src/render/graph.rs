//! `copili graph`: the dependency graph as Graphviz DOT or Mermaid. Edges point from a
//! dependency to its dependent (the order of execution); containers that do not run in the
//! selection are drawn dashed with the reason; sidecars hang off their container.

use std::fmt::Write as _;

use crate::{Pipeline, Plan};

fn dot_escape(text: &str) -> String {
    let text = copili_model::escape::escape_controls(text);
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Renders the graph as Graphviz DOT.
pub fn to_dot(pipeline: &Pipeline, plan: &Plan) -> String {
    let spec = pipeline.spec();
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(pipeline.identity()));
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(out, "  node [shape=box, style=rounded, fontname=\"Helvetica\"];");
    for (i, c) in spec.containers.iter().enumerate() {
        let mut label = format!("{}\\n{}", dot_escape(&c.name), dot_escape(&c.image()));
        let mut attrs = Vec::new();
        if let Some(origin) = &c.matrix {
            label.push_str(&format!("\\n({})", dot_escape(&origin.to_string())));
        }
        if c.is_service_container {
            label.push_str("\\n(service)");
            attrs.push("peripheries=2".to_string());
        }
        if let Some(reason) = plan.exclusion(i) {
            label.push_str(&format!("\\n{}", dot_escape(&reason.to_string())));
            attrs.push("style=\"rounded,dashed\"".into());
            attrs.push("color=gray50".into());
            attrs.push("fontcolor=gray50".into());
        } else if plan.blocked_by(i).is_some() {
            label.push_str("\\nwill be cancelled");
            attrs.push("color=orange".into());
        }
        attrs.insert(0, format!("label=\"{label}\""));
        let _ = writeln!(out, "  \"{}\" [{}];", dot_escape(&c.name), attrs.join(", "));
        for s in &c.sidecars {
            let id = format!("{}/{}", c.name, s.name);
            let _ = writeln!(
                out,
                "  \"{}\" [label=\"{}\\n{}\\n(sidecar)\", shape=ellipse, style=dashed];",
                dot_escape(&id),
                dot_escape(&s.name),
                dot_escape(&s.image())
            );
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\" [style=dotted, arrowhead=none];",
                dot_escape(&c.name),
                dot_escape(&id)
            );
        }
    }
    for (i, c) in spec.containers.iter().enumerate() {
        for dep in plan.dependencies(i) {
            let style = if plan.is_selected(i) && plan.is_selected(dep) { "" } else { " [style=dashed, color=gray50]" };
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\"{style};",
                dot_escape(&spec.containers[dep].name),
                dot_escape(&c.name)
            );
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid_escape(text: &str) -> String {
    let text = copili_model::escape::escape_controls(text);
    text.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
}

/// Renders the graph as a Mermaid flowchart.
pub fn to_mermaid(pipeline: &Pipeline, plan: &Plan) -> String {
    let spec = pipeline.spec();
    let mut out = String::new();
    let _ = writeln!(out, "---\ntitle: {}\n---", mermaid_escape(pipeline.identity()));
    let _ = writeln!(out, "flowchart LR");
    let mut excluded = Vec::new();
    let mut blocked = Vec::new();
    let mut services = Vec::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let mut label = format!("{}<br/>{}", mermaid_escape(&c.name), mermaid_escape(&c.image()));
        if let Some(origin) = &c.matrix {
            label.push_str(&format!("<br/>({})", mermaid_escape(&origin.to_string())));
        }
        if let Some(reason) = plan.exclusion(i) {
            label.push_str(&format!("<br/><i>{}</i>", mermaid_escape(&reason.to_string())));
            excluded.push(format!("c{i}"));
        } else if plan.blocked_by(i).is_some() {
            label.push_str("<br/><i>will be cancelled</i>");
            blocked.push(format!("c{i}"));
        }
        if c.is_service_container {
            label.push_str("<br/>(service)");
            services.push(format!("c{i}"));
        }
        let _ = writeln!(out, "  c{i}[\"{label}\"]");
        for (j, s) in c.sidecars.iter().enumerate() {
            let _ = writeln!(
                out,
                "  c{i}s{j}([\"{}<br/>{}<br/>(sidecar)\"])",
                mermaid_escape(&s.name),
                mermaid_escape(&s.image())
            );
            let _ = writeln!(out, "  c{i} -.- c{i}s{j}");
        }
    }
    for i in 0..spec.containers.len() {
        for dep in plan.dependencies(i) {
            let arrow = if plan.is_selected(i) && plan.is_selected(dep) { "-->" } else { "-.->" };
            let _ = writeln!(out, "  c{dep} {arrow} c{i}");
        }
    }
    let classes = [
        ("excluded", "stroke-dasharray: 5 5,color:#888,stroke:#888", &excluded),
        ("blocked", "stroke:#e69500", &blocked),
        ("service", "stroke-width:3px", &services),
    ];
    for (class, style, members) in classes {
        if !members.is_empty() {
            let _ = writeln!(out, "  classDef {class} {style}");
            let _ = writeln!(out, "  class {} {class}", members.join(","));
        }
    }
    out
}
