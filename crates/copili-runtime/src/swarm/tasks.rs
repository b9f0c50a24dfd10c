//! A service's tasks: their state, their output, their containers on this node, and shutting
//! them down on other nodes.

use super::*;

impl SwarmEngine {
    pub(super) fn create_service(&self, request: &CreateRequest, job: bool) -> Result<String, EngineError> {
        let command = self.service_command(request, job)?;
        let env: Vec<(&str, &str)> = command.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.docker.run_with_env(&command.args, &env)?;
        Ok(request.name.clone())
    }

    /// The service's newest task: its id, state (`running`, `complete`, `failed`, `rejected`,
    /// `shutdown`, …), exit code and error. `None` when the service is gone.
    pub(super) fn task(&self, service: &str) -> Result<Option<Task>, EngineError> {
        if self.docker.is_dry_run() {
            return Ok(Some(Task { id: String::new(), state: "complete".into(), exit_code: Some(0), error: None }));
        }
        let argv = args(["service", "ps", "--no-trunc", "--format", "{{.ID}}", service]);
        let ids = match self.docker.run(&argv) {
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
    pub(super) fn wait_for_end(&self, service: &str) -> Result<Option<Task>, EngineError> {
        loop {
            match self.task(service)? {
                Some(task) if !task.has_ended() => std::thread::sleep(POLL),
                other => return Ok(other),
            }
        }
    }

    /// Streams `docker service logs --follow` until `ended` is set, then fetches what the
    /// follower missed (counted by lines of each stream; a piece of an over-long line is not
    /// a line of its own).
    pub(super) fn follow_until(&self, service: &str, ended: &AtomicBool, on_output: &mut dyn FnMut(LogLines)) {
        let mut seen = [0usize; 2];
        let follow = args(["service", "logs", "--follow", "--raw", service]);
        let stop = || ended.load(Ordering::SeqCst);
        let mut count = |batch: LogLines, on_output: &mut dyn FnMut(LogLines)| {
            seen[usize::from(batch.stream == LogStream::Stderr)] += batch.lines().count() - usize::from(batch.split);
            on_output(batch);
        };
        let _ = self.docker.stream_cancellable(&follow, &[], &mut |batch| count(batch, on_output), Some(&stop));
        // What came after the follower was stopped, by position in each stream.
        let all = args(["service", "logs", "--raw", service]);
        if let Ok((true, stdout, stderr)) = self.docker.run_capturing_both(&all) {
            for (stream, text) in [(LogStream::Stdout, stdout), (LogStream::Stderr, stderr)] {
                let index = usize::from(stream == LogStream::Stderr);
                for line in text.lines().skip(seen[index]) {
                    seen[index] += 1;
                    on_output(LogLines::line(stream, line));
                }
            }
        }
    }

    pub(super) fn remove_service(&self, id: &str) -> Result<(), EngineError> {
        match self.docker.run(&args(["service", "rm", id])) {
            Ok(_) => Ok(()),
            Err(EngineError::Failed { stderr, .. }) if is_no_such_service(&stderr) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The containers of a service's tasks on this node (swarm labels them with the service's
    /// name): `(id, state)`.
    pub(super) fn local_containers(&self, service: &str) -> Vec<(String, String)> {
        let filter = format!("label=com.docker.swarm.service.name={service}");
        let argv = args(["ps", "--all", "--no-trunc", "--format", "{{.ID}} {{.State}}", "--filter", &filter]);
        match self.docker.run(&argv) {
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
    pub(super) fn wait_for_local_containers(&self, service: &str, limit: Duration) -> Option<i32> {
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
    pub(super) fn remove_local_containers(&self, ids: Vec<String>) {
        if !ids.is_empty() {
            let mut argv = args(["rm", "--force", "--volumes"]);
            argv.extend(ids);
            let _ = self.docker.run(&argv);
        }
    }

    /// Stops a (sidecar) service's task on another node and waits until it no longer runs:
    /// `docker service scale ID=0`, then its task's state is polled (at most
    /// [`REMOTE_STOP_TIMEOUT`]; the stop grace period is within it). `service rm` alone returns
    /// at once, while the node stops the task on its own time. Jobs are left alone: they ended
    /// or were stopped (see `stop`).
    pub(super) fn shut_down_elsewhere(&self, id: &str) {
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
pub(super) struct Task {
    pub(super) id: String,
    pub(super) state: String,
    pub(super) exit_code: Option<i32>,
    pub(super) error: Option<String>,
}

impl Task {
    pub(super) fn has_ended(&self) -> bool {
        matches!(self.state.as_str(), "complete" | "failed" | "rejected" | "shutdown" | "orphaned" | "remove")
    }
}

/// Whether a task's `CurrentState` (`Running 3 seconds ago`) is one before its end.
pub(super) fn is_active_task_state(state: &str) -> bool {
    let word = state.split_whitespace().next().unwrap_or("").to_lowercase();
    matches!(
        word.as_str(),
        "new" | "pending" | "assigned" | "accepted" | "ready" | "preparing" | "starting" | "running"
    )
}

pub(super) fn is_no_such_service(stderr: &str) -> bool {
    let lower = stderr.to_lowercase();
    lower.contains("no such service") || lower.contains("not found") || lower.contains("no such object")
}
