//! `copili graph --format svg`: the dependency graph drawn by copili itself, for a browser or
//! the HTML report, with no other tool.
//!
//! The drawing is deterministic (the same pipeline and report give the same bytes): levels are
//! the longest chain of dependencies before a container (its topological level), left to right;
//! the order within a level comes from barycenter sweeps ([`layout`]); [`draw`] writes the SVG.
//! Every node has the same fixed size, so a pipeline of 200 containers stays legible: the
//! drawing grows and the viewer scrolls (the HTML report puts it in a scrolling box).
//!
//! The input is a [`Graph`], built from a pipeline and its plan ([`Graph::from_plan`]) or from a
//! JSON report alone ([`Graph::from_report`], what `copili report` has), and coloured by a
//! run's statuses ([`Graph::with_report`]).

pub mod draw;
pub mod layout;

use crate::report::json::{ReportStatus, RunReport};
use crate::{Pipeline, Plan};

/// The graph to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// The pipeline's identity (the drawing's title).
    pub title: String,
    /// Every container, in the pipeline's order.
    pub nodes: Vec<Node>,
}

/// One container of a [`Graph`].
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Its name.
    pub name: String,
    /// Its image, `repo:tag`.
    pub image: String,
    /// Indexes of its direct dependencies in [`Graph::nodes`].
    pub depends_on: Vec<usize>,
    /// A service container (`is_service_container`).
    pub service: bool,
    /// The names of its sidecars.
    pub sidecars: Vec<String>,
    /// Why it does not run in the selection, if it does not.
    pub excluded: Option<String>,
    /// It is selected but a dependency is not: it will be cancelled.
    pub will_be_cancelled: bool,
    /// Its status in a run, when drawn with a report.
    pub status: Option<ReportStatus>,
    /// How long it ran, when drawn with a report.
    pub duration_s: Option<f64>,
    /// For an expansion of a `matrix` description: `matrix load: source=genes`.
    pub matrix: Option<String>,
}

impl Graph {
    /// The graph of `pipeline` as `plan` selects it.
    pub fn from_plan(pipeline: &Pipeline, plan: &Plan) -> Graph {
        let nodes = pipeline
            .spec()
            .containers
            .iter()
            .enumerate()
            .map(|(i, c)| Node {
                name: c.name.clone(),
                image: c.image(),
                depends_on: plan.dependencies(i),
                service: c.is_service_container,
                sidecars: c.sidecars.iter().map(|s| s.name.clone()).collect(),
                excluded: plan.exclusion(i).map(ToString::to_string),
                will_be_cancelled: plan.exclusion(i).is_none() && plan.blocked_by(i).is_some(),
                status: None,
                duration_s: None,
                matrix: c.matrix.as_deref().map(ToString::to_string),
            })
            .collect();
        Graph { title: pipeline.identity().to_string(), nodes }
    }

    /// The graph a JSON report describes (its `depends_on`, `service`, `sidecars`), coloured
    /// by its statuses. A dependency the report does not list is left out.
    pub fn from_report(report: &RunReport) -> Graph {
        let index = |name: &str| report.containers.iter().position(|c| c.name == name);
        let nodes = report
            .containers
            .iter()
            .map(|c| Node {
                name: c.name.clone(),
                image: c.image.clone(),
                depends_on: c.depends_on.iter().filter_map(|d| index(d)).collect(),
                service: c.service,
                sidecars: c.sidecars.clone(),
                excluded: None,
                will_be_cancelled: false,
                status: Some(c.status),
                duration_s: c.duration_s,
                matrix: c.matrix.as_ref().map(|m| {
                    let values: Vec<String> = m.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("matrix {}: {}", m.of, values.join(", "))
                }),
            })
            .collect();
        Graph { title: report.pipeline.clone(), nodes }
    }

    /// The same graph with each node's status and duration from `report` (matched by name;
    /// a container the report does not list keeps none).
    pub fn with_report(mut self, report: &RunReport) -> Graph {
        for node in &mut self.nodes {
            if let Some(c) = report.containers.iter().find(|c| c.name == node.name) {
                node.status = Some(c.status);
                node.duration_s = c.duration_s;
            }
        }
        self
    }
}

/// Renders `graph` as a standalone SVG document.
pub fn to_svg(graph: &Graph) -> String {
    let layout = layout::layout(graph);
    draw::draw(graph, &layout, true)
}

