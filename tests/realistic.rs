//! A realistic pipeline on real servers, end to end: `examples/knowledge-graph/` (loaders
//! filling a PostgreSQL 15 sidecar through a named volume, a Redis 7 sidecar, a failing `psql`,
//! a step on a network started outside copili) run by the real `copili` binary on rootful
//! podman, rootless podman, docker and Docker Swarm mode, with the Debian image that
//! `cargo xtask setup` builds (`COPILI_TEST_DEBIAN_IMAGE`).
//!
//! One test function per engine and scenario, `<engine>::<scenario>`:
//! `cargo test --test realistic knowledge_graph` runs the main pipeline everywhere,
//! `cargo test --test realistic external_network` the `networks:` step (issue 12, item 4).
//!
//! Like the other engine tests, these never skip: without the engines or the image they fail,
//! saying to run `cargo xtask setup`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use copili_e2e::{
    assert_finished, assert_no_output_from, assert_output_line, assert_report_status, assert_summary, engine_setup,
    engine_tests, read_report, repo_root, run, wait_until, Engine, Output, Scene,
};

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker,
    swarm => copili_e2e::Engine::Swarm;
    [knowledge_graph, external_network]
);

/// The example's directory in the repository.
const EXAMPLE: &str = "examples/knowledge-graph";

/// The Debian image of `cargo xtask setup`; fails the test unless `engine` has it.
fn debian_image(engine: Engine) -> &'static str {
    let image = engine_setup().get("COPILI_TEST_DEBIAN_IMAGE");
    let output = run(engine.client().args(["image", "inspect", "--format", "{{.Id}}", image]));
    assert_eq!(
        output.code(),
        Some(0),
        "{engine:?} lacks the Debian test image {image} (PostgreSQL, Redis): run `cargo xtask setup`\n{}",
        output.describe()
    );
    image
}

/// Copies the example (the pipeline files, `raw/`, `sql/`) into the scene's directory, where
/// the user copili runs as can read it; the directory of the copy.
fn copy_example(scene: &Scene) -> PathBuf {
    fn copy_tree(scene: &Scene, from: &Path, relative: &Path) {
        let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("cannot list {}: {e}", from.display()));
        for entry in entries {
            let entry = entry.expect("a directory entry");
            let (path, relative) = (entry.path(), relative.join(entry.file_name()));
            if path.is_dir() {
                copy_tree(scene, &path, &relative);
            } else {
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                scene.write(&relative.to_string_lossy(), &text);
            }
        }
    }
    copy_tree(scene, &repo_root().join(EXAMPLE), Path::new("kg"));
    scene.path("kg")
}

/// The named volumes of one test, removed when dropped (also after a failure): the pipeline's
/// own data, which copili, like compose, leaves to the engine.
struct Volumes {
    engine: Engine,
    data: String,
    pgdata: String,
}

impl Volumes {
    fn new(scene: &Scene) -> Volumes {
        let volumes = Volumes {
            engine: scene.engine,
            data: format!("{}-data", scene.identity),
            pgdata: format!("{}-pgdata", scene.identity),
        };
        volumes.remove();
        volumes
    }

    /// `KG_DATA` and `KG_PGDATA` for copili.
    fn env(&self) -> [(&'static str, &str); 2] {
        [("KG_DATA", &self.data), ("KG_PGDATA", &self.pgdata)]
    }

    fn exists(&self, name: &str) -> bool {
        run(self.engine.client().args(["volume", "inspect", name])).code() == Some(0)
    }

    fn remove(&self) {
        for name in [&self.data, &self.pgdata] {
            // On swarm, a removed service's task container (which holds the volume) goes away
            // on the node's own time.
            let removed = |engine: Engine| {
                let output = run(engine.client().args(["volume", "rm", "--force", name]));
                output.code() == Some(0) || !self.exists(name)
            };
            if !removed(self.engine) {
                wait_until(Duration::from_secs(30), &format!("volume {name} removed"), || removed(self.engine));
            }
        }
    }
}

impl Drop for Volumes {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.remove();
            return;
        }
        for name in [&self.data, &self.pgdata] {
            let _ = run(self.engine.client().args(["volume", "rm", "--force", name]));
        }
    }
}

