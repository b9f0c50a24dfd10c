//! Setup step 7: a **two-node Docker Swarm** on this one host, for the tests that run a
//! pipeline across nodes (`tests/cluster.rs`). The one-node swarm of step 3 cannot show what
//! only several nodes show: jobs placed on another node, a sidecar reached by name across
//! nodes, and a job stopped where no `docker` command of copili's client reaches.
//!
//! Each node is a docker daemon of its own (ENGINE-NOTES' "second daemon": its own
//! `--data-root`, `--exec-root`, socket and pid file) in a network namespace of its own, so
//! that both can use swarm's ports (2377, 7946, 4789) on their own addresses. The namespaces
//! are joined by a bridge in a third namespace (no address of the host is involved, and no
//! firewall rule of the host is touched):
//!
//! ```text
//! netns copili-cluster-br: bridge cpbr0 ── veth ── netns copili-cluster-1: eth0 10.123.0.11 (manager, label one)
//!                                      └── veth ── netns copili-cluster-2: eth0 10.123.0.12 (worker, label two)
//! ```
//!
//! The daemons are started with `nsenter --net=…` rather than `ip netns exec`, which would also
//! remount `/sys` and hide the cgroup mounts dockerd needs ("Devices cgroup isn't mounted").
//! Overlay networks get their subnets from `10.124.0.0/16`, apart from the nodes' own. Each node
//! gets the test image imported (a cluster has no shared image store), and the label
//! [`NODE_LABEL`]` = one | two`, which tests pin jobs with (`placement:`).
//!
//! Idempotent: when the manager lists two ready nodes with their labels and both have the
//! image, nothing is done. Otherwise whatever an earlier attempt left (daemons by their pid
//! files, processes of their runtime directories, mounts, directories, namespaces) is removed
//! and the cluster is made anew.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::setup::{checked, io_failed, output, seconds, stdout_of, wait_for_dockerd, ImageTar, TEST_IMAGE};
use crate::{display_command, Error, Result};

/// Sockets, exec roots and pid files of the nodes' daemons.
const RUN_DIR: &str = "/run/copili-cluster";
/// The nodes' data roots (images, swarm state).
const DATA_DIR: &str = "/var/lib/copili-cluster";
/// The network namespace holding the bridge that joins the nodes.
const BRIDGE_NETNS: &str = "copili-cluster-br";
/// The nodes' network: 10.123.0.0/24 (node `i` is 10.123.0.1i).
const NODE_SUBNET_PREFIX: &str = "10.123.0";
/// Where swarm takes overlay subnets from: apart from the nodes' own network.
const OVERLAY_POOL: &str = "10.124.0.0/16";
/// The node label tests place jobs with: `one` on the manager, `two` on the worker.
pub(crate) const NODE_LABEL: &str = "copili-e2e.node";
/// How long the worker may take to be seen ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One node of the cluster.
#[derive(Debug, Clone, Copy)]
struct Node {
    index: u8,
    label: &'static str,
}

const MANAGER: Node = Node { index: 1, label: "one" };
const WORKER: Node = Node { index: 2, label: "two" };

impl Node {
    fn netns(self) -> String {
        format!("copili-cluster-{}", self.index)
    }

    fn address(self) -> String {
        format!("{NODE_SUBNET_PREFIX}.1{}", self.index)
    }

    fn socket(self) -> PathBuf {
        Path::new(RUN_DIR).join(format!("node{}.sock", self.index))
    }

    /// The daemon's address for `docker -H` / `DOCKER_HOST`.
    fn host(self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn pid_file(self) -> PathBuf {
        Path::new(RUN_DIR).join(format!("node{}.pid", self.index))
    }

    fn exec_root(self) -> PathBuf {
        Path::new(RUN_DIR).join(format!("node{}", self.index))
    }

    fn data_root(self) -> PathBuf {
        Path::new(DATA_DIR).join(format!("node{}", self.index))
    }

    /// The docker client, talking to this node's daemon.
    fn docker(self, docker: &Path) -> Command {
        let mut command = Command::new(docker);
        command.arg("-H").arg(self.host()).stdin(Stdio::null());
        command
    }
}

/// What the tests need to know about the cluster.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cluster {
    /// `DOCKER_HOST` of the manager, which copili runs against.
    pub(crate) manager: String,
    /// `DOCKER_HOST` of the worker, where tests look for the jobs placed there.
    pub(crate) worker: String,
}

impl Cluster {
    /// The cluster's two nodes, as step 7 makes them.
    pub(crate) fn new() -> Cluster {
        Cluster { manager: MANAGER.host(), worker: WORKER.host() }
    }
}

