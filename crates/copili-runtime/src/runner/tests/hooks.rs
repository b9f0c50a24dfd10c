//! The runner's hooks, engine names and the networks checked before a run.

use super::*;

/// Records every call, in order.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    ran_before: Vec<&'static str>,
    refuse: Vec<&'static str>,
}

impl Recorder {
    fn push(&self, call: String) {
        self.calls.lock().expect("not poisoned").push(call);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("not poisoned").clone()
    }
}

impl Hooks for Recorder {
    fn did_run(&self, container: &ContainerSpec) -> bool {
        self.push(format!("did_run {}", container.name));
        self.ran_before.contains(&container.name.as_str())
    }
    fn before_pull(&self, image: &str, containers: &[&ContainerSpec]) {
        let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
        self.push(format!("before_pull {image} for {}", names.join(",")));
    }
    fn dependencies_met(
        &self,
        container: &ContainerSpec,
        finished: &Finished<'_>,
        default: Option<bool>,
    ) -> Option<bool> {
        let done: Vec<&str> = finished.iter().map(|(c, _)| c.name.as_str()).collect();
        self.push(format!("dependencies_met {} after [{}] -> {default:?}", container.name, done.join(",")));
        if self.refuse.contains(&container.name.as_str()) {
            return Some(false);
        }
        default
    }
    fn before_run(&self, container: &ContainerSpec) {
        self.push(format!("before_run {}", container.name));
    }
    fn after_run(&self, container: &ContainerSpec, outcome: &Outcome) {
        self.push(format!("after_run {} {}", container.name, outcome.status.as_str()));
    }
}

const THREE: &str = "p:
  - {name: a, image_repo: x}
  - {name: b, image_repo: y, dependencies: [a]}
  - {name: c, image_repo: x, dependencies: [b]}
";

fn run_hooked(text: &str, hooks: &dyn Hooks) -> Run {
    let p = pipeline(text);
    let plan = copili_planner::plan(&p, &Selection::default()).expect("plannable");
    let events = Mutex::new(Vec::new());
    let engine = FakeEngine::new([]);
    let outcomes = run_with_hooks(&engine, &p, &plan, &config(1), &CancelToken::new(), hooks, &|e| {
        events.lock().expect("not poisoned").push(e)
    });
    Run { outcomes, events: events.into_inner().expect("not poisoned") }
}

#[test]
fn hooks_are_called_in_order() {
    let hooks = Recorder::default();
    let run = run_hooked(THREE, &hooks);
    assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded));
    let calls = hooks.calls();
    // `dependencies_met` is asked whenever the runner looks: keep each container's "yes".
    let mut seen = std::collections::HashSet::new();
    let without_pulls: Vec<&str> = calls
        .iter()
        .map(String::as_str)
        .filter(|c| !c.starts_with("before_pull"))
        .filter(|c| !c.starts_with("dependencies_met") || (c.ends_with("Some(true)") && seen.insert(*c)))
        .collect();
    assert_eq!(
        without_pulls,
        vec![
            "did_run a",
            "did_run b",
            "did_run c",
            "dependencies_met a after [] -> Some(true)",
            "before_run a",
            "after_run a succeeded",
            "dependencies_met b after [a] -> Some(true)",
            "before_run b",
            "after_run b succeeded",
            "dependencies_met c after [a,b] -> Some(true)",
            "before_run c",
            "after_run c succeeded",
        ],
        "{calls:#?}"
    );
    // Images are prepared on several threads: their calls come in any order.
    let mut pulls: Vec<&String> = calls.iter().filter(|c| c.starts_with("before_pull")).collect();
    pulls.sort();
    assert_eq!(pulls, vec!["before_pull x:latest for a,c", "before_pull y:latest for b"]);
    let before_pull_x = calls.iter().position(|c| c.starts_with("before_pull x")).expect("called");
    let before_run_a = calls.iter().position(|c| c == "before_run a").expect("called");
    assert!(before_pull_x < before_run_a);
}

#[test]
fn did_run_skips_a_container_and_counts_as_met() {
    let hooks = Recorder { ran_before: vec!["a", "b"], ..Recorder::default() };
    let run = run_hooked(THREE, &hooks);
    assert_eq!(
        statuses(&run),
        vec![
            ("skipped", Some(Reason::RanBefore { why: "it ran before (did_run)".into() })),
            ("skipped", Some(Reason::RanBefore { why: "it ran before (did_run)".into() })),
            ("succeeded", None)
        ]
    );
    let calls = hooks.calls();
    assert!(!calls.iter().any(|c| c == "before_run a" || c.starts_with("before_pull y")), "{calls:#?}");
    assert!(calls.contains(&"dependencies_met c after [a,b] -> Some(true)".to_string()), "{calls:#?}");
}

#[test]
fn dependencies_met_false_cancels_the_container_and_its_dependents() {
    let hooks = Recorder { refuse: vec!["b"], ..Recorder::default() };
    let run = run_hooked(THREE, &hooks);
    assert_eq!(
        statuses(&run),
        vec![
            ("succeeded", None),
            ("cancelled", Some(Reason::HookRefused)),
            ("cancelled", Some(Reason::Dependency { name: "b".into(), end: DependencyEnd::Cancelled }))
        ]
    );
}

#[test]
fn a_hook_that_never_says_yes_does_not_hang_the_run() {
    struct Never;
    impl Hooks for Never {
        fn dependencies_met(&self, c: &ContainerSpec, _: &Finished<'_>, default: Option<bool>) -> Option<bool> {
            if c.name == "c" {
                None
            } else {
                default
            }
        }
    }
    let run = run_hooked(THREE, &Never);
    assert_eq!(statuses(&run)[2], ("cancelled", Some(Reason::HookNeverMet)));
}

#[test]
fn engine_names_are_sanitised() {
    assert_eq!(engine_name(&["My Pipeline", "load"]), "My-Pipeline-load");
    assert_eq!(engine_name(&["-x", "a"]), "c-x-a");
}

#[test]
fn networks_that_do_not_exist_are_found_before_anything_runs() {
    let p = pipeline(
        "p:
  - {name: a, image_repo: x, networks: [graph, gone]}
  - name: b
    image_repo: x
    networks: [gone]
    sidecars: [{name: db, image_repo: x, networks: [also-gone, graph]}]
  - {name: c, image_repo: x, networks: [skipped-net], exlude_in_env: [PROD]}
",
    );
    let selection = Selection { environment: Some("PROD".into()), ..Selection::default() };
    let plan = copili_planner::plan(&p, &selection).expect("a plan");
    let engine = FakeEngine::new([]).with_networks(&["graph"]);
    let missing = missing_networks(&engine, &p, &plan).expect("the engine answers");
    let found: Vec<(&str, &str)> = missing.iter().map(|m| (m.container.as_str(), m.network.as_str())).collect();
    assert_eq!(found, [("a", "gone"), ("b", "gone"), ("b/db", "also-gone")]);
    // Nothing was created meanwhile.
    assert!(engine.calls().iter().all(|c| !c.starts_with("create") && !c.starts_with("run")), "{:?}", engine.calls());
}
