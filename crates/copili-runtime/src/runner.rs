//! The runner: starts each selected container as soon as all its dependencies succeeded, with
//! at most `jobs` main containers at once, cancels the dependents of a failure, and reports
//! everything as [`RunEvent`]s. It never prints.
//!
//! One coordinator (the caller's thread) owns the state of every container; each running
//! container has a worker thread doing create → start → follow output → wait → remove, and
//! reporting back on a channel. Cancellation (a signal, `--fail-fast`) is a shared
//! [`CancelToken`] the workers watch while they wait.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use copili_model::{ContainerSpec, Pipeline, Secret, VolumeSource};
use copili_planner::Plan;

use crate::engine::{CreateRequest, Engine, EngineError, ExitStatus, LogLine, Mount, MountSource};
use crate::images::{ImageConfig, ImageEvent, ImageJob};
use crate::reason::ImageFailure;
pub use crate::reason::{Cancelling, DependencyEnd, Reason};

/// How a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It ran and exited 0.
    Succeeded,
    /// It ran and exited non-zero, timed out, or the engine failed it.
    Failed,
    /// It did not run (or was stopped) because of a failure elsewhere or an interrupt.
    Cancelled,
    /// It was not part of this run (excluded, not selected).
    Skipped,
}

impl Status {
    /// `succeeded`, `failed`, `cancelled`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
        }
    }
}

/// The result for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// The container's own exit code; `None` when it never ran to an end.
    pub exit_code: Option<i32>,
    /// How many times it was started.
    pub attempts: u32,
    /// When the first attempt started.
    pub started_at: Option<SystemTime>,
    /// When it ended.
    pub finished_at: Option<SystemTime>,
    /// Why it failed, was cancelled or skipped.
    pub reason: Option<Reason>,
}

impl Outcome {
    /// An outcome of a container that never started.
    pub fn not_run(status: Status, reason: Reason) -> Outcome {
        Outcome { status, exit_code: None, attempts: 0, started_at: None, finished_at: None, reason: Some(reason) }
    }
}

/// Everything the runner reports; the only way it communicates.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// A container (attempt) is starting.
    ContainerStarted {
        /// Index into `Pipeline::containers`.
        container: usize,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// A line of output of a container or of one of its sidecars.
    Output {
        /// Index of the main container.
        container: usize,
        /// The sidecar's name, when the line is a sidecar's.
        sidecar: Option<String>,
        /// The line.
        line: LogLine,
    },
    /// An attempt failed and another follows after `delay`.
    Retrying {
        /// The container.
        container: usize,
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next.
        delay: Duration,
        /// Why the attempt failed.
        reason: Reason,
    },
    /// A container reached its final state (also for those that never ran).
    ContainerFinished {
        /// The container.
        container: usize,
        /// How it ended.
        outcome: Outcome,
    },
    /// Something happened to an image (pulled once per run, however many use it).
    Image {
        /// The reference.
        image: String,
        /// The containers that need it.
        users: Vec<usize>,
        /// What happened.
        event: ImageEvent,
    },
    /// A line of an image build's output (or of the clone of its repository), for the log of
    /// the container that builds it.
    BuildOutput {
        /// The container.
        container: usize,
        /// The line.
        line: LogLine,
    },
    /// The run stops starting containers (interrupt or `--fail-fast`).
    RunCancelling {
        /// Why.
        reason: Cancelling,
    },
}

/// Per-container limits beyond the seed's format (Argo Workflows has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContainerPolicy {
    /// Stop and fail the container after this long.
    pub timeout: Option<Duration>,
    /// Attempts after the first.
    pub retries: u32,
    /// The wait before the first retry, doubled before each further one.
    pub retry_delay: Duration,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The pipeline's identity (engine-side names and labels key on it).
    pub identity: String,
    /// This run's id (label `io.copili.run-id`).
    pub run_id: String,
    /// Main containers running at once (sidecars take no slot); at least 1.
    pub jobs: usize,
    /// Stop starting containers after the first failure.
    pub fail_fast: bool,
    /// Grace period of a stop before the engine kills.
    pub stop_timeout: Duration,
    /// Environment variables for every container (`--set-env`); the container's own win.
    pub global_env: Vec<(String, Secret)>,
    /// Labels for every container (`--label`); the container's own win.
    pub global_labels: Vec<(String, String)>,
    /// Per-container limits by index, overriding the description's `timeout`, `retries` and
    /// `retry_delay`; usually empty.
    pub policies: Vec<ContainerPolicy>,
    /// How images are pulled and built.
    pub images: ImageConfig,
    /// Appended to engine-side names (`<identity>-<instance>-<name>`): service mode's runs
    /// use one per run, so that a container can start again while the engine still removes
    /// its previous instance. Labels keep the identity alone.
    pub instance: Option<String>,
}

impl RunConfig {
    /// The engine-side name of a container (or of `parts` of it: a sidecar, a network).
    pub fn engine_name(&self, parts: &[&str]) -> String {
        let mut all: Vec<&str> = vec![self.identity.as_str()];
        if let Some(instance) = &self.instance {
            all.push(instance);
        }
        all.extend_from_slice(parts);
        engine_name(&all)
    }
}

/// Callbacks for library users, the seed's `*_callback`s: each has a default that does
/// nothing (or gives the runner's own answer). Called from the runner's threads, hence `Sync`.
///
/// Order for one container: `did_run` (once, at the start of the run), `before_pull` (once per
/// distinct image, before it is checked, pulled or built), `dependencies_met` (whenever the
/// runner looks, possibly many times), `before_run`, `after_run`.
pub trait Hooks: Sync {
    /// Whether the container ran before and is to be skipped; a skipped container counts as a
    /// met dependency (the seed's `container_did_run_check_override_callback`).
    fn did_run(&self, _container: &ContainerSpec) -> bool {
        false
    }

    /// Why a container [`Hooks::did_run`] said ran before is skipped, for the reports.
    fn did_run_reason(&self, _container: &ContainerSpec) -> String {
        "it ran before (did_run)".into()
    }

    /// Before an image is prepared, with the containers that need it.
    fn before_pull(&self, _image: &str, _containers: &[&ContainerSpec]) {}

    /// Whether the container may start: `Some(true)` starts it, `Some(false)` cancels it,
    /// `None` waits. `default` is the runner's own answer (`Some(true)` when every dependency
    /// succeeded or ran before, `Some(false)` when one failed or cannot run, `None` while one is
    /// pending); `finished` holds the containers that have ended so far. A container still
    /// waiting when nothing else can happen is cancelled.
    fn dependencies_met(
        &self,
        _container: &ContainerSpec,
        _finished: &Finished<'_>,
        default: Option<bool>,
    ) -> Option<bool> {
        default
    }

    /// Just before the container starts (its images are ready).
    fn before_run(&self, _container: &ContainerSpec) {}

    /// After the container ended, with its outcome.
    fn after_run(&self, _container: &ContainerSpec, _outcome: &Outcome) {}
}

/// The hooks that change nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// The containers that have ended so far, for [`Hooks::dependencies_met`].
#[derive(Clone, Copy)]
pub struct Finished<'a> {
    pipeline: &'a Pipeline,
    outcomes: &'a [Option<Outcome>],
}

impl<'a> Finished<'a> {
    /// Each ended container with its outcome, in the pipeline's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a ContainerSpec, &'a Outcome)> + 'a {
        let pipeline = self.pipeline;
        self.outcomes.iter().enumerate().filter_map(move |(i, o)| o.as_ref().map(|o| (&pipeline.containers[i], o)))
    }

    /// The outcome of the container called `name`, if it has ended.
    pub fn outcome(&self, name: &str) -> Option<&'a Outcome> {
        let at = self.pipeline.containers.iter().position(|c| c.name == name)?;
        self.outcomes.get(at)?.as_ref()
    }
}

/// Requests to stop, shared by the coordinator, the workers and a signal handler.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicU8>);

impl CancelToken {
    // Low bits: 0 running, 1 stop gracefully, 2 stop now; `DRAIN`: start nothing more.
    const RUNNING: u8 = 0;
    const NOW: u8 = 2;
    const LEVEL: u8 = 0x0f;
    const DRAIN: u8 = 0x10;

    /// A token that has not been cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// First request: stop starting containers, stop running ones with the grace period.
    /// A second request skips the grace period.
    pub fn cancel(&self) {
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
            Some((s & Self::DRAIN) | ((s & Self::LEVEL) + 1).min(Self::NOW))
        });
    }

    /// Start nothing more, but let what runs finish (service mode's first signal); what has
    /// not started is cancelled as interrupted. [`CancelToken::cancel`] then stops the rest.
    pub fn drain(&self) {
        self.0.fetch_or(Self::DRAIN, Ordering::SeqCst);
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst) & Self::LEVEL != Self::RUNNING
    }

    /// Whether nothing more is to start (drained or cancelled).
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst) & Self::DRAIN != 0 || self.is_cancelled()
    }

    /// Whether the grace period is to be skipped.
    pub fn is_urgent(&self) -> bool {
        self.0.load(Ordering::SeqCst) & Self::LEVEL == Self::NOW
    }
}

