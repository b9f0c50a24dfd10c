//! `matrix:` in `copili plan`, `copili graph` and the selection (`--only`, `--skip`): no
//! engine needed.

use copili_e2e::{copili, run, Output};
use serde_json::{json, Value};

const MATRIX: &str = "tests/fixtures/valid/matrix.yaml";

const EXPANSIONS: [&str; 4] = ["load-genes-v1", "load-genes-v2", "load-papers-v1", "load-papers-v2"];

fn success(args: &[&str]) -> Output {
    let output = run(copili().args(args));
    assert_eq!(output.code(), Some(0), "copili {}\n{}", args.join(" "), output.describe());
    output
}

fn plan_json(args: &[&str]) -> Value {
    let mut all = vec!["plan", MATRIX];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json", "--engine", "none"]);
    let output = success(&all);
    serde_json::from_str(&output.stdout()).unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", output.describe()))
}

fn names(plan: &Value) -> Vec<String> {
    plan["containers"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["name"].as_str().expect("a name").to_string())
        .collect()
}

#[test]
fn plan_shows_every_expansion_and_where_it_comes_from() {
    let plan = plan_json(&[]);
    let mut expected = vec!["prep".to_string()];
    expected.extend(EXPANSIONS.iter().map(|s| s.to_string()));
    expected.push("link".into());
    assert_eq!(names(&plan), expected);
    assert_eq!(plan["levels"], json!([["prep"], EXPANSIONS, ["link"]]));
    let first = &plan["containers"][1];
    assert_eq!(first["matrix"], json!({"of": "load", "values": {"source": "genes", "db": "v1"}}));
    assert_eq!(first["command"], json!(["echo", "genes into v1"]));
    assert_eq!(first["dependencies"], json!(["prep"]));
    assert_eq!(first["sidecars"][0]["labels"], json!({"source": "genes"}));
    assert_eq!(plan["containers"][5]["dependencies"], json!(EXPANSIONS));
    assert!(plan["containers"][5].get("matrix").is_none());

    let text = success(&["plan", MATRIX, "--engine", "none"]).stdout();
    assert!(
        text.contains("load-papers-v2  localhost/copili-test:latest  [matrix load: source=papers, db=v2]"),
        "{text}"
    );
    assert!(text.contains("after: load-genes-v1, load-genes-v2, load-papers-v1, load-papers-v2"), "{text}");
}

#[test]
fn graph_shows_the_expansion() {
    let dot = success(&["graph", MATRIX]).stdout();
    assert!(dot.contains(r#""load-genes-v2" [label="load-genes-v2\nlocalhost/copili-test:latest\n(matrix load: source=genes, db=v2)"];"#), "{dot}");
    for expansion in EXPANSIONS {
        assert!(dot.contains(&format!("\"prep\" -> \"{expansion}\";")), "{dot}");
        assert!(dot.contains(&format!("\"{expansion}\" -> \"link\";")), "{dot}");
    }
    let mermaid = success(&["graph", MATRIX, "--format", "mermaid"]).stdout();
    assert!(
        mermaid.contains("load-papers-v1<br/>localhost/copili-test:latest<br/>(matrix load: source=papers, db=v1)"),
        "{mermaid}"
    );
}

#[test]
fn only_selects_one_expansion_or_all_of_them() {
    assert_eq!(names(&plan_json(&["--only", "load-papers-v1"])), ["prep", "load-papers-v1"]);
    assert_eq!(plan_json(&["--only", "load-papers-v1"])["added_by_only"], json!(["prep"]));
    let all = plan_json(&["--only", "load"]);
    let mut expected = vec!["prep".to_string()];
    expected.extend(EXPANSIONS.iter().map(|s| s.to_string()));
    assert_eq!(names(&all), expected);
    let skipped = plan_json(&["--skip", "load"]);
    let excluded: Vec<&str> =
        skipped["excluded"].as_array().expect("a list").iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(excluded, EXPANSIONS);
    // An unknown name still is one.
    let output = run(copili().args(["plan", MATRIX, "--only", "lod", "--engine", "none"]));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert!(output.stderr().contains("--only names an unknown container `lod`"), "{}", output.describe());
}

#[test]
fn export_names_are_valid_task_names() {
    let output = success(&["export", "argo", MATRIX]);
    let text = output.stdout();
    for expansion in EXPANSIONS {
        assert!(text.contains(&format!("- name: {expansion}\n")), "{text}");
    }
}
