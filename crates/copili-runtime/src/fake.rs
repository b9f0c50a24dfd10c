//! A scripted [`Engine`] for the runner's tests: containers "run" for a given time and exit
//! with a given code, engine calls can be made to fail, and every call is recorded.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::engine::{
    BuildRequest, ContainerStatus, CreateRequest, Engine, EngineError, ExitStatus, ImageIdentity, LogLine, LogLines,
    LogStream, PullRequest,
};
use crate::reason::{BuildError, PullError, PullFailure};

/// What a container (by hostname, i.e. the description's `name`) does.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Its exit code.
    pub exit_code: i32,
    /// How long it runs.
    pub runs_for: Duration,
    /// Lines it prints.
    pub output: Vec<String>,
    /// `create` fails with this message.
    pub create_fails: Option<String>,
    /// Exit codes of the first attempts, before `exit_code` (for retries).
    pub first_attempts: Vec<i32>,
}

/// How pulling an image goes.
#[derive(Debug, Clone)]
pub struct PullScript {
    /// The first this many pulls fail with `stderr`.
    pub fail_times: usize,
    /// What a failed pull means (the fake says it; it does not imitate an engine's words).
    /// A refused login fails the `login` step when the request has credentials.
    pub failure: PullFailure,
    /// The error output of a failed pull.
    pub stderr: String,
    /// How long a pull takes.
    pub takes: Duration,
}

impl Default for PullScript {
    fn default() -> PullScript {
        PullScript { fail_times: 0, failure: PullFailure::Other, stderr: String::new(), takes: Duration::ZERO }
    }
}

#[derive(Debug)]
struct FakeContainer {
    hostname: String,
    started: Option<Instant>,
    exit: Option<i32>,
    attempt: usize,
}

#[derive(Debug, Default)]
struct State {
    containers: HashMap<String, FakeContainer>,
    networks: Vec<String>,
    /// Networks made outside copili, which containers may join (`networks:`).
    outside_networks: Vec<String>,
    attempts: HashMap<String, usize>,
    calls: Vec<String>,
    running: usize,
    max_running: usize,
    requests: Vec<CreateRequest>,
    /// Present images with their labels; `None` until an image is first looked at, when it is
    /// present unless listed in `absent`.
    images: HashMap<String, Vec<(String, String)>>,
    absent: Vec<String>,
    pulls: HashMap<String, usize>,
    /// Image ids set by [`FakeEngine::with_image_id`] (others are made from the name).
    ids: HashMap<String, String>,
}

/// The fake engine.
#[derive(Debug, Default)]
pub struct FakeEngine {
    scripts: HashMap<String, Script>,
    pull_scripts: HashMap<String, PullScript>,
    batched_removal: bool,
    creates_ahead: bool,
    state: Mutex<State>,
    changed: Condvar,
}

impl FakeEngine {
    /// A fake where every container exits 0 at once, unless scripted otherwise.
    pub fn new(scripts: impl IntoIterator<Item = (&'static str, Script)>) -> FakeEngine {
        FakeEngine { scripts: scripts.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), ..FakeEngine::default() }
    }

    /// These images are absent until pulled or built (all others are present).
    pub fn with_absent_images(self, images: &[&str]) -> FakeEngine {
        self.state().absent = images.iter().map(|i| i.to_string()).collect();
        self
    }

    /// The image `image` has this id (`sha256:…`), instead of one made from its name.
    pub fn with_image_id(self, image: &str, id: &str) -> FakeEngine {
        self.state().ids.insert(image.to_string(), id.to_string());
        self
    }