/// How long starting must have been quiet before ended containers are removed.
const REMOVAL_QUIET: Duration = Duration::from_millis(500);

/// Makes a name acceptable to engines: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, other characters become `-`.
pub fn engine_name(parts: &[&str]) -> String {
    let joined = parts.join("-");
    let mut name: String =
        joined.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '-' }).collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'c');
    }
    name
}

/// The labels copili puts on everything it creates (documented in docs/ARCHITECTURE.md).
pub fn copili_labels(identity: &str, run_id: &str, container: &str, role: &str) -> Vec<(String, String)> {
    vec![
        ("io.copili.pipeline".into(), identity.into()),
        ("io.copili.run-id".into(), run_id.into()),
        ("io.copili.container".into(), container.into()),
        ("io.copili.role".into(), role.into()),
    ]
}

/// A sidecar's key where it must be told from other containers' sidecars of the same name
/// (its `io.copili.container` label, as in the console prefixes and the report): `main/sidecar`.
fn sidecar_key(spec: &ContainerSpec, sidecar: &ContainerSpec) -> String {
    format!("{}/{}", spec.name, sidecar.name)
}

/// Removes every container and network copili left of a pipeline (by its identity), or of
/// all pipelines (`None`), found by copili's labels. Returns how many of each were removed.
pub fn clean(engine: &dyn Engine, identity: Option<&str>) -> Result<(usize, usize), EngineError> {
    let labels = vec![("io.copili.pipeline".to_string(), identity.unwrap_or_default().to_string())];
    let containers = engine.containers_with_labels(&labels)?;
    for name in &containers {
        engine.remove(name)?;
    }
    let networks = engine.networks_with_labels(&labels)?;
    for name in &networks {
        engine.network_remove(name)?;
    }
    Ok((containers.len(), networks.len()))
}

enum Message {
    Done { container: usize, outcome: Outcome },
    Image { job: usize, result: Result<(), ImageFailure> },
}

/// The images being prepared, shared by the coordinator and the image threads.
struct ImageQueue {
    jobs: Vec<ImageJob>,
    /// The next job to take.
    next: std::sync::atomic::AtomicUsize,
    /// Per job: still needed by a container that has not finished.
    wanted: Vec<std::sync::atomic::AtomicBool>,
    /// The run is over: stop pulling.
    over: std::sync::atomic::AtomicBool,
}

