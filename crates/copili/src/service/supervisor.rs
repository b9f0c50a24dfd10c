//! The supervisor: the initial run, then each due group of service containers as a run of its
//! own (in dependency order, on a thread of its own, so that a long run does not delay the
//! others), never one container twice at once. The state is written after every run. A failure
//! never ends service mode; draining the cancel token does: nothing new starts, running
//! containers get `stop_timeout` to finish before they are stopped.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use copili_runtime::runner::{self, CancelToken, Hooks, Outcome, RunConfig, RunEvent, Status};
use copili_runtime::Engine;
use copili_state::RunCommand;

use crate::report::RunInfo;
use crate::run_state::{ImageIds, RecordedRun, RunState, SkipPolicy};
use crate::service::clock::Clock;
use crate::service::event::{ServiceEvent, ServiceReporter};
use crate::service::schedule::{ServiceSchedule, Timing};
use crate::{exit_code, Pipeline, Plan};

/// Why service mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The state could not tell what the initial run skips.
    #[error("{0}")]
    SkipPolicy(String),
}

/// Service mode over the parts of a session: the pipeline, its plans, the engine, the run's
/// configuration and the state.
pub struct Supervisor<'a> {
    /// The pipeline.
    pub pipeline: &'a Pipeline,
    /// The initial run's plan (the whole selection).
    pub plan: &'a Plan,
    /// The plan of a service run: every service container, of which the due ones run.
    pub service_plan: &'a Plan,
    /// The engine.
    pub engine: &'a dyn Engine,
    /// How to run; each run gets a run id of its own, `<run_id>-<n>`.
    pub config: &'a RunConfig,
    /// The state, written after every run.
    pub state: &'a RunState,
    /// Each scheduled service container: index, name, timing and `catch_up`, in plan order.
    pub timings: Vec<(usize, String, Timing, bool)>,
    /// Whether the whole pipeline runs once first.
    pub initial_run: bool,
    /// `--force`: the initial run reruns `run_once` containers.
    pub force: bool,
}

/// What the loop hears from the service runs.
enum Ended {
    /// A container ended.
    Container(usize),
    /// A run ended; the containers of it that never started.
    Run(Vec<usize>),
}

/// Skips, in a service run, the service containers that are not due (they count as met:
/// whether they ever succeeded was checked before the run started).
struct DueOnly {
    due: HashSet<usize>,
    names: HashMap<String, usize>,
    /// Told as soon as each of them ends, so that it can be due again while others of its run
    /// still run.
    ended: Mutex<mpsc::Sender<Ended>>,
}

impl Hooks for DueOnly {
    fn did_run(&self, container: &copili_model::ContainerSpec) -> bool {
        self.names.get(&container.name).is_none_or(|c| !self.due.contains(c))
    }

    fn did_run_reason(&self, _container: &copili_model::ContainerSpec) -> String {
        "not due".into()
    }

    fn after_run(&self, container: &copili_model::ContainerSpec, _outcome: &Outcome) {
        if let Some(&c) = self.names.get(&container.name) {
            let _ = self.ended.lock().unwrap_or_else(PoisonError::into_inner).send(Ended::Container(c));
        }
    }
}

/// How often the grace-period watcher looks at the cancel token.
const WATCH: Duration = Duration::from_millis(50);

