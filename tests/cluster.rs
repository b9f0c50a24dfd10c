//! `copili run --engine swarm` on a real **two-node** Docker Swarm: the cluster `cargo xtask
//! setup` makes on this host (two docker daemons, each in a network namespace of its own; see
//! `xtask/src/cluster.rs`). Nodes carry the label `copili-e2e.node = one | two` (manager, worker),
//! which the pipelines pin jobs with (`placement:`). What is seen on each node is read from its
//! own daemon while the run goes on.
//!
//! The one-node swarm runs the same end-to-end tests as the local engines (tests/engines.rs);
//! these are what only several nodes show: jobs spread over nodes, a sidecar reached by name
//! from another node, and a job stopped on a node that copili's docker client does not talk
//! to.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use copili_e2e::{
    assert_finished, assert_output_line, assert_summary, copili, engine_setup, run, wait_until, Output, Running,
    RUN_TIMEOUT,
};

const IMAGE: &str = "localhost/copili-test:latest";

/// A cluster node, by the `DOCKER_HOST` of its daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Manager,
    Worker,
}

impl Node {
    fn host(self) -> &'static str {
        engine_setup().get(match self {
            Node::Manager => "COPILI_TEST_CLUSTER_MANAGER",
            Node::Worker => "COPILI_TEST_CLUSTER_WORKER",
        })
    }

    fn docker(self) -> Command {
        let mut command = Command::new(engine_setup().get("COPILI_TEST_DOCKER"));
        command.env("DOCKER_HOST", self.host()).current_dir("/");
        command
    }

    fn output(self, args: &[&str]) -> String {
        let output = run(self.docker().args(args));
        assert_eq!(
            output.code(),
            Some(0),
            "docker {} on {self:?} failed\n{}\n{}",
            args.join(" "),
            output.describe(),
            self.daemon_state()
        );
        output.stdout()
    }

    /// Whether the node's daemon still runs (by the pid file beside its socket) and the end of
    /// its log (`<test-env>/cluster-node<N>.log`, written by `cargo xtask setup`): what a failed
    /// command on the node needs beside docker's own "Cannot connect".
    fn daemon_state(self) -> String {
        let socket = self.host().trim_start_matches("unix://");
        let pid_file = socket.replace(".sock", ".pid");
        let pid = std::fs::read_to_string(&pid_file).ok().and_then(|text| text.trim().parse::<u32>().ok());
        let process = match pid {
            Some(pid) if Path::new(&format!("/proc/{pid}")).exists() => format!("its dockerd (pid {pid}) runs"),
            Some(pid) => format!("its dockerd (pid {pid}) is gone"),
            None => format!("no pid in {pid_file} (dockerd removes it when it stops)"),
        };
        let name = Path::new(socket).file_stem().and_then(|stem| stem.to_str()).unwrap_or("node");
        let log = engine_setup().dir().join(format!("cluster-{name}.log"));
        let text = std::fs::read_to_string(&log).unwrap_or_else(|error| format!("({error})"));
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("{process}; the end of {}:\n{tail}", log.display())
    }

    /// `container/role` of the pipeline's containers on this node (running ones, or all).
    fn containers(self, identity: &str, all: bool) -> Vec<String> {
        let filter = format!("label=io.copili.pipeline={identity}");
        let format = "{{.Label \"io.copili.container\"}}/{{.Label \"io.copili.role\"}}";
        let mut args = vec!["ps", "--filter", &filter, "--format", format];
        if all {
            args.push("--all");
        }
        self.output(&args).lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
    }
}

/// A pipeline identity on the cluster: the scene's directory, copili run against the
/// manager, and clean-up of what docker 20.10 leaves on nodes (see [`Cluster::drop`]).
struct Cluster {
    identity: String,
    dir: tempfile::TempDir,
    /// Held for the whole test (dropped after [`Cluster::drop`] has cleaned up).
    _one_at_a_time: MutexGuard<'static, ()>,
}

/// The cluster's tests run one after the other: both create and remove overlay networks and
/// services on the same manager, and once in CI the manager's dockerd (20.10) stopped
/// answering while they did so side by side. One at a time costs a few seconds.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