/// Makes sure the two-node swarm runs (see the module documentation); what was done.
pub(crate) fn ensure(docker: &Path, test_env: &Path, image_tar: &mut ImageTar) -> Result<(Cluster, String)> {
    if let Ok(()) = check(docker) {
        return Ok((Cluster::new(), "two-node swarm ready (manager one, worker two)".into()));
    }
    let removed = tear_down()?;
    let started = Instant::now();
    create_network()?;
    for node in [MANAGER, WORKER] {
        start_daemon(docker, node, &test_env.join(format!("cluster-node{}.log", node.index)))?;
    }
    form_swarm(docker)?;
    let tar = image_tar.get()?;
    for node in [MANAGER, WORKER] {
        checked(node.docker(docker).arg("import").arg(&tar).arg(TEST_IMAGE))?;
    }
    wait_until_ready(docker)?;
    let removed = if removed { "; what an earlier one left was removed first" } else { "" };
    Ok((
        Cluster::new(),
        format!(
            "two-node swarm made in {} (manager {} and worker {} in their own network namespaces){removed}",
            seconds(started.elapsed()),
            MANAGER.address(),
            WORKER.address()
        ),
    ))
}

/// Ok when the manager lists two ready, active nodes labelled one and two, and both nodes have
/// the test image.
fn check(docker: &Path) -> Result {
    let nodes = stdout_of(MANAGER.docker(docker).args(["node", "ls", "--format", "{{.Status}} {{.Availability}}"]))?;
    if nodes.lines().filter(|l| l.trim() == "Ready Active").count() != 2 || nodes.lines().count() != 2 {
        return Err(Error::Failed(format!("the manager lists these nodes: {nodes:?}")));
    }
    let ids = stdout_of(MANAGER.docker(docker).args(["node", "ls", "--quiet"]))?;
    let template = format!("{{{{index .Spec.Labels \"{NODE_LABEL}\"}}}}");
    let mut inspect = MANAGER.docker(docker);
    inspect.args(["node", "inspect", "--format", &template]).args(ids.split_whitespace());
    let mut labels: Vec<String> = stdout_of(&mut inspect)?.lines().map(|l| l.trim().to_string()).collect();
    labels.sort();
    if labels != ["one", "two"] {
        return Err(Error::Failed(format!("the nodes are labelled {labels:?}")));
    }
    for node in [MANAGER, WORKER] {
        checked(node.docker(docker).args(["image", "inspect", "--format", "{{.Id}}", TEST_IMAGE]))?;
    }
    Ok(())
}

/// Removes what an earlier cluster left: its daemons, their processes and mounts, its
/// directories and network namespaces. Whether there was anything.
fn tear_down() -> Result<bool> {
    let mut found = false;
    for node in [MANAGER, WORKER] {
        let Ok(text) = fs::read_to_string(node.pid_file()) else { continue };
        let Ok(pid) = text.trim().parse::<u32>() else { continue };
        found = true;
        stop_process(pid);
    }
    // containerd and its shims, which name the exec root on their command lines.
    for pid in processes_naming(RUN_DIR) {
        found = true;
        let _ = output(Command::new("kill").args(["-KILL", &pid.to_string()]));
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<&str> = mountinfo
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .filter(|point| point.starts_with(RUN_DIR) || point.starts_with(DATA_DIR))
        .collect();
    mounts.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in mounts {
        found = true;
        let _ = output(Command::new("umount").args(["--lazy", point]));
    }
    for dir in [RUN_DIR, DATA_DIR] {
        let path = Path::new(dir);
        if path.exists() {
            found = true;
            fs::remove_dir_all(path).map_err(|error| io_failed("remove", path, error))?;
        }
    }
    let namespaces = stdout_of(Command::new("ip").args(["netns", "list"]))?;
    for netns in [MANAGER.netns(), WORKER.netns(), BRIDGE_NETNS.to_string()] {
        if namespaces.lines().any(|l| l.split_whitespace().next() == Some(netns.as_str())) {
            found = true;
            checked(Command::new("ip").args(["netns", "delete", &netns]))?;
        }
    }
    Ok(found)
}

/// SIGTERM, then SIGKILL after 15 s.
fn stop_process(pid: u32) {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    if !proc_dir.exists() {
        return;
    }
    let _ = output(Command::new("kill").args(["-TERM", &pid.to_string()]));
    let deadline = Instant::now() + Duration::from_secs(15);
    while proc_dir.exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    let _ = output(Command::new("kill").args(["-KILL", &pid.to_string()]));
}

/// The pids of the processes whose command line contains `text`.
fn processes_naming(text: &str) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    let own = std::process::id();
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(text))
        })
        .collect()
}

