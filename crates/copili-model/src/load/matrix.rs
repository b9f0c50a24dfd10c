//! `matrix:` fan-out: one description becomes one container per combination of its values,
//! before anything else sees it, so that the planner, the runtimes and the exports see
//! ordinary containers.
//!
//! Each expansion is the description's tree with every `${{ matrix.KEY }}` replaced, converted
//! as any container (its places are the description's, for messages); what all expansions
//! report alike is reported once. Combinations follow the keys in the order written, the last
//! key varying fastest; an expansion is named `<name>-<v1>-<v2>…` unless its `name` holds a
//! `${{ matrix.KEY }}` itself.

use crate::expression::{self, Reference};
use crate::spec::MatrixOrigin;

use super::*;

/// The most containers one `matrix` may expand into.
pub const MAX_EXPANSIONS: usize = 1000;

/// The keys of a matrix with their values, in the order written.
type Axes = Vec<(String, Vec<String>)>;

impl Loader {
    /// One item of the list of containers: its container, or for a `matrix` description one
    /// container per combination of values.
    pub(super) fn containers_of(&mut self, node: &Node, index: usize) -> Vec<ContainerSpec> {
        let label = raw_name(node).unwrap_or_else(|| format!("#{}", index + 1));
        let Some(matrix) = entry(node, "matrix") else {
            self.refuse_matrix_expressions(node, &label, None);
            return self.container(node, index, None).into_iter().collect();
        };
        let axes = self.axes(matrix, &label);
        self.refuse_matrix_expressions(node, &label, axes.as_ref());
        let Some(axes) = axes else {
            // The matrix was reported: read the rest for its own problems.
            return self.container(node, index, None).into_iter().collect();
        };
        let name_has_expression = raw_name(node).is_some_and(|n| expression::has_expressions(&n));
        let mut seen: std::collections::HashSet<(bool, String, u32, u32)> = std::collections::HashSet::new();
        let mut out = Vec::new();
        for values in combinations(&axes) {
            let resolve = |r: &Reference| match r {
                Reference::Matrix { key } => values.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()),
                Reference::StepOutput { .. } => None,
            };
            let mut expanded = substituted(node, &resolve);
            let suffix: Vec<&str> = values.iter().map(|(_, v)| v.as_str()).collect();
            if !name_has_expression {
                rename(&mut expanded, &suffix.join("-"));
            }
            let before = self.diagnostics.len();
            let Some(mut spec) = self.container(&expanded, index, None) else { continue };
            // What every expansion reports alike is reported once (by the first).
            let fresh: Vec<Diagnostic> = self.diagnostics.drain(before..).collect();
            for d in fresh {
                let message =
                    if spec.name.is_empty() { d.message.clone() } else { d.message.replace(&spec.name, &label) };
                let key = (d.is_error(), message, d.span.line, d.span.column);
                if seen.insert(key) {
                    self.diagnostics.push(d);
                }
            }
            spec.matrix = Some(Box::new(MatrixOrigin { base: label.clone(), values }));
            out.push(spec);
        }
        out
    }

    /// The matrix's keys and values, or `None` (reported) when it cannot be expanded.
    fn axes(&mut self, matrix: &Node, label: &str) -> Option<Axes> {
        let at = At { container: label, property: "matrix" };
        let Value::Map(entries) = &matrix.value else {
            self.error(
                format!("`matrix` must be a mapping of keys to lists of values, found {}", matrix.kind_name()),
                matrix.span,
                Some(at),
            )
            .help = Some("e.g. `matrix: {source: [genes, papers, pathways]}`".into());
            return None;
        };
        if entries.is_empty() {
            self.error("`matrix` is empty: it must have at least one key", matrix.span, Some(at)).help =
                Some("e.g. `matrix: {source: [genes, papers, pathways]}`".into());
            return None;
        }
        let mut axes: Axes = Vec::new();
        let mut ok = true;
        for (key, list) in entries {
            let key_text = key.as_scalar().map(|(k, _)| k.to_string()).unwrap_or_default();
            let property = format!("matrix.{key_text}");
            let at = At { container: label, property: &property };
            if !expression::is_key(&key_text) {
                self.error(format!("invalid matrix key `{key_text}`: a key starts with a letter or `_` and holds letters, digits and `_`"), key.span, Some(at));
                ok = false;
                continue;
            }
            let Value::Seq(items) = &list.value else {
                self.error(
                    format!("the matrix key `{key_text}` must hold a list of values, found {}", list.kind_name()),
                    list.span,
                    Some(at),
                )
                .help = Some(format!("e.g. `{key_text}: [a, b]`"));
                ok = false;
                continue;
            };
            if items.is_empty() {
                self.error(format!("the matrix key `{key_text}` has no values"), list.span, Some(at)).help =
                    Some("give at least one value, or remove the key".into());
                ok = false;
                continue;
            }
            let mut values: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                let Some(value) = self.scalar_text(item, at, false, "a value (a string, number or boolean)") else {
                    ok = false;
                    continue;
                };
                if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                {
                    self.error(format!("invalid matrix value `{value}`: it becomes part of a container name, so it holds only letters, digits, `_`, `.` and `-`"), item.span, Some(at))
                        .help = Some("name the values after what they stand for, e.g. `genes`, `v2`, `eu-west`".into());
                    ok = false;
                } else if values.contains(&value) {
                    self.error(format!("duplicate matrix value `{value}` of `{key_text}`"), item.span, Some(at)).help =
                        Some("each value gives a container of its own; list it once".into());
                    ok = false;
                } else {
                    values.push(value);
                }
            }
            if let Some((first, _)) = axes.iter().find(|(k, _)| *k == key_text) {
                // The parser reports a key written twice; this is only a safeguard.
                let message = format!("the matrix key `{first}` is set twice");
                self.error(message, key.span, Some(at));
                ok = false;
            }
            axes.push((key_text, values));
        }
        let count = axes.iter().try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()));
        if ok && count.is_none_or(|n| n > MAX_EXPANSIONS) {
            let shown = count.map_or_else(|| "too many".to_string(), |n| n.to_string());
            self.error(
                format!("`matrix` expands into {shown} containers, more than the {MAX_EXPANSIONS} allowed"),
                matrix.span,
                Some(At { container: label, property: "matrix" }),
            )
            .help = Some("split the description, or list fewer values".into());
            ok = false;
        }
        ok.then_some(axes)
    }

    /// Reports every `${{ matrix.KEY }}` of a description that cannot be replaced: outside a
    /// matrix (`axes` is `None` and the description has no `matrix`), or with an unknown key.
    fn refuse_matrix_expressions(&mut self, node: &Node, label: &str, axes: Option<&Axes>) {
        let has_matrix = entry(node, "matrix").is_some();
        let Value::Map(entries) = &node.value else { return };
        for (key, value) in entries {
            let Some((property, _)) = key.as_scalar() else { continue };
            if property == "matrix" {
                continue;
            }
            let mut found = Vec::new();
            strings(value, &mut found);
            strings(key, &mut found);
            for (text, span) in found {
                // Malformed expressions are not the matrix's to report.
                let Ok(references) = expression::references(&text) else { continue };
                for found in references {
                    let Reference::Matrix { key: used } = &found.reference else { continue };
                    let at = Some(At { container: label, property });
                    let place = format!("at character {} of the value", found.position);
                    match (has_matrix, axes) {
                        (false, _) => {
                            self.error(
                                format!("`{}` ({place}) is used, but `{label}` has no `matrix`", found.reference),
                                span,
                                at,
                            )
                            .help =
                                Some(format!("add `matrix: {{{used}: [...]}}` to `{label}`, or remove the expression"));
                        }
                        (true, Some(axes)) if !axes.iter().any(|(k, _)| k == used) => {
                            let known: Vec<String> = axes.iter().map(|(k, _)| format!("`{k}`")).collect();
                            self.error(
                                format!("unknown matrix key `{used}` in `{}` ({place})", found.reference),
                                span,
                                at,
                            )
                            .help = Some(format!("the matrix of `{label}` has {}", known.join(", ")));
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// A dependency on a matrix description's name is one on each of its expansions; a
    /// container may not share that name.
    pub(super) fn fan_in_dependencies(&mut self, containers: &mut [ContainerSpec]) {
        let mut expansions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for container in containers.iter() {
            if let Some(origin) = &container.matrix {
                expansions.entry(origin.base.clone()).or_default().push(container.name.clone());
            }
        }
        if expansions.is_empty() {
            return;
        }
        for container in containers.iter() {
            if container.matrix.is_none() && expansions.contains_key(&container.name) {
                let message =
                    format!("duplicate name `{}`: it is already the name of a `matrix` description", container.name);
                self.error(message, container.spans.name, Some(At { container: &container.name, property: "name" }))
                    .help =
                    Some("a dependency on a matrix description's name means all of its expansions; rename one".into());
            }
        }
        for container in containers.iter_mut() {
            if !container.dependencies.iter().any(|d| expansions.contains_key(d)) {
                continue;
            }
            let mut dependencies = Vec::with_capacity(container.dependencies.len());
            let mut spans = Vec::with_capacity(container.spans.dependencies.len());
            for (i, dependency) in container.dependencies.iter().enumerate() {
                let span = container.spans.dependencies.get(i).copied().unwrap_or(container.spans.item);
                let names = expansions.get(dependency).cloned().unwrap_or_else(|| vec![dependency.clone()]);
                for name in names {
                    if !dependencies.contains(&name) {
                        dependencies.push(name);
                        spans.push(span);
                    }
                }
            }
            container.dependencies = dependencies;
            container.spans.dependencies = spans;
            // `condition: completed` on the description's name holds for each expansion.
            if let Some(flow) = container.flow.as_deref_mut() {
                let completed = std::mem::take(&mut flow.completed_dependencies);
                for name in completed {
                    match expansions.get(&name) {
                        Some(names) => flow.completed_dependencies.extend(names.iter().cloned()),
                        None => flow.completed_dependencies.push(name),
                    }
                }
            }
        }
    }
}

/// The value under `key` of a mapping node.
fn entry<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Map(entries) => {
            entries.iter().find(|(k, _)| k.as_scalar().is_some_and(|(k, _)| k == key)).map(|(_, v)| v)
        }
        _ => None,
    }
}

/// The `name` of a description as written (before variables), if it is a scalar.
fn raw_name(node: &Node) -> Option<String> {
    entry(node, "name").and_then(|n| n.as_scalar()).map(|(text, _)| text.to_string())
}

/// Every string scalar under `node` (keys included), with its place.
fn strings(node: &Node, out: &mut Vec<(String, Span)>) {
    match &node.value {
        Value::Scalar { text, ty: ScalarType::Str } if expression::has_expressions(text) => {
            out.push((text.clone(), node.span))
        }
        Value::Seq(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Map(entries) => {
            for (key, value) in entries {
                strings(key, out);
                strings(value, out);
            }
        }
        _ => {}
    }
}

/// Every combination of values, the first key outermost and the last varying fastest.
fn combinations(axes: &Axes) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (key, values) in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |value| {
                    let mut next = prefix.clone();
                    next.push((key.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    out
}

/// `node` with every `${{ matrix.KEY }}` of its strings replaced, except under `matrix`
/// itself; a string with a malformed expression is kept as written.
fn substituted(node: &Node, resolve: &dyn Fn(&Reference) -> Option<String>) -> Node {
    let value = match &node.value {
        Value::Scalar { text, ty: ScalarType::Str } if expression::has_expressions(text) => Value::Scalar {
            text: expression::substitute(text, resolve).unwrap_or_else(|_| text.clone()),
            ty: ScalarType::Str,
        },
        Value::Seq(items) => Value::Seq(items.iter().map(|item| substituted(item, resolve)).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(key, value)| {
                    let is_matrix = key.as_scalar().is_some_and(|(k, _)| k == "matrix");
                    let value = if is_matrix { value.clone() } else { substituted(value, resolve) };
                    (substituted(key, resolve), value)
                })
                .collect(),
        ),
        other => other.clone(),
    };
    Node { value, span: node.span, end_line: node.end_line }
}

/// Appends `-suffix` to the description's `name`.
fn rename(node: &mut Node, suffix: &str) {
    let Value::Map(entries) = &mut node.value else { return };
    for (key, value) in entries.iter_mut() {
        if key.as_scalar().is_some_and(|(k, _)| k == "name") {
            if let Some((text, _)) = value.as_scalar() {
                value.value = Value::Scalar { text: format!("{text}-{suffix}"), ty: ScalarType::Str };
            }
        }
    }
}

#[cfg(test)]
#[path = "matrix_tests.rs"]
mod tests;
