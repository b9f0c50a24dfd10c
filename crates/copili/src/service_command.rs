//! `copili service` and `copili status`.
//!
//! Service mode is the seed's `p.run()` then `p.start_service_mode()`: the whole pipeline runs
//! once, then the service containers rerun on their schedules ([`copili::service`]), each due
//! group as a run of its own (in dependency order, on a thread of its own, so that a long run
//! does not delay the others), never one container twice at once. The lock is held throughout;
//! the state is written after every run. A failure never ends service mode. The first SIGTERM
//! or SIGINT stops scheduling and gives running containers `--stop-timeout` to finish before they
//! are stopped; everything is removed and copili exits 0. A second signal stops them at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use copili::exit_code;
use copili::report::{Reporter as _, RunInfo, RunSummary};
use copili::run_state::{RecordedRun, RunState, SkipPolicy};
use copili::service::{local_time, ServiceSchedule, Timing};
use copili_runtime::runner::{self, CancelToken, Hooks, RunEvent, Status};
use copili_schedule::jiff::{tz::TimeZone, Timestamp};
use copili_schedule::Schedule;
use copili_state::RunCommand;

use crate::cli::{InputArgs, PlanFormat, RunArgs, ScheduleArgs, ServiceArgs};
use crate::output::{errln, outln};
use crate::run_command::{record_state, reporters_for, start_session, Session};

/// The run's default schedule and zone (`--every` / `--cron`, `--timezone`).
struct Defaults {
    schedule: Schedule,
    zone: TimeZone,
    zone_name: String,
}

fn defaults(args: &ScheduleArgs) -> Result<Defaults, String> {
    let schedule = crate::cli::default_schedule(args.every.as_deref(), args.cron.as_deref())?;
    let zone_name = args.timezone.clone().unwrap_or_else(|| "local".into());
    let zone = copili_schedule::parse_time_zone(&zone_name).map_err(|e| format!("--timezone: {e}"))?;
    Ok(Defaults { schedule, zone, zone_name })
}

/// Each service container's timing: its own schedule and zone, else the run's.
fn timings(
    spec: &copili::model::Pipeline,
    containers: &[usize],
    defaults: &Defaults,
) -> Result<Vec<(usize, String, Timing, bool)>, String> {
    let mut out = Vec::new();
    for &c in containers {
        let container = &spec.containers[c];
        let (zone, zone_name) = match &container.timezone {
            Some(name) => {
                (copili_schedule::parse_time_zone(name).map_err(|e| format!("{}: {e}", container.name))?, name.clone())
            }
            None => (defaults.zone.clone(), defaults.zone_name.clone()),
        };
        let schedule = container.schedule.as_deref().cloned().unwrap_or_else(|| defaults.schedule.clone());
        out.push((c, container.name.clone(), Timing { schedule, zone, zone_name }, container.catch_up));
    }
    Ok(out)
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

/// What the scheduling loop hears from the service runs.
enum Ended {
    /// A container ended.
    Container(usize),
    /// A run ended; the containers of it that never started.
    Run(Vec<usize>),
}

impl Hooks for DueOnly {
    fn did_run(&self, container: &copili::model::ContainerSpec) -> bool {
        self.names.get(&container.name).is_none_or(|c| !self.due.contains(c))
    }

    fn did_run_reason(&self, _container: &copili::model::ContainerSpec) -> String {
        "not due".into()
    }

    fn after_run(&self, container: &copili::model::ContainerSpec, _outcome: &copili::Outcome) {
        if let Some(&c) = self.names.get(&container.name) {
            let _ = self.ended.lock().unwrap_or_else(PoisonError::into_inner).send(Ended::Container(c));
        }
    }
}

/// How service mode is being stopped.
#[derive(Default)]
struct Stop {
    /// First signal: start nothing more; running containers get the grace period.
    requested: AtomicBool,
    /// When it was requested.
    at: Mutex<Option<Instant>>,
    /// Signals received.
    count: AtomicUsize,
}

fn watch_stop_signals(stop: &Arc<Stop>, cancel: &CancelToken) -> anyhow::Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    let (stop, cancel) = (Arc::clone(stop), cancel.clone());
    std::thread::spawn(move || {
        for _ in signals.forever() {
            let count = stop.count.fetch_add(1, Ordering::SeqCst) + 1;
            stop.requested.store(true, Ordering::SeqCst);
            // Nothing new starts; what runs gets the grace period (see the watcher).
            cancel.drain();
            stop.at.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(Instant::now);
            if count >= 2 {
                // A second signal: stop at once.
                cancel.cancel();
                cancel.cancel();
            }
        }
    });
    Ok(handle)
}