/// The bridge namespace and one namespace per node, joined by veth pairs.
fn create_network() -> Result {
    let ip = |args: &[&str]| checked(Command::new("ip").args(args)).map(|_| ());
    ip(&["netns", "add", BRIDGE_NETNS])?;
    ip(&["-n", BRIDGE_NETNS, "link", "set", "lo", "up"])?;
    ip(&["-n", BRIDGE_NETNS, "link", "add", "cpbr0", "type", "bridge"])?;
    ip(&["-n", BRIDGE_NETNS, "link", "set", "cpbr0", "up"])?;
    for node in [MANAGER, WORKER] {
        let netns = node.netns();
        let port = format!("cpbr-node{}", node.index);
        ip(&["netns", "add", &netns])?;
        ip(&["-n", &netns, "link", "set", "lo", "up"])?;
        ip(&["-n", BRIDGE_NETNS, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &netns])?;
        ip(&["-n", BRIDGE_NETNS, "link", "set", &port, "master", "cpbr0"])?;
        ip(&["-n", BRIDGE_NETNS, "link", "set", &port, "up"])?;
        ip(&["-n", &netns, "addr", "add", &format!("{}/24", node.address()), "dev", "eth0"])?;
        ip(&["-n", &netns, "link", "set", "eth0", "up"])?;
    }
    Ok(())
}

/// Starts a node's dockerd in its namespace and its own session (like step 3's), and waits
/// until it answers.
fn start_daemon(docker: &Path, node: Node, log: &Path) -> Result {
    for dir in [node.exec_root(), node.data_root()] {
        fs::create_dir_all(&dir).map_err(|error| io_failed("create", &dir, error))?;
    }
    let log_file = fs::File::create(log).map_err(|error| io_failed("create", log, error))?;
    let log_for_stderr = log_file.try_clone().map_err(|error| io_failed("open", log, error))?;
    let mut start = Command::new("setsid");
    start
        .arg("nsenter")
        .arg(format!("--net=/run/netns/{}", node.netns()))
        .arg("dockerd")
        .arg("--data-root")
        .arg(node.data_root())
        .arg("--exec-root")
        .arg(node.exec_root())
        .arg("-H")
        .arg(node.host())
        .arg("--pidfile")
        .arg(node.pid_file())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_for_stderr);
    let line = display_command(&start);
    let mut daemon = start.spawn().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
    let info = || {
        let mut info = node.docker(docker);
        info.args(["info", "--format", "{{.ServerVersion}}"]);
        info
    };
    wait_for_dockerd(&info, &mut daemon, log, 0).map(|_| ())
}

/// `swarm init` on the manager, `swarm join` of the worker, the node labels.
fn form_swarm(docker: &Path) -> Result {
    let (manager, worker) = (MANAGER.address(), WORKER.address());
    checked(MANAGER.docker(docker).args([
        "swarm",
        "init",
        "--advertise-addr",
        &manager,
        "--listen-addr",
        &format!("{manager}:2377"),
        "--default-addr-pool",
        OVERLAY_POOL,
    ]))?;
    let token = stdout_of(MANAGER.docker(docker).args(["swarm", "join-token", "--quiet", "worker"]))?;
    checked(WORKER.docker(docker).args([
        "swarm",
        "join",
        "--token",
        &token,
        "--advertise-addr",
        &worker,
        "--listen-addr",
        &format!("{worker}:2377"),
        &format!("{manager}:2377"),
    ]))?;
    for node in [MANAGER, WORKER] {
        let id = stdout_of(node.docker(docker).args(["info", "--format", "{{.Swarm.NodeID}}"]))?;
        let label = format!("{NODE_LABEL}={}", node.label);
        checked(MANAGER.docker(docker).args(["node", "update", "--label-add", &label, &id]))?;
    }
    Ok(())
}

fn wait_until_ready(docker: &Path) -> Result {
    let started = Instant::now();
    loop {
        match check(docker) {
            Ok(()) => return Ok(()),
            Err(error) if started.elapsed() > START_TIMEOUT => {
                return Err(Error::Failed(format!(
                    "the two-node swarm is not ready after {}s: {error}",
                    START_TIMEOUT.as_secs()
                )))
            }
            Err(_) => thread::sleep(Duration::from_millis(500)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_have_their_own_addresses_sockets_and_roots() {
        assert_eq!((MANAGER.address(), WORKER.address()), ("10.123.0.11".to_string(), "10.123.0.12".to_string()));
        assert_eq!(MANAGER.host(), "unix:///run/copili-cluster/node1.sock");
        assert_eq!(WORKER.netns(), "copili-cluster-2");
        assert_ne!(MANAGER.data_root(), WORKER.data_root());
        assert_ne!(MANAGER.exec_root(), WORKER.exec_root());
        assert_eq!(
            display_command(WORKER.docker(Path::new("docker")).args(["node", "ls"])),
            "docker -H unix:///run/copili-cluster/node2.sock node ls"
        );
    }
}
