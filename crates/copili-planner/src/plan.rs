//! Selection and ordering: which containers run, which are left out and why, and in which
//! topological levels.

use std::collections::HashSet;
use std::fmt;

use copili_model::properties::suggest;
use copili_model::{Diagnostic, Diagnostics, Pipeline};
use daggy::{Dag, NodeIndex, Walker};

use crate::check::{cycles, edges};

/// What to run of a pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The current environment (`--environment`, else `ENV`): containers whose
    /// `exlude_in_env` lists it are left out.
    pub environment: Option<String>,
    /// Allow list (`--only`): these containers and, transitively, their dependencies.
    pub only: Vec<String>,
    /// Block list (`--skip`): left out; whatever depends on them is cancelled at run time.
    pub skip: Vec<String>,
    /// Service mode: only service containers; their dependencies on static containers are
    /// met by earlier runs ([`Plan::external_dependencies`]).
    pub service_only: bool,
}

/// Why a container does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExclusionReason {
    /// Its `exlude_in_env` lists the current environment.
    Environment(String),
    /// Named by `--skip`.
    Skipped,
    /// Not named by `--only` and no dependency of a container that is.
    NotSelected,
    /// A static container, in a service-only selection.
    NotServiceContainer,
    /// A handler (`run_on`): no part of the graph, run after the others ([`Plan::handlers`]).
    Handler,
}

impl ExclusionReason {
    /// A stable identifier for scripts: `environment`, `skip`, `only` or `service`.
    pub fn kind(&self) -> &'static str {
        match self {
            ExclusionReason::Environment(_) => "environment",
            ExclusionReason::Skipped => "skip",
            ExclusionReason::NotSelected => "only",
            ExclusionReason::NotServiceContainer => "service",
            ExclusionReason::Handler => "handler",
        }
    }
}

impl fmt::Display for ExclusionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExclusionReason::Environment(env) => write!(f, "excluded in environment `{env}`"),
            ExclusionReason::Skipped => f.write_str("skipped by --skip"),
            ExclusionReason::NotSelected => f.write_str("not selected by --only"),
            ExclusionReason::NotServiceContainer => f.write_str("not a service container"),
            ExclusionReason::Handler => f.write_str("a handler: runs after the others when `run_on` matches"),
        }
    }
}

/// A container left out of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// Index into `Pipeline::containers`.
    pub container: usize,
    /// What left it out: `--skip`, `--only`, `exlude_in_env`, or a service-only selection.
    pub reason: ExclusionReason,
}

/// A selected container that will be cancelled at run time because a dependency does not run
/// (copili 1.4's behaviour for excluded dependencies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// Index of the blocked container.
    pub container: usize,
    /// Index of the dependency that does not run (excluded, or itself blocked).
    pub dependency: usize,
}

/// The result of planning: the selected containers in topological levels, and what was left
/// out. All indexes point into `Pipeline::containers`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The environment the selection was made for.
    pub environment: Option<String>,
    /// Topological levels of the selected containers: every container's dependencies are in
    /// earlier levels; within a level, file order.
    pub levels: Vec<Vec<usize>>,
    /// Containers that do not run, with the reason, in file order.
    pub excluded: Vec<Exclusion>,
    /// Containers selected only because a container named by `--only` depends on them.
    pub added_by_only: Vec<usize>,
    /// Selected containers that will be cancelled because a dependency does not run.
    pub blocked: Vec<Blocked>,
    /// In a service-only plan, `(service container, static dependency)` pairs: met when the
    /// static container succeeded in an earlier run.
    pub external_dependencies: Vec<(usize, usize)>,
    /// Warnings about the selection (blocked containers, …).
    pub warnings: Vec<Diagnostic>,
    dag: Dag<usize, ()>,
    selected: Vec<bool>,
    exclusion_of: Vec<Option<ExclusionReason>>,
    blocked_by: Vec<Option<usize>>,
}

impl Plan {
    /// Whether the container runs in this plan.
    pub fn is_selected(&self, container: usize) -> bool {
        self.selected.get(container).copied().unwrap_or(false)
    }