fn say(line: &str) {
    outln!("{line}");
}

/// `copili service`.
pub fn service(input: &InputArgs, args: &RunArgs, service_args: &ServiceArgs) -> anyhow::Result<i32> {
    if !crate::run_command::names_an_engine("service", &args.engine) {
        return Ok(exit_code::INVALID_INPUT);
    }
    let defaults = match defaults(&service_args.schedule) {
        Ok(defaults) => defaults,
        Err(message) => {
            errln!("error: {message}");
            return Ok(exit_code::INVALID_INPUT);
        }
    };
    let session = match start_session(input, args, false, false)? {
        Ok(session) => session,
        Err(code) => return Ok(code),
    };
    let Session { pipeline, plan, config, state, .. } = &session;
    let Some(state) = state else {
        errln!("error: no run state");
        return Ok(exit_code::FAILURE);
    };
    let spec = pipeline.spec();
    let selection = copili::Selection {
        environment: plan.environment.clone(),
        only: input.only.clone(),
        skip: input.skip.clone(),
        service_only: true,
    };
    let service_plan = match pipeline.plan(&selection) {
        Ok(plan) => plan,
        Err(diagnostics) => {
            crate::output::eprint(&diagnostics.to_string());
            return Ok(exit_code::INVALID_INPUT);
        }
    };
    let service_containers: Vec<usize> = service_plan.order().collect();
    let timings = match timings(spec, &service_containers, &defaults) {
        Ok(timings) => timings,
        Err(message) => {
            errln!("error: {message}");
            return Ok(exit_code::INVALID_INPUT);
        }
    };

    let cancel = CancelToken::new();
    let stop = Arc::new(Stop::default());
    let signals = watch_stop_signals(&stop, &cancel)?;
    let runs = AtomicUsize::new(0);
    let next_run_id = || format!("{}-{}", config.run_id, runs.fetch_add(1, Ordering::SeqCst) + 1);

    let watcher_done = AtomicBool::new(false);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        // Stops what runs once the grace period after a stop request is over.
        scope.spawn(|| {
            while !watcher_done.load(Ordering::SeqCst) {
                let requested = *stop.at.lock().unwrap_or_else(PoisonError::into_inner);
                if requested.is_some_and(|at| at.elapsed() >= config.stop_timeout) {
                    cancel.cancel();
                    cancel.cancel();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });

        // The initial run: the whole pipeline, as `copili run`.
        let mut ran_initially = vec![false; spec.containers.len()];
        if !service_args.no_initial_run {
            let policy = SkipPolicy::new(&state.lock(), args.force, false).map_err(anyhow::Error::msg)?;
            let containers: Vec<usize> = plan.order().collect();
            let outcomes =
                run_once(&session, args, &policy, &containers, RunCommand::Run, &next_run_id(), &cancel, true);
            for (c, outcome) in outcomes.iter().enumerate() {
                ran_initially[c] = outcome.attempts > 0;
            }
        }

        let (mut schedule, catch_up_now) =
            ServiceSchedule::start(timings.clone(), &state.lock(), Timestamp::now(), &|c| ran_initially[c]);
        let stopping = stop.requested.load(Ordering::SeqCst);
        if service_containers.is_empty() && !stopping {
            say("=== no service containers (`is_service_container: true`): nothing to schedule; stop with Ctrl-C");
        }
        for entry in schedule.entries.iter().filter(|_| !stopping) {
            say(&format!(
                "=== {} next due at {} ({})",
                entry.name,
                local_time(entry.next_due, &entry.timing.zone),
                entry.timing.schedule
            ));
        }
        save_schedule(state, &schedule);

        let (done_tx, done_rx) = mpsc::channel::<Ended>();
        let mut pending_start = catch_up_now;
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
                        say(&format!(
                            "=== {} next due at {}",
                            entry.name,
                            local_time(entry.next_due, &entry.timing.zone)
                        ));
                    }
                }
                save_schedule(state, &schedule);
            }
            if stop.requested.load(Ordering::SeqCst) {
                if in_flight == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            let now = Timestamp::now();
            let due = schedule.take_due(now);
            for &c in &due.still_running {
                let entry = schedule.entry(c).map(|e| (e.name.clone(), local_time(e.next_due, &e.timing.zone)));
                if let Some((name, next)) = entry {
                    say(&format!("=== {name} is due but still running: not started again (next due at {next})"));
                }
            }
            pending_start.extend(due.run);
            if !pending_start.is_empty() {
                let mut group: Vec<usize> = std::mem::take(&mut pending_start);
                group.sort_unstable();
                group.dedup();
                // A dependency outside the group must have succeeded at some time.
                let succeeded: HashSet<String> = {
                    let state = state.lock();
                    state
                        .containers
                        .iter()
                        .filter(|(_, r)| r.last_success_at.is_some())
                        .map(|(n, _)| n.clone())
                        .collect()
                };
                let names: Vec<&str> = group.iter().map(|&c| spec.containers[c].name.as_str()).collect();
                let (ready, unmet): (Vec<usize>, Vec<usize>) = group.iter().partition(|&&c| {
                    spec.containers[c].dependencies.iter().all(|d| names.contains(&d.as_str()) || succeeded.contains(d))
                });
                for c in unmet {
                    let container = &spec.containers[c];
                    let missing: Vec<&str> = container
                        .dependencies
                        .iter()
                        .filter(|d| !names.contains(&d.as_str()) && !succeeded.contains(*d))
                        .map(String::as_str)
                        .collect();
                    say(&format!(
                        "=== {} skipped: its dependency {} has not succeeded yet",
                        container.name,
                        missing.join(", ")
                    ));
                    schedule.finished(c);
                }
                save_schedule(state, &schedule);
                if !ready.is_empty() {
                    let started = Timestamp::now();
                    let recorded = state.update(|s| {
                        for &c in &ready {
                            s.service_mut(&spec.containers[c].name).last_run_started = Some(started);
                        }
                    });
                    if let Err(e) = recorded {
                        errln!("warning: {e}");
                    }
                    in_flight += 1;
                    let run_id = next_run_id();
                    let (session, cancel, done_tx) = (&session, &cancel, done_tx.clone());
                    let hooks = DueOnly {
                        due: ready.iter().copied().collect(),
                        names: service_containers.iter().map(|&c| (spec.containers[c].name.clone(), c)).collect(),
                        ended: Mutex::new(done_tx.clone()),
                    };
                    scope.spawn(move || {
                        let outcomes =
                            run_once(session, args, &hooks, &ready, RunCommand::Service, &run_id, cancel, false);
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
            // Sleep until the next slot, waking for signals and ended runs.
            let wait = schedule
                .next_wakeup()
                .map(|at| Duration::try_from(at.duration_since(Timestamp::now())).unwrap_or_default())
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_millis(100));
            std::thread::sleep(wait);
        }
        watcher_done.store(true, Ordering::SeqCst);
        Ok(())
    })?;
    signals.close();
    // Nothing is scheduled any more: `copili status` then says when service mode would run
    // each one if it started now, not what this one would have done.
    if let Err(e) = state.update(|s| s.service.values_mut().for_each(|record| record.next_due = None)) {
        errln!("warning: {e}");
    }
    say("=== service mode stopped");
    Ok(exit_code::SUCCESS)
}