/// Runs the plan on the engine; returns an outcome for every container of the pipeline, in
/// the pipeline's order.
pub fn run(
    engine: &dyn Engine,
    pipeline: &Pipeline,
    plan: &Plan,
    config: &RunConfig,
    cancel: &CancelToken,
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> Vec<Outcome> {
    run_with_hooks(engine, pipeline, plan, config, cancel, &NoHooks, on_event)
}

/// [`run`], asking `hooks` what already ran and when dependencies are met, and telling them
/// about pulls and runs (see [`Hooks`]).
pub fn run_with_hooks(
    engine: &dyn Engine,
    pipeline: &Pipeline,
    plan: &Plan,
    config: &RunConfig,
    cancel: &CancelToken,
    hooks: &dyn Hooks,
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> Vec<Outcome> {
    let n = pipeline.containers.len();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
    let finish = |outcomes: &mut Vec<Option<Outcome>>, container: usize, outcome: Outcome| {
        on_event(RunEvent::ContainerFinished { container, outcome: outcome.clone() });
        outcomes[container] = Some(outcome);
    };
    for excluded in &plan.excluded {
        finish(
            &mut outcomes,
            excluded.container,
            Outcome::not_run(Status::Skipped, Reason::Excluded(excluded.reason.clone())),
        );
    }
    let order: Vec<usize> = plan.order().collect();
    // What ran before is skipped, and counts as a met dependency.
    let mut ran_before = vec![false; n];
    for &c in &order {
        let spec = &pipeline.containers[c];
        if hooks.did_run(spec) {
            ran_before[c] = true;
            finish(
                &mut outcomes,
                c,
                Outcome::not_run(Status::Skipped, Reason::RanBefore { why: hooks.did_run_reason(spec) }),
            );
        }
    }
    let to_run: Vec<usize> = order.iter().copied().filter(|&c| !ran_before[c]).collect();
    // Looked up on every turn of the loop below: from the graph once, not each time.
    let dependencies: Vec<Vec<usize>> = (0..n).map(|c| plan.dependencies(c)).collect();
    // Every distinct image once, prepared from the start on a few threads of their own.
    let (image_jobs, needs) = crate::images::jobs(pipeline, &to_run, config.images.policy);
    let queue = ImageQueue {
        wanted: image_jobs.iter().map(|_| std::sync::atomic::AtomicBool::new(true)).collect(),
        jobs: image_jobs,
        next: std::sync::atomic::AtomicUsize::new(0),
        over: std::sync::atomic::AtomicBool::new(false),
    };
    let mut images: Vec<Option<Result<(), ImageFailure>>> = vec![None; queue.jobs.len()];
    let jobs = config.jobs.max(1);
    let (tx, rx) = mpsc::channel::<Message>();
    let mut is_running = vec![false; n];
    let mut running = 0usize;
    let mut cancelling_reported = false;
    // The container whose failure stopped the run (`--fail-fast`).
    let mut failed_fast: Option<String> = None;
    let mut pending_removal: Vec<String> = Vec::new();
    let mut last_start = Instant::now();
    std::thread::scope(|scope| {
        let threads = config.images.parallel.max(1).min(queue.jobs.len());
        for _ in 0..threads {
            let (tx, queue) = (tx.clone(), &queue);
            scope.spawn(move || prepare_images(engine, pipeline, queue, config, cancel, hooks, on_event, &tx));
        }
        let mut ready = vec![false; n];
        loop {
            if cancel.is_draining() && !cancelling_reported {
                cancelling_reported = true;
                on_event(RunEvent::RunCancelling { reason: Cancelling::Interrupted });
            }
            // Decide what can no longer run. `order` is topological, so a cancellation reaches
            // the dependents of the dependents in the same pass.
            for &c in &order {
                if outcomes[c].is_some() || is_running[c] {
                    continue;
                }
                // After an interrupt, whatever had not started was interrupted, whatever its
                // dependencies did meanwhile.
                if cancel.is_draining() {
                    finish(&mut outcomes, c, Outcome::not_run(Status::Cancelled, Reason::Interrupted));
                } else if let Some(failed) = &failed_fast {
                    let reason = Reason::FailFast { failed: failed.clone() };
                    finish(&mut outcomes, c, Outcome::not_run(Status::Cancelled, reason));
                } else {
                    let blocker = blocking_dependency(&dependencies[c], plan, &outcomes);
                    let default = match blocker {
                        Some(_) => Some(false),
                        None if dependencies_met(&dependencies[c], plan, &outcomes, &ran_before) => Some(true),
                        None => None,
                    };
                    let finished = Finished { pipeline, outcomes: &outcomes };
                    let decision = hooks.dependencies_met(&pipeline.containers[c], &finished, default);
                    ready[c] = decision == Some(true);
                    if decision == Some(false) {
                        let reason = match blocker {
                            Some(blocker) => cancel_reason(&pipeline.containers[blocker].name, &outcomes[blocker]),
                            None => Reason::HookRefused,
                        };
                        finish(&mut outcomes, c, Outcome::not_run(Status::Cancelled, reason));
                    } else if let Some(Some(Err(reason))) =
                        needs[c].iter().map(|&j| &images[j]).find(|r| matches!(r, Some(Err(_))))
                    {
                        // An image that cannot be had fails its containers at once, before they
                        // start.
                        let reason = Reason::Image(reason.clone());
                        finish(&mut outcomes, c, Outcome::not_run(Status::Failed, reason));
                    }
                }
            }
            // Images no unfinished container needs any more are not pulled.
            for (j, job) in queue.jobs.iter().enumerate() {
                if job.users.iter().all(|&c| outcomes[c].is_some()) {
                    queue.wanted[j].store(false, Ordering::SeqCst);
                }
            }
            // Start what is ready, in plan order, while slots are free.
            let mut started_any = false;
            for &c in &to_run {
                if running >= jobs || cancel.is_draining() || failed_fast.is_some() {
                    break;
                }
                if outcomes[c].is_some() || is_running[c] || !ready[c] {
                    continue;
                }
                if !needs[c].iter().all(|&j| matches!(images[j], Some(Ok(())))) {
                    continue;
                }
                running += 1;
                is_running[c] = true;
                started_any = true;
                let tx = tx.clone();
                let spec = &pipeline.containers[c];
                last_start = Instant::now();
                scope.spawn(move || {
                    hooks.before_run(spec);
                    let outcome = run_container(engine, spec, c, config, cancel, on_event);
                    hooks.after_run(spec, &outcome);
                    let _ = tx.send(Message::Done { container: c, outcome });
                });
            }
            // A hook that keeps saying "not yet" while nothing runs and no image is awaited
            // would wait forever: what is left is cancelled.
            let stalled = running == 0 && !started_any;
            let waiting: Vec<usize> =
                if stalled { to_run.iter().copied().filter(|&c| outcomes[c].is_none()).collect() } else { Vec::new() };
            if stalled
                && !waiting.is_empty()
                && waiting.iter().all(|&c| needs[c].iter().all(|&j| images[j].is_some()))
                && waiting.iter().all(|&c| !ready[c])
            {
                for c in waiting {
                    finish(&mut outcomes, c, Outcome::not_run(Status::Cancelled, Reason::HookNeverMet));
                }
            }
            // Ended main containers are removed off the critical path. Where removing contends
            // with starting (podman's `rm` and `run` both take its storage lock, which slowed a
            // chain of short containers by ~10 %), they are removed together, in one engine call,
            // once starting has been quiet for a moment, or when the run ends.
            if !pending_removal.is_empty() && last_start.elapsed() >= REMOVAL_QUIET {
                let names = std::mem::take(&mut pending_removal);
                scope.spawn(move || {
                    let _ = engine.remove_all(&names);
                });
            }
            if running == 0 && order.iter().all(|&c| outcomes[c].is_some()) {
                queue.over.store(true, Ordering::SeqCst);
                let _ = engine.remove_all(&pending_removal);
                break;
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Message::Done { container, outcome }) => {
                    running -= 1;
                    is_running[container] = false;
                    // A main container with sidecars was removed with them, before their
                    // network, by its own thread; the others are removed here.
                    let spec = &pipeline.containers[container];
                    if spec.sidecars.is_empty() {
                        let name = config.engine_name(&[&spec.name]);
                        if engine.removal_contends_with_start() {
                            pending_removal.push(name);
                        } else {
                            scope.spawn(move || {
                                let _ = engine.remove(&name);
                            });
                        }
                    }
                    let failed = outcome.status == Status::Failed;
                    finish(&mut outcomes, container, outcome);
                    if failed && config.fail_fast && failed_fast.is_none() && !cancel.is_cancelled() {
                        // Stop starting containers; those running finish.
                        let failed = pipeline.containers[container].name.clone();
                        on_event(RunEvent::RunCancelling { reason: Cancelling::FailFast { failed: failed.clone() } });
                        failed_fast = Some(failed);
                    }
                }
                Ok(Message::Image { job, result }) => images[job] = Some(result),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::not_run(Status::Cancelled, Reason::Interrupted)))
        .collect()
}

/// An image thread: takes the next job still wanted, prepares it, reports the result.
#[allow(clippy::too_many_arguments)]
fn prepare_images(
    engine: &dyn Engine,
    pipeline: &Pipeline,
    queue: &ImageQueue,
    config: &RunConfig,
    cancel: &CancelToken,
    hooks: &dyn Hooks,
    on_event: &(dyn Fn(RunEvent) + Sync),
    tx: &mpsc::Sender<Message>,
) {
    let stop = || cancel.is_draining() || queue.over.load(Ordering::SeqCst);
    loop {
        let j = queue.next.fetch_add(1, Ordering::SeqCst);
        let Some(job) = queue.jobs.get(j) else { return };
        if stop() {
            return;
        }
        if !queue.wanted[j].load(Ordering::SeqCst) {
            continue;
        }
        let labels = vec![("io.copili.pipeline".to_string(), config.identity.clone())];
        let owner = job.owner();
        let users: Vec<&ContainerSpec> = job.users.iter().map(|&c| &pipeline.containers[c]).collect();
        hooks.before_pull(&job.image, &users);
        let result = crate::images::prepare(
            engine,
            job,
            &config.images,
            &labels,
            &stop,
            &mut |event| on_event(RunEvent::Image { image: job.image.clone(), users: job.users.clone(), event }),
            &mut |line| on_event(RunEvent::BuildOutput { container: owner, line }),
        );
        let ready = result.is_ok();
        if tx.send(Message::Image { job: j, result }).is_err() {
            return;
        }
        // The image's id for the state, looked up while its containers already start.
        if ready {
            if let Ok(Some(id)) = engine.image_id(&job.image) {
                on_event(RunEvent::Image {
                    image: job.image.clone(),
                    users: job.users.clone(),
                    event: ImageEvent::Identified { id },
                });
            }
        }
    }
}

/// All dependencies succeeded or ran before (a static dependency of a service-only run counts
/// as met: it ran before).
fn dependencies_met(dependencies: &[usize], plan: &Plan, outcomes: &[Option<Outcome>], ran_before: &[bool]) -> bool {
    dependencies.iter().copied().all(|d| {
        if plan.is_selected(d) {
            ran_before[d] || matches!(&outcomes[d], Some(o) if o.status == Status::Succeeded)
        } else {
            plan.exclusion(d).is_some_and(|r| r.kind() == "service")
        }
    })
}

/// A dependency that decided this container will not run: it failed or was cancelled, or it
/// was left out of the run (excluded in the environment, `--skip`), as in copili 1.4.
fn blocking_dependency(dependencies: &[usize], plan: &Plan, outcomes: &[Option<Outcome>]) -> Option<usize> {
    dependencies.iter().copied().find(|&d| {
        matches!(&outcomes[d], Some(o) if matches!(o.status, Status::Failed | Status::Cancelled))
            || (!plan.is_selected(d) && plan.exclusion(d).is_some_and(|r| r.kind() != "service"))
    })
}

/// Why a dependent of `blocker` is cancelled: its dependency failed, naming the container
/// whose failure started the cascade (a dependent of a dependent inherits the reason).
fn cancel_reason(blocker: &str, outcome: &Option<Outcome>) -> Reason {
    let end = match outcome {
        Some(Outcome { status: Status::Failed, .. }) => DependencyEnd::Failed,
        Some(Outcome { status: Status::Cancelled, reason: Some(inherited @ Reason::Dependency { .. }), .. }) => {
            return inherited.clone();
        }
        Some(Outcome { status: Status::Cancelled, .. }) => DependencyEnd::Cancelled,
        Some(Outcome { status: Status::Skipped, reason, .. }) => DependencyEnd::NotRun(reason.clone().map(Box::new)),
        _ => DependencyEnd::DidNotRun,
    };
    Reason::Dependency { name: blocker.to_string(), end }
}

/// How one attempt ended.
enum Attempt {
    Exited(ExitStatus),
    SidecarNotReady { sidecar: String, after: Duration },
    TimedOut(Duration),
    Interrupted(Option<ExitStatus>),
    EngineFailed(EngineError),
}

/// One container with its retries.
fn run_container(
    engine: &dyn Engine,
    spec: &ContainerSpec,
    container: usize,
    config: &RunConfig,
    cancel: &CancelToken,
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> Outcome {
    let policy = config.policies.get(container).copied().unwrap_or(ContainerPolicy {
        timeout: spec.timeout,
        retries: spec.retries,
        retry_delay: spec.retry_delay,
    });
    let started_at = Some(SystemTime::now());
    let mut delay = policy.retry_delay;
    let mut attempt = 0;
    loop {
        attempt += 1;
        on_event(RunEvent::ContainerStarted { container, attempt });
        let result = attempt_once(engine, spec, container, config, policy, cancel, on_event);
        let finished_at = Some(SystemTime::now());
        let done = |status, exit_code, reason: Option<Reason>| Outcome {
            status,
            exit_code,
            attempts: attempt,
            started_at,
            finished_at,
            reason,
        };
        let (exit_code, reason) = match result {
            Attempt::Exited(ExitStatus { code: 0, .. }) => return done(Status::Succeeded, Some(0), None),
            Attempt::Interrupted(exit) => {
                return done(Status::Cancelled, exit.map(|e| e.code), Some(Reason::Interrupted));
            }
            Attempt::Exited(exit) => {
                (Some(exit.code), Reason::ExitCode { code: exit.code, oom_killed: exit.oom_killed })
            }
            Attempt::TimedOut(after) => (None, Reason::TimedOut { after }),
            Attempt::SidecarNotReady { sidecar, after } => (None, Reason::SidecarNotReady { sidecar, after }),
            Attempt::EngineFailed(error) => (None, Reason::Engine(error)),
        };
        if attempt > policy.retries || cancel.is_draining() {
            return done(Status::Failed, exit_code, Some(reason));
        }
        on_event(RunEvent::Retrying { container, attempt, delay, reason });
        let _ = engine.remove(&config.engine_name(&[&spec.name]));
        if !sleep_unless_cancelled(delay, cancel) {
            return done(Status::Cancelled, exit_code, Some(Reason::Interrupted));
        }
        delay = delay.saturating_mul(2);
    }
}

/// Sleeps; `false` when cancelled meanwhile.
fn sleep_unless_cancelled(duration: Duration, cancel: &CancelToken) -> bool {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        if cancel.is_cancelled() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(deadline.saturating_duration_since(Instant::now())));
    }
    !cancel.is_cancelled()
}

/// Runs a sidecar's ready command until it succeeds, its time is up or the run is cancelled.
fn wait_ready(
    engine: &dyn Engine,
    name: &str,
    id: &str,
    check: &copili_model::ReadyCheck,
    cancel: &CancelToken,
) -> Result<(), Attempt> {
    let deadline = Instant::now() + check.timeout;
    loop {
        if let Ok(0) = engine.exec(id, &check.command) {
            return Ok(());
        }
        if Instant::now() + check.interval > deadline {
            return Err(Attempt::SidecarNotReady { sidecar: name.to_string(), after: check.timeout });
        }
        if !sleep_unless_cancelled(check.interval, cancel) {
            return Err(Attempt::Interrupted(None));
        }
    }
}

/// Removes what an attempt created, on every path out of it (errors and panics included).
struct Cleanup<'e> {
    engine: &'e dyn Engine,
    /// With the grace period of a sidecar that has `stop_grace_period`: stopped with it (its
    /// `stop_signal` first) before it is removed, so that a database shuts down cleanly.
    containers: Vec<(String, Option<Duration>)>,
    network: Option<String>,
}

impl Cleanup<'_> {
    /// Main container first, then its sidecars, then their network. Removing a container
    /// also ends the `logs --follow` of it.
    fn run(&mut self) {
        for (id, grace) in self.containers.drain(..).rev() {
            if let Some(grace) = grace {
                let _ = self.engine.stop(&id, grace);
            }
            let _ = self.engine.remove(&id);
        }
        if let Some(network) = self.network.take() {
            let _ = self.engine.network_remove(&network);
        }
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        self.run();
    }
}

