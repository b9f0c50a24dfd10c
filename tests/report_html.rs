//! The HTML report in a real browser: `copili run --report-html` and `copili report RUN.json
//! -o FILE` on a run with a failure branch, opened in headless Chromium with the network off,
//! on each engine; and `copili graph --format svg` read back as XML.

use std::path::Path;
use std::time::Duration;

use copili_e2e::{artifact_path, copili, engine_tests, file_url, repo_root, run, Browser, Engine, Page, Scene};

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    docker => copili_e2e::Engine::Docker;
    [failure_branch]
);

/// `breaks` fails with a known line, `after_breaks` is cancelled, the `independent` branch
/// succeeds (`independent` after its sidecar `cache` is ready, a second after its start).
const PIPELINE: &str = r#"report_html:
  - name: prepare
    image_repo: localhost/copili-test
    command: [sh, -c, "echo preparing; sleep 1"]
  - name: breaks
    image_repo: localhost/copili-test
    dependencies: [prepare]
    command: [sh, -c, "echo 'ERROR: table genes_2026 is missing <here>'; exit 4"]
  - name: after_breaks
    image_repo: localhost/copili-test
    dependencies: [breaks]
    command: [sh, -c, "echo never"]
  - name: independent
    image_repo: localhost/copili-test
    command: [sh, -c, "sleep 1; echo independent-ran"]
    sidecars:
      - name: cache
        image_repo: localhost/copili-test
        command: [sh, -c, "sleep 1; touch /ready; trap 'exit 0' TERM; sleep 3600 & wait"]
        ready: {command: [test, -f, /ready], interval: 200ms, timeout: 30s}
  - name: after_independent
    image_repo: localhost/copili-test
    dependencies: [independent]
    command: [sh, -c, "echo after_independent-ran"]
"#;

const STATUSES: [(&str, &str); 5] = [
    ("prepare", "succeeded"),
    ("breaks", "failed"),
    ("after_breaks", "cancelled"),
    ("independent", "succeeded"),
    ("after_independent", "succeeded"),
];

fn failure_branch(engine: Engine) {
    let scene = Scene::new(engine, "html");
    let file = scene.write("pipeline.yaml", PIPELINE);
    let output = run(scene.run_command(&file).args(["--report", "run.json", "--report-html", "live.html"]));
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    scene.assert_no_leftovers();

    let written = run(scene.copili().args(["report", "run.json", "-o", "run.html", "--state-dir", ".copili"]));
    assert_eq!(written.code(), Some(0), "{}", written.describe());

    let browser = Browser::launch_offline();
    for (page_name, path) in [("report", scene.path("run.html")), ("run", scene.path("live.html"))] {
        let page = browser.open(&file_url(&path));
        page.wait_for("#graph svg", Duration::from_secs(10));
        assert_statuses(&page);
        assert_failing_log(&page);
        assert_timeline_order(&page);
        assert_sidecar_in_timeline(&page);
        assert!(page.network_requests().is_empty(), "{page_name}: {:?}", page.network_requests());
        let rows = page.eval("document.querySelectorAll('#history tbody tr').length");
        assert!(rows.as_u64().unwrap_or(0) >= 1, "{page_name}: the last runs are listed: {rows}");
        page.screenshot(&artifact_path(&format!("report-html-{page_name}-{}.png", engine.slug())));
    }
    assert_search_filters(&browser.open(&file_url(&scene.path("run.html"))));
    assert_readable_without_scripts(&browser.open_without_scripts(&file_url(&scene.path("run.html"))));
}

/// With scripts off, everything but the search is there: statuses, the failure, the logs.
fn assert_readable_without_scripts(page: &Page) {
    assert_eq!(page.eval("document.getElementById('search').hidden"), serde_json::json!(true), "the script ran");
    assert_statuses(page);
    assert_failing_log(page);
}