    /// The id an image has: as set, else the sha256 of its name.
    pub fn id_of(&self, image: &str) -> String {
        use sha2::Digest as _;
        if let Some(id) = self.state().ids.get(image) {
            return id.clone();
        }
        let digest = sha2::Sha256::digest(image.as_bytes());
        format!("sha256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    /// These networks exist, made outside copili.
    pub fn with_networks(self, networks: &[&str]) -> FakeEngine {
        self.state().outside_networks = networks.iter().map(|n| n.to_string()).collect();
        self
    }

    /// How pulling `image` goes.
    pub fn with_pull_script(mut self, image: &str, script: PullScript) -> FakeEngine {
        self.pull_scripts.insert(image.to_string(), script);
        self
    }

    /// Removal contends with starting, as on podman, so the runner removes ended containers
    /// in batches; like podman 4.3's `rm --force`, a batch naming a container that is gone
    /// removes none of them (and does not fail).
    pub fn with_batched_removal(mut self) -> FakeEngine {
        self.batched_removal = true;
        self
    }

    /// The runner may create containers ahead of their start, as on the CLI engines.
    pub fn with_creation_ahead(mut self) -> FakeEngine {
        self.creates_ahead = true;
        self
    }

    /// Whether a container of this engine-side name exists (created, running or ended).
    pub fn exists(&self, name: &str) -> bool {
        self.state().containers.contains_key(name)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every call, as `verb name`.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// Every create request.
    pub fn requests(&self) -> Vec<CreateRequest> {
        self.state().requests.clone()
    }

    /// The most main and sidecar containers that ran at once.
    pub fn max_running(&self) -> usize {
        self.state().max_running
    }

    /// Containers and networks still present.
    pub fn leftovers(&self) -> (usize, usize) {
        let state = self.state();
        (state.containers.len(), state.networks.len())
    }

    fn script(&self, hostname: &str) -> Script {
        self.scripts.get(hostname).cloned().unwrap_or_default()
    }

    fn exit_code_of(&self, container: &FakeContainer) -> i32 {
        let script = self.script(&container.hostname);
        script.first_attempts.get(container.attempt).copied().unwrap_or(script.exit_code)
    }

    /// Ends containers whose time is up.
    fn settle(&self, state: &mut State) {
        let mut ended = 0;
        for container in state.containers.values_mut() {
            if let (Some(started), None) = (container.started, container.exit) {
                if started.elapsed() >= self.script(&container.hostname).runs_for {
                    container.exit = Some(self.exit_code_of(container));
                    ended += 1;
                }
            }
        }
        state.running -= ended;
    }
}

fn missing(id: &str) -> EngineError {
    EngineError::Failed { command: format!("fake {id}"), code: Some(1), stderr: format!("no such container: {id}") }
}

impl Engine for FakeEngine {
    fn name(&self) -> &str {
        "fake"
    }

    fn ping(&self) -> Result<String, EngineError> {
        Ok("fake 1.0".into())
    }

    fn create(&self, request: &CreateRequest) -> Result<String, EngineError> {
        let mut state = self.state();
        state.calls.push(format!("create {}", request.name));
        state.requests.push(request.clone());
        if let Some(message) = self.script(&request.hostname).create_fails {
            return Err(EngineError::Failed {
                command: format!("fake create {}", request.name),
                code: Some(125),
                stderr: message,
            });
        }
        if state.containers.contains_key(&request.name) {
            return Err(EngineError::Failed {
                command: format!("fake create {}", request.name),
                code: Some(125),
                stderr: "name already in use".into(),
            });
        }
        let attempt = {
            let count = state.attempts.entry(request.hostname.clone()).or_insert(0);
            *count += 1;
            *count - 1
        };
        let container = FakeContainer { hostname: request.hostname.clone(), started: None, exit: None, attempt };
        state.containers.insert(request.name.clone(), container);
        Ok(request.name.clone())
    }

    fn start(&self, id: &str) -> Result<(), EngineError> {
        let mut state = self.state();
        state.calls.push(format!("start {id}"));
        let container = state.containers.get_mut(id).ok_or_else(|| missing(id))?;
        container.started = Some(Instant::now());
        state.running += 1;
        state.max_running = state.max_running.max(state.running);
        Ok(())
    }

    fn follow_logs(&self, id: &str, on_output: &mut dyn FnMut(LogLines)) -> Result<(), EngineError> {
        let hostname = self.state().containers.get(id).map(|c| c.hostname.clone()).ok_or_else(|| missing(id))?;
        for text in self.script(&hostname).output {
            on_output(LogLines::line(LogStream::Stdout, &text));
        }
        // Like `logs --follow`: returns when the container ends or is removed.
        let mut state = self.state();
        loop {
            self.settle(&mut state);
            match state.containers.get(id) {
                Some(c) if c.exit.is_none() => {}
                _ => return Ok(()),
            }
            state =
                self.changed.wait_timeout(state, Duration::from_millis(5)).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    fn wait(&self, id: &str) -> Result<ExitStatus, EngineError> {
        let mut state = self.state();
        loop {
            self.settle(&mut state);
            match state.containers.get(id) {
                Some(FakeContainer { exit: Some(code), .. }) => {
                    return Ok(ExitStatus { code: *code, oom_killed: *code == 137 });
                }
                Some(_) => {}
                None => return Err(missing(id)),
            }
            state =
                self.changed.wait_timeout(state, Duration::from_millis(5)).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    fn inspect(&self, id: &str) -> Result<ContainerStatus, EngineError> {
        let mut state = self.state();
        self.settle(&mut state);
        let container = state.containers.get(id).ok_or_else(|| missing(id))?;
        Ok(ContainerStatus {
            state: if container.exit.is_some() { "exited".into() } else { "running".into() },
            exit: container.exit.map(|code| ExitStatus { code, oom_killed: false }),
        })
    }

    fn stop(&self, id: &str, _grace: Duration) -> Result<(), EngineError> {
        let mut state = self.state();
        state.calls.push(format!("stop {id}"));
        self.settle(&mut state);
        let container = state.containers.get_mut(id).ok_or_else(|| missing(id))?;
        if container.started.is_some() && container.exit.is_none() {
            container.exit = Some(143);
            state.running -= 1;
        }
        self.changed.notify_all();
        Ok(())
    }

    fn remove(&self, id: &str) -> Result<(), EngineError> {
        let mut state = self.state();
        self.settle(&mut state);
        if let Some(container) = state.containers.remove(id) {
            state.calls.push(format!("remove {id}"));
            if container.started.is_some() && container.exit.is_none() {
                state.running -= 1;
            }
        }
        self.changed.notify_all();
        Ok(())
    }

    fn removal_contends_with_start(&self) -> bool {
        self.batched_removal
    }

    fn creates_ahead(&self) -> bool {
        self.creates_ahead
    }

    fn remove_all(&self, ids: &[String]) -> Result<(), EngineError> {
        if self.batched_removal && !ids.iter().all(|id| self.state().containers.contains_key(id)) {
            self.state().calls.push(format!("remove_all {} (one is gone: none removed)", ids.join(" ")));
            return Ok(());
        }
        ids.iter().try_for_each(|id| self.remove(id))
    }

    fn exec(&self, _id: &str, _command: &[String]) -> Result<i32, EngineError> {
        Ok(0)
    }

    fn network_create(&self, name: &str, _labels: &[(String, String)]) -> Result<(), EngineError> {
        let mut state = self.state();
        state.calls.push(format!("network create {name}"));
        state.networks.push(name.to_string());
        Ok(())
    }

    fn network_exists(&self, name: &str) -> Result<bool, EngineError> {
        let state = self.state();
        Ok(state.networks.iter().chain(&state.outside_networks).any(|n| n == name))
    }

    fn network_remove(&self, name: &str) -> Result<(), EngineError> {
        let mut state = self.state();
        if let Some(at) = state.networks.iter().position(|n| n == name) {
            state.networks.remove(at);
            state.calls.push(format!("network remove {name}"));
        }
        Ok(())
    }

    fn containers_with_labels(&self, _labels: &[(String, String)]) -> Result<Vec<String>, EngineError> {
        Ok(self.state().containers.keys().cloned().collect())
    }

    fn networks_with_labels(&self, _labels: &[(String, String)]) -> Result<Vec<String>, EngineError> {
        Ok(self.state().networks.clone())
    }

    fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        let mut state = self.state();
        state.calls.push(format!("image exists {image}"));
        Ok(state.images.contains_key(image) || !state.absent.iter().any(|a| a == image))
    }

    fn pull(
        &self,
        request: &PullRequest,
        _on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), PullError> {
        let script = self.pull_scripts.get(&request.image).cloned().unwrap_or_default();
        let attempt = {
            let mut state = self.state();
            if let Some(auth) = &request.auth {
                state.calls.push(format!("login {}", auth.registry));
            }
            state.calls.push(format!("pull {}", request.image));
            let count = state.pulls.entry(request.image.clone()).or_insert(0);
            *count += 1;
            *count
        };
        let deadline = Instant::now() + script.takes;
        while Instant::now() < deadline {
            if cancelled() {
                let error = EngineError::Failed {
                    command: format!("fake pull {}", request.image),
                    code: None,
                    stderr: "interrupted".into(),
                };
                return Err(PullError { kind: PullFailure::Other, error });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if attempt <= script.fail_times {
            let login = request.auth.is_some() && script.failure == PullFailure::CredentialsRefused;
            let verb = if login { "login" } else { "pull" };
            let error = EngineError::Failed {
                command: format!("fake {verb} {}", request.image),
                code: Some(125),
                stderr: script.stderr,
            };
            return Err(PullError { kind: script.failure, error });
        }
        self.state().images.insert(request.image.clone(), Vec::new());
        Ok(())
    }

    fn build(
        &self,
        request: &BuildRequest,
        on_line: &mut dyn FnMut(LogLine),
        _cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), BuildError> {
        on_line(LogLine { stream: LogStream::Stdout, text: format!("STEP 1/1: building {}", request.image) });
        let mut state = self.state();
        state.calls.push(format!("build {}", request.image));
        state.images.insert(request.image.clone(), request.labels.clone());
        Ok(())
    }

    fn image_label(&self, image: &str, key: &str) -> Result<Option<String>, EngineError> {
        let state = self.state();
        Ok(state.images.get(image).and_then(|labels| labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())))
    }

    fn local_images(&self) -> Result<Vec<String>, EngineError> {
        Ok(self.state().images.keys().cloned().collect())
    }

    fn image_identity(&self, image: &str) -> Result<Option<ImageIdentity>, EngineError> {
        if !self.image_present(image)? {
            return Ok(None);
        }
        Ok(Some(ImageIdentity { id: self.id_of(image), repo_digests: Vec::new(), size: 1000 }))
    }

    /// An "archive" of the images' names, one a line, and some filler.
    fn save_images(
        &self,
        images: &[String],
        archive: &std::path::Path,
        _cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), EngineError> {
        self.state().calls.push(format!("save {}", images.join(" ")));
        let mut text = images.join("\n");
        text.push('\n');
        text.push_str(&"filler ".repeat(300));
        std::fs::write(archive, text)
            .map_err(|e| EngineError::NotFound { binary: "fake".into(), reason: e.to_string() })
    }

    /// Makes the images an archive of [`Engine::save_images`] names present.
    fn load_images(&self, archive: &std::path::Path) -> Result<Vec<String>, EngineError> {
        let text = std::fs::read_to_string(archive)
            .map_err(|e| EngineError::NotFound { binary: "fake".into(), reason: e.to_string() })?;
        let names: Vec<String> = text.lines().take_while(|l| !l.starts_with("filler")).map(String::from).collect();
        let mut state = self.state();
        state.calls.push(format!("load {}", names.join(" ")));
        state.absent.retain(|a| !names.contains(a));
        Ok(names)
    }
}
