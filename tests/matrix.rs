//! End-to-end tests of `matrix:` fan-out on real engines: one description runs as one
//! container per value, and a container depending on the description's name waits for all of
//! them. Nothing may be left behind.

use copili_e2e::{assert_finished, assert_output_line, engine_tests, read_report, report_entry, run, Engine, Scene};

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker,
    swarm => copili_e2e::Engine::Swarm;
    [three_values_run_three_containers_and_a_dependent_waits_for_all]
);

const SOURCES: [&str; 3] = ["genes", "papers", "pathways"];

fn three_values_run_three_containers_and_a_dependent_waits_for_all(engine: Engine) {
    let scene = Scene::new(engine, "matrix");
    let file = scene.write(
        "matrix.yaml",
        "matrix:\n  - name: load\n    image_repo: localhost/copili-test\n    matrix:\n      source: [genes, papers, pathways]\n    env_vars:\n      SOURCE: ${{ matrix.source }}\n    command: [sh, -c, 'sleep 1; echo \"loading ${{ matrix.source }} $$SOURCE\"']\n  - name: link\n    image_repo: localhost/copili-test\n    dependencies: [load]\n    command: [echo, linked]\n",
    );
    let report_path = scene.path("report.json");
    let output = run(scene.run_command(&file).arg("--report").arg(&report_path));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    for source in SOURCES {
        let name = format!("load-{source}");
        assert_output_line(&output, &name, &format!("loading {source} {source}"));
        assert_finished(&output, &name, "succeeded", "");
    }
    assert_output_line(&output, "link", "linked");
    assert_finished(&output, "link", "succeeded", "");
    scene.assert_no_leftovers();

    let report = read_report(&report_path, &output);
    let link = report_entry(&report, "link");
    let link_started = link["started_at"].as_str().expect("link started").to_string();
    let mut depends_on: Vec<&str> =
        link["depends_on"].as_array().into_iter().flatten().filter_map(|d| d.as_str()).collect();
    depends_on.sort_unstable();
    assert_eq!(depends_on, ["load-genes", "load-papers", "load-pathways"], "{report:#}");
    for source in SOURCES {
        let entry = report_entry(&report, &format!("load-{source}"));
        assert_eq!(entry["status"], "succeeded", "{report:#}");
        assert_eq!(entry["matrix"]["of"], "load", "{report:#}");
        assert_eq!(entry["matrix"]["values"]["source"], source, "{report:#}");
        // The same RFC 3339 UTC form with milliseconds: the text orders as the time.
        let finished = entry["finished_at"].as_str().expect("finished");
        assert!(
            link_started.as_str() >= finished,
            "link started at {link_started}, before load-{source} ended at {finished}"
        );
    }
    assert!(link.get("matrix").is_none(), "{report:#}");
}
