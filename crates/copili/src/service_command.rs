//! `copili service` and `copili status`.
//!
//! Service mode is the seed's `p.run()` then `p.start_service_mode()`: the whole pipeline runs
//! once, then the service containers rerun on their schedules. The scheduling is
//! [`copili::service::Supervisor`]'s; this command parses the options, opens the session (the
//! lock is held throughout), prints the supervisor's events and turns signals into the cancel
//! token: the first SIGTERM or SIGINT stops scheduling and gives running containers
//! `--stop-timeout` to finish before they are stopped; everything is removed and copili exits
//! 0. A second signal stops them at once.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use copili::exit_code;
use copili::report::metrics::{MetricsFile, MetricsSink, SharedSink};
use copili::report::service::{service_line, ServiceLine};
use copili::report::{system_clock, JsonReport, Reporter, RunInfo};
use copili::service::{local_time, ServiceEvent, ServiceReporter, Supervisor, SystemClock, Timing};
use copili_runtime::runner::CancelToken;
use copili_schedule::jiff::Timestamp;

use crate::cli::{InputArgs, PlanFormat, RunArgs, ScheduleArgs, ServiceArgs};
use crate::error::CliError;
use crate::output::{errln, outln};
use crate::run_command::{open_session, reporters_for, Session};

/// The run's default schedule and zone (`--every` / `--cron`, `--timezone`).
fn defaults(args: &ScheduleArgs) -> Result<Timing, String> {
    let schedule = crate::cli::default_schedule(args.every.as_deref(), args.cron.as_deref())?;
    let zone_name = args.timezone.clone().unwrap_or_else(|| "local".into());
    let zone = copili_schedule::parse_time_zone(&zone_name).map_err(|e| format!("--timezone: {e}"))?;
    Ok(Timing { schedule, zone, zone_name })
}

/// Each service container's timing: its own schedule and zone, else the run's.
fn timings(
    spec: &copili::model::Pipeline,
    containers: &[usize],
    defaults: &Timing,
) -> Result<Vec<(usize, String, Timing, bool)>, String> {
    copili::service::timings(spec, containers, defaults).map_err(|e| format!("{}: {}", e.container, e.source))
}

/// The first SIGTERM or SIGINT drains the token (the supervisor starts nothing more and gives
/// running containers the grace period); a second one stops them at once.
fn watch_stop_signals(cancel: &CancelToken) -> Result<signal_hook::iterator::Handle, CliError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(CliError::Signals)?;
    let handle = signals.handle();
    let cancel = cancel.clone();
    std::thread::spawn(move || {
        for (count, _) in signals.forever().enumerate() {
            cancel.drain();
            if count >= 1 {
                // A second signal: stop at once.
                cancel.cancel_now();
            }
        }
    });
    Ok(handle)
}

/// Prints service mode's events as `=== …` lines, and reports each run as `copili run` does.
struct Printer<'a> {
    args: &'a RunArgs,
    /// Where each run's report goes for the dashboard.
    runs_dir: std::path::PathBuf,
    /// The due containers of each service run whose reporters are made, filled in when it
    /// starts.
    due: Mutex<HashMap<String, DueNames>>,
    /// The metrics every run counts in, with the next due times.
    metrics: SharedSink,
}

/// The names of a service run's due containers, once it started.
type DueNames = Arc<Mutex<Option<Vec<String>>>>;

impl ServiceReporter for Printer<'_> {
    fn event(&self, event: &ServiceEvent<'_>) {
        if let ServiceEvent::RunStarted { run_id, names, initial: false, .. } = event {
            if let Some(slot) = self.due.lock().unwrap_or_else(PoisonError::into_inner).remove(*run_id) {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(names.iter().map(|n| n.to_string()).collect());
            }
        }
        if let ServiceEvent::Scheduled { name, next_due, .. } | ServiceEvent::NextDue { name, next_due, .. } = event {
            let mut metrics = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
            metrics.set_next_due(name, next_due.as_millisecond() as f64 / 1000.0);
            for error in metrics.save() {
                errln!("warning: {error}");
            }
        }
        match service_line(event) {
            Some(ServiceLine::Out(line)) => outln!("{line}"),
            Some(ServiceLine::Err(line)) => errln!("{line}"),
            None => {}
        }
    }

    fn run_reporter(&self, info: &RunInfo, initial: bool) -> Box<dyn Reporter + Send> {
        let mut reporters = reporters_for(self.args, false, info, initial, None);
        reporters.push(MetricsFile::new(Arc::clone(&self.metrics), info));
        let report =
            JsonReport::new(copili::run_files::report_path(&self.runs_dir, &info.run_id), info, system_clock())
                .with_log_dir(&self.args.log_dir);
        if initial {
            reporters.push(report);
        } else {
            let due = DueNames::default();
            self.due.lock().unwrap_or_else(PoisonError::into_inner).insert(info.run_id.clone(), Arc::clone(&due));
            reporters.push(DueOnlyReport { inner: report, info: info.clone(), due, marked: false });
        }
        Box::new(reporters)
    }
}

/// The dashboard's report of a service run: the containers that are not due are marked
/// skipped ("not due") from its first event on, as the runner decides at once, instead of
/// pending until the run ends (a service run's reporters hear only of its own containers).
struct DueOnlyReport {
    inner: JsonReport,
    info: RunInfo,
    due: DueNames,
    marked: bool,
}

impl Reporter for DueOnlyReport {
    fn event(&mut self, event: &copili::RunEvent) {
        if !self.marked {
            let due = self.due.lock().unwrap_or_else(PoisonError::into_inner).clone();
            if let Some(due) = due {
                self.marked = true;
                for (container, info) in self.info.containers.iter().enumerate() {
                    if !due.contains(&info.name) {
                        let reason = copili_runtime::runner::Reason::RanBefore { why: "not due".into() };
                        let outcome = copili::Outcome::not_run(copili::Status::Skipped, reason);
                        self.inner.event(&copili::RunEvent::ContainerFinished { container, outcome });
                    }
                }
            }
        }
        self.inner.event(event);
    }