/// Writes each service container's last and next due time.
fn save_schedule(state: &RunState, schedule: &ServiceSchedule) {
    let result = state.update(|s| {
        for entry in &schedule.entries {
            let record = s.service_mut(&entry.name);
            record.last_due = entry.last_due;
            record.next_due = Some(entry.next_due);
        }
    });
    if let Err(e) = result {
        errln!("warning: {e}");
    }
}

/// One run of `containers` (the whole plan, or a due group of service containers) with its
/// reporters, recorded in the state. The initial run reports everything; a service run only its
/// own containers.
#[allow(clippy::too_many_arguments)]
fn run_once(
    session: &Session,
    args: &RunArgs,
    hooks: &dyn Hooks,
    containers: &[usize],
    command: RunCommand,
    run_id: &str,
    cancel: &CancelToken,
    initial: bool,
) -> Vec<copili::Outcome> {
    let Session { pipeline, plan, engine, config, state, .. } = session;
    let spec = pipeline.spec();
    let service_plan;
    let plan = if initial {
        plan
    } else {
        let selection =
            copili::Selection { environment: plan.environment.clone(), service_only: true, ..Default::default() };
        service_plan = match pipeline.plan(&selection) {
            Ok(plan) => plan,
            Err(_) => return Vec::new(),
        };
        &service_plan
    };
    let mut config = config.clone();
    config.run_id = run_id.to_string();
    if !initial {
        // A name of its own: the previous instance of a container may still be being removed.
        config.instance = run_id.rsplit('-').next().map(|n| format!("s{n}"));
    }
    let started_at = SystemTime::now();
    let info = RunInfo::new(pipeline, run_id, engine.name(), started_at);
    let reporters = Mutex::new(reporters_for(args, false, &info, initial));
    let mine: HashSet<usize> = containers.iter().copied().collect();
    if !initial {
        let names: Vec<&str> = containers.iter().map(|&c| spec.containers[c].name.as_str()).collect();
        say(&format!("=== service run {run_id}: {}", names.join(", ")));
    }
    let ids = crate::run_command::ImageIds::default();
    let outcomes = runner::run_with_hooks(&**engine, spec, plan, &config, cancel, hooks, &|event: RunEvent| {
        ids.note(&event);
        let about_others = match &event {
            RunEvent::ContainerFinished { container, .. } => !mine.contains(container),
            _ => false,
        };
        if initial || !about_others {
            reporters.lock().unwrap_or_else(PoisonError::into_inner).event(&event);
        }
    });
    let finished_at = SystemTime::now();
    let relevant: Vec<&copili::Outcome> = containers.iter().filter_map(|&c| outcomes.get(c)).collect();
    let code = if relevant.iter().all(|o| matches!(o.status, Status::Succeeded | Status::Skipped)) {
        exit_code::SUCCESS
    } else {
        exit_code::FAILURE
    };
    if let Some(state) = state {
        let record = RecordedRun {
            run_id,
            command,
            outcomes: &outcomes,
            containers,
            image_ids: &ids.take(),
            started_at,
            finished_at,
            exit_code: code,
        };
        record_state(state, spec, record);
    }
    let mut reporters = reporters.into_inner().unwrap_or_else(PoisonError::into_inner);
    if initial {
        reporters.finish(&RunSummary { outcomes: outcomes.clone(), finished_at, exit_code: code });
    } else {
        // A service run ends with one line, not the whole pipeline's table.
        let summary: Vec<String> = containers
            .iter()
            .filter_map(|&c| outcomes.get(c).map(|o| format!("{} {}", spec.containers[c].name, o.status.as_str())))
            .collect();
        say(&format!("=== service run {run_id} done: {}", summary.join(", ")));
        reporters.finish(&RunSummary { outcomes: outcomes.clone(), finished_at, exit_code: code });
    }
    for error in reporters.errors() {
        errln!("warning: {error}");
    }
    outcomes
}

