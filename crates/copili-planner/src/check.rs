//! Graph checks: unknown dependencies, self-dependencies and cycles, each located.

use std::collections::HashMap;

use copili_model::properties::suggest;
use copili_model::{Diagnostic, Pipeline, Span};
use daggy::petgraph::algo::tarjan_scc;
use daggy::petgraph::graph::{DiGraph, NodeIndex};

/// An edge of the dependency graph: `dependency` must succeed before `dependent` starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub dependency: usize,
    pub dependent: usize,
    /// Where the dependent lists the dependency.
    pub span: Span,
}

/// The edges between known containers, and the diagnostics for the rest.
pub(crate) fn edges(pipeline: &Pipeline) -> (Vec<Edge>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let index: HashMap<&str, usize> = pipeline
        .containers
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.name.is_empty())
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    // A name may be a sidecar of several containers (each is scoped to its own job); a
    // dependency resolves to a container of that name first.
    let mut sidecar_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for container in &pipeline.containers {
        for sidecar in &container.sidecars {
            sidecar_of.entry(sidecar.name.as_str()).or_default().push(container.name.as_str());
        }
    }
    let mut edges = Vec::new();
    for (dependent, container) in pipeline.containers.iter().enumerate() {
        for (position, dependency) in container.dependencies.iter().enumerate() {
            let span = container.spans.dependencies.get(position).copied().unwrap_or(container.spans.item);
            let diagnostic = |message: String| {
                Diagnostic::error(message)
                    .at(&pipeline.source, span)
                    .container(container.name.clone())
                    .property("dependencies")
            };
            if container.run_on.is_some() {
                diagnostics.push(diagnostic(format!("handler `{}` cannot have dependencies", container.name)).help(
                    "a handler (`run_on`) runs after every other container has ended; remove its `dependencies`",
                ));
                continue;
            }
            if *dependency == container.name {
                diagnostics.push(
                    diagnostic(format!("container `{dependency}` depends on itself"))
                        .help("remove it from its own `dependencies`"),
                );
                continue;
            }
            match index.get(dependency.as_str()) {
                Some(&dep) if pipeline.containers[dep].run_on.is_some() => diagnostics.push(
                    diagnostic(format!("`{}` depends on handler `{dependency}`", container.name)).help(format!(
                        "a handler (`run_on`) runs after the run and cannot be depended on; remove `{dependency}` from `dependencies`"
                    )),
                ),
                Some(&dep) => edges.push(Edge { dependency: dep, dependent, span }),
                None => {
                    let mut d = diagnostic(format!("unknown dependency `{dependency}`"));
                    d = match sidecar_of.get(dependency.as_str()) {
                        Some(mains) => d.help(format!(
                            "`{dependency}` is a sidecar of {}; a sidecar runs with its container and cannot be depended on",
                            quoted_list(mains, "and")
                        )),
                        None => match suggest(dependency, valid_names(pipeline)) {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None => d.help(format!("the containers are: {}", name_list(pipeline))),
                        },
                    };
                    diagnostics.push(d);
                }
            }
        }
    }
    (edges, diagnostics)
}

/// `` `a` `` or `` `a`, `b` and `c` `` (`conjunction` is `and` or `or`), for the containers a
/// sidecar name belongs to.
pub(crate) fn quoted_list(names: &[&str], conjunction: &str) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} {conjunction} {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// Names worth suggesting: those that are valid (an invalid one has its own error).
pub(crate) fn valid_names(pipeline: &Pipeline) -> impl Iterator<Item = &str> {
    pipeline
        .containers
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()))
}

/// The container names for a help line, shortened for large pipelines.
pub(crate) fn name_list(pipeline: &Pipeline) -> String {
    const SHOWN: usize = 12;
    let names: Vec<&str> = valid_names(pipeline).take(SHOWN + 1).collect();
    if names.len() > SHOWN {
        format!("{}, … ({} in all)", names[..SHOWN].join(", "), pipeline.containers.len())
    } else {
        names.join(", ")
    }
}

