//! [`Engine`] for Docker Swarm mode, driven through the `docker` command line client like the
//! local engines — no API socket. A pipeline's container is a swarm **job** (`docker service
//! create --mode replicated-job --restart-condition none`), its outcome and exit code read from
//! its task's status, its output from `docker service logs`; a sidecar is a service on an
//! attachable overlay network created per container, reachable by its name (`--network
//! name=NET,alias=NAME`). Images are checked, pulled and built on the manager as for docker;
//! on a cluster, the nodes pull them themselves, with the container's credentials passed by
//! `--with-registry-auth` from a temporary config (never the user's).
//!
//! Things swarm does differently, and how they are bridged:
//! - `docker service logs --follow` never ends, not even when the service is removed: the
//!   follower is stopped once the task ended (or the service is gone), and the lines it missed
//!   are fetched once more, without `--follow`.
//! - A service has no `stop`, and docker 20.10 leaves a removed job's running task alone: a
//!   stop is `docker stop` on this node and, for other nodes, a constraint no node meets, which
//!   shuts the task down with the stop grace period given at creation (`--stop-grace-period`,
//!   copili's `--stop-timeout`); then the service is removed (see `stop`).
//! - An overlay network can only be removed once the removed services' tasks are gone: its
//!   removal is retried for a while.
//! - `docker exec` reaches containers on this node only: a sidecar's `ready` check is its
//!   service's health check instead, which swarm runs wherever the task is (see `exec`).
//! - `service rm` returns before a task on another node has stopped: a sidecar there is
//!   scaled to 0 and awaited first (see `remove`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli_engine::{args, shell_quote, AuthDir, CliEngine};
use crate::engine::{
    BuildRequest, ContainerStatus, CreateRequest, Engine, EngineError, ExitStatus, LogLine, LogStream, MountSource,
    PullRequest,
};
use crate::shared_argv::{label_args, mount_source, resource_args, whole_seconds, SWARM_RESOURCES};

/// How often a task's state is polled.
const POLL: Duration = Duration::from_millis(100);

/// A placement constraint no node meets (copili never sets this label): added to a job that
/// is stopped, so that swarm shuts its task down and starts no other (see `stop`).
const STOPPED_CONSTRAINT: &str = "node.labels.io.copili.stopped==true";

/// How long copili waits for a sidecar's task on another node to stop (its stop grace period
/// included).
const REMOTE_STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a network's removal is retried while the removed services' tasks shut down.
const NETWORK_REMOVAL_TIMEOUT: Duration = Duration::from_secs(20);

/// Docker Swarm mode through the docker client.
#[derive(Debug, Clone)]
pub struct SwarmEngine {
    docker: CliEngine,
}

/// The arguments of `service create` with the private files they name (removed when dropped).
pub struct ServiceCommand {
    /// `service create …`.
    pub args: Vec<String>,
    /// Environment of the client: `DOCKER_CONFIG` for `--with-registry-auth`, multi-line values.
    env: Vec<(String, String)>,
    _env_dir: Option<tempfile::TempDir>,
    _auth: Option<AuthDir>,
}

impl SwarmEngine {
    /// Swarm through this docker client.
    pub fn new(docker: CliEngine) -> SwarmEngine {
        SwarmEngine { docker }
    }

    /// The command lines a swarm run makes for `spec`, in order, shell-quoted (`plan --engine
    /// swarm`): its overlay network when it has sidecars, then a `service create` per sidecar
    /// and one for the job. The same argv as a run's, from the same functions, rendered as a dry run renders them.
    pub fn planned_command_lines(
        &self,
        spec: &copili_model::ContainerSpec,
        config: &crate::runner::RunConfig,
    ) -> Vec<String> {
        // Rendered as a dry run renders the commands it does not run.
        let line = |argv: &[String]| self.docker.render_quoted(argv);
        let mut lines = Vec::new();
        if !spec.sidecars.is_empty() {
            let network = config.engine_name(&[&spec.name, "net"]);
            let labels = crate::runner::copili_labels(&config.identity, &config.run_id, &spec.name, "network");
            lines.push(line(&network_create_args(&network, &labels)));
        }
        for (sidecar, request) in crate::runner::planned_requests(spec, config) {
            if let Ok(command) = self.service_command(&request, sidecar.is_none()) {
                lines.push(line(&command.args));
            }
        }
        lines
    }