/// The lines `prefix` printed, trimmed, in order (see [`copili_e2e::output_line_text`]).
fn lines_of(output: &Output, prefix: &str) -> Vec<String> {
    output.stdout().lines().filter_map(|l| copili_e2e::output_line_text(l, prefix)).map(String::from).collect()
}

/// The whole knowledge-graph pipeline: CSV files on a named volume, three loaders and a query
/// each with their own PostgreSQL sidecar on a second named volume (so the rows of one are
/// there for the next: `verify` counts them), the Redis sidecar of `cache-genes`, the failing
/// `psql` of `load-links` (exit code 3, its dependent cancelled, the independent branch done,
/// copili exits 1), and nothing left on the engine but the pipeline's named volumes.
fn knowledge_graph(engine: Engine) {
    let scene = Scene::new(engine, "kg");
    debian_image(engine);
    let example = copy_example(&scene);
    let volumes = Volumes::new(&scene);
    let report_path = scene.path("report.json");
    let logs = scene.path("logs");
    let started = std::time::Instant::now();
    let output = run(scene
        .run_command(&example.join("pipeline.yml"))
        .envs(volumes.env())
        .arg("--log-dir")
        .arg(&logs)
        .arg("--report")
        .arg(&report_path));
    eprintln!("{engine:?}: the knowledge-graph pipeline ran in {:.1}s", started.elapsed().as_secs_f64());
    assert_eq!(output.code(), Some(1), "load-links fails, so copili exits 1\n{}", output.describe());

    // `$(...)` and `$((...))` reached the shell as written; `$$tsv` was the shell's `$tsv`.
    for line in ["extracted genes.csv: 4 rows", "extracted mentions.csv: 5 rows", "extracted papers.csv: 3 rows"] {
        assert_output_line(&output, "extract", line);
    }
    // A new cluster on the fresh volume, made by the first loader's sidecar only: the later
    // sidecars found it on the volume.
    assert_output_line(&output, "load-genes/db", "initialised a new cluster in /pg/data");
    for later in ["load-papers/db", "verify/db", "load-links/db"] {
        let initialised = lines_of(&output, later).into_iter().any(|l| l.starts_with("initialised"));
        assert!(!initialised, "{later} found no cluster on the volume\n{}", output.describe());
    }
    // The rows really are in PostgreSQL: `verify`, a later job with a sidecar of its own,
    // counts what the loaders wrote.
    assert_eq!(
        lines_of(&output, "verify"),
        ["genes 4", "papers 3", "mentions 5", "co-mentioned BRCA1-TP53 EGFR-MYC"],
        "verify's query\n{}",
        output.describe()
    );
    // Redis, in the independent branch.
    assert_eq!(lines_of(&output, "cache-genes"), ["cached 4 gene symbols", "TP53 cached: 1"], "{}", output.describe());
    // The failing psql: its error, its exit code, its cancelled dependent.
    assert_output_line(&output, "load-links", "psql:/sql/link.sql:9: ERROR:  column b.symbl does not exist");
    assert_finished(&output, "load-links", "failed", "exit code 3");
    assert_finished(&output, "publish-links", "cancelled", "dependency load-links failed");
    assert_no_output_from(&output, "publish-links");
    for name in ["extract", "load-genes", "load-papers", "verify", "cache-genes"] {
        assert_finished(&output, name, "succeeded", "");
        assert_summary(&output, name, "succeeded", "0", "1");
    }
    assert_summary(&output, "load-links", "failed", "3", "1");
    assert_summary(&output, "publish-links", "cancelled", "-", "0");

    let report = read_report(&report_path, &output);
    assert_eq!(report["exit_code"], 1, "{report:#}");
    for name in ["extract", "load-genes", "load-papers", "verify", "cache-genes"] {
        assert_report_status(&report, name, "succeeded", None);
    }
    assert_report_status(&report, "load-links", "failed", Some("exit code 3"));
    assert_eq!(copili_e2e::report_entry(&report, "load-links")["exit_code"], 3, "{report:#}");
    assert_report_status(&report, "publish-links", "cancelled", Some("dependency load-links failed"));

    // The psql error is in load-links' log file, the server's side of it in its sidecar's lines.
    let log = std::fs::read_to_string(logs.join("load-links.log")).expect("load-links.log");
    assert!(log.contains("ERROR:  column b.symbl does not exist"), "load-links.log:\n{log}");
    assert!(log.lines().any(|l| l.starts_with("[db] ") && l.contains("b.symbl")), "load-links.log:\n{log}");

    // Nothing of copili's is left: no container, no network; the named volumes are the
    // pipeline's data and stay, as in compose (removed by `Volumes`).
    scene.assert_no_leftovers();
    let filter = format!("name={}", scene.identity);
    let mut named: Vec<String> = engine
        .client_output(&["volume", "ls", "--format", "{{.Name}}", "--filter", &filter])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    named.sort();
    assert_eq!(named, [volumes.data.clone(), volumes.pgdata.clone()], "the run's volumes are the two it names");
}

