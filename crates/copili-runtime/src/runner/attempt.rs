//! One container's attempts (a worker thread): its sidecars on a network of their own, each
//! ready check, the main container followed to its end, the stop on a timeout or an
//! interrupt, retries with backoff, and the cleanup on every path out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use copili_model::ContainerSpec;

use crate::engine::{Engine, EngineError, ExitStatus};
use crate::reason::Reason;

use super::cancel::sleep_unless_cancelled;
use super::naming::{copili_labels, sidecar_key};
use super::request::{main_request, request_for};
use super::{CancelToken, ContainerPolicy, Outcome, RunConfig, RunEvent, Status};

/// How one attempt ended.
enum Attempt {
    Exited(ExitStatus),
    SidecarNotReady { sidecar: String, after: Duration },
    TimedOut(Duration),
    Interrupted(Option<ExitStatus>),
    EngineFailed(EngineError),
}

/// One container with its retries. `created_ahead`: the coordinator created its main
/// container already (see [`super::ahead`]); the first attempt starts it, a retry creates a
/// fresh one.
pub(super) fn run_container(
    engine: &dyn Engine,
    spec: &ContainerSpec,
    container: usize,
    created_ahead: bool,
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
    if let Err(reason) = super::outputs::prepare_dir(config, spec) {
        return Outcome { started_at, finished_at: started_at, ..Outcome::not_run(Status::Failed, reason) };
    }
    let mut delay = policy.retry_delay;
    let mut attempt = 0;
    loop {
        attempt += 1;
        on_event(RunEvent::ContainerStarted { container, attempt });
        let created = created_ahead && attempt == 1;
        let result = attempt_once(engine, spec, container, created, config, policy, cancel, on_event);
        let finished_at = Some(SystemTime::now());
        let done = |status, exit_code, reason: Option<Reason>| Outcome {
            status,
            exit_code,
            attempts: attempt,
            started_at,
            finished_at,
            reason,
            outputs: Vec::new(),
        };
        let (exit_code, reason) = match result {
            // Its outputs are part of succeeding: unreadable ones fail it (not retried: the
            // same program would write them again).
            Attempt::Exited(ExitStatus { code: 0, .. }) => {
                return match super::outputs::read(config, &spec.name) {
                    Ok(outputs) => Outcome { outputs, ..done(Status::Succeeded, Some(0), None) },
                    Err(reason) => done(Status::Failed, Some(0), Some(reason)),
                };
            }
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

#[allow(clippy::too_many_arguments)]
fn attempt_once(
    engine: &dyn Engine,
    spec: &ContainerSpec,
    container: usize,
    created: bool,
    config: &RunConfig,
    policy: ContainerPolicy,
    cancel: &CancelToken,
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> Attempt {
    let identity = config.identity.as_str();
    let main_name = config.engine_name(&[&spec.name]);
    let mut cleanup = Cleanup { engine, containers: Vec::new(), network: None };
    // Set once the sidecars are removed: their followers should end then, and are given up
    // past the engine's bound.
    let removed = AtomicBool::new(false);
    let removed = &removed;
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
                    on_event(RunEvent::SidecarStarted { container, sidecar: sidecar.name.clone() });
                    let sidecar_name = sidecar.name.clone();
                    if let Some(check) = &sidecar.ready {
                        ready_checks.push((sidecar.name.clone(), id.clone(), check));
                    }
                    let following = following_tx.clone();
                    let follow = move || {
                        let _ = following.send(());
                        let on_output = &mut |lines| {
                            on_event(RunEvent::Output { container, sidecar: Some(sidecar_name.clone()), lines })
                        };
                        let _ = engine.follow_logs_until_removed(&id, on_output, &|| removed.load(Ordering::SeqCst));
                    };
                    if engine.is_dry_run() {
                        // A dry run's `logs --follow` only shows the command: at its place, in
                        // the order a run makes the calls, not whenever a thread gets to it.
                        follow();
                    } else {
                        scope.spawn(follow);
                    }
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
                    on_event(RunEvent::SidecarReady { container, sidecar: name });
                }
            }
            if cancel.is_cancelled() {
                return Attempt::Interrupted(None);
            }
            let request = main_request(spec, config, network.as_deref());
            // Without sidecars, the main container is removed by the caller once its outcome is
            // reported (the engine knows it by its name). With them it must go before their
            // network, which cannot be removed while a container is attached.
            if network.is_some() {
                cleanup.containers.push((main_name.clone(), None));
            }
            let id = main_name.clone();
            let (wait_tx, wait_rx) = mpsc::channel();
            scope.spawn(move || {
                let on_output = &mut |lines| on_event(RunEvent::Output { container, sidecar: None, lines });
                let result = if created {
                    engine.start_attached(&request.name, on_output)
                } else {
                    engine.run_attached(&request, on_output)
                };
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
        removed.store(true, Ordering::SeqCst);
        result
    })
}
