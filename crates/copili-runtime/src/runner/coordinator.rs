//! The coordinator: the scheduling loop on the caller's thread. It owns the state of every
//! container, starts each as soon as its dependencies succeeded and its images are ready (at
//! most `jobs` at once), cancels the dependents of a failure (not those of an allowed failure,
//! nor those that need a dependency only to have ended: `condition: completed`), and removes what ended off the
//! critical path. Images are prepared meanwhile on threads of their own, and the containers
//! that will start next are created ahead while their dependencies run (`ahead.rs`).

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use copili_model::{ContainerSpec, DependencyCondition, Pipeline};
use copili_planner::Plan;

use crate::engine::Engine;
use crate::images::{ImageEvent, ImageJob};
use crate::reason::{Cancelling, DependencyEnd, ImageFailure, Reason};

use super::ahead::{worth_creating, Ahead};
use super::attempt::run_container;
use super::naming::PIPELINE_LABEL;
use super::pacing::Starts;
use super::removal::{Removals, Starting};
use super::request::main_request;
use super::{CancelToken, Finished, Hooks, NoHooks, Outcome, RunConfig, RunEvent, Status};

enum Message {
    Done { container: usize, outcome: Outcome },
    Image { job: usize, result: Result<(), ImageFailure> },
    Created { container: usize, ok: bool },
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

/// Where creating contends with starting, how long starting must have been quiet before a
/// container that only waits for a slot is created ahead (one whose dependency runs or is
/// created ahead does not wait for this).
const AHEAD_QUIET: Duration = Duration::from_secs(1);

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
    let uses_outputs: Vec<bool> = pipeline.containers.iter().map(copili_planner::outputs::uses_outputs).collect();
    // What each container needs of each of its dependencies, in the same order.
    let conditions: Vec<Vec<DependencyCondition>> = dependencies
        .iter()
        .enumerate()
        .map(|(c, deps)| {
            let spec = &pipeline.containers[c];
            deps.iter().map(|&d| spec.condition_of(&pipeline.containers[d].name)).collect()
        })
        .collect();
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
    let mut removals = Removals::new(engine);
    let mut last_start = Instant::now();
    let mut starts = Starts::new(engine);
    let mut ahead = Ahead::new(n, jobs, engine.creates_ahead());
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
                    let blocker = blocking_dependency(&dependencies[c], &conditions[c], plan, &outcomes);
                    let default = match blocker {
                        Some(_) => Some(false),
                        None if dependencies_met(&dependencies[c], &conditions[c], plan, &outcomes, &ran_before) => {
                            Some(true)
                        }
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
                        let outcome = Outcome::not_run(Status::Failed, reason);
                        finish(&mut outcomes, c, outcome.allowed_by(pipeline.containers[c].allow_failure()));
                    }
                }
            }
            // Images no unfinished container needs any more are not pulled.
            for (j, job) in queue.jobs.iter().enumerate() {
                if job.users.iter().all(|&c| outcomes[c].is_some()) {
                    queue.wanted[j].store(false, Ordering::SeqCst);
                }
            }
            // Containers created ahead that will not run after all are removed as ended ones
            // are.
            for c in ahead.not_needed(&outcomes) {
                if let Some(name) = removals.ended(config.engine_name(&[&pipeline.containers[c].name])) {
                    scope.spawn(move || {
                        let _ = engine.remove(&name);
                    });
                }
            }
            // Start what is ready, in plan order, while slots are free.
            let mut started_any = false;
            for &c in &to_run {
                if running >= jobs || !starts.has_room() || cancel.is_draining() || failed_fast.is_some() {
                    break;
                }
                if outcomes[c].is_some() || is_running[c] || !ready[c] {
                    continue;
                }
                if !needs[c].iter().all(|&j| matches!(images[j], Some(Ok(())))) {
                    continue;
                }
                // Being created ahead: started once its `create` returned, in a moment.
                if ahead.is_creating(c) {
                    continue;
                }
                let created_ahead = ahead.take_for_start(c);
                // `${{ steps.NAME.outputs.KEY }}` are known now that its dependencies ended.
                let spec = match super::outputs::resolve(&pipeline.containers[c], pipeline, &outcomes) {
                    Ok(spec) => spec,
                    Err(reason) => {
                        finish(&mut outcomes, c, Outcome::not_run(Status::Failed, reason));
                        continue;
                    }
                };
                running += 1;
                is_running[c] = true;
                starts.started(c);
                started_any = true;
                let tx = tx.clone();
                last_start = Instant::now();
                scope.spawn(move || {
                    let spec = &*spec;
                    hooks.before_run(spec);
                    let outcome = run_container(engine, spec, c, created_ahead, config, cancel, on_event)
                        .allowed_by(spec.allow_failure());
                    hooks.after_run(spec, &outcome);
                    let _ = tx.send(Message::Done { container: c, outcome });
                });
            }
            // Create ahead, in plan order, the containers that will start next: those whose
            // dependencies run or are created ahead themselves, and those waiting for a slot.
            // On podman this is `create` and `init` (storage, network, the runtime's process),
            // a third of a short container's `run`, done beside its dependency's start.
            for &c in &to_run {
                if !ahead.has_room() || cancel.is_draining() || failed_fast.is_some() {
                    break;
                }
                let spec = &pipeline.containers[c];
                // Outputs of steps are known only when it starts.
                if outcomes[c].is_some()
                    || is_running[c]
                    || !ahead.may_create(c)
                    || !spec.sidecars.is_empty()
                    || uses_outputs[c]
                {
                    continue;
                }
                // A container that only waits for a slot, in a wide level of short containers,
                // would be created and initialised beside the starts of the others (three
                // clients instead of one `run`: 100 × `true` on podman went from 1.14 to 1.43 ×
                // the raw engine): it is created ahead once starting has been quiet a while.
                // A dependency created ahead counts as on its way only while its own
                // dependencies run (or are done): a chain is created two steps ahead, not as
                // far as the window allows. Creating further gains nothing (each step's create
                // is done long before its dependency ends) and puts every `create` beside the
                // first start: nine of them made docker's first `run` of a chain of ten take
                // 1.06 s instead of 0.35 s at the default `--jobs`.
                let on_its_way = |d: usize| {
                    is_running[d] || (ahead.is_ahead(d) && !dependencies[d].iter().any(|&e| ahead.is_ahead(e)))
                };
                let coming = dependencies[c].iter().any(|&d| on_its_way(d));
                if !coming && engine.removal_contends_with_start() && last_start.elapsed() < AHEAD_QUIET {
                    continue;
                }
                if !needs[c].iter().all(|&j| matches!(images[j], Some(Ok(()))))
                    || !worth_creating(&dependencies[c], plan, &outcomes, &ran_before, &on_its_way, ready[c])
                {
                    continue;
                }
                ahead.creating(c);
                let tx = tx.clone();
                scope.spawn(move || {
                    // Its `/copili/out` must exist before the engine mounts it.
                    let ok = super::outputs::prepare_dir(config, spec).is_ok()
                        && engine.create_ahead(&main_request(spec, config, None)).is_ok();
                    let _ = tx.send(Message::Created { container: c, ok });
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
            // Ended main containers are removed off the critical path (`removal.rs`).
            let starting = Starting { in_progress: starts.in_progress(), last: last_start };
            if let Some(batch) = removals.due(starting) {
                scope.spawn(move || {
                    let _ = engine.remove_all(&batch.names);
                });
            }
            if running == 0 && ahead.in_flight() == 0 && order.iter().all(|&c| outcomes[c].is_some()) {
                queue.over.store(true, Ordering::SeqCst);
                if let Some(batch) = removals.rest() {
                    let _ = engine.remove_all(&batch.names);
                }
                break;
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Message::Done { container, outcome }) => {
                    running -= 1;
                    is_running[container] = false;
                    starts.ended(container);
                    // A main container with sidecars was removed with them, before their
                    // network, by its own thread; the others are removed here.
                    let spec = &pipeline.containers[container];
                    if spec.sidecars.is_empty() {
                        if let Some(name) = removals.ended(config.engine_name(&[&spec.name])) {
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
                Ok(Message::Created { container, ok }) => ahead.created(container, ok),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    super::outputs::remove_empty(config.outputs_dir.as_deref(), &config.run_id);
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
        let labels = vec![(PIPELINE_LABEL.to_string(), config.identity.clone())];
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

/// All dependencies met their condition or ran before (a static dependency of a service-only
/// run counts as met: it ran before). `succeeded` is met by a success or an allowed failure,
/// `completed` by any end of a container that was not cancelled or left out.
fn dependencies_met(
    dependencies: &[usize],
    conditions: &[DependencyCondition],
    plan: &Plan,
    outcomes: &[Option<Outcome>],
    ran_before: &[bool],
) -> bool {
    dependencies.iter().copied().zip(conditions.iter().copied()).all(|(d, condition)| {
        if plan.is_selected(d) {
            ran_before[d]
                || matches!(&outcomes[d], Some(o) if o.status.is_ok()
                    || (condition == DependencyCondition::Completed && o.status.is_failure()))
        } else {
            plan.exclusion(d).is_some_and(|r| r.kind() == "service")
        }
    })
}

/// A dependency that decided this container will not run: it failed (not allowed, unless the
/// condition is `completed`) or was cancelled, or it was left out of the run (excluded in the
/// environment, `--skip`), as in copili 1.4.
fn blocking_dependency(
    dependencies: &[usize],
    conditions: &[DependencyCondition],
    plan: &Plan,
    outcomes: &[Option<Outcome>],
) -> Option<usize> {
    dependencies.iter().copied().zip(conditions.iter().copied()).find_map(|(d, condition)| {
        let blocks = match &outcomes[d] {
            Some(o) if o.status == Status::Cancelled => true,
            Some(o) if o.status == Status::Failed => condition == DependencyCondition::Succeeded,
            _ => false,
        };
        (blocks || (!plan.is_selected(d) && plan.exclusion(d).is_some_and(|r| r.kind() != "service"))).then_some(d)
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