    fn finish(&mut self, summary: &copili::report::RunSummary) {
        self.inner.finish(summary);
    }

    fn errors(&self) -> Vec<String> {
        self.inner.errors()
    }

    fn flush(&mut self) {
        self.inner.flush();
    }
}

/// `copili service`.
pub fn service(input: &InputArgs, args: &RunArgs, service_args: &ServiceArgs) -> Result<i32, CliError> {
    crate::run_command::require_engine("service", &args.engine)?;
    let defaults = defaults(&service_args.schedule).map_err(CliError::Usage)?;
    // A dashboard address it refuses stops service mode before anything runs.
    let ui_token = crate::ui_command::token(&service_args.token)?;
    if let Some(addr) = service_args.ui {
        copili::ui::check_listen(addr, ui_token.as_deref()).map_err(CliError::Ui)?;
    }
    let mut session = open_session(input, args, false, false)?;
    // The images' presence asked when the session opened would be stale by the next run:
    // each run of service mode asks when it runs.
    session.config.images.checked.clear();
    let Session { pipeline, plan, config, state, engine, .. } = &session;
    let Some(state) = state else {
        // Only a dry run opens a session without a state, and service mode has none.
        return Err(CliError::Internal("service mode opened a session without a run state".into()));
    };
    let spec = pipeline.spec();
    let selection = copili::Selection {
        environment: plan.environment.clone(),
        only: input.only.clone(),
        skip: input.skip.clone(),
        service_only: true,
    };
    // The service containers scheduled (`--only`, `--skip`), and the plan of a service run:
    // every service container, of which the due ones run.
    let run_selection =
        copili::Selection { environment: plan.environment.clone(), service_only: true, ..Default::default() };
    let (scheduled_plan, service_plan) = match (pipeline.plan(&selection), pipeline.plan(&run_selection)) {
        (Ok(scheduled), Ok(service)) => (scheduled, service),
        (Err(diagnostics), _) | (_, Err(diagnostics)) => return Err(CliError::Diagnostics(diagnostics)),
    };
    let service_containers: Vec<usize> = scheduled_plan.order().collect();
    let timings = timings(spec, &service_containers, &defaults).map_err(|e| CliError::Usage(e.to_string()))?;

    let dashboard = match service_args.ui {
        Some(addr) => {
            let state_dir = state.path().parent().map(std::path::Path::to_path_buf).unwrap_or_default();
            Some(crate::ui_command::bind(addr, vec![state_dir], ui_token)?)
        }
        None => None,
    };
    let ui_addr = dashboard.as_ref().and_then(copili::ui::Dashboard::local_addr).map(|a| format!("http://{a}/"));
    crate::run_command::write_live_file(state, &config.identity, "service", args, ui_addr);
    let dashboard = dashboard.map(crate::ui_command::Background::start);
    let cancel = CancelToken::new();
    let signals = watch_stop_signals(&cancel)?;
    let supervisor = Supervisor {
        pipeline,
        plan,
        service_plan: &service_plan,
        engine: &**engine,
        config,
        state,
        timings,
        initial_run: !service_args.no_initial_run,
        force: args.force,
    };
    let runs_dir = state.runs_dir();
    let metrics =
        MetricsSink::open(&config.identity, Some(copili::run_files::metrics_path(&runs_dir)), args.metrics.clone());
    let printer = Printer { args, runs_dir, due: Mutex::default(), metrics: Arc::new(Mutex::new(metrics)) };
    let result = supervisor.run(&SystemClock, &cancel, &printer);
    // Nothing is due any more once service mode stopped.
    let mut metrics = printer.metrics.lock().unwrap_or_else(PoisonError::into_inner);
    metrics.clear_next_due();
    for error in metrics.save() {
        errln!("warning: {error}");
    }
    drop(metrics);
    crate::left_behind::report_left_behind(&**engine, &config.identity, &[]);
    signals.close();
    if let Some(dashboard) = dashboard {
        dashboard.stop();
    }
    result.map_err(CliError::Service)?;
    Ok(exit_code::SUCCESS)
}

/// `copili status`.
pub fn status(
    file: &std::path::Path,
    name: Option<&str>,
    state_dir: Option<&std::path::Path>,
    runs: usize,
    format: PlanFormat,
    schedule_args: &ScheduleArgs,
) -> Result<i32, CliError> {
    let options = copili::LoadOptions::from_process();
    let pipeline = copili::Pipeline::from_path(file, &options).map_err(CliError::Diagnostics)?;
    let identity = name.map_or_else(|| pipeline.identity().to_string(), String::from);
    let defaults = defaults(schedule_args).map_err(CliError::Usage)?;
    let dir = state_dir.map_or_else(|| copili::run_state::default_dir(file), std::path::Path::to_path_buf);
    // Reading creates nothing: without a state directory there is no run yet.
    let store = copili_state::StateStore::read_only(&dir);
    let store_path = store.path(&identity);
    let state = store.load(&identity);
    let state = state.map_err(CliError::State)?;
    let spec = pipeline.spec();
    let services: Vec<usize> =
        (0..spec.containers.len()).filter(|&c| spec.containers[c].is_service_container).collect();
    let timings = timings(spec, &services, &defaults).map_err(|e| CliError::Usage(e.to_string()))?;
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
            let text = serde_json::to_string_pretty(&value).map_err(|e| CliError::internal("the status as JSON", e))?;
            let _ = writeln!(out, "{text}");
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