/// Checks the dependency graph of a pipeline: unknown dependencies, self-dependencies and
/// cycles, and references to outputs of steps it does not depend on. Returns every problem found (errors only), located at the dependency entries.
pub fn check(pipeline: &Pipeline) -> Vec<Diagnostic> {
    let (edges, mut diagnostics) = edges(pipeline);
    diagnostics.extend(cycles(pipeline, &edges));
    diagnostics.extend(crate::outputs::references(pipeline, &edges));
    diagnostics
}

/// One diagnostic per strongly connected component with more than one container, showing
/// one cycle through it as a path.
pub(crate) fn cycles(pipeline: &Pipeline, edges: &[Edge]) -> Vec<Diagnostic> {
    let n = pipeline.containers.len();
    // Edges point from dependent to dependency here, so a path reads "depends on".
    let mut graph: DiGraph<(), Span> = DiGraph::with_capacity(n, edges.len());
    for _ in 0..n {
        graph.add_node(());
    }
    for edge in edges {
        graph.add_edge(NodeIndex::new(edge.dependent), NodeIndex::new(edge.dependency), edge.span);
    }
    let mut components: Vec<Vec<usize>> = tarjan_scc(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            let mut c: Vec<usize> = c.into_iter().map(NodeIndex::index).collect();
            c.sort_unstable();
            c
        })
        .collect();
    components.sort();
    let mut diagnostics = Vec::new();
    for component in components {
        let start = component[0];
        let Some(path) = cycle_through(&graph, &component, start) else { continue };
        let names: Vec<&str> = path.iter().map(|&i| pipeline.containers[i].name.as_str()).collect();
        let mut message = format!("dependency cycle: {}", names.join(" -> "));
        if component.len() > path.len() - 1 {
            message
                .push_str(&format!(" (and {} more containers in the same cycle)", component.len() - (path.len() - 1)));
        }
        let span_of = |from: usize, to: usize| {
            graph.find_edge(NodeIndex::new(from), NodeIndex::new(to)).and_then(|e| graph.edge_weight(e)).copied()
        };
        let mut d = Diagnostic::error(message)
            .at(&pipeline.source, span_of(path[0], path[1]).unwrap_or(Span::UNKNOWN))
            .container(pipeline.containers[path[0]].name.clone())
            .property("dependencies")
            .help("each container depends on the next one; remove one of these dependencies");
        for pair in path.windows(2).skip(1) {
            if let Some(span) = span_of(pair[0], pair[1]) {
                d = d.note(
                    format!(
                        "`{}` depends on `{}` here",
                        pipeline.containers[pair[0]].name, pipeline.containers[pair[1]].name
                    ),
                    span,
                );
            }
        }
        diagnostics.push(d);
    }
    diagnostics
}

/// A shortest cycle from `start` back to itself inside `component` (breadth-first, so the
/// path printed is as short as possible), as a list of containers ending with `start` again.
fn cycle_through(graph: &DiGraph<(), Span>, component: &[usize], start: usize) -> Option<Vec<usize>> {
    let in_component = |i: usize| component.binary_search(&i).is_ok();
    let mut previous: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(current) = queue.pop_front() {
        let mut next: Vec<usize> = graph.neighbors(NodeIndex::new(current)).map(NodeIndex::index).collect();
        next.sort_unstable();
        for to in next {
            if !in_component(to) {
                continue;
            }
            if to == start {
                let mut chain = vec![current];
                let mut at = current;
                while at != start {
                    at = *previous.get(&at)?;
                    chain.push(at);
                }
                chain.reverse();
                chain.push(start);
                return Some(chain);
            }
            if to != start && !previous.contains_key(&to) {
                previous.insert(to, current);
                queue.push_back(to);
            }
        }
    }
    None
}