/// A network a container is to join (`networks:`) that the engine does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingNetwork {
    /// The container (`main/sidecar` for a sidecar).
    pub container: String,
    /// The network's name.
    pub network: String,
}

/// The networks of `networks:` that do not exist, for the containers a plan runs, checked
/// before anything starts (a job must not fail half-way for a network that was never
/// there). Each network is asked about once; a dry run asks nothing.
pub fn missing_networks(
    engine: &dyn Engine,
    pipeline: &Pipeline,
    plan: &Plan,
) -> Result<Vec<MissingNetwork>, EngineError> {
    if engine.is_dry_run() {
        return Ok(Vec::new());
    }
    let mut known: HashMap<String, bool> = HashMap::new();
    let mut missing = Vec::new();
    for c in plan.order().map(|i| &pipeline.containers[i]) {
        let owners = std::iter::once((c.name.clone(), c))
            .chain(c.sidecars.iter().map(|s| (format!("{}/{}", c.name, s.name), s)));
        for (label, owner) in owners {
            for network in &owner.options().networks {
                let exists = match known.get(&network.name) {
                    Some(&exists) => exists,
                    None => {
                        let exists = engine.network_exists(&network.name)?;
                        known.insert(network.name.clone(), exists);
                        exists
                    }
                };
                if !exists {
                    missing.push(MissingNetwork { container: label.clone(), network: network.name.clone() });
                }
            }
        }
    }
    Ok(missing)
}

/// What a run asks the engine to create for a container, in order: its sidecars (each with
/// its name) on the container's network, then the container itself (`None`). For `plan`.
pub fn planned_requests(spec: &ContainerSpec, config: &RunConfig) -> Vec<(Option<String>, CreateRequest)> {
    let identity = config.identity.as_str();
    let network = (!spec.sidecars.is_empty()).then(|| config.engine_name(&[&spec.name, "net"]));
    let mut requests = Vec::new();
    for sidecar in &spec.sidecars {
        let name = config.engine_name(&[&spec.name, &sidecar.name]);
        let labels = copili_labels(identity, &config.run_id, &sidecar_key(spec, sidecar), "sidecar");
        let request = request_for(sidecar, name, labels, config, network.as_deref(), Some(&sidecar.name));
        requests.push((Some(sidecar.name.clone()), request));
    }
    let labels = copili_labels(identity, &config.run_id, &spec.name, "main");
    requests
        .push((None, request_for(spec, config.engine_name(&[&spec.name]), labels, config, network.as_deref(), None)));
    requests
}

fn request_for(
    spec: &ContainerSpec,
    engine_name: String,
    labels: Vec<(String, String)>,
    config: &RunConfig,
    network: Option<&str>,
    alias: Option<&str>,
) -> CreateRequest {
    let mut env: Vec<(String, Secret)> =
        config.global_env.iter().filter(|(k, _)| !spec.env_vars.iter().any(|(own, _)| own == k)).cloned().collect();
    env.extend(spec.env_vars.iter().cloned());
    let mut all_labels = labels;
    all_labels
        .extend(config.global_labels.iter().filter(|(k, _)| !spec.labels.iter().any(|(own, _)| own == k)).cloned());
    all_labels.extend(spec.labels.iter().cloned());
    CreateRequest {
        name: engine_name,
        image: spec.image(),
        hostname: spec.name.clone(),
        labels: all_labels,
        env,
        mounts: spec
            .volumes
            .iter()
            .map(|v| Mount {
                source: match &v.source {
                    VolumeSource::Named(name) => MountSource::Volume(name.clone()),
                    VolumeSource::HostPath { resolved, .. } => MountSource::Host(resolved.clone()),
                },
                target: v.target.clone(),
                read_only: v.read_only,
            })
            .collect(),
        command: spec.command.clone(),
        network: network.map(String::from),
        network_aliases: alias.map(String::from).into_iter().collect(),
        resources: spec.resources.as_deref().copied(),
        placement: spec.placement.clone(),
        registry_auth: match (&spec.image_reg_username, &spec.image_reg_password) {
            (Some(username), Some(password)) if !username.is_empty() => Some(crate::engine::RegistryAuth {
                registry: spec.registry().to_string(),
                username: username.clone(),
                password: password.clone(),
            }),
            _ => None,
        },
        stop_timeout: spec.options().stop_grace_period.unwrap_or(config.stop_timeout),
        ready: spec.ready.as_deref().cloned(),
        options: spec.options().clone(),
    }
}