/// A server started outside copili, on a network of its own, and a step that joins that
/// network with `networks: [NAME]` and writes to the server by its name there; the server
/// holds the data afterwards, and copili leaves the network and the server alone.
fn external_network(engine: Engine) {
    let scene = Scene::new(engine, "kgnet");
    let image = debian_image(engine);
    let example = copy_example(&scene);
    let volumes = Volumes::new(&scene);
    let outside = Outside::start(&scene, image);

    // The genes, as `extract` of the main pipeline writes them.
    let output = run(scene.run_command(&example.join("pipeline.yml")).envs(volumes.env()).args(["--only", "extract"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_output_line(&output, "extract", "extracted genes.csv: 4 rows");

    let started = std::time::Instant::now();
    let output = run(scene
        .run_command(&example.join("publish.yml"))
        .envs(volumes.env())
        .env("KG_GRAPH_NETWORK", &outside.network));
    eprintln!("{engine:?}: publish.yml ran in {:.1}s", started.elapsed().as_secs_f64());
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_output_line(&output, "publish-genes", "graph holds 4 genes");
    assert_finished(&output, "publish-genes", "succeeded", "");

    // The server outside copili got the data, and it and its network are still there.
    let members = run(engine.client().args(["exec", &outside.server, "redis-cli", "SCARD", "kg:genes"]));
    assert_eq!(members.stdout().trim(), "4", "the server outside copili holds the genes\n{}", members.describe());
    let network = run(engine.client().args(["network", "inspect", &outside.network]));
    assert_eq!(network.code(), Some(0), "copili left the network it did not make alone\n{}", network.describe());
    scene.assert_no_leftovers();
}

/// A network and a Redis server on it (alias `graphdb`), made by the test, not by copili;
/// removed when dropped. On swarm the network is an attachable overlay network, which both a
/// plain container and a swarm job can join.
struct Outside {
    engine: Engine,
    network: String,
    server: String,
}

impl Outside {
    fn start(scene: &Scene, image: &str) -> Outside {
        let engine = scene.engine;
        let outside = Outside {
            engine,
            network: format!("{}-graph", scene.identity),
            server: format!("{}-graphdb", scene.identity),
        };
        outside.remove();
        let mut create = engine.client();
        create.args(["network", "create"]);
        if engine == Engine::Swarm {
            create.args(["--driver", "overlay", "--attachable"]);
        }
        let created = run(create.arg(&outside.network));
        assert_eq!(created.code(), Some(0), "{}", created.describe());
        let started = run(engine.client().args([
            "run",
            "--detach",
            "--name",
            &outside.server,
            "--network",
            &outside.network,
            "--network-alias",
            "graphdb",
            image,
            "redis-server",
            "--protected-mode",
            "no",
            "--save",
            "",
        ]));
        assert_eq!(started.code(), Some(0), "{}", started.describe());
        wait_until(Duration::from_secs(30), "the graph server answers", || {
            run(engine.client().args(["exec", &outside.server, "redis-cli", "ping"])).stdout().trim() == "PONG"
        });
        outside
    }

    fn remove(&self) {
        let _ = run(self.engine.client().args(["rm", "--force", &self.server]));
        let _ = run(self.engine.client().args(["network", "rm", &self.network]));
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        self.remove();
    }
}