impl Cluster {
    fn new(scenario: &str) -> Cluster {
        // A test that failed while holding the lock leaves it poisoned; the next one still runs.
        let one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for node in [Node::Manager, Node::Worker] {
            let state = node.output(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
            assert_eq!(state.trim(), "active", "{node:?} is not in a swarm: run `cargo xtask setup`");
        }
        let nodes = Node::Manager.output(&["node", "ls", "--format", "{{.Status}}"]);
        assert_eq!(nodes.lines().filter(|l| l.trim() == "Ready").count(), 2, "two ready nodes: {nodes}");
        let identity = format!("e2e-cluster-{scenario}-{}", std::process::id());
        let dir = tempfile::Builder::new().prefix("copili-e2e-").tempdir_in("/tmp").expect("a temporary directory");
        Cluster { identity, dir, _one_at_a_time: one_at_a_time }
    }

    fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text.replace("@ID@", &self.identity).replace("@IMAGE@", IMAGE)).expect("write");
        path
    }

    /// `copili run FILE --engine swarm` against the manager.
    fn run_command(&self, file: &Path) -> Command {
        let mut command = copili();
        command.current_dir(self.dir.path()).env("DOCKER_HOST", Node::Manager.host());
        command.arg("run").arg(file).args(["--name", &self.identity, "--engine", "swarm"]);
        command
    }

    /// Services and networks with the pipeline's label, on the manager (where swarm keeps
    /// them for the whole cluster).
    fn services_and_networks(&self) -> (Vec<String>, Vec<String>) {
        let filter = format!("label=io.copili.pipeline={}", self.identity);
        let names = |args: &[&str]| -> Vec<String> {
            Node::Manager.output(args).lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
        };
        (
            names(&["service", "ls", "--filter", &filter, "--format", "{{.Name}}"]),
            names(&["network", "ls", "--filter", &filter, "--format", "{{.Name}}"]),
        )
    }

    /// Nothing of the pipeline is left: no service, no network, and no running container on
    /// either node.
    fn assert_nothing_left_running(&self) {
        assert_eq!(self.services_and_networks(), (vec![], vec![]), "services and networks left on the cluster");
        for node in [Node::Manager, Node::Worker] {
            assert_eq!(node.containers(&self.identity, false), Vec::<String>::new(), "running on {node:?}");
        }
    }
}

impl Drop for Cluster {
    /// docker 20.10 keeps a removed job's ended task containers on the node that ran it
    /// (moby#42789, fixed in later versions), where only that node's daemon can remove them.
    fn drop(&mut self) {
        let filter = format!("label=io.copili.pipeline={}", self.identity);
        let services = run(Node::Manager.docker().args(["service", "ls", "-q", "--filter", &filter])).stdout();
        for service in services.split_whitespace() {
            let _ = run(Node::Manager.docker().args(["service", "rm", service]));
        }
        for node in [Node::Manager, Node::Worker] {
            let ids = run(node.docker().args(["ps", "-aq", "--filter", &filter])).stdout();
            for id in ids.split_whitespace() {
                let _ = run(node.docker().args(["rm", "--force", id]));
            }
        }
    }
}

/// Records which of the pipeline's containers each node ran, by polling both daemons a few
/// times a second: every container of the tests lives for a second or more.
struct Sampler {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<[BTreeSet<String>; 2]>>,
    thread: JoinHandle<()>,
}