impl Supervisor<'_> {
    /// Runs service mode until `cancel` is drained (or cancelled) and every run has ended.
    pub fn run(
        &self,
        clock: &dyn Clock,
        cancel: &CancelToken,
        reporter: &dyn ServiceReporter,
    ) -> Result<(), ServiceError> {
        let runs = AtomicUsize::new(0);
        let next_run_id = || format!("{}-{}", self.config.run_id, runs.fetch_add(1, Ordering::SeqCst) + 1);
        let watcher_done = AtomicBool::new(false);
        let result: Result<(), ServiceError> = std::thread::scope(|scope| {
            scope.spawn(|| self.watch_grace_period(cancel, &watcher_done));
            let result = self.schedule_loop(scope, clock, cancel, reporter, &next_run_id);
            watcher_done.store(true, Ordering::SeqCst);
            result
        });
        result?;
        // Nothing is scheduled any more: `copili status` then says when service mode would run
        // each one if it started now, not what this one would have done.
        let cleared = self.state.update(|s| s.service.values_mut().for_each(|record| record.next_due = None));
        if let Err(e) = &cleared {
            reporter.event(&ServiceEvent::StateNotWritten(e));
        }
        reporter.event(&ServiceEvent::Stopped);
        Ok(())
    }

    /// Stops what runs once the grace period after the stop request (the token drained) is over.
    fn watch_grace_period(&self, cancel: &CancelToken, done: &AtomicBool) {
        let mut requested: Option<Instant> = None;
        while !done.load(Ordering::SeqCst) {
            if cancel.is_draining() {
                let at = *requested.get_or_insert_with(Instant::now);
                if at.elapsed() >= self.config.stop_timeout {
                    cancel.cancel_now();
                    return;
                }
            }
            std::thread::sleep(WATCH);
        }
    }

    fn schedule_loop<'scope, 'env>(
        &'env self,
        scope: &'scope std::thread::Scope<'scope, 'env>,
        clock: &'env dyn Clock,
        cancel: &'env CancelToken,
        reporter: &'env dyn ServiceReporter,
        next_run_id: &(dyn Fn() -> String + Sync),
    ) -> Result<(), ServiceError> {
        let spec = self.pipeline.spec();
        // The initial run: the whole pipeline, as `copili run`.
        let mut ran_initially = vec![false; spec.containers.len()];
        if self.initial_run {
            let policy = SkipPolicy::new(&self.state.lock(), self.force, false).map_err(ServiceError::SkipPolicy)?;
            let containers: Vec<usize> = self.plan.order().collect();
            let outcomes = self.run_once(clock, reporter, &policy, &containers, &next_run_id(), cancel, true);
            for (c, outcome) in outcomes.iter().enumerate() {
                ran_initially[c] = outcome.attempts > 0;
            }
        }

        let (mut schedule, catch_up_now) =
            ServiceSchedule::start(self.timings.clone(), &self.state.lock(), clock.now(), &|c| ran_initially[c]);
        let stopping = cancel.is_draining();
        if self.timings.is_empty() && !stopping {
            reporter.event(&ServiceEvent::NothingToSchedule);
        }
        for entry in schedule.entries.iter().filter(|_| !stopping) {
            reporter.event(&ServiceEvent::Scheduled {
                name: &entry.name,
                next_due: entry.next_due,
                timing: &entry.timing,
            });
        }
        self.save_schedule(reporter, &schedule);

        let (done_tx, done_rx) = mpsc::channel::<Ended>();
        let mut pending_start = catch_up_now;
        let mut catching_up = !pending_start.is_empty();
        let mut in_flight = 0usize;
        loop {
            while let Ok(ended) = done_rx.try_recv() {
                let finished = match ended {
                    Ended::Container(c) => vec![c],
                    Ended::Run(containers) => {
                        in_flight -= 1;
                        containers
                    }
                };
                for c in finished {
                    let was_running = schedule.entry(c).is_some_and(|e| e.running);
                    schedule.finished(c);
                    if let (Some(entry), true) = (schedule.entry(c), was_running) {
                        reporter.event(&ServiceEvent::NextDue {
                            name: &entry.name,
                            next_due: entry.next_due,
                            timing: &entry.timing,
                        });
                    }
                }
                self.save_schedule(reporter, &schedule);
            }
            if cancel.is_draining() {
                if in_flight == 0 {
                    break;
                }
                clock.wait_for_runs();
                continue;
            }
            let now = clock.now();
            let due = schedule.take_due(now);
            for &c in &due.still_running {
                if let Some(entry) = schedule.entry(c) {
                    reporter.event(&ServiceEvent::SkippedOverlap {
                        name: &entry.name,
                        next_due: entry.next_due,
                        timing: &entry.timing,
                    });
                }
            }
            pending_start.extend(due.run);
            if !pending_start.is_empty() {
                let mut group: Vec<usize> = std::mem::take(&mut pending_start);
                group.sort_unstable();
                group.dedup();
                let names: Vec<&str> = group.iter().map(|&c| spec.containers[c].name.as_str()).collect();
                reporter.event(&ServiceEvent::Due { names: names.clone(), at: now, catch_up: catching_up });
                catching_up = false;
                // A dependency outside the group must have succeeded at some time, or last
                // ended in a way the dependent accepts: an allowed failure, or any failure for
                // `condition: completed`.
                let (succeeded, last_failed): (HashSet<String>, HashMap<String, Option<i32>>) = {
                    let state = self.state.lock();
                    let succeeded =
                        state.containers.iter().filter(|(_, r)| r.last_success_at.is_some()).map(|(n, _)| n.clone());
                    let failed = state
                        .containers
                        .iter()
                        .filter(|(_, r)| r.status == copili_state::ContainerStatus::Failed)
                        .map(|(n, r)| (n.clone(), r.exit_code));
                    (succeeded.collect(), failed.collect())
                };
                let met = |c: usize, d: &String| {
                    names.contains(&d.as_str())
                        || succeeded.contains(d)
                        || last_failed.get(d).is_some_and(|&code| {
                            spec.containers[c].condition_of(d) == copili_model::DependencyCondition::Completed
                                || spec.containers.iter().any(|x| &x.name == d && x.allow_failure().allows(code))
                        })
                };
                let (ready, unmet): (Vec<usize>, Vec<usize>) =
                    group.iter().partition(|&&c| spec.containers[c].dependencies.iter().all(|d| met(c, d)));
                for c in unmet {
                    let container = &spec.containers[c];
                    let missing: Vec<&str> =
                        container.dependencies.iter().filter(|d| !met(c, d)).map(String::as_str).collect();
                    reporter.event(&ServiceEvent::SkippedDependency { name: &container.name, missing });
                    schedule.finished(c);
                }
                self.save_schedule(reporter, &schedule);
                if !ready.is_empty() {
                    let started = clock.now();
                    let recorded = self.state.update(|s| {
                        for &c in &ready {
                            s.service_mut(&spec.containers[c].name).last_run_started = Some(started);
                        }
                    });
                    if let Err(e) = &recorded {
                        reporter.event(&ServiceEvent::StateNotWritten(e));
                    }
                    in_flight += 1;
                    let run_id = next_run_id();
                    let done_tx = done_tx.clone();
                    let hooks = DueOnly {
                        due: ready.iter().copied().collect(),
                        names: self.timings.iter().map(|(c, name, ..)| (name.clone(), *c)).collect(),
                        ended: Mutex::new(done_tx.clone()),
                    };
                    scope.spawn(move || {
                        let outcomes = self.run_once(clock, reporter, &hooks, &ready, &run_id, cancel, false);
                        // Those that started were released by `after_run` as they ended (and may
                        // run again by now); only those that never started are released here.
                        let never_started: Vec<usize> = ready
                            .iter()
                            .copied()
                            .filter(|&c| outcomes.get(c).is_none_or(|o| o.attempts == 0))
                            .collect();
                        let _ = done_tx.send(Ended::Run(never_started));
                    });
                }
            }
            // Until the next slot, waking for signals and ended runs.
            clock.wait(schedule.next_wakeup(), in_flight > 0, cancel);
        }
        Ok(())
    }

    /// Writes each service container's last and next due time.
    fn save_schedule(&self, reporter: &dyn ServiceReporter, schedule: &ServiceSchedule) {
        let result = self.state.update(|s| {
            for entry in &schedule.entries {
                let record = s.service_mut(&entry.name);
                record.last_due = entry.last_due;
                record.next_due = Some(entry.next_due);
            }
        });
        if let Err(e) = &result {
            reporter.event(&ServiceEvent::StateNotWritten(e));
        }
    }

    /// One run of `containers` (the whole plan, or a due group of service containers) with its
    /// reporters, recorded in the state. The initial run reports everything; a service run only
    /// its own containers.
    #[allow(clippy::too_many_arguments)]
    fn run_once(
        &self,
        clock: &dyn Clock,
        reporter: &dyn ServiceReporter,
        hooks: &dyn Hooks,
        containers: &[usize],
        run_id: &str,
        cancel: &CancelToken,
        initial: bool,
    ) -> Vec<Outcome> {
        let spec = self.pipeline.spec();
        let plan = if initial { self.plan } else { self.service_plan };
        let mut config = self.config.clone();
        config.run_id = run_id.to_string();
        if !initial {
            // A name of its own: the previous instance of a container may still be being removed.
            config.instance = run_id.rsplit('-').next().map(|n| format!("s{n}"));
        }
        let started_at = SystemTime::now();
        let info = RunInfo::new(self.pipeline, run_id, self.engine.name(), started_at);
        let reporters = Mutex::new(reporter.run_reporter(&info, initial));
        let mine: HashSet<usize> = containers.iter().copied().collect();
        let names: Vec<&str> = containers.iter().map(|&c| spec.containers[c].name.as_str()).collect();
        reporter.event(&ServiceEvent::RunStarted { run_id, names, initial, at: clock.now() });
        let ids = ImageIds::default();
        let flush = || reporters.lock().unwrap_or_else(PoisonError::into_inner).flush();
        let mut outcomes = crate::report::flushing_periodically(flush, || {
            runner::run_with_hooks(self.engine, spec, plan, &config, cancel, hooks, &|event: RunEvent| {
                if crate::handlers::is_handler_skip(&event) {
                    return;
                }
                ids.note(&event);
                let about_others = match &event {
                    RunEvent::ContainerFinished { container, .. } => !mine.contains(container),
                    _ => false,
                };
                if initial || !about_others {
                    reporters.lock().unwrap_or_else(PoisonError::into_inner).event(&event);
                }
            })
        });
        let relevant: Vec<&Outcome> = containers.iter().filter_map(|&c| outcomes.get(c)).collect();
        let code = if relevant.iter().all(|o| o.status.is_ok() || o.status == Status::Skipped) {
            exit_code::SUCCESS
        } else {
            exit_code::FAILURE
        };
        // The handlers, after this run's containers, with this run's outcome.
        let end = crate::handlers::RunEnd::among(spec, &outcomes, containers);
        let due = crate::handlers::due(spec, plan, &end);
        if !due.is_empty() {
            let summary = crate::report::RunSummary {
                outcomes: outcomes.clone(),
                finished_at: SystemTime::now(),
                exit_code: code,
            };
            let report = match crate::handlers::ReportDir::write(&info, None, &summary) {
                Ok(report) => Some(report),
                Err(e) => {
                    reporter.event(&ServiceEvent::ReportNotWritten(&e.to_string()));
                    None
                }
            };
            let path = report.as_ref().map(crate::handlers::ReportDir::path);
            let handled = crate::report::flushing_periodically(flush, || {
                crate::handlers::run(self.engine, spec, plan, &due, &config, cancel, &end, path.as_deref(), &|event| {
                    ids.note(&event);
                    reporters.lock().unwrap_or_else(PoisonError::into_inner).event(&event);
                })
            });
            crate::handlers::merge(&mut outcomes, handled);
        }
        let finished_at = SystemTime::now();
        let record = RecordedRun {
            run_id,
            command: if initial { RunCommand::Run } else { RunCommand::Service },
            outcomes: &outcomes,
            containers,
            image_ids: &ids.take(),
            started_at,
            finished_at,
            exit_code: code,
        };
        if let Err(e) = self.state.record_run(spec, &record) {
            reporter.event(&ServiceEvent::StateNotWritten(&e));
        }
        let results: Vec<(&str, Status)> = containers
            .iter()
            .chain(&due)
            .filter_map(|&c| outcomes.get(c).map(|o| (spec.containers[c].name.as_str(), o.status)))
            .collect();
        reporter.event(&ServiceEvent::RunFinished { run_id, results, initial });
        let mut reporters = reporters.into_inner().unwrap_or_else(PoisonError::into_inner);
        reporters.finish(&crate::report::RunSummary { outcomes: outcomes.clone(), finished_at, exit_code: code });
        for error in reporters.errors() {
            reporter.event(&ServiceEvent::ReportNotWritten(&error));
        }
        outcomes
    }
}