    /// The `docker service create` command for a request: a job for a pipeline's container
    /// (`job`), a service of one replica for a sidecar. Public for `plan --engine swarm`.
    pub fn service_command(&self, request: &CreateRequest, job: bool) -> Result<ServiceCommand, EngineError> {
        let mut a = args(["service", "create", "--detach", "--quiet", "--name"]);
        a.push(request.name.clone());
        if job {
            a.extend(args(["--mode", "replicated-job", "--restart-condition", "none"]));
            // Others reach a job by its aliases on a network it joins (`networks: {N: {aliases}}`)
            // at its task's address too, for the reason below.
            if request.options.networks.iter().any(|n| !n.aliases.is_empty()) {
                a.extend(args(["--endpoint-mode", "dnsrr"]));
            }
        } else {
            // A sidecar is reached at its task's own address (DNS round robin), not through a
            // virtual IP: the virtual IP needs IPVS in the kernel, which not every host has.
            a.extend(args(["--replicas", "1", "--endpoint-mode", "dnsrr"]));
        }
        // The image was checked (or pulled, or built) by copili: the manager does not ask a
        // registry for its digest, so that air-gapped swarms and local images work.
        a.push("--no-resolve-image".into());
        a.push("--hostname".into());
        a.push(request.hostname.clone());
        // A sidecar is killed when its container is done with it, as the local engines remove
        // it (`rm --force`): no grace period, also on a node copili must wait for, unless it
        // has a `stop_grace_period`.
        // A sidecar with its own `stop_grace_period` gets it, as on the local engines.
        let graceful = job || request.options.stop_grace_period.is_some();
        let grace = if graceful { whole_seconds(request.stop_timeout) } else { 0 };
        a.push(format!("--stop-grace-period={grace}s"));
        if let Some(check) = &request.ready {
            // A sidecar's ready check becomes its health check: swarm keeps the task `starting`
            // until it passes, wherever the task runs (see `exec`). One probe may take the
            // check's whole time; it is never declared unhealthy, since copili's own timeout
            // decides when to give up.
            let command: Vec<String> = check.command.iter().map(|arg| shell_quote(arg)).collect();
            a.push("--health-cmd".into());
            a.push(command.join(" "));
            a.push(format!("--health-interval={}ms", check.interval.as_millis().max(1)));
            a.push(format!("--health-timeout={}s", check.timeout.as_secs().max(1)));
            a.push(format!("--health-retries={}", i32::MAX));
        }
        // On the service (found by `copili clean`) and on its task's container.
        a.extend(label_args(&["--label", "--container-label"], &request.labels));
        let env_args = self.docker.env_args(&request.env)?;
        a.extend(env_args.args);
        let mut env: Vec<(String, String)> =
            env_args.client_env.iter().map(|(name, value)| (name.clone(), value.expose().to_string())).collect();
        let env_dir = env_args.dir;
        for mount in &request.mounts {
            let kind = match &mount.source {
                MountSource::Volume(_) => "volume",
                MountSource::Host(_) => "bind",
            };
            let source = mount_source(&mount.source);
            let readonly = if mount.read_only { ",readonly" } else { "" };
            a.push("--mount".into());
            a.push(format!("type={kind},source={source},target={}{readonly}", mount.target));
        }
        if let Some(network) = &request.network {
            a.push("--network".into());
            let mut spec = format!("name={network}");
            for alias in &request.network_aliases {
                spec.push_str(&format!(",alias={alias}"));
            }
            a.push(spec);
        }
        service_option_args(&request.options, &mut a);
        if let Some(resources) = &request.resources {
            a.extend(resource_args(resources, &SWARM_RESOURCES));
        }
        for constraint in &request.placement {
            a.push("--constraint".into());
            a.push(constraint.clone());
        }
        let auth = match &request.registry_auth {
            Some(auth) => {
                let dir = self.docker.login(auth, true)?;
                a.push("--with-registry-auth".into());
                env.extend(dir.env().into_iter().map(|(k, v)| (k.to_string(), v)));
                Some(dir)
            }
            None => None,
        };
        a.push(request.image.clone());
        // `--entrypoint` takes the first word; the others go before the command.
        if let Some([_, rest @ ..]) = request.options.entrypoint.as_deref() {
            a.extend(rest.iter().cloned());
        }
        a.extend(request.command.iter().cloned());
        Ok(ServiceCommand { args: a, env, _env_dir: env_dir, _auth: auth })
    }

    fn create_service(&self, request: &CreateRequest, job: bool) -> Result<String, EngineError> {
        let command = self.service_command(request, job)?;
        let env: Vec<(&str, &str)> = command.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.docker.run_with_env(&command.args, &env)?;
        Ok(request.name.clone())
    }