/// One node per container with its status, the same in the summary table.
fn assert_statuses(page: &Page) {
    let nodes = page.eval(
        "Array.from(document.querySelectorAll('#graph g.node')).map(n => [n.dataset.name, n.dataset.status, \
         n.querySelector('text').textContent])",
    );
    let nodes = nodes.as_array().expect("a list");
    assert_eq!(nodes.len(), STATUSES.len(), "{nodes:?}");
    for (name, status) in STATUSES {
        let node = nodes.iter().find(|n| n[0] == name).unwrap_or_else(|| panic!("no node {name}: {nodes:?}"));
        assert_eq!(node[1], status, "{name}: {node:?}");
        assert_eq!(node[2], name, "{name}: its label");
        let row = page.texts(&format!("#summary tr[data-name='{name}'] td.status"));
        assert_eq!(row, [status], "{name} in the summary");
    }
    let edges = page.eval("document.querySelectorAll('#graph path.edge').length");
    assert_eq!(edges, serde_json::json!(3));
}

/// The failing container's log is open and shows its line (HTML-escaped, so as printed);
/// another container's is collapsed until opened; the failure's reason is typed.
fn assert_failing_log(page: &Page) {
    let shown = page.texts("details.log[data-name='breaks']").join("");
    assert!(shown.contains("ERROR: table genes_2026 is missing <here>"), "{shown}");
    let selector = "details.log[data-name='prepare']";
    let closed = page.texts(selector).join("");
    assert!(!closed.contains("preparing"), "collapsed at first: {closed}");
    page.eval(&format!("document.querySelector(\"{selector}\").open = true"));
    let open = page.texts(&format!("{selector} pre")).join("");
    assert!(open.contains("preparing"), "{open}");
    let failure = page.texts("#failures li[data-name='breaks']").join("");
    assert!(failure.contains("exit code 4"), "{failure}");
}

/// The sidecar's row: its bar starts with the attempt of `independent`, its ready wait (about
/// the second the sidecar sleeps before it is ready) ends before the attempt does.
fn assert_sidecar_in_timeline(page: &Page) {
    let spans = page.eval(
        "['attempt', 'sidecar', 'ready-wait'].map(c => Array.from(document.querySelectorAll('#timeline .bar.' + c))\
         .filter(b => b.dataset.container === 'independent').map(b => [+b.dataset.startMs, +b.dataset.endMs]))",
    );
    let spans = spans.as_array().expect("a list");
    let one = |i: usize| -> (i64, i64) {
        let bars = spans[i].as_array().expect("bars");
        assert_eq!(bars.len(), 1, "one bar of each kind for independent: {spans:?}");
        (bars[0][0].as_i64().expect("ms"), bars[0][1].as_i64().expect("ms"))
    };
    let (attempt, sidecar, wait) = (one(0), one(1), one(2));
    assert!(attempt.0 <= sidecar.0 && sidecar.0 <= wait.0 + 1, "{spans:?}");
    assert!(wait.1 - wait.0 >= 800, "the ready wait covers the sidecar's second of sleep: {spans:?}");
    assert!(wait.1 < attempt.1, "the main container ran after the wait: {spans:?}");
    let label = page.texts("#timeline .row[data-container='independent / cache'] .label");
    assert_eq!(label, ["independent / cache"]);
}

/// Every dependency's bars end before its dependent's begin.
fn assert_timeline_order(page: &Page) {
    let bars = page.eval(
        "Array.from(document.querySelectorAll('#timeline .bar.attempt')).map(b => [b.dataset.container, \
         Number(b.dataset.startMs), Number(b.dataset.endMs)])",
    );
    let bars = bars.as_array().expect("a list");
    let span = |name: &str| {
        let mine: Vec<(i64, i64)> = bars
            .iter()
            .filter(|b| b[0] == name)
            .map(|b| (b[1].as_i64().expect("start"), b[2].as_i64().expect("end")))
            .collect();
        assert!(!mine.is_empty(), "no bar for {name}: {bars:?}");
        (mine.iter().map(|b| b.0).min().unwrap_or(0), mine.iter().map(|b| b.1).max().unwrap_or(0))
    };
    for (dependency, dependent) in [("prepare", "breaks"), ("independent", "after_independent")] {
        assert!(span(dependency).1 <= span(dependent).0, "{dependency} before {dependent}: {bars:?}");
    }
    assert!(bars.iter().all(|b| b[0] != "after_breaks"), "a cancelled container has no bar: {bars:?}");
}

