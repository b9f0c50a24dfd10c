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
    BuildRequest, ContainerStatus, CreateRequest, Engine, EngineError, ExitStatus, LogLine, LogLines, LogStream,
    MountSource, PullRequest,
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

mod argv;
mod tasks;
#[cfg(test)]
mod tests;

use argv::network_create_args;
use tasks::{is_no_such_service, Task};

impl SwarmEngine {
    /// Swarm through this docker client.
    pub fn new(docker: CliEngine) -> SwarmEngine {
        SwarmEngine { docker }
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
        on_output: &mut dyn FnMut(LogLines),
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
            self.follow_until(&name, &ended, on_output);
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

    fn follow_logs(&self, id: &str, on_output: &mut dyn FnMut(LogLines)) -> Result<(), EngineError> {
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
            self.follow_until(id, &ended, on_output);
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
    /// the job that no node may take (`node.labels.io.copili.stopped==true`) makes swarm shut the running task
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
            let mut argv = args(["stop", "--time", &seconds.to_string()]);
            argv.extend(running);
            let _ = self.docker.run_bounded(&argv, &[], Some(self.docker.stop_bound(grace)));
        }
        // `--no-resolve-image`: an update would otherwise ask the registry for the image's
        // digest again, which an air-gapped host cannot.
        let shut_down = ["service", "update", "--detach", "--quiet", "--no-resolve-image", "--constraint-add"];
        let mut argv = args(shut_down);
        argv.extend([STOPPED_CONSTRAINT.to_string(), id.to_string()]);
        let _ = self.docker.run(&argv);
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
        let mut argv = args(["service", "ls", "--format", "{{.Name}}"]);
        argv.extend(CliEngine::label_filters(labels));
        Ok(self.docker.run(&argv)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
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

    fn killed_calls(&self) -> Vec<EngineError> {
        self.docker.killed_calls()
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