#[allow(clippy::too_many_arguments)]
fn attempt_once(
    engine: &dyn Engine,
    spec: &ContainerSpec,
    container: usize,
    config: &RunConfig,
    policy: ContainerPolicy,
    cancel: &CancelToken,
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> Attempt {
    let identity = config.identity.as_str();
    let main_name = config.engine_name(&[&spec.name]);
    let mut cleanup = Cleanup { engine, containers: Vec::new(), network: None };
    std::thread::scope(|scope| {
        // Everything is removed before the scope waits for the log followers, which end only
        // when their containers are gone.
        let result = (|| {
            let mut network = None;
            if cancel.is_cancelled() {
                return Attempt::Interrupted(None);
            }
            if !spec.sidecars.is_empty() {
                let net = config.engine_name(&[&spec.name, "net"]);
                let labels = copili_labels(identity, &config.run_id, &spec.name, "network");
                if let Err(e) = engine.network_create(&net, &labels) {
                    return Attempt::EngineFailed(e);
                }
                cleanup.network = Some(net.clone());
                network = Some(net);
                let mut ready_checks = Vec::new();
                let (following_tx, following_rx) = mpsc::channel::<()>();
                for sidecar in &spec.sidecars {
                    if cancel.is_cancelled() {
                        return Attempt::Interrupted(None);
                    }
                    let name = config.engine_name(&[&spec.name, &sidecar.name]);
                    let labels = copili_labels(identity, &config.run_id, &sidecar_key(spec, sidecar), "sidecar");
                    let request = request_for(sidecar, name, labels, config, network.as_deref(), Some(&sidecar.name));
                    let id = match engine.create(&request) {
                        Ok(id) => id,
                        Err(e) => return Attempt::EngineFailed(e),
                    };
                    cleanup.containers.push((id.clone(), sidecar.options().stop_grace_period));
                    if let Err(e) = engine.start(&id) {
                        return Attempt::EngineFailed(e);
                    }
                    let sidecar_name = sidecar.name.clone();
                    if let Some(check) = &sidecar.ready {
                        ready_checks.push((sidecar.name.clone(), id.clone(), check));
                    }
                    let following = following_tx.clone();
                    scope.spawn(move || {
                        let _ = following.send(());
                        let _ = engine.follow_logs(&id, &mut |line| {
                            on_event(RunEvent::Output { container, sidecar: Some(sidecar_name.clone()), line })
                        });
                    });
                }
                // The followers have started before the main container can run: a main that
                // ends at once must not take its sidecars' output with them (the followers of
                // a removed container find nothing to follow).
                let deadline = Instant::now() + Duration::from_secs(2);
                for _ in &spec.sidecars {
                    if following_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_err() {
                        break;
                    }
                }
                for (name, id, check) in ready_checks {
                    if let Err(reason) = wait_ready(engine, &name, &id, check, cancel) {
                        return reason;
                    }
                }
            }
            if cancel.is_cancelled() {
                return Attempt::Interrupted(None);
            }
            let labels = copili_labels(identity, &config.run_id, &spec.name, "main");
            let request = request_for(spec, main_name.clone(), labels, config, network.as_deref(), None);
            // Without sidecars, the main container is removed by the caller once its outcome is
            // reported (the engine knows it by its name). With them it must go before their
            // network, which cannot be removed while a container is attached.
            if network.is_some() {
                cleanup.containers.push((main_name.clone(), None));
            }
            let id = main_name.clone();
            let (wait_tx, wait_rx) = mpsc::channel();
            scope.spawn(move || {
                let result = engine
                    .run_attached(&request, &mut |line| on_event(RunEvent::Output { container, sidecar: None, line }));
                let _ = wait_tx.send(result);
            });
            let started = Instant::now();
            let mut stopped_for: Option<Attempt> = None;
            // A stop can come before the engine has created or started the container (the
            // interrupt arrives while `run` starts it): the stop fails or finds nothing to stop,
            // so it is repeated until the run has ended. A second interrupt kills at once.
            let (stop_tx, stop_rx) = mpsc::channel::<()>();
            let mut stop_in_flight = false;
            let mut stopped_urgently = false;
            let mut next_stop_at = Instant::now();
            let result = loop {
                match wait_rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(result) => break result,
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        break Err(EngineError::Failed {
                            command: "run".into(),
                            code: None,
                            stderr: "the engine client ended without a result".into(),
                        })
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
                while stop_rx.try_recv().is_ok() {
                    stop_in_flight = false;
                    next_stop_at = Instant::now() + Duration::from_millis(300);
                }
                if stopped_for.is_none() {
                    if cancel.is_cancelled() {
                        stopped_for = Some(Attempt::Interrupted(None));
                    } else if policy.timeout.is_some_and(|limit| started.elapsed() >= limit) {
                        stopped_for = policy.timeout.map(Attempt::TimedOut);
                    }
                }
                let urgent_now = cancel.is_urgent() && !stopped_urgently;
                let due = stopped_for.is_some() && !stop_in_flight && Instant::now() >= next_stop_at;
                if due || urgent_now {
                    let grace = if cancel.is_urgent() {
                        Duration::ZERO
                    } else {
                        spec.options().stop_grace_period.unwrap_or(config.stop_timeout)
                    };
                    stopped_urgently |= cancel.is_urgent();
                    stop_in_flight = true;
                    let (stop_id, stop_tx) = (id.clone(), stop_tx.clone());
                    scope.spawn(move || {
                        let _ = engine.stop(&stop_id, grace);
                        let _ = stop_tx.send(());
                    });
                }
            };
            match (stopped_for, result) {
                (Some(Attempt::Interrupted(_)), Ok(exit)) => Attempt::Interrupted(Some(exit)),
                (Some(other), _) => other,
                (None, Ok(exit)) => Attempt::Exited(exit),
                (None, Err(e)) => Attempt::EngineFailed(e),
            }
        })();
        cleanup.run();
        result
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use copili_model::{load, EnvFile, Input, LoadOptions};
    use copili_planner::Selection;

    use super::*;
    use crate::fake::{FakeEngine, PullScript, Script};
    use crate::reason::PullFailure;

    const QUICK: &str = "q:
  - {name: dataloader_02, image_repo: x, dependencies: [dataloader_01], env_vars: {EXIT_CODE: 0}}
  - {name: dataloader_01, image_repo: x}
  - {name: dataloader_03, image_repo: x, dependencies: [dataloader_02, dataloader_01]}
  - {name: servicecontainer01, image_repo: x, is_service_container: true, dependencies: [dataloader_02]}
";

    fn pipeline(text: &str) -> Pipeline {
        let options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
        load(Input::Text(text), &options).expect("valid pipeline")
    }

    fn config(jobs: usize) -> RunConfig {
        RunConfig {
            identity: "q".into(),
            run_id: "r1".into(),
            jobs,
            fail_fast: false,
            stop_timeout: Duration::from_secs(1),
            global_env: vec![("GLOBAL".into(), Secret::new("g"))],
            global_labels: vec![("team".into(), "data".into())],
            policies: Vec::new(),
            images: ImageConfig::default(),
            instance: None,
        }
    }

    struct Run {
        outcomes: Vec<Outcome>,
        events: Vec<RunEvent>,
    }

    fn run_with(text: &str, engine: &FakeEngine, config: &RunConfig, cancel: &CancelToken) -> Run {
        let p = pipeline(text);
        let plan = copili_planner::plan(&p, &Selection::default()).expect("plannable");
        let events = Mutex::new(Vec::new());
        let outcomes = run(engine, &p, &plan, config, cancel, &|e| events.lock().expect("not poisoned").push(e));
        Run { outcomes, events: events.into_inner().expect("not poisoned") }
    }

    fn statuses(run: &Run) -> Vec<(&'static str, Option<Reason>)> {
        run.outcomes.iter().map(|o| (o.status.as_str(), o.reason.clone())).collect()
    }

    fn exit(code: i32) -> Reason {
        Reason::ExitCode { code, oom_killed: false }
    }

    fn dependency_failed(name: &str) -> Reason {
        Reason::Dependency { name: name.into(), end: DependencyEnd::Failed }
    }

    fn start_order(run: &Run) -> Vec<usize> {
        run.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::ContainerStarted { container, .. } => Some(*container),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn runs_in_dependency_order_and_cleans_up() {
        let engine = FakeEngine::new([]);
        let run = run_with(QUICK, &engine, &config(1), &CancelToken::new());
        assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
        assert_eq!(start_order(&run), vec![1, 0, 2, 3]);
        assert_eq!(engine.leftovers(), (0, 0));
        assert_eq!(engine.max_running(), 1);
        let request = &engine.requests()[0];
        assert_eq!(request.name, "q-dataloader_01");
        assert_eq!(request.hostname, "dataloader_01");
        assert!(request.labels.contains(&("io.copili.run-id".into(), "r1".into())));
        assert!(request.labels.contains(&("team".into(), "data".into())));
        assert_eq!(request.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec!["GLOBAL"]);
    }

    #[test]
    fn a_failure_cancels_its_dependents_while_an_independent_branch_completes() {
        let text = "p:
  - {name: a, image_repo: x}
  - {name: b, image_repo: x, dependencies: [a]}
  - {name: c, image_repo: x, dependencies: [b]}
  - {name: other, image_repo: x}
  - {name: after_other, image_repo: x, dependencies: [other]}
";
        let engine = FakeEngine::new([("a", Script { exit_code: 3, ..Script::default() })]);
        let run = run_with(text, &engine, &config(2), &CancelToken::new());
        assert_eq!(
            statuses(&run),
            vec![
                ("failed", Some(exit(3))),
                ("cancelled", Some(dependency_failed("a"))),
                ("cancelled", Some(dependency_failed("a"))),
                ("succeeded", None),
                ("succeeded", None),
            ]
        );
        assert_eq!(run.outcomes[0].exit_code, Some(3));
        assert_eq!(run.outcomes[1].exit_code, None);
    }

    #[test]
    fn jobs_limit_parallelism() {
        let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x}\n  - {name: c, image_repo: x}\n";
        let slow = || Script { runs_for: Duration::from_millis(150), ..Script::default() };
        let engine = FakeEngine::new([("a", slow()), ("b", slow()), ("c", slow())]);
        let started = Instant::now();
        run_with(text, &engine, &config(2), &CancelToken::new());
        assert_eq!(engine.max_running(), 2);
        assert!(started.elapsed() >= Duration::from_millis(300));
        let engine = FakeEngine::new([("a", slow()), ("b", slow()), ("c", slow())]);
        run_with(text, &engine, &config(3), &CancelToken::new());
        assert_eq!(engine.max_running(), 3);
    }

    #[test]
    fn fail_fast_stops_starting_containers() {
        let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x}\n  - {name: c, image_repo: x}\n";
        let engine = FakeEngine::new([("a", Script { exit_code: 1, ..Script::default() })]);
        let mut config = config(1);
        config.fail_fast = true;
        let run = run_with(text, &engine, &config, &CancelToken::new());
        assert_eq!(
            statuses(&run),
            vec![
                ("failed", Some(exit(1))),
                ("cancelled", Some(Reason::FailFast { failed: "a".into() })),
                ("cancelled", Some(Reason::FailFast { failed: "a".into() }))
            ]
        );
        assert!(run.events.iter().any(|e| matches!(e, RunEvent::RunCancelling { .. })));
    }

    #[test]
    fn fail_fast_lets_running_containers_finish() {
        let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x}\n  - {name: c, image_repo: x}\n";
        let engine = FakeEngine::new([
            ("a", Script { exit_code: 1, runs_for: Duration::from_millis(20), ..Script::default() }),
            ("b", Script { runs_for: Duration::from_millis(300), ..Script::default() }),
        ]);
        let mut config = config(2);
        config.fail_fast = true;
        let run = run_with(text, &engine, &config, &CancelToken::new());
        assert_eq!(
            statuses(&run),
            vec![
                ("failed", Some(exit(1))),
                ("succeeded", None),
                ("cancelled", Some(Reason::FailFast { failed: "a".into() }))
            ]
        );
    }

    #[test]
    fn cancelling_stops_running_containers_and_cancels_the_rest() {
        let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x, dependencies: [a]}\n";
        let engine = FakeEngine::new([("a", Script { runs_for: Duration::from_secs(30), ..Script::default() })]);
        let cancel = CancelToken::new();
        let canceller = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            canceller.cancel();
        });
        let started = Instant::now();
        let run = run_with(text, &engine, &config(2), &cancel);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            statuses(&run),
            vec![("cancelled", Some(Reason::Interrupted)), ("cancelled", Some(Reason::Interrupted))]
        );
        assert_eq!(run.outcomes[0].exit_code, Some(143));
        assert!(engine.calls().contains(&"stop q-a".to_string()));
        assert_eq!(engine.leftovers(), (0, 0));
    }

    #[test]
    fn draining_lets_running_containers_finish_and_starts_nothing() {
        let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x, dependencies: [a]}\n";
        let engine = FakeEngine::new([("a", Script { runs_for: Duration::from_millis(400), ..Script::default() })]);
        let cancel = CancelToken::new();
        let drainer = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drainer.drain();
        });
        let run = run_with(text, &engine, &config(2), &cancel);
        assert_eq!(statuses(&run), vec![("succeeded", None), ("cancelled", Some(Reason::Interrupted))]);
        assert!(!engine.calls().contains(&"stop q-a".to_string()), "a was not stopped");
        assert!(!cancel.is_cancelled() && cancel.is_draining());
        cancel.cancel();
        assert!(cancel.is_cancelled() && !cancel.is_urgent());
        cancel.cancel();
        assert!(cancel.is_urgent() && cancel.is_draining());
    }

    #[test]
    fn timeout_fails_the_container() {
        let text = "p:\n  - {name: a, image_repo: x}\n";
        let engine = FakeEngine::new([("a", Script { runs_for: Duration::from_secs(30), ..Script::default() })]);
        let mut config = config(1);
        config.policies =
            vec![ContainerPolicy { timeout: Some(Duration::from_millis(100)), ..ContainerPolicy::default() }];
        let run = run_with(text, &engine, &config, &CancelToken::new());
        assert_eq!(statuses(&run), vec![("failed", Some(Reason::TimedOut { after: Duration::from_millis(100) }))]);
    }

    #[test]
    fn retries_are_recorded() {
        let text = "p:\n  - {name: a, image_repo: x}\n";
        let engine = FakeEngine::new([("a", Script { first_attempts: vec![1, 2], exit_code: 0, ..Script::default() })]);
        let mut config = config(1);
        config.policies =
            vec![ContainerPolicy { retries: 3, retry_delay: Duration::from_millis(10), ..ContainerPolicy::default() }];
        let run = run_with(text, &engine, &config, &CancelToken::new());
        assert_eq!(run.outcomes[0].status, Status::Succeeded);
        assert_eq!(run.outcomes[0].attempts, 3);
        let delays: Vec<Duration> = run
            .events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Retrying { delay, .. } => Some(*delay),
                _ => None,
            })
            .collect();
        assert_eq!(delays, vec![Duration::from_millis(10), Duration::from_millis(20)]);
    }

    #[test]
    fn an_engine_failure_is_the_containers_error_not_an_exit_code() {
        let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x, dependencies: [a]}\n";
        let engine = FakeEngine::new([(
            "a",
            Script { create_fails: Some("no such image: x:latest".into()), ..Script::default() },
        )]);
        let run = run_with(text, &engine, &config(1), &CancelToken::new());
        assert_eq!(run.outcomes[0].status, Status::Failed);
        assert_eq!(run.outcomes[0].exit_code, None);
        match &run.outcomes[0].reason {
            Some(Reason::Engine(EngineError::Failed { stderr, .. })) => assert!(stderr.contains("no such image")),
            other => panic!("an engine error: {other:?}"),
        }
        assert_eq!(run.outcomes[1].status, Status::Cancelled);
    }

    /// A container with sidecars ends at about the same time as others: it is removed with its
    /// sidecars, and must not be named again in the batch of others (podman 4.3 then removes
    /// none of the batch: a CI run left a container behind that way).
    #[test]
    fn batched_removal_leaves_nothing_behind() {
        let text = "p:
  - {name: first, image_repo: x}
  - {name: second, image_repo: x, dependencies: [first]}
  - {name: third, image_repo: x}
  - {name: host, image_repo: x, sidecars: [{name: side, image_repo: x}]}
";
        let side = Script { runs_for: Duration::from_secs(30), ..Script::default() };
        let engine = FakeEngine::new([("side", side)]).with_batched_removal();
        let run = run_with(text, &engine, &config(4), &CancelToken::new());
        assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
        let calls = engine.calls();
        assert!(!calls.iter().any(|c| c.contains("none removed")), "{calls:#?}");
        assert_eq!(engine.leftovers(), (0, 0), "{calls:#?}");
    }

    #[test]
    fn sidecars_get_a_network_and_an_alias_and_are_removed() {
        let text = "p:\n  - name: a\n    image_repo: x\n    sidecars: [{name: cache, image_repo: httpd}]\n";
        let engine = FakeEngine::new([
            ("a", Script { output: vec!["main says hi".into()], ..Script::default() }),
            (
                "cache",
                Script { runs_for: Duration::from_secs(30), output: vec!["sidecar up".into()], ..Script::default() },
            ),
        ]);
        let run = run_with(text, &engine, &config(1), &CancelToken::new());
        assert_eq!(run.outcomes[0].status, Status::Succeeded);
        let requests = engine.requests();
        assert_eq!(requests[0].name, "q-a-cache");
        assert_eq!(requests[0].network.as_deref(), Some("q-a-net"));
        assert_eq!(requests[0].network_aliases, vec!["cache".to_string()]);
        assert!(requests[0].labels.contains(&("io.copili.role".into(), "sidecar".into())));
        assert_eq!(requests[1].network.as_deref(), Some("q-a-net"));
        assert_eq!(engine.leftovers(), (0, 0));
        let sidecar_lines = run
            .events
            .iter()
            .filter(|e| matches!(e, RunEvent::Output { sidecar: Some(s), .. } if s == "cache"))
            .count();
        assert_eq!(sidecar_lines, 1);
    }

    #[test]
    fn two_jobs_with_a_sidecar_of_the_same_name_stay_apart() {
        let text = "p:\n  - name: a\n    image_repo: x\n    sidecars: [&db {name: db, image_repo: httpd}]\n  - name: b\n    image_repo: x\n    sidecars: [*db]\n";
        // The mains run a moment, so that each sidecar's line is read before it is removed.
        let main = Script { runs_for: Duration::from_millis(300), ..Script::default() };
        let engine = FakeEngine::new([
            ("a", main.clone()),
            ("b", main),
            (
                "db",
                Script { runs_for: Duration::from_secs(30), output: vec!["sidecar up".into()], ..Script::default() },
            ),
        ]);
        let run = run_with(text, &engine, &config(2), &CancelToken::new());
        assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
        let mut sidecars: Vec<_> = engine
            .requests()
            .into_iter()
            .filter(|r| r.labels.contains(&("io.copili.role".into(), "sidecar".into())))
            .map(|r| {
                let key = r.labels.iter().find(|(k, _)| k == "io.copili.container").map(|(_, v)| v.clone());
                (r.name, r.network, r.network_aliases, key)
            })
            .collect();
        sidecars.sort();
        let expected = |main: &str| {
            (format!("q-{main}-db"), Some(format!("q-{main}-net")), vec!["db".to_string()], Some(format!("{main}/db")))
        };
        assert_eq!(sidecars, vec![expected("a"), expected("b")]);
        assert_eq!(engine.leftovers(), (0, 0));
        let mut lines: Vec<_> = run
            .events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Output { container, sidecar: Some(s), .. } => Some((*container, s.clone())),
                _ => None,
            })
            .collect();
        lines.sort();
        assert_eq!(lines, vec![(0, "db".to_string()), (1, "db".to_string())]);
    }

    fn image_events(run: &Run) -> Vec<(String, ImageEvent)> {
        run.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Image { image, event, .. } => Some((image.clone(), event.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_image_is_pulled_once_and_before_its_containers_start() {
        let text = "p:
  - {name: a, image_repo: reg.example.com/x}
  - {name: b, image_repo: reg.example.com/x, dependencies: [a]}
  - {name: c, image_repo: reg.example.com/x, sidecars: [{name: s, image_repo: reg.example.com/y}]}
  - {name: d, image_repo: reg.example.com/z, dependencies: [b], pull: never}
";
        let engine = FakeEngine::new([]).with_absent_images(&["reg.example.com/x:latest", "reg.example.com/y:latest"]);
        let run = run_with(text, &engine, &config(2), &CancelToken::new());
        assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded), "{:?}", statuses(&run));
        let calls = engine.calls();
        // In parallel: in either order.
        let mut pulls: Vec<&String> = calls.iter().filter(|c| c.starts_with("pull ")).collect();
        pulls.sort();
        assert_eq!(pulls, vec!["pull reg.example.com/x:latest", "pull reg.example.com/y:latest"]);
        let first_pull = calls.iter().position(|c| c == "pull reg.example.com/x:latest").expect("pulled");
        let first_create = calls.iter().position(|c| c.starts_with("create")).expect("created");
        assert!(first_pull < first_create, "{calls:?}");
        // `never` with a present image: no pull.
        assert!(!calls.contains(&"pull reg.example.com/z:latest".to_string()));
        assert!(image_events(&run).contains(&("reg.example.com/z:latest".into(), ImageEvent::Present)));
    }

    #[test]
    fn pull_never_with_an_absent_image_fails_at_once_and_cancels_dependents() {
        let text = "p:
  - {name: slow, image_repo: x}
  - {name: a, image_repo: absent, pull: never, dependencies: [slow]}
  - {name: b, image_repo: x, dependencies: [a]}
  - {name: other, image_repo: x}
";
        let slow = Script { runs_for: Duration::from_millis(400), ..Script::default() };
        let engine = FakeEngine::new([("slow", slow)]).with_absent_images(&["absent:latest"]);
        let run = run_with(text, &engine, &config(2), &CancelToken::new());
        assert_eq!(run.outcomes[1].status, Status::Failed);
        assert_eq!(
            run.outcomes[1].reason,
            Some(Reason::Image(ImageFailure::AbsentNever { image: "absent:latest".into() }))
        );
        assert_eq!(run.outcomes[1].attempts, 0);
        // At once: before the dependency it waits for has ended.
        let failed_at = run.outcomes[1].finished_at;
        assert!(failed_at.is_none() || failed_at < run.outcomes[0].finished_at);
        let a_finished = run
            .events
            .iter()
            .position(|e| matches!(e, RunEvent::ContainerFinished { container: 1, .. }))
            .expect("reported");
        let slow_finished = run
            .events
            .iter()
            .position(|e| matches!(e, RunEvent::ContainerFinished { container: 0, .. }))
            .expect("reported");
        assert!(a_finished < slow_finished, "a fails before slow ends");
        assert_eq!(run.outcomes[2].status, Status::Cancelled);
        assert_eq!(run.outcomes[2].reason, Some(dependency_failed("a")));
        assert_eq!((run.outcomes[0].status, run.outcomes[3].status), (Status::Succeeded, Status::Succeeded));
        assert!(!engine.calls().iter().any(|c| c.starts_with("pull")));
    }

    #[test]
    fn failed_pulls_are_retried_with_backoff_but_refused_credentials_are_not() {
        let text = "p:
  - {name: a, image_repo: reg.example.com/flaky}
  - {name: b, image_repo: reg.example.com/private, image_reg_username: u, image_reg_password: wrong}
  - {name: c, image_repo: reg.example.com/private2}
  - {name: d, image_repo: x}
";
        let engine = FakeEngine::new([])
            .with_absent_images(&[
                "reg.example.com/flaky:latest",
                "reg.example.com/private:latest",
                "reg.example.com/private2:latest",
            ])
            .with_pull_script(
                "reg.example.com/flaky:latest",
                PullScript { fail_times: 2, stderr: "Error: connection reset by peer".into(), ..PullScript::default() },
            )
            .with_pull_script(
                "reg.example.com/private:latest",
                PullScript {
                    fail_times: 9,
                    failure: PullFailure::CredentialsRefused,
                    stderr: "Error: logging into \"reg.example.com\": invalid username/password".into(),
                    ..PullScript::default()
                },
            )
            .with_pull_script(
                "reg.example.com/private2:latest",
                PullScript {
                    fail_times: 9,
                    failure: PullFailure::CredentialsMissing,
                    stderr: "Error response from daemon: Head \"https://reg.example.com/v2/private2/manifests/latest\": no basic auth credentials".into(),
                    ..PullScript::default()
                },
            );
        let mut config = config(4);
        config.images.pull_retry_delay = Duration::from_millis(10);
        let run = run_with(text, &engine, &config, &CancelToken::new());
        assert_eq!(run.outcomes[0].status, Status::Succeeded);
        let retries: Vec<Duration> = image_events(&run)
            .into_iter()
            .filter_map(|(image, e)| match e {
                ImageEvent::Retrying { delay, .. } if image == "reg.example.com/flaky:latest" => Some(delay),
                _ => None,
            })
            .collect();
        assert_eq!(retries, vec![Duration::from_millis(10), Duration::from_millis(20)]);
        let registry_failure = |c: usize| match &run.outcomes[c].reason {
            Some(Reason::Image(ImageFailure::Pull { failure, attempts })) => {
                (failure.kind, failure.registry.clone(), failure.error.step().map(String::from), *attempts)
            }
            other => panic!("a pull failure: {other:?}"),
        };
        let refused = (PullFailure::CredentialsRefused, "reg.example.com".to_string(), Some("login".to_string()), 1);
        assert_eq!(registry_failure(1), refused);
        let missing = (PullFailure::CredentialsMissing, "reg.example.com".to_string(), Some("pull".to_string()), 1);
        assert_eq!(registry_failure(2), missing);
        let calls = engine.calls();
        assert_eq!(calls.iter().filter(|c| *c == "pull reg.example.com/private:latest").count(), 1, "not retried");
        assert!(calls.contains(&"login reg.example.com".to_string()));
        assert_eq!(run.outcomes[3].status, Status::Succeeded);
    }

    #[test]
    fn three_failed_retries_fail_the_container() {
        let text = "p:\n  - {name: a, image_repo: r.io/x}\n  - {name: b, image_repo: y, dependencies: [a]}\n";
        let engine = FakeEngine::new([]).with_absent_images(&["r.io/x:latest"]).with_pull_script(
            "r.io/x:latest",
            PullScript {
                fail_times: 99,
                failure: PullFailure::NotFound,
                stderr: "Error: manifest unknown".into(),
                ..PullScript::default()
            },
        );
        let mut config = config(1);
        config.images.pull_retry_delay = Duration::from_millis(1);
        let run = run_with(text, &engine, &config, &CancelToken::new());
        match &run.outcomes[0].reason {
            Some(Reason::Image(ImageFailure::Pull { failure, attempts: 4 })) => {
                assert_eq!(
                    (failure.kind, failure.image.as_str(), failure.registry.as_str()),
                    (PullFailure::NotFound, "r.io/x:latest", "r.io")
                );
            }
            other => panic!("a pull failure after 4 attempts: {other:?}"),
        }
        assert_eq!(engine.calls().iter().filter(|c| c.starts_with("pull")).count(), 4);
        assert_eq!(run.outcomes[1].reason, Some(dependency_failed("a")));
    }

    #[test]
    fn a_missing_localhost_image_is_not_pulled() {
        let text = "p:\n  - {name: a, image_repo: localhost/gone}\n";
        let engine = FakeEngine::new([]).with_absent_images(&["localhost/gone:latest"]);
        let run = run_with(text, &engine, &config(1), &CancelToken::new());
        assert_eq!(
            run.outcomes[0].reason,
            Some(Reason::Image(ImageFailure::LocalOnly { image: "localhost/gone:latest".into() }))
        );
        assert!(!engine.calls().iter().any(|c| c.starts_with("pull")));
    }

    #[test]
    fn an_interrupt_stops_a_pull() {
        let text = "p:\n  - {name: a, image_repo: r.io/x}\n";
        let engine = FakeEngine::new([])
            .with_absent_images(&["r.io/x:latest"])
            .with_pull_script("r.io/x:latest", PullScript { takes: Duration::from_secs(30), ..PullScript::default() });
        let cancel = CancelToken::new();
        let canceller = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            canceller.cancel();
        });
        let started = Instant::now();
        let run = run_with(text, &engine, &config(1), &cancel);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(statuses(&run), vec![("cancelled", Some(Reason::Interrupted))]);
    }

    #[test]
    fn a_built_image_is_reused_while_its_inputs_are_unchanged() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("written");
        let text = format!("p:\n  - {{name: a, build: '{}'}}\n", dir.path().display());
        let engine = FakeEngine::new([]).with_absent_images(&["localhost/copili-p-a:latest"]);
        let first = run_with(&text, &engine, &config(1), &CancelToken::new());
        assert_eq!(first.outcomes[0].status, Status::Succeeded);
        assert!(first.events.iter().any(|e| matches!(e, RunEvent::BuildOutput { container: 0, .. })));
        let second = run_with(&text, &engine, &config(1), &CancelToken::new());
        assert!(image_events(&second).contains(&("localhost/copili-p-a:latest".into(), ImageEvent::UpToDate)));
        std::fs::write(dir.path().join("data.txt"), "new").expect("written");
        run_with(&text, &engine, &config(1), &CancelToken::new());
        assert_eq!(engine.calls().iter().filter(|c| c.starts_with("build")).count(), 2, "{:?}", engine.calls());
    }

    #[test]
    fn a_missing_build_context_fails_the_container() {
        let text = "p:\n  - {name: a, build: /nonexistent/copili-context}\n";
        let run = run_with(text, &FakeEngine::new([]), &config(1), &CancelToken::new());
        assert_eq!(run.outcomes[0].status, Status::Failed);
        assert!(matches!(
            &run.outcomes[0].reason,
            Some(Reason::Image(ImageFailure::ContextNotADirectory { written, .. })) if written == "/nonexistent/copili-context"
        ));
    }

    /// Records every call, in order.
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<String>>,
        ran_before: Vec<&'static str>,
        refuse: Vec<&'static str>,
    }

    impl Recorder {
        fn push(&self, call: String) {
            self.calls.lock().expect("not poisoned").push(call);
        }
        fn calls(&self) -> Vec<String> {
            self.calls.lock().expect("not poisoned").clone()
        }
    }

    impl Hooks for Recorder {
        fn did_run(&self, container: &ContainerSpec) -> bool {
            self.push(format!("did_run {}", container.name));
            self.ran_before.contains(&container.name.as_str())
        }
        fn before_pull(&self, image: &str, containers: &[&ContainerSpec]) {
            let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
            self.push(format!("before_pull {image} for {}", names.join(",")));
        }
        fn dependencies_met(
            &self,
            container: &ContainerSpec,
            finished: &Finished<'_>,
            default: Option<bool>,
        ) -> Option<bool> {
            let done: Vec<&str> = finished.iter().map(|(c, _)| c.name.as_str()).collect();
            self.push(format!("dependencies_met {} after [{}] -> {default:?}", container.name, done.join(",")));
            if self.refuse.contains(&container.name.as_str()) {
                return Some(false);
            }
            default
        }
        fn before_run(&self, container: &ContainerSpec) {
            self.push(format!("before_run {}", container.name));
        }
        fn after_run(&self, container: &ContainerSpec, outcome: &Outcome) {
            self.push(format!("after_run {} {}", container.name, outcome.status.as_str()));
        }
    }

    const THREE: &str = "p:
  - {name: a, image_repo: x}
  - {name: b, image_repo: y, dependencies: [a]}
  - {name: c, image_repo: x, dependencies: [b]}