/// The search shows only the logs that match.
fn assert_search_filters(page: &Page) {
    page.eval(
        "const s = document.getElementById('search'); s.value = 'genes_2026'; \
         s.dispatchEvent(new Event('input'))",
    );
    let shown = page.eval(
        "Array.from(document.querySelectorAll('details.log')).filter(d => !d.classList.contains('hidden')).map(d => \
         d.dataset.name)",
    );
    assert_eq!(shown, serde_json::json!(["breaks"]));
}

/// The acceptance line: one labelled node per container and one edge per dependency.
#[test]
fn graph_svg_of_the_quickstart_is_valid_svg() {
    let output = run(copili().args(["graph", "examples/quickstart.yaml", "--format", "svg"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let svg = output.stdout();
    let document = roxmltree::Document::parse(&svg).expect("valid XML");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    let has_class =
        |n: &roxmltree::Node, class: &str| n.attribute("class").is_some_and(|c| c.split(' ').any(|w| w == class));
    let mut nodes: Vec<String> = document
        .descendants()
        .filter(|n| n.tag_name().name() == "g" && has_class(n, "node"))
        .map(|n| {
            let label = n.descendants().find(|t| t.has_tag_name("text")).and_then(|t| t.text()).unwrap_or("");
            let name = n.attribute("data-name").expect("data-name").to_string();
            assert_eq!(label, name, "a node labelled with its name");
            name
        })
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["dataloader_01", "dataloader_02", "dataloader_03", "servicecontainer01"]);
    let mut edges: Vec<(String, String)> = document
        .descendants()
        .filter(|n| n.has_tag_name("path") && has_class(n, "edge"))
        .map(|n| (n.attribute("data-from").expect("from").into(), n.attribute("data-to").expect("to").into()))
        .collect();
    edges.sort();
    // Exactly the dependencies the file declares.
    let quickstart = std::fs::read_to_string(repo_root().join("examples/quickstart.yaml")).expect("the example");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&quickstart).expect("YAML");
    let containers = yaml.as_mapping().and_then(|m| m.values().next()).and_then(|v| v.as_sequence()).expect("a list");
    let mut declared: Vec<(String, String)> = Vec::new();
    for container in containers {
        let name = container["name"].as_str().expect("a name");
        for dependency in container["dependencies"].as_sequence().into_iter().flatten() {
            declared.push((dependency.as_str().expect("a name").into(), name.into()));
        }
    }
    declared.sort();
    assert_eq!(edges, declared);

    // Its picture, for a person to look at.
    let path = artifact_path("graph-quickstart.svg");
    std::fs::write(&path, &svg).expect("write the SVG");
    let browser = Browser::launch_offline();
    let page = browser.open(&file_url(Path::new(&path)));
    page.screenshot(&artifact_path("graph-quickstart.png"));
}

/// A report that cannot be read, or `--report` with another format than SVG: usage errors.
#[test]
fn bad_report_arguments_are_usage_errors() {
    let output = run(copili().args(["report", "tests/fixtures/no-such-report.json", "-o", "/tmp/copili-never.html"]));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert!(output.stderr().contains("no-such-report.json"), "{}", output.describe());
    assert!(!Path::new("/tmp/copili-never.html").exists());
    let output = run(copili().args(["graph", "examples/quickstart.yaml", "--report", "run.json"]));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert!(output.stderr().contains("--format svg"), "{}", output.describe());
}