    /// The selected containers in execution order (level by level).
    pub fn order(&self) -> impl Iterator<Item = usize> + '_ {
        self.levels.iter().flatten().copied()
    }

    /// The number of selected containers.
    pub fn len(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// Whether nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Direct dependencies of a container (selected or not), in file order.
    pub fn dependencies(&self, container: usize) -> Vec<usize> {
        let mut deps: Vec<usize> =
            self.dag.parents(NodeIndex::new(container)).iter(&self.dag).map(|(_, n)| n.index()).collect();
        deps.sort_unstable();
        deps.dedup();
        deps
    }

    /// Direct dependents of a container (selected or not), in file order.
    pub fn dependents(&self, container: usize) -> Vec<usize> {
        let mut deps: Vec<usize> =
            self.dag.children(NodeIndex::new(container)).iter(&self.dag).map(|(_, n)| n.index()).collect();
        deps.sort_unstable();
        deps.dedup();
        deps
    }

    /// Every container that depends on this one directly or indirectly, in file order: what a
    /// failure of it cancels.
    pub fn transitive_dependents(&self, container: usize) -> Vec<usize> {
        let mut seen = vec![false; self.selected.len()];
        let mut todo = vec![container];
        while let Some(current) = todo.pop() {
            for next in self.dependents(current) {
                if !seen[next] {
                    seen[next] = true;
                    todo.push(next);
                }
            }
        }
        seen.iter().enumerate().filter(|(_, s)| **s).map(|(i, _)| i).collect()
    }

    /// The dependency that makes a container blocked, if it is.
    pub fn blocked_by(&self, container: usize) -> Option<usize> {
        self.blocked_by.get(container).copied().flatten()
    }

    /// The handlers of the run (`run_on`, not excluded otherwise), in file order: run after
    /// the containers of [`Plan::order`] have all ended, by a [`Plan::for_handlers`] plan.
    pub fn handlers(&self) -> Vec<usize> {
        self.excluded.iter().filter(|e| e.reason == ExclusionReason::Handler).map(|e| e.container).collect()
    }

    /// The plan that runs `handlers` (indexes into `Pipeline::containers`, handlers without
    /// dependencies) after a run: they alone are selected, in one level, and nothing is
    /// excluded, so that running it reports on them only.
    pub fn for_handlers(&self, handlers: &[usize]) -> Plan {
        let n = self.selected.len();
        let mut dag: Dag<usize, ()> = Dag::with_capacity(n, 0);
        for i in 0..n {
            dag.add_node(i);
        }
        let mut selected = vec![false; n];
        let mut level: Vec<usize> = handlers.iter().copied().filter(|&h| h < n).collect();
        level.sort_unstable();
        level.dedup();
        for &h in &level {
            selected[h] = true;
        }
        Plan {
            environment: self.environment.clone(),
            levels: if level.is_empty() { Vec::new() } else { vec![level] },
            excluded: Vec::new(),
            added_by_only: Vec::new(),
            blocked: Vec::new(),
            external_dependencies: Vec::new(),
            warnings: Vec::new(),
            dag,
            selected,
            exclusion_of: vec![None; n],
            blocked_by: vec![None; n],
        }
    }

    /// Why a container is excluded, if it is.
    pub fn exclusion(&self, container: usize) -> Option<&ExclusionReason> {
        self.exclusion_of.get(container).and_then(Option::as_ref)
    }
}