impl Sampler {
    fn start(identity: &str) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new([BTreeSet::new(), BTreeSet::new()]));
        let (identity, stop_flag, record) = (identity.to_string(), stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !stop_flag.load(Ordering::SeqCst) {
                for (index, node) in [Node::Manager, Node::Worker].into_iter().enumerate() {
                    let found = node.containers(&identity, false);
                    record.lock().expect("not poisoned")[index].extend(found);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Sampler { stop, seen, thread }
    }

    /// What the manager and the worker were seen running.
    fn stop(self) -> [BTreeSet<String>; 2] {
        self.stop.store(true, Ordering::SeqCst);
        // A failed command in the sampler fails the test with its own message.
        if let Err(panic) = self.thread.join() {
            std::panic::resume_unwind(panic);
        }
        let seen = self.seen.lock().expect("not poisoned");
        seen.clone()
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A wide pipeline: three jobs pinned to each node, then one on the manager that depends on
/// all six and reads a page from its sidecar, which runs on the worker and has a `ready`
/// check (answered by swarm's health check there: no `docker exec` reaches that node). Every
/// job ran where its placement says, the sidecar was reached by name across nodes, and
/// nothing is left.
#[test]
fn a_wide_pipeline_runs_on_both_nodes() {
    let cluster = Cluster::new("wide");
    let pin = |node: &str| format!("placement: [node.labels.copili-e2e.node=={node}]");
    let mut yaml = String::from("@ID@:\n");
    for (node, name) in
        [("one", "one-a"), ("one", "one-b"), ("one", "one-c"), ("two", "two-a"), ("two", "two-b"), ("two", "two-c")]
    {
        yaml.push_str(&format!(
            "  - name: {name}\n    image_repo: @IMAGE@\n    {}\n    command: [sh, -c, \"sleep 2; echo {name}-done\"]\n",
            pin(node)
        ));
    }
    yaml.push_str(&format!(
        r#"  - name: gather
    image_repo: @IMAGE@
    {}
    dependencies: [one-a, one-b, one-c, two-a, two-b, two-c]
    command: [sh, -c, "wget -q -O - http://web:8080/ && echo gathered && sleep 1"]
    sidecars:
      - name: web
        image_repo: @IMAGE@
        {}
        command: [sh, -c, "mkdir -p /w && echo served-from-two > /w/index.html && exec httpd -f -p 8080 -h /w"]
        ready:
          command: [wget, -q, -O, /dev/null, "http://127.0.0.1:8080/"]
          interval: 200ms
          timeout: 30s
"#,
        pin("one"),
        pin("two")
    ));
    let file = cluster.write("wide.yaml", &yaml);
    let sampler = Sampler::start(&cluster.identity);
    let output = run(cluster.run_command(&file).args(["--jobs", "6", "--stop-timeout", "2s"]));
    let [manager, worker] = sampler.stop();
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    for name in ["one-a", "one-b", "one-c", "two-a", "two-b", "two-c"] {
        assert_output_line(&output, name, &format!("{name}-done"));
        assert_finished(&output, name, "succeeded", "");
    }
    assert_output_line(&output, "gather", "served-from-two");
    assert_output_line(&output, "gather", "gathered");
    assert_summary(&output, "gather", "succeeded", "0", "1");
    let on_manager = set(&["one-a/main", "one-b/main", "one-c/main", "gather/main"]);
    assert_eq!(manager, on_manager, "what ran on the manager (node one)\n{}", output.describe());
    // A sidecar's `io.copili.container` label names its container too: `gather/web`.
    let on_worker = set(&["two-a/main", "two-b/main", "two-c/main", "gather/web/sidecar"]);
    assert_eq!(worker, on_worker, "what ran on the worker (node two)\n{}", output.describe());
    // The six jobs of the first level ran side by side, three on each node.
    let level_one = all_started_before_any_ended(&output, &["one-a", "one-b", "one-c", "two-a", "two-b", "two-c"]);
    assert!(level_one, "the six jobs of level 1 ran at once\n{}", output.describe());
    cluster.assert_nothing_left_running();
}

/// Whether every one of `names` started before the first of them ended.
fn all_started_before_any_ended(output: &Output, names: &[&str]) -> bool {
    let stdout = output.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    let position = |prefix: &str, name: &str| {
        lines.iter().position(|l| l.starts_with(&format!("{prefix} {name} ")) || **l == format!("{prefix} {name}"))
    };
    let last_start = names.iter().filter_map(|n| position("-->", n)).max();
    let first_end = names.iter().filter_map(|n| position("<--", n)).min();
    matches!((last_start, first_end), (Some(s), Some(e)) if s < e)
}

/// SIGINT while a job runs on each node: both are stopped — also the one on the worker, which
/// copili's client (talking to the manager) cannot `docker stop` and which docker 20.10 would
/// leave running when its service is removed — and nothing of the pipeline is left.
#[test]
fn an_interrupt_stops_jobs_on_every_node() {
    let cluster = Cluster::new("interrupt");
    let file = cluster.write(
        "interrupt.yaml",
        r#"@ID@:
  - name: near
    image_repo: @IMAGE@
    placement: [node.labels.copili-e2e.node==one]
    command: [sh, -c, "trap 'exit 0' TERM; echo near-up; while true; do sleep 0.2; done"]
  - name: far
    image_repo: @IMAGE@
    placement: [node.labels.copili-e2e.node==two]
    command: [sh, -c, "trap 'exit 0' TERM; echo far-up; while true; do sleep 0.2; done"]
"#,
    );
    let mut running = Running::spawn(cluster.run_command(&file).args(["--stop-timeout", "3s"]));
    for name in ["near", "far"] {
        running.wait_for_line(RUN_TIMEOUT, &format!("{name}'s first line"), |l| l.ends_with(&format!("{name}-up")));
    }
    assert_eq!(Node::Worker.containers(&cluster.identity, false), vec!["far/main".to_string()]);
    assert_eq!(Node::Manager.containers(&cluster.identity, false), vec!["near/main".to_string()]);
    running.signal("INT");
    let output = running.wait(RUN_TIMEOUT);
    assert_eq!(output.code(), Some(130), "{}", output.describe());
    assert_finished(&output, "near", "cancelled", "interrupted");
    assert_finished(&output, "far", "cancelled", "interrupted");
    // The worker's job got the grace period and ended on its own (TERM trapped, exit 0).
    wait_until(Duration::from_secs(20), "the job on the worker to stop", || {
        Node::Worker.containers(&cluster.identity, false).is_empty()
    });
    cluster.assert_nothing_left_running();
}