    /// The service's newest task: its id, state (`running`, `complete`, `failed`, `rejected`,
    /// `shutdown`, …), exit code and error. `None` when the service is gone.
    fn task(&self, service: &str) -> Result<Option<Task>, EngineError> {
        if self.docker.is_dry_run() {
            return Ok(Some(Task { id: String::new(), state: "complete".into(), exit_code: Some(0), error: None }));
        }
        let a = args(["service", "ps", "--no-trunc", "--format", "{{.ID}}", service]);
        let ids = match self.docker.run(&a) {
            Ok(out) => out,
            Err(EngineError::Failed { stderr, .. }) if is_no_such_service(&stderr) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(id) = ids.lines().map(str::trim).find(|l| !l.is_empty()) else {
            // Created, no task scheduled yet.
            return Ok(Some(Task { id: String::new(), state: "new".into(), exit_code: None, error: None }));
        };
        // Before the task's container exists, its status has no `ContainerStatus`: read the
        // status as JSON rather than through a template that would fail on it.
        let out = match self.docker.run(&args(["inspect", "--format", "{{json .Status}}", id])) {
            Ok(out) => out,
            Err(EngineError::Failed { stderr, .. }) if is_no_such_service(&stderr) => return Ok(None),
            Err(e) => return Err(e),
        };
        let status: serde_json::Value = serde_json::from_str(out.trim()).map_err(|_| {
            EngineError::UnexpectedOutput { command: format!("docker inspect {id}"), output: out.clone() }
        })?;
        let state = status["State"].as_str().unwrap_or("").to_string();
        let exit_code = status["ContainerStatus"]["ExitCode"].as_i64().and_then(|c| i32::try_from(c).ok());
        let error = status["Err"].as_str().filter(|e| !e.is_empty()).map(String::from);
        Ok(Some(Task { id: id.to_string(), state, exit_code, error }))
    }

    /// Polls until the service's task has ended (or the service is gone).
    fn wait_for_end(&self, service: &str) -> Result<Option<Task>, EngineError> {
        loop {
            match self.task(service)? {
                Some(task) if !task.has_ended() => std::thread::sleep(POLL),
                other => return Ok(other),
            }
        }
    }

    /// Streams `docker service logs --follow` until `ended` is set, then fetches what the
    /// follower missed. Returns how many lines of each stream were delivered.
    fn follow_until(&self, service: &str, ended: &AtomicBool, on_line: &mut dyn FnMut(LogLine)) {
        let mut seen = [0usize; 2];
        let follow = args(["service", "logs", "--follow", "--raw", service]);
        let stop = || ended.load(Ordering::SeqCst);
        let mut count = |line: LogLine, on_line: &mut dyn FnMut(LogLine)| {
            seen[usize::from(line.stream == LogStream::Stderr)] += 1;
            on_line(line);
        };
        let _ = self.docker.stream_cancellable(&follow, &[], &mut |line| count(line, on_line), Some(&stop));
        // What came after the follower was stopped, by position in each stream.
        let all = args(["service", "logs", "--raw", service]);
        if let Ok((true, stdout, stderr)) = self.docker.run_capturing_both(&all) {
            for (stream, text) in [(LogStream::Stdout, stdout), (LogStream::Stderr, stderr)] {
                let index = usize::from(stream == LogStream::Stderr);
                for line in text.lines().skip(seen[index]) {
                    seen[index] += 1;
                    on_line(LogLine { stream, text: line.to_string() });
                }
            }
        }
    }

    fn remove_service(&self, id: &str) -> Result<(), EngineError> {
        match self.docker.run(&args(["service", "rm", id])) {
            Ok(_) => Ok(()),
            Err(EngineError::Failed { stderr, .. }) if is_no_such_service(&stderr) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The containers of a service's tasks on this node (swarm labels them with the service's
    /// name): `(id, state)`.
    fn local_containers(&self, service: &str) -> Vec<(String, String)> {
        let filter = format!("label=com.docker.swarm.service.name={service}");
        let a = args(["ps", "--all", "--no-trunc", "--format", "{{.ID}} {{.State}}", "--filter", &filter]);
        match self.docker.run(&a) {
            Ok(out) => out
                .lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(id, state)| (id.to_string(), state.trim().to_string()))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Waits until the service's containers on this node are no longer running (at most
    /// `limit`); the exit code of the last, if any.
    fn wait_for_local_containers(&self, service: &str, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            let containers = self.local_containers(service);
            let running = containers.iter().any(|(_, state)| state == "running" || state == "created");
            if !running || Instant::now() >= deadline {
                let (id, _) = containers.first()?;
                let code = self.docker.run(&args(["inspect", "--format", "{{.State.ExitCode}}", id])).ok()?;
                return code.trim().parse().ok();
            }
            std::thread::sleep(POLL);
        }
    }

    /// Removes the service's containers on this node at once (the swarm agent would, later):
    /// an overlay network goes away only when no container is attached to it any more.
    fn remove_local_containers(&self, ids: Vec<String>) {
        if !ids.is_empty() {
            let mut a = args(["rm", "--force", "--volumes"]);
            a.extend(ids);
            let _ = self.docker.run(&a);
        }
    }

    /// Stops a (sidecar) service's task on another node and waits until it no longer runs:
    /// `docker service scale ID=0`, then its task's state is polled (at most
    /// [`REMOTE_STOP_TIMEOUT`]; the stop grace period is within it). `service rm` alone returns
    /// at once, while the node stops the task on its own time. Jobs are left alone: they ended
    /// or were stopped (see `stop`).
    fn shut_down_elsewhere(&self, id: &str) {
        let mode = "{{if .Spec.Mode.Replicated}}replicated{{end}}";
        if !matches!(self.docker.run(&args(["service", "inspect", "--format", mode, id])), Ok(m) if m.trim() == "replicated")
        {
            return;
        }
        if self.docker.run(&args(["service", "scale", "--detach", &format!("{id}=0")])).is_err() {
            return;
        }
        let deadline = Instant::now() + REMOTE_STOP_TIMEOUT;
        while Instant::now() < deadline {
            match self.docker.run(&args(["service", "ps", "--format", "{{.CurrentState}}", id])) {
                Ok(states) if states.lines().any(is_active_task_state) => std::thread::sleep(POLL),
                _ => return,
            }
        }
    }

    /// The values of label `key` on the services matching `labels` (`copili clean`).
    pub fn service_labels(&self, labels: &[(String, String)], key: &str) -> Result<Vec<String>, EngineError> {
        let mut values = Vec::new();
        for service in self.containers_with_labels(labels)? {
            let template = format!("{{{{index .Spec.Labels \"{key}\"}}}}");
            if let Ok(value) = self.docker.run(&args(["service", "inspect", "--format", &template, &service])) {
                values.extend(value.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from));
            }
        }
        Ok(values)
    }
}

/// A service's task.
#[derive(Debug, Clone)]
struct Task {
    id: String,
    state: String,
    exit_code: Option<i32>,
    error: Option<String>,
}

impl Task {
    fn has_ended(&self) -> bool {
        matches!(self.state.as_str(), "complete" | "failed" | "rejected" | "shutdown" | "orphaned" | "remove")
    }
}

/// `network create` of a container's attachable overlay network (the job and its sidecars
/// meet on it).
fn network_create_args(name: &str, labels: &[(String, String)]) -> Vec<String> {
    let mut argv = args(["network", "create", "--driver", "overlay", "--attachable"]);
    for (key, value) in labels {
        argv.push("--label".into());
        argv.push(format!("{key}={value}"));
    }
    argv.push(name.to_string());
    argv
}

/// Whether a task's `CurrentState` (`Running 3 seconds ago`) is one before its end.
fn is_active_task_state(state: &str) -> bool {
    let word = state.split_whitespace().next().unwrap_or("").to_lowercase();
    matches!(
        word.as_str(),
        "new" | "pending" | "assigned" | "accepted" | "ready" | "preparing" | "starting" | "running"
    )
}

fn is_no_such_service(stderr: &str) -> bool {
    let lower = stderr.to_lowercase();
    lower.contains("no such service") || lower.contains("not found") || lower.contains("no such object")
}

/// The container options as `docker service create` takes them. What a service cannot have
/// (`devices`, `gpus`, `ulimits`, `network_mode: bridge`, `host-gateway`, tmpfs options but
/// size and mode) is refused before the run (`copili_planner::backend`).
fn service_option_args(o: &copili_model::RunOptions, a: &mut Vec<String>) {
    for network in &o.networks {
        let mut spec = format!("name={}", network.name);
        for alias in &network.aliases {
            spec.push_str(&format!(",alias={alias}"));
        }
        a.push("--network".into());
        a.push(spec);
    }
    match o.network_mode {
        Some(copili_model::NetworkMode::Host) => a.push("--network=host".into()),
        Some(copili_model::NetworkMode::None) => a.push("--network=none".into()),
        Some(copili_model::NetworkMode::Bridge) | None => {}
    }
    for host in &o.extra_hosts {
        if let copili_model::HostAddress::Ip(ip) = host.address {
            a.push(format!("--host={}:{ip}", host.name));
        }
    }
    if let Some(user) = &o.user {
        a.push(format!("--user={user}"));
    }
    if let Some(dir) = &o.working_dir {
        a.push(format!("--workdir={dir}"));
    }
    if let Some(entrypoint) = &o.entrypoint {
        // The service's `--entrypoint` is split shell-style: one quoted word.
        a.push(format!("--entrypoint={}", entrypoint.first().map(|w| shell_quote(w)).unwrap_or_default()));
    }
    if let Some(bytes) = o.shm_size {
        a.push("--mount".into());
        a.push(format!("type=tmpfs,destination=/dev/shm,tmpfs-size={bytes}"));
    }
    for tmpfs in &o.tmpfs {
        let mut spec = format!("type=tmpfs,destination={}", tmpfs.target);
        for option in tmpfs.options.iter().flat_map(|o| o.split(',')) {
            if let Some(size) = option.strip_prefix("size=") {
                spec.push_str(&format!(",tmpfs-size={size}"));
            } else if let Some(mode) = option.strip_prefix("mode=") {
                spec.push_str(&format!(",tmpfs-mode={mode}"));
            }
        }
        a.push("--mount".into());
        a.push(spec);
    }
    if o.read_only {
        a.push("--read-only".into());
    }
    if o.init {
        a.push("--init".into());
    }
    for cap in &o.cap_add {
        a.push(format!("--cap-add={cap}"));
    }
    for cap in &o.cap_drop {
        a.push(format!("--cap-drop={cap}"));
    }
    if let Some(signal) = &o.stop_signal {
        a.push(format!("--stop-signal={signal}"));
    }
}

impl Engine for SwarmEngine {
    fn name(&self) -> &str {
        "swarm"
    }

    fn ping(&self) -> Result<String, EngineError> {
        let version = self.docker.ping()?;
        let state =
            self.docker.run(&args(["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"]))?;
        match state.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["active", "true"] => Ok(format!("swarm on docker {version}")),
            ["active", _] => Err(EngineError::NotFound {
                binary: "swarm".into(),
                reason: "this docker engine is a swarm worker: run copili against a manager (DOCKER_HOST)".into(),
            }),
            _ => Err(EngineError::NotFound {
                binary: "swarm".into(),
                reason: "Docker Swarm mode is not active: enable it with `docker swarm init` (or `docker swarm join` as a manager)".into(),
            }),
        }
    }

    fn create(&self, request: &CreateRequest) -> Result<String, EngineError> {
        // Sidecars are created this way; pipeline containers go through `run_attached`.
        self.create_service(request, false)
    }

    fn start(&self, _id: &str) -> Result<(), EngineError> {
        // A service starts when it is created.
        Ok(())
    }

    fn run_attached(
        &self,
        request: &CreateRequest,
        on_line: &mut dyn FnMut(LogLine),
    ) -> Result<ExitStatus, EngineError> {
        let name = self.create_service(request, true)?;
        if self.docker.is_dry_run() {
            return Ok(ExitStatus { code: 0, oom_killed: false });
        }
        let ended = AtomicBool::new(false);
        let result = std::thread::scope(|scope| {
            let watcher = scope.spawn(|| {
                let result = self.wait_for_end(&name);
                ended.store(true, Ordering::SeqCst);
                result
            });
            self.follow_until(&name, &ended, on_line);
            watcher.join().unwrap_or_else(|_| {
                Err(EngineError::UnexpectedOutput {
                    command: "service ps".into(),
                    output: "the watcher panicked".into(),
                })
            })
        })?;
        match result {
            Some(Task { state, exit_code: Some(code), .. }) if state == "complete" || state == "failed" => {
                Ok(ExitStatus { code, oom_killed: false })
            }
            Some(task) => Err(EngineError::Failed {
                command: format!("docker service create … {}", request.image),
                code: task.exit_code,
                stderr: format!(
                    "task {} {}: {}",
                    task.id.chars().take(12).collect::<String>(),
                    task.state,
                    task.error.unwrap_or_else(|| "no error given".into())
                ),
            }),
            // Removed (stopped): its task's container on this node gets the grace period; its
            // exit code is the container's.
            None => match self.wait_for_local_containers(&name, request.stop_timeout + Duration::from_secs(10)) {
                Some(code) => Ok(ExitStatus { code, oom_killed: false }),
                None => Err(EngineError::Failed {
                    command: format!("docker service ps {name}"),
                    code: None,
                    stderr: "the service was removed before its task ended".into(),
                }),
            },
        }
    }

    fn follow_logs(&self, id: &str, on_line: &mut dyn FnMut(LogLine)) -> Result<(), EngineError> {
        if self.docker.is_dry_run() {
            return Ok(());
        }
        let ended = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                // A sidecar's follower ends when its service is gone or its task ended.
                while !ended.load(Ordering::SeqCst) {
                    match self.task(id) {
                        Ok(Some(task)) if !task.has_ended() => std::thread::sleep(Duration::from_millis(300)),
                        _ => ended.store(true, Ordering::SeqCst),
                    }
                }
            });
            self.follow_until(id, &ended, on_line);
            ended.store(true, Ordering::SeqCst);
        });
        Ok(())
    }

    fn wait(&self, id: &str) -> Result<ExitStatus, EngineError> {
        match self.wait_for_end(id)? {
            Some(Task { exit_code: Some(code), .. }) => Ok(ExitStatus { code, oom_killed: false }),
            _ => Err(EngineError::Failed {
                command: format!("docker service ps {id}"),
                code: None,
                stderr: "the task ended without an exit code".into(),
            }),
        }
    }

    fn inspect(&self, id: &str) -> Result<ContainerStatus, EngineError> {
        match self.task(id)? {
            Some(task) if task.has_ended() => Ok(ContainerStatus {
                state: "exited".into(),
                exit: task.exit_code.map(|code| ExitStatus { code, oom_killed: false }),
            }),
            Some(task) => Ok(ContainerStatus { state: task.state, exit: None }),
            None => Err(EngineError::Failed {
                command: format!("docker service ps {id}"),
                code: Some(1),
                stderr: format!("no such service: {id}"),
            }),
        }
    }

    /// Stops a job's task wherever it runs, then removes the service.
    ///
    /// docker 20.10's swarm leaves a job's running task alone when its service is removed
    /// (moby#44312, fixed in docker 24), so removing is not enough. On this node, `docker
    /// stop` gives the task's container the grace period (and its exit code stays readable).
    /// On any other node, which no `docker` command of this client reaches, a new iteration of
    /// the job that no node may take ([`STOPPED_CONSTRAINT`]) makes swarm shut the running task
    /// down, with the `--stop-grace-period` given at creation (copili's `--stop-timeout`).
    fn stop(&self, id: &str, grace: Duration) -> Result<(), EngineError> {
        let running: Vec<String> = self
            .local_containers(id)
            .into_iter()
            .filter(|(_, state)| state == "running" || state == "created")
            .map(|(id, _)| id)
            .collect();
        if !running.is_empty() {
            let seconds = whole_seconds(grace);
            let mut a = args(["stop", "--time", &seconds.to_string()]);
            a.extend(running);
            let _ = self.docker.run(&a);
        }
        // `--no-resolve-image`: an update would otherwise ask the registry for the image's
        // digest again, which an air-gapped host cannot.
        let shut_down = ["service", "update", "--detach", "--quiet", "--no-resolve-image", "--constraint-add"];
        let mut a = args(shut_down);
        a.extend([STOPPED_CONSTRAINT.to_string(), id.to_string()]);
        let _ = self.docker.run(&a);
        self.remove_service(id)
    }

    /// Removes the service and its task's container on this node. A sidecar whose task runs
    /// on another node is first scaled to 0 and its task awaited there (see
    /// `shut_down_elsewhere`), so that the run does not end while it still runs.
    fn remove(&self, id: &str) -> Result<(), EngineError> {
        if self.docker.is_dry_run() {
            return self.remove_service(id);
        }
        let local_ids = || -> Vec<String> { self.local_containers(id).into_iter().map(|(id, _)| id).collect() };
        let local = local_ids();
        if local.is_empty() {
            self.shut_down_elsewhere(id);
        }
        let result = self.remove_service(id);
        // Listed again only when there was none: a task may have started here meanwhile.
        self.remove_local_containers(if local.is_empty() { local_ids() } else { local });
        result
    }

    fn remove_all(&self, ids: &[String]) -> Result<(), EngineError> {
        ids.iter().try_for_each(|id| self.remove(id))
    }

    /// A sidecar's ready check: a service created with it as its health check is ready when
    /// its task is `running` (swarm holds it `starting` until the check passes), on whichever
    /// node it runs. Otherwise the command runs in the task's container, on this node only.
    fn exec(&self, id: &str, command: &[String]) -> Result<i32, EngineError> {
        let task = match self.task(id)? {
            Some(task) if task.state == "running" => task,
            _ => return Ok(1),
        };
        let template = "{{if .Spec.TaskTemplate.ContainerSpec.Healthcheck}}health-check{{end}}";
        if self.docker.run(&args(["service", "inspect", "--format", template, id]))?.trim() == "health-check" {
            return Ok(0);
        }
        let container =
            self.docker.run(&args(["inspect", "--format", "{{json .Status.ContainerStatus}}", &task.id]))?;
        let container = serde_json::from_str::<serde_json::Value>(container.trim())
            .ok()
            .and_then(|status| status["ContainerID"].as_str().map(String::from))
            .unwrap_or_default();
        if container.is_empty() {
            return Ok(1);
        }
        self.docker.exec(&container, command)
    }

    fn network_exists(&self, name: &str) -> Result<bool, EngineError> {
        self.docker.network_exists(name)
    }

    fn network_create(&self, name: &str, labels: &[(String, String)]) -> Result<(), EngineError> {
        self.docker.run(&network_create_args(name, labels)).map(|_| ())
    }

    /// The manager accepts the removal at once but deletes an overlay network only once the
    /// removed services' tasks have shut down: this waits until it is gone, so that a run
    /// leaves nothing behind when it returns.
    fn network_remove(&self, name: &str) -> Result<(), EngineError> {
        if self.docker.is_dry_run() {
            return self.docker.network_remove(name);
        }
        match self.docker.network_remove(name) {
            Ok(()) => {}
            // Already gone from the swarm (a copy this node keeps after a crash is docker's).
            Err(EngineError::Failed { stderr, .. }) if is_no_such_service(&stderr) => return Ok(()),
            Err(e) => return Err(e),
        }
        // Accepted by the manager; this node drops its copy once no container is attached.
        let deadline = Instant::now() + NETWORK_REMOVAL_TIMEOUT;
        let exact = format!("name=^{name}$");
        loop {
            let listed = self.docker.run(&args(["network", "ls", "--quiet", "--filter", &exact]))?;
            if listed.trim().is_empty() || Instant::now() >= deadline {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn containers_with_labels(&self, labels: &[(String, String)]) -> Result<Vec<String>, EngineError> {
        let mut a = args(["service", "ls", "--format", "{{.Name}}"]);
        a.extend(CliEngine::label_filters(labels));
        Ok(self.docker.run(&a)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
    }

    fn networks_with_labels(&self, labels: &[(String, String)]) -> Result<Vec<String>, EngineError> {
        self.docker.networks_with_labels(labels)
    }

    fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        self.docker.image_present(image)
    }

    fn pull(
        &self,
        request: &PullRequest,
        on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), crate::reason::PullError> {
        self.docker.pull(request, on_line, cancelled)
    }

    fn build(
        &self,
        request: &BuildRequest,
        on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), crate::reason::BuildError> {
        self.docker.build(request, on_line, cancelled)
    }

    fn image_label(&self, image: &str, key: &str) -> Result<Option<String>, EngineError> {
        self.docker.image_label(image, key)
    }

    fn local_images(&self) -> Result<Vec<String>, EngineError> {
        self.docker.local_images()
    }

    fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        self.docker.image_id(image)
    }

    fn show_instead_of_running(&self, command_line: &str) -> bool {
        self.docker.show_instead_of_running(command_line)
    }

    fn is_dry_run(&self) -> bool {
        self.docker.is_dry_run()
    }

    fn pipeline_identities(&self) -> Result<Vec<String>, EngineError> {
        let any = vec![(crate::runner::PIPELINE_LABEL.to_string(), String::new())];
        let mut identities = self.service_labels(&any, crate::runner::PIPELINE_LABEL)?;
        identities.extend(self.docker.network_labels(&any, crate::runner::PIPELINE_LABEL)?);
        identities.sort();
        identities.dedup();
        Ok(identities)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli_engine::EngineKind;
    use crate::engine::Mount;
    use copili_model::{ResourceAmounts, Resources, Secret};

    #[test]
    fn task_states_before_the_end_are_active() {
        for state in ["Running 3 seconds ago", "Starting less than a second ago", "Pending 1 second ago", "assigned"] {
            assert!(is_active_task_state(state), "{state}");
        }
        for state in ["Shutdown 1 second ago", "Complete 2 seconds ago", "Failed 1 second ago", "Rejected", ""] {
            assert!(!is_active_task_state(state), "{state}");
        }
    }

    #[test]
    fn a_job_with_everything() {
        let engine = SwarmEngine::new(CliEngine::new("docker", EngineKind::Docker));
        let request = CreateRequest {
            name: "p-load".into(),
            image: "localhost/x:latest".into(),
            hostname: "load".into(),
            labels: vec![("io.copili.pipeline".into(), "p".into())],
            env: vec![("PW".into(), Secret::new("hunter2"))],
            mounts: vec![Mount { source: MountSource::Host("/data".into()), target: "/in".into(), read_only: true }],
            command: vec!["sh".into(), "-c".into(), "echo hi".into()],
            network: Some("p-load-net".into()),
            network_aliases: Vec::new(),
            resources: Some(Resources {
                limits: ResourceAmounts { cpus: Some(1.5), memory: Some(1 << 30) },
                reservations: ResourceAmounts { cpus: Some(0.5), memory: None },
            }),
            placement: vec!["node.labels.disk==ssd".into()],
            registry_auth: None,
            stop_timeout: Duration::from_millis(1500),
            ready: None,
            options: Default::default(),
        };
        let command = engine.service_command(&request, true).expect("a command");
        let line = command.args.join(" ");
        assert!(line.starts_with("service create --detach --quiet --name p-load --mode replicated-job --restart-condition none --no-resolve-image --hostname load --stop-grace-period=2s"), "{line}");
        assert!(line.contains("--label io.copili.pipeline=p --container-label io.copili.pipeline=p"), "{line}");
        assert!(line.contains("--mount type=bind,source=/data,target=/in,readonly"), "{line}");
        assert!(line.contains("--network name=p-load-net"), "{line}");
        assert!(line.contains("--limit-cpu=1.5 --limit-memory=1073741824b --reserve-cpu=0.5"), "{line}");
        assert!(line.contains("--constraint node.labels.disk==ssd"), "{line}");
        assert!(line.ends_with("localhost/x:latest sh -c echo hi"), "{line}");
        assert!(line.contains("--env-file") && !line.contains("hunter2"), "{line}");
        assert!(!line.contains("--health"), "{line}");
        let ready = copili_model::ReadyCheck {
            command: vec!["redis-cli".into(), "ping".into(), "it's".into()],
            timeout: Duration::from_secs(30),
            interval: Duration::from_millis(250),
        };
        let sidecar = CreateRequest { network_aliases: vec!["cache".into()], ready: Some(ready), ..request };
        let line = engine.service_command(&sidecar, false).expect("a command").args.join(" ");
        assert!(line.contains("--replicas 1") && line.contains("--network name=p-load-net,alias=cache"), "{line}");
        assert!(
            line.contains(r"--health-cmd redis-cli ping 'it'\''s' --health-interval=250ms --health-timeout=30s --health-retries=2147483647"),
            "{line}"
        );
    }

    #[test]
    fn the_planned_command_lines_are_the_commands_a_run_makes() {
        use std::sync::{Arc, Mutex};
        let text = "p:\n  - name: job\n    image_repo: x\n    sidecars:\n      - {name: cache, image_repo: redis}\n";
        let options = copili_model::LoadOptions { env_file: copili_model::EnvFile::Disabled, ..Default::default() };
        let pipeline = copili_model::load(copili_model::Input::Text(text), &options).expect("valid");
        let config = crate::runner::RunConfig {
            identity: "p".into(),
            run_id: "r1".into(),
            jobs: 1,
            fail_fast: false,
            stop_timeout: Duration::from_secs(10),
            global_env: Vec::new(),
            global_labels: Vec::new(),
            policies: Vec::new(),
            images: Default::default(),
            instance: None,
        };
        let shown = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&shown);
        let engine = SwarmEngine::new(
            CliEngine::new("docker", EngineKind::Docker).dry_run(move |line| sink.lock().expect("lines").push(line)),
        );
        let spec = &pipeline.containers[0];
        let lines = engine.planned_command_lines(spec, &config);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        // The network, as the engine creates it.
        let labels = crate::runner::copili_labels("p", "r1", "job", "network");
        engine.network_create("p-job-net", &labels).expect("shown");
        assert_eq!(shown.lock().expect("lines").as_slice(), &lines[..1]);
        assert!(lines[0].starts_with("docker network create --driver overlay --attachable --label "), "{}", lines[0]);
        assert!(lines[1].contains("--name p-job-cache") && lines[1].contains("--replicas 1"), "{}", lines[1]);
        assert!(lines[2].contains("--name p-job ") && lines[2].contains("--mode replicated-job"), "{}", lines[2]);
    }

    #[test]
    fn container_options_become_service_options() {
        let text = "p:\n  - name: a\n    image_repo: x\n    networks: {graph: {aliases: [loader]}}\n    extra_hosts: ['db:10.0.0.5']\n    user: '1000'\n    working_dir: /w\n    entrypoint: [/bin/sh, -c]\n    shm_size: 64m\n    tmpfs: ['/t:size=16m,mode=1777']\n    read_only: true\n    init: true\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    stop_signal: INT\n";
        let options = copili_model::LoadOptions { env_file: copili_model::EnvFile::Disabled, ..Default::default() };
        let pipeline = copili_model::load(copili_model::Input::Text(text), &options).expect("valid");
        let mut a = Vec::new();
        service_option_args(pipeline.containers[0].options(), &mut a);
        assert_eq!(
            a,
            [
                "--network",
                "name=graph,alias=loader",
                "--host=db:10.0.0.5",
                "--user=1000",
                "--workdir=/w",
                "--entrypoint=/bin/sh",
                "--mount",
                "type=tmpfs,destination=/dev/shm,tmpfs-size=67108864",
                "--mount",
                "type=tmpfs,destination=/t,tmpfs-size=16m,tmpfs-mode=1777",
                "--read-only",
                "--init",
                "--cap-add=NET_ADMIN",
                "--cap-drop=ALL",
                "--stop-signal=SIGINT",
            ]
        );
    }
}