";

    fn run_hooked(text: &str, hooks: &dyn Hooks) -> Run {
        let p = pipeline(text);
        let plan = copili_planner::plan(&p, &Selection::default()).expect("plannable");
        let events = Mutex::new(Vec::new());
        let engine = FakeEngine::new([]);
        let outcomes = run_with_hooks(&engine, &p, &plan, &config(1), &CancelToken::new(), hooks, &|e| {
            events.lock().expect("not poisoned").push(e)
        });
        Run { outcomes, events: events.into_inner().expect("not poisoned") }
    }

    #[test]
    fn hooks_are_called_in_order() {
        let hooks = Recorder::default();
        let run = run_hooked(THREE, &hooks);
        assert!(run.outcomes.iter().all(|o| o.status == Status::Succeeded));
        let calls = hooks.calls();
        // `dependencies_met` is asked whenever the runner looks: keep each container's "yes".
        let mut seen = std::collections::HashSet::new();
        let without_pulls: Vec<&str> = calls
            .iter()
            .map(String::as_str)
            .filter(|c| !c.starts_with("before_pull"))
            .filter(|c| !c.starts_with("dependencies_met") || (c.ends_with("Some(true)") && seen.insert(*c)))
            .collect();
        assert_eq!(
            without_pulls,
            vec![
                "did_run a",
                "did_run b",
                "did_run c",
                "dependencies_met a after [] -> Some(true)",
                "before_run a",
                "after_run a succeeded",
                "dependencies_met b after [a] -> Some(true)",
                "before_run b",
                "after_run b succeeded",
                "dependencies_met c after [a,b] -> Some(true)",
                "before_run c",
                "after_run c succeeded",
            ],
            "{calls:#?}"
        );
        // Images are prepared on several threads: their calls come in any order.
        let mut pulls: Vec<&String> = calls.iter().filter(|c| c.starts_with("before_pull")).collect();
        pulls.sort();
        assert_eq!(pulls, vec!["before_pull x:latest for a,c", "before_pull y:latest for b"]);
        let before_pull_x = calls.iter().position(|c| c.starts_with("before_pull x")).expect("called");
        let before_run_a = calls.iter().position(|c| c == "before_run a").expect("called");
        assert!(before_pull_x < before_run_a);
    }

    #[test]
    fn did_run_skips_a_container_and_counts_as_met() {
        let hooks = Recorder { ran_before: vec!["a", "b"], ..Recorder::default() };
        let run = run_hooked(THREE, &hooks);
        assert_eq!(
            statuses(&run),
            vec![
                ("skipped", Some(Reason::RanBefore { why: "it ran before (did_run)".into() })),
                ("skipped", Some(Reason::RanBefore { why: "it ran before (did_run)".into() })),
                ("succeeded", None)
            ]
        );
        let calls = hooks.calls();
        assert!(!calls.iter().any(|c| c == "before_run a" || c.starts_with("before_pull y")), "{calls:#?}");
        assert!(calls.contains(&"dependencies_met c after [a,b] -> Some(true)".to_string()), "{calls:#?}");
    }

    #[test]
    fn dependencies_met_false_cancels_the_container_and_its_dependents() {
        let hooks = Recorder { refuse: vec!["b"], ..Recorder::default() };
        let run = run_hooked(THREE, &hooks);
        assert_eq!(
            statuses(&run),
            vec![
                ("succeeded", None),
                ("cancelled", Some(Reason::HookRefused)),
                ("cancelled", Some(Reason::Dependency { name: "b".into(), end: DependencyEnd::Cancelled }))
            ]
        );
    }

    #[test]
    fn a_hook_that_never_says_yes_does_not_hang_the_run() {
        struct Never;
        impl Hooks for Never {
            fn dependencies_met(&self, c: &ContainerSpec, _: &Finished<'_>, default: Option<bool>) -> Option<bool> {
                if c.name == "c" {
                    None
                } else {
                    default
                }
            }
        }
        let run = run_hooked(THREE, &Never);
        assert_eq!(statuses(&run)[2], ("cancelled", Some(Reason::HookNeverMet)));
    }

    #[test]
    fn engine_names_are_sanitised() {
        assert_eq!(engine_name(&["My Pipeline", "load"]), "My-Pipeline-load");
        assert_eq!(engine_name(&["-x", "a"]), "c-x-a");
    }

    #[test]
    fn networks_that_do_not_exist_are_found_before_anything_runs() {
        let p = pipeline(
            "p:
  - {name: a, image_repo: x, networks: [graph, gone]}
  - name: b
    image_repo: x
    networks: [gone]
    sidecars: [{name: db, image_repo: x, networks: [also-gone, graph]}]
  - {name: c, image_repo: x, networks: [skipped-net], exlude_in_env: [PROD]}
",
        );
        let selection = Selection { environment: Some("PROD".into()), ..Selection::default() };
        let plan = copili_planner::plan(&p, &selection).expect("a plan");
        let engine = FakeEngine::new([]).with_networks(&["graph"]);
        let missing = missing_networks(&engine, &p, &plan).expect("the engine answers");
        let found: Vec<(&str, &str)> = missing.iter().map(|m| (m.container.as_str(), m.network.as_str())).collect();
        assert_eq!(found, [("a", "gone"), ("b", "gone"), ("b/db", "also-gone")]);
        // Nothing was created meanwhile.
        assert!(
            engine.calls().iter().all(|c| !c.starts_with("create") && !c.starts_with("run")),
            "{:?}",
            engine.calls()
        );
    }
}