/// `copili status`.
pub fn status(
    file: &std::path::Path,
    name: Option<&str>,
    state_dir: Option<&std::path::Path>,
    runs: usize,
    format: PlanFormat,
    schedule_args: &ScheduleArgs,
) -> anyhow::Result<i32> {
    let options = copili::LoadOptions::from_process();
    let pipeline = match copili::Pipeline::from_path(file, &options) {
        Ok(pipeline) => pipeline,
        Err(diagnostics) => {
            crate::output::eprint(&diagnostics.to_string());
            return Ok(exit_code::INVALID_INPUT);
        }
    };
    let identity = name.map_or_else(|| pipeline.identity().to_string(), String::from);
    let defaults = match defaults(schedule_args) {
        Ok(defaults) => defaults,
        Err(message) => {
            errln!("error: {message}");
            return Ok(exit_code::INVALID_INPUT);
        }
    };
    let dir = state_dir.map_or_else(|| copili::run_state::default_dir(file), std::path::Path::to_path_buf);
    // Reading creates nothing: without a state directory there is no run yet.
    let store = copili_state::StateStore::read_only(&dir);
    let store_path = store.path(&identity);
    let state = store.load(&identity);
    let state = match state {
        Ok(state) => state,
        Err(e) => {
            errln!("error: {e}");
            return Ok(exit_code::FAILURE);
        }
    };
    let spec = pipeline.spec();
    let services: Vec<usize> =
        (0..spec.containers.len()).filter(|&c| spec.containers[c].is_service_container).collect();
    let timings = match timings(spec, &services, &defaults) {
        Ok(timings) => timings,
        Err(message) => {
            errln!("error: {message}");
            return Ok(exit_code::INVALID_INPUT);
        }
    };
    let now = Timestamp::now();
    // A service that stops clears its next due times; one that was killed leaves them, but no
    // longer holds the pipeline's lock.
    let running =
        copili_runtime::lock::PipelineLock::holder(&copili_runtime::lock::PipelineLock::default_dir(), &identity)
            .is_some();
    let next_due = |name: &str, timing: &Timing| -> (Timestamp, &'static str) {
        match state.service.get(name).and_then(|s| s.next_due) {
            Some(next) if running => (next, "scheduled by the running service"),
            _ => {
                let last = state.service.get(name).and_then(|s| s.last_due);
                (timing.schedule.startup(&timing.zone, last, now, false).next_due, "if service mode started now")
            }
        }
    };
    // Newest first, by start (service runs end in any order).
    let mut recent: Vec<&copili_state::RunRecord> = state.history.iter().collect();
    recent.sort_by_key(|run| std::cmp::Reverse(run.started_at));
    recent.truncate(runs);
    let mut out = String::new();
    match format {
        PlanFormat::Json => {
            let value = serde_json::json!({
                "pipeline": identity,
                "state_file": store_path.display().to_string(),
                "runs": recent,
                "containers": state.containers,
                "service": timings.iter().map(|(_, name, timing, catch_up)| {
                    let (next, basis) = next_due(name, timing);
                    serde_json::json!({
                        "name": name,
                        "schedule": timing.schedule.to_string(),
                        "timezone": timing.zone_name,
                        "catch_up": catch_up,
                        "last_due": state.service.get(name).and_then(|s| s.last_due),
                        "next_due": next,
                        "next_due_basis": basis,
                    })
                }).collect::<Vec<_>>(),
            });
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&value)?);
        }
        PlanFormat::Text => {
            let _ = writeln!(out, "pipeline {identity} (state {})", store_path.display());
            if recent.is_empty() {
                let _ = writeln!(out, "\nno runs yet");
            } else {
                let _ = writeln!(out, "\nlast runs (newest first):");
                for run in &recent {
                    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                    for status in run.results.values() {
                        let word = match status {
                            copili_state::ContainerStatus::Succeeded => "succeeded",
                            copili_state::ContainerStatus::Failed => "failed",
                            copili_state::ContainerStatus::Cancelled => "cancelled",
                            copili_state::ContainerStatus::Skipped => "skipped",
                        };
                        *counts.entry(word).or_default() += 1;
                    }
                    let counts: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
                    let command = serde_json::to_value(run.command).ok().and_then(|v| v.as_str().map(String::from));
                    let seconds = run.finished_at.duration_since(run.started_at).as_secs_f64();
                    let _ = writeln!(
                        out,
                        "  {}  {:<7}  exit {}  {:.1}s  {}  ({})",
                        local_time(run.started_at, &defaults.zone),
                        command.unwrap_or_default(),
                        run.exit_code,
                        seconds,
                        counts.join(", "),
                        run.run_id
                    );
                }
            }
            if !state.containers.is_empty() {
                let _ = writeln!(out, "\ncontainers (last result):");
                let width = state.containers.keys().map(String::len).max().unwrap_or(0);
                for (name, record) in &state.containers {
                    let status = serde_json::to_value(record.status).ok().and_then(|v| v.as_str().map(String::from));
                    let exit = record.exit_code.map_or_else(|| "-".to_string(), |c| c.to_string());
                    let last_success =
                        record.last_success_at.map_or_else(|| "never".to_string(), |t| local_time(t, &defaults.zone));
                    let _ = writeln!(
                        out,
                        "  {name:<width$}  {:<9}  exit {exit:<3}  {}  last success {last_success}",
                        status.unwrap_or_default(),
                        record.finished_at.map_or_else(|| "-".into(), |t| local_time(t, &defaults.zone)),
                    );
                }
            }
            if !timings.is_empty() {
                let _ = writeln!(out, "\nservice containers:");
                for (_, name, timing, _) in &timings {
                    let (next, basis) = next_due(name, timing);
                    let _ = writeln!(
                        out,
                        "  {name}  {} ({})  next due {} ({basis})",
                        timing.schedule,
                        timing.zone_name,
                        local_time(next, &timing.zone)
                    );
                }
            }
        }
    }
    crate::output::print_own(&out);
    Ok(exit_code::SUCCESS)
}