/// Plans a pipeline: checks its graph, applies the selection and orders it.
///
/// Errors are graph errors ([`crate::check`]) and selection errors (an unknown name given to
/// `--only` or `--skip`), all at once.
pub fn plan(pipeline: &Pipeline, selection: &Selection) -> Result<Plan, Diagnostics> {
    let selection = &crate::matrix::expand_selection(pipeline, selection);
    let (edges, mut errors) = edges(pipeline);
    let n = pipeline.containers.len();
    let mut dag: Dag<usize, ()> = Dag::with_capacity(n, edges.len());
    for i in 0..n {
        dag.add_node(i);
    }
    // One batch: daggy checks for a cycle once, O(V + E), instead of once per edge.
    if dag.add_edges(edges.iter().map(|e| (NodeIndex::new(e.dependency), NodeIndex::new(e.dependent), ()))).is_err() {
        errors.extend(cycles(pipeline, &edges));
    }
    errors.extend(selection_errors(pipeline, selection));
    if !errors.is_empty() {
        return Err(Diagnostics { items: errors });
    }

    let index: std::collections::HashMap<&str, usize> =
        pipeline.containers.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
    let index_of = |name: &str| index.get(name).copied();
    let mut reason: Vec<Option<ExclusionReason>> = vec![None; n];
    let mut warnings = Vec::new();

    // The allow list and, transitively, its dependencies.
    let mut added_by_only = Vec::new();
    let in_only: Option<Vec<bool>> = (!selection.only.is_empty()).then(|| {
        let mut chosen = vec![false; n];
        let mut todo: Vec<usize> = selection.only.iter().filter_map(|name| index_of(name)).collect();
        for &i in &todo {
            chosen[i] = true;
        }
        while let Some(current) = todo.pop() {
            for (_, parent) in dag.parents(NodeIndex::new(current)).iter(&dag) {
                let p = parent.index();
                if !chosen[p] {
                    chosen[p] = true;
                    added_by_only.push(p);
                    todo.push(p);
                }
            }
        }
        added_by_only.sort_unstable();
        chosen
    });
    let skip: HashSet<&str> = selection.skip.iter().map(String::as_str).collect();
    for (i, container) in pipeline.containers.iter().enumerate() {
        reason[i] =
            if let Some(env) = selection.environment.as_ref().filter(|env| container.exclude_in_env.contains(env)) {
                Some(ExclusionReason::Environment(env.clone()))
            } else if skip.contains(container.name.as_str()) {
                Some(ExclusionReason::Skipped)
            } else if container.run_on.is_some() {
                Some(ExclusionReason::Handler)
            } else if in_only.as_ref().is_some_and(|chosen| !chosen[i]) {
                Some(ExclusionReason::NotSelected)
            } else if selection.service_only && !container.is_service_container {
                Some(ExclusionReason::NotServiceContainer)
            } else {
                None
            };
    }
    added_by_only.retain(|&i| reason[i].is_none());

    // Blocked: a dependency excluded by environment or --skip (a static dependency in service
    // mode is met by earlier runs instead), or itself blocked. File order is not topological,
    // so walk the DAG in topological order.
    let topo = daggy::petgraph::algo::toposort(dag.graph(), None).map_err(|_| Diagnostics::default())?;
    let mut blocked_by: Vec<Option<usize>> = vec![None; n];
    let mut external_dependencies = Vec::new();
    for node in &topo {
        let i = node.index();
        if reason[i].is_some() {
            continue;
        }
        let container = &pipeline.containers[i];
        for (position, dep_name) in container.dependencies.iter().enumerate() {
            let Some(dep) = index_of(dep_name) else { continue };
            let span = container.spans.dependencies.get(position).copied().unwrap_or(container.spans.item);
            let why = match &reason[dep] {
                Some(ExclusionReason::NotServiceContainer) => {
                    external_dependencies.push((i, dep));
                    continue;
                }
                Some(r @ (ExclusionReason::Environment(_) | ExclusionReason::Skipped)) => format!("which is {r}"),
                Some(ExclusionReason::NotSelected | ExclusionReason::Handler) => continue,
                None => match blocked_by[dep] {
                    Some(_) => "which will be cancelled".to_string(),
                    None => continue,
                },
            };
            if blocked_by[i].is_none() {
                blocked_by[i] = Some(dep);
                warnings.push(
                    Diagnostic::warning(format!(
                        "`{}` depends on `{dep_name}`, {why}: `{}` will be cancelled at run time",
                        container.name, container.name
                    ))
                    .at(&pipeline.source, span)
                    .container(container.name.clone())
                    .property("dependencies"),
                );
            }
        }
    }

    // Warnings in reading order, not in the order the graph was walked.
    warnings.sort_by_key(|d: &Diagnostic| (d.span.line, d.span.column));

    // Levels by Kahn's algorithm over the selected containers; a level is in file order.
    let selected: Vec<bool> = reason.iter().map(Option::is_none).collect();
    let mut level_of: Vec<usize> = vec![0; n];
    let mut levels: Vec<Vec<usize>> = Vec::new();
    for node in &topo {
        let i = node.index();
        if !selected[i] {
            continue;
        }
        let level = dag
            .parents(*node)
            .iter(&dag)
            .filter(|(_, p)| selected[p.index()])
            .map(|(_, p)| level_of[p.index()] + 1)
            .max()
            .unwrap_or(0);
        level_of[i] = level;
        if levels.len() <= level {
            levels.resize_with(level + 1, Vec::new);
        }
        levels[level].push(i);
    }
    for level in &mut levels {
        level.sort_unstable();
    }
    external_dependencies.sort_unstable();

    let excluded = reason
        .iter()
        .cloned()
        .enumerate()
        .filter_map(|(container, reason)| reason.map(|reason| Exclusion { container, reason }))
        .collect();
    let blocked = blocked_by
        .iter()
        .enumerate()
        .filter_map(|(container, dep)| dep.map(|dependency| Blocked { container, dependency }))
        .collect();
    Ok(Plan {
        environment: selection.environment.clone(),
        levels,
        excluded,
        added_by_only,
        blocked,
        external_dependencies,
        warnings,
        dag,
        selected,
        exclusion_of: reason,
        blocked_by,
    })
}