/// Renders `graph` as an `<svg>` element to embed in an HTML page (no XML declaration).
pub fn to_inline_svg(graph: &Graph) -> String {
    let layout = layout::layout(graph);
    draw::draw(graph, &layout, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, Selection};

    fn graph_of(yaml: &str) -> Graph {
        let pipeline = Pipeline::from_str(yaml, &LoadOptions::default()).expect("valid");
        let plan = pipeline.plan(&Selection::default()).expect("plannable");
        Graph::from_plan(&pipeline, &plan)
    }

    const SMALL: &str = "nightly:\n  - name: load\n    image_repo: localhost/loader\n    sidecars:\n      - name: db\n        image_repo: localhost/db\n  - name: a_container_with_a_very_long_name_indeed\n    image_repo: localhost/indexer\n    dependencies: [load]\n  - name: serve\n    image_repo: localhost/server\n    is_service_container: true\n    dependencies: [load, a_container_with_a_very_long_name_indeed]\n";

    /// Parses the SVG and returns (node names, edges).
    fn read(svg: &str) -> (Vec<String>, Vec<(String, String)>) {
        let document = roxmltree::Document::parse(svg).expect("well-formed XML");
        assert_eq!(document.root_element().tag_name().name(), "svg");
        let class_has = |n: &roxmltree::Node, class: &str| {
            n.attribute("class").is_some_and(|c| c.split(' ').any(|word| word == class))
        };
        let nodes = document
            .descendants()
            .filter(|n| n.tag_name().name() == "g" && class_has(n, "node"))
            .map(|n| {
                assert!(n.children().any(|c| c.tag_name().name() == "text"), "a node without a label");
                n.attribute("data-name").expect("data-name").to_string()
            })
            .collect();
        let edges = document
            .descendants()
            .filter(|n| n.tag_name().name() == "path" && class_has(n, "edge"))
            .map(|n| (n.attribute("data-from").expect("from").into(), n.attribute("data-to").expect("to").into()))
            .collect();
        (nodes, edges)
    }

    #[test]
    fn one_labelled_node_per_container_and_one_edge_per_dependency() {
        let (mut nodes, edges) = read(&to_svg(&graph_of(SMALL)));
        nodes.sort();
        assert_eq!(nodes, ["a_container_with_a_very_long_name_indeed", "load", "serve"]);
        assert_eq!(edges.len(), 3);
        assert!(edges.contains(&("load".into(), "serve".into())));
    }

    #[test]
    fn a_matrix_expansion_says_where_it_comes_from() {
        let svg = to_svg(&graph_of("p:\n  - {name: load, image_repo: x, matrix: {source: [genes, papers]}}\n"));
        assert!(svg.contains("data-name=\"load-genes\" data-matrix=\"matrix load: source=genes\""), "{svg}");
        assert!(svg.contains("matrix load: source=papers"), "the tooltip: {svg}");
    }

    #[test]
    fn the_drawing_of_a_small_graph() {
        insta::assert_snapshot!(to_svg(&graph_of(SMALL)));
    }

    #[test]
    fn statuses_and_durations_come_from_a_report() {
        use crate::report::json::{ContainerReport, ReasonFields};
        let container = |name: &str, status| ContainerReport {
            name: name.into(),
            status,
            exit_code: None,
            attempts: 1,
            started_at: None,
            finished_at: None,
            duration_s: Some(2.5),
            reason: None,
            reason_fields: ReasonFields::default(),
            image: String::new(),
            depends_on: Vec::new(),
            service: false,
            run_on: None,
            sidecars: Vec::new(),
            log_file: None,
            allowed: false,
            completed_dependencies: Vec::new(),
            attempt_times: Vec::new(),
            outputs: Default::default(),
            matrix: None,
        };
        let report = RunReport {
            pipeline: "nightly".into(),
            run_id: "r".into(),
            engine: "podman".into(),
            started_at: String::new(),
            finished_at: None,
            exit_code: None,
            containers: vec![container("load", ReportStatus::Succeeded), container("serve", ReportStatus::Failed)],
            images: Vec::new(),
        };
        let svg = to_svg(&graph_of(SMALL).with_report(&report));
        assert!(svg.contains("data-name=\"load\" data-status=\"succeeded\""), "{svg}");
        assert!(svg.contains("data-name=\"serve\" data-status=\"failed\""));
        assert!(svg.contains("succeeded · 2.5s"));
        // A container the report does not list has no status.
        assert!(svg.contains("data-name=\"a_container_with_a_very_long_name_indeed\" transform"));
    }

    #[test]
    fn two_hundred_containers_keep_their_size_and_stay_valid() {
        let mut yaml = String::from("wide:\n");
        for i in 0..200 {
            yaml.push_str(&format!("  - name: c{i:03}\n    image_repo: localhost/x\n"));
            if i >= 10 {
                yaml.push_str(&format!("    dependencies: [c{:03}]\n", i % 10));
            }
        }
        let svg = to_svg(&graph_of(&yaml));
        let (nodes, edges) = read(&svg);
        assert_eq!((nodes.len(), edges.len()), (200, 190));
        assert!(svg.contains("<rect class=\"box\" width=\"200\" height=\"70\""));
    }
}