fn selection_errors(pipeline: &Pipeline, selection: &Selection) -> Vec<Diagnostic> {
    let names: Vec<&str> = pipeline.containers.iter().map(|c| c.name.as_str()).collect();
    let mut errors = Vec::new();
    for (option, list) in [("--only", &selection.only), ("--skip", &selection.skip)] {
        for name in list {
            if names.contains(&name.as_str()) {
                continue;
            }
            let mut d = Diagnostic::error(format!("{option} names an unknown container `{name}`"));
            let sidecar_of: Vec<&str> = pipeline
                .containers
                .iter()
                .filter(|c| c.sidecars.iter().any(|s| s.name == *name))
                .map(|c| c.name.as_str())
                .collect();
            d = match (sidecar_of.is_empty(), suggest(name, crate::check::valid_names(pipeline))) {
                (false, _) => d.help(format!(
                    "`{name}` is a sidecar of {}; select {} instead",
                    crate::check::quoted_list(&sidecar_of, "and"),
                    crate::check::quoted_list(&sidecar_of, "or")
                )),
                (true, Some(s)) => d.help(format!("did you mean `{s}`?")),
                (true, None) => d.help(format!("the containers are: {}", crate::check::name_list(pipeline))),
            };
            errors.push(d);
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_pipeline::pipeline;

    fn names(p: &Pipeline, idx: &[usize]) -> Vec<String> {
        idx.iter().map(|&i| p.containers[i].name.clone()).collect()
    }

    fn levels(p: &Pipeline, plan: &Plan) -> Vec<Vec<String>> {
        plan.levels.iter().map(|l| names(p, l)).collect()
    }

    #[test]
    fn handlers_are_left_out_of_the_graph_and_planned_apart() {
        let p = pipeline(
            "p:\n  - {name: a, image_repo: x}\n  - {name: notify, image_repo: x, run_on: failure}\n  - {name: b, image_repo: x, dependencies: [a]}\n",
        );
        let main = plan(&p, &Selection { only: vec!["b".into()], ..Selection::default() }).expect("valid");
        assert_eq!(levels(&p, &main), vec![vec!["a"], vec!["b"]]);
        assert_eq!(main.exclusion(1), Some(&ExclusionReason::Handler));
        assert_eq!(main.handlers(), vec![1]);
        let after = main.for_handlers(&main.handlers());
        assert_eq!(levels(&p, &after), vec![vec!["notify"]]);
        assert!(after.excluded.is_empty() && after.is_selected(1) && !after.is_selected(0));
        let skipped = plan(&p, &Selection { skip: vec!["notify".into()], ..Selection::default() }).expect("valid");
        assert!(skipped.handlers().is_empty());
    }

    #[test]
    fn handlers_take_no_dependencies_and_are_no_dependency() {
        let p = pipeline(
            "p:\n  - {name: a, image_repo: x, dependencies: [h]}\n  - {name: h, image_repo: x, run_on: always, dependencies: [a]}\n",
        );
        let errors = plan(&p, &Selection::default()).expect_err("invalid");
        let messages: Vec<&str> = errors.items.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages, vec!["`a` depends on handler `h`", "handler `h` cannot have dependencies"]);
    }

    const QUICK: &str = "ExmaplePipeline:
  - name: dataloader_02
    image_repo: stakater/exit-container
    dependencies: [dataloader_01]
  - name: dataloader_01
    image_repo: stakater/exit-container
  - name: dataloader_03
    image_repo: stakater/exit-container
    dependencies: [dataloader_02, dataloader_01]
  - name: servicecontainer01
    image_repo: hello-world
    is_service_container: true
    dependencies: [dataloader_02]
";

    #[test]
    fn seed_quick_example_levels() {
        let p = pipeline(QUICK);
        let plan = plan(&p, &Selection::default()).expect("valid");
        assert_eq!(
            levels(&p, &plan),
            vec![vec!["dataloader_01"], vec!["dataloader_02"], vec!["dataloader_03", "servicecontainer01"]]
        );
        assert_eq!(
            names(&p, &plan.transitive_dependents(1)),
            vec!["dataloader_02", "dataloader_03", "servicecontainer01"]
        );
    }

    #[test]
    fn service_only_keeps_static_dependencies_external() {
        let p = pipeline(QUICK);
        let plan = plan(&p, &Selection { service_only: true, ..Selection::default() }).expect("valid");
        assert_eq!(levels(&p, &plan), vec![vec!["servicecontainer01"]]);
        assert_eq!(plan.external_dependencies, vec![(3, 0)]);
        assert!(plan.blocked.is_empty());
    }

    #[test]
    fn only_adds_dependencies_transitively() {
        let p = pipeline(QUICK);
        let plan = plan(&p, &Selection { only: vec!["dataloader_03".into()], ..Selection::default() }).expect("valid");
        assert_eq!(levels(&p, &plan), vec![vec!["dataloader_01"], vec!["dataloader_02"], vec!["dataloader_03"]]);
        assert_eq!(names(&p, &plan.added_by_only), vec!["dataloader_02", "dataloader_01"]);
        assert_eq!(plan.excluded, vec![Exclusion { container: 3, reason: ExclusionReason::NotSelected }]);
    }

    #[test]
    fn excluded_dependency_blocks_dependents_transitively() {
        let text = QUICK.replace(
            "  - name: dataloader_01\n    image_repo: stakater/exit-container\n",
            "  - name: dataloader_01\n    image_repo: stakater/exit-container\n    exlude_in_env: [PROD]\n",
        );
        let p = pipeline(&text);
        let plan = plan(&p, &Selection { environment: Some("PROD".into()), ..Selection::default() }).expect("valid");
        assert_eq!(
            plan.excluded,
            vec![Exclusion { container: 1, reason: ExclusionReason::Environment("PROD".into()) }]
        );
        let blocked: Vec<_> = plan.blocked.iter().map(|b| (b.container, b.dependency)).collect();
        assert_eq!(blocked, vec![(0, 1), (2, 0), (3, 0)]);
        assert_eq!(plan.warnings.len(), 3);
        assert!(plan.warnings[0].message.contains("excluded in environment `PROD`"), "{}", plan.warnings[0]);
    }

    #[test]
    fn skip_and_unknown_selection_names() {
        let p = pipeline(QUICK);
        let plan =
            plan(&p, &Selection { skip: vec!["servicecontainer01".into()], ..Selection::default() }).expect("valid");
        assert_eq!(plan.len(), 3);
        let err = super::plan(&p, &Selection { only: vec!["dataloader_3".into()], ..Selection::default() })
            .expect_err("unknown name");
        assert_eq!(err.items[0].help.as_deref(), Some("did you mean `dataloader_03`?"));
    }

    /// Two jobs each with a sidecar `db`, and a container named `db` too.
    const SHARED: &str = "p:
  - {name: a, image_repo: x, sidecars: [{name: db, image_repo: redis}, {name: cache, image_repo: redis}]}
  - {name: b, image_repo: x, sidecars: [{name: db, image_repo: redis}, {name: cache, image_repo: redis}]}
  - {name: db, image_repo: x}
";

    #[test]
    fn a_name_that_is_a_container_and_sidecars_resolves_to_the_container() {
        let text = format!("{SHARED}  - {{name: c, image_repo: x, dependencies: [db]}}\n");
        let p = pipeline(&text);
        let plan = plan(&p, &Selection { only: vec!["db".into()], ..Selection::default() }).expect("valid");
        assert_eq!(levels(&p, &plan), vec![vec!["db"]]);
        let plan = plan_all(&p);
        assert_eq!(levels(&p, &plan), vec![vec!["a", "b", "db"], vec!["c"]]);
    }

    fn plan_all(p: &Pipeline) -> Plan {
        plan(p, &Selection::default()).expect("valid")
    }

    #[test]
    fn a_sidecar_name_of_several_containers_names_them_all() {
        let text = format!("{SHARED}  - {{name: c, image_repo: x, dependencies: [cache]}}\n");
        let errors = crate::check(&pipeline(&text));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].message, "unknown dependency `cache`");
        assert_eq!(
            errors[0].help.as_deref(),
            Some("`cache` is a sidecar of `a` and `b`; a sidecar runs with its container and cannot be depended on")
        );
        let p = pipeline(SHARED);
        let err = super::plan(&p, &Selection { skip: vec!["cache".into()], ..Selection::default() })
            .expect_err("a sidecar is no container");
        assert_eq!(
            err.items[0].help.as_deref(),
            Some("`cache` is a sidecar of `a` and `b`; select `a` or `b` instead")
        );
    }

    #[test]
    fn cycles_are_printed_as_paths() {
        let p = pipeline(
            "p:\n  - {name: a, image_repo: x, dependencies: [b]}\n  - {name: b, image_repo: x, dependencies: [c]}\n  - {name: c, image_repo: x, dependencies: [a]}\n  - {name: d, image_repo: x, dependencies: [d, e]}\n",
        );
        let errors = crate::check(&p);
        let messages: Vec<_> = errors.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            vec!["container `d` depends on itself", "unknown dependency `e`", "dependency cycle: a -> b -> c -> a"]
        );
        assert_eq!(errors[2].span.line, 2);
        assert_eq!(errors[2].notes.len(), 2);
        assert!(plan(&p, &Selection::default()).is_err());
    }
}
