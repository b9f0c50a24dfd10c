//! `copili run`: glue between the command line, the runtime and the reporters. Picks the engine, checks it answers (exit 3 otherwise), takes the pipeline's
//! lock, removes leftovers of a crashed run, turns SIGINT/SIGTERM into cancellation, runs,
//! reports, and maps the outcome to an exit code.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use copili::report::{system_clock, Console, JsonReport, LogFiles, Reporter as _, Reporters, RunInfo, RunSummary};
use copili::run_state::{ImageIds, RecordedRun, RunState, SkipPolicy};
use copili_runtime::lock::PipelineLock;
use copili_runtime::runner::{self, CancelToken, RunConfig, RunEvent, Status};
use copili_runtime::{CliEngine, Engine, EngineError, EngineKind, SwarmEngine};
use copili_state::RunCommand;

use crate::cli::{InputArgs, RunArgs, RunOnceArgs};
use crate::error::{one_line, CliError};
use crate::output::{errln, outln};

/// What `run` and `service` share once the pipeline is loaded, the engine answers and the
/// lock is held.
pub(crate) struct Session {
    pub(crate) pipeline: copili::Pipeline,
    pub(crate) plan: copili::Plan,
    pub(crate) engine: Box<dyn Engine>,
    pub(crate) config: RunConfig,
    pub(crate) state: Option<RunState>,
    _lock: Option<PipelineLock>,
}

/// Loads, plans, picks the engine, checks it answers, takes the lock, removes leftovers and
/// opens the state; or says why not. When the engine cannot be used or a network is missing,
/// `--report` is written first, every container cancelled with the reason.
pub(crate) fn open_session(
    input: &InputArgs,
    args: &RunArgs,
    dry_run: bool,
    service_only: bool,
) -> Result<Session, CliError> {
    let (pipeline, plan, _) = crate::load_and_plan(input, service_only)?;
    let (global_env, global_labels) = crate::run_globals::parse_globals(args).map_err(CliError::Usage)?;
    refused_by_backend(&args.engine, &pipeline, &plan, &input.file)?;
    let not_started = |cause: CliError, reason: &str| {
        let report_errors = write_report_without_run(args, &pipeline, &plan, reason, cause.exit_code());
        CliError::NotStarted { cause: Box::new(cause), report_errors }
    };

    let engine = select_engine(&args.engine, dry_run, args.timeout.engine_timeout).map_err(|source| {
        not_started(CliError::EngineMissing { engine: args.engine.clone(), source }, "engine unavailable")
    })?;
    // A dry run shows the commands in the order one job at a time would run them.
    let jobs = if dry_run { Some(1) } else { args.jobs.map(usize::from) };
    let identity = pipeline.identity().to_string();
    // The engine check runs beside the listings below, which need an engine that answers
    // too: its error, when there is one, is the one reported.
    // So are the first images the run will want, which the first container then need not
    // wait for.
    let image_parallel = if dry_run { 1 } else { 3 };
    let (pinged, prepared, checked) = std::thread::scope(|scope| {
        let ping = (!dry_run).then(|| scope.spawn(|| engine.ping()));
        let checked = scope.spawn(|| {
            // `--locked` checks its images by their ids (below), not by their tags.
            if args.locked {
                return Default::default();
            }
            let order: Vec<usize> = plan.order().collect();
            let (jobs, _) = copili_runtime::images::jobs(pipeline.spec(), &order, args.pull);
            copili_runtime::images::checked_beforehand(&*engine, &jobs, image_parallel)
        });
        let prepared = prepare_session(&*engine, &pipeline, &plan, &identity, dry_run);
        let pinged = match ping.map(|thread| thread.join()) {
            None => Ok(()),
            Some(Ok(result)) => result.map(|_| ()),
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        };
        let checked = checked.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (pinged, prepared, checked)
    });
    pinged.map_err(|source| {
        not_started(CliError::EngineSilent { engine: engine.name().to_string(), source }, "engine unavailable")
    })?;
    // `--locked`: the images are the locked ones, or nothing starts.
    let pinned = crate::airgap_command::pinned_images(input, args, &pipeline, &plan, &*engine, dry_run)
        .map_err(|cause| not_started(cause, "images not locked"))?;
    let lock = match prepared {
        Ok((lock, not_cleaned)) => {
            if let Some(e) = not_cleaned {
                errln!("warning: could not remove leftovers of an earlier run: {}", one_line(&e.to_string()));
            }
            lock
        }
        Err(Prepared::NetworksUnlisted(source)) => {
            let cause = CliError::NetworksUnlisted { engine: engine.name().to_string(), source };
            return Err(not_started(cause, "engine unavailable"));
        }
        Err(Prepared::NetworksMissing(missing)) => {
            let cause = CliError::NetworksMissing { engine: engine.name().to_string(), missing };
            return Err(not_started(cause, "network missing"));
        }
        Err(Prepared::Locked(error)) => return Err(error),
        Err(Prepared::Silent(source)) => {
            let cause = CliError::EngineSilent { engine: engine.name().to_string(), source };
            return Err(not_started(cause, "engine unavailable"));
        }
    };
    // The state: read by a dry run only when it exists, never written by one.
    let state_dir = args.state_dir.clone().unwrap_or_else(|| copili::run_state::default_dir(&input.file));
    let state = if dry_run && !state_dir.is_dir() { None } else { Some(RunState::open(&state_dir, &identity)?) };

    let config = RunConfig {
        identity: identity.clone(),
        run_id: run_id(),
        jobs: jobs.unwrap_or_else(RunConfig::default_jobs),
        fail_fast: args.fail_fast,
        stop_timeout: args.stop_timeout,
        global_env,
        global_labels,
        policies: Vec::new(),
        images: copili_runtime::images::ImageConfig {
            policy: args.pull,
            // A dry run shows the images in the order of the plan.
            parallel: image_parallel,
            pinned,
            checked,
            ..Default::default()
        },
        instance: None,
        // `/copili/out` of each container: `<log-dir>/<run-id>/out/<container>/`. Not for a dry
        // run (it creates nothing), nor on swarm (not carried there: docs/format.md).
        outputs_dir: (!dry_run && args.engine != "swarm")
            .then(|| std::path::absolute(&args.log_dir).unwrap_or_else(|_| args.log_dir.clone())),
    };
    Ok(Session { pipeline, plan, engine, config, state, _lock: lock })
}

/// On `--engine swarm`, whether the containers the plan runs use options a swarm service
/// cannot have (`devices`, `ulimits`, …): see [`refused_by`].
/// Why [`prepare_session`] did not get the run ready.
enum Prepared {
    NetworksUnlisted(EngineError),
    NetworksMissing(Vec<runner::MissingNetwork>),
    Locked(CliError),
    Silent(EngineError),
}

/// What must hold before anything starts, in order: the networks the containers join are
/// there, the pipeline's lock is taken (not by a dry run), and a crashed run's leftovers are
/// removed. Returns the lock, and why leftovers could not be removed if they could not.
fn prepare_session(
    engine: &dyn Engine,
    pipeline: &copili::Pipeline,
    plan: &copili::Plan,
    identity: &str,
    dry_run: bool,
) -> Result<(Option<PipelineLock>, Option<EngineError>), Prepared> {
    let missing = runner::missing_networks(engine, pipeline.spec(), plan).map_err(Prepared::NetworksUnlisted)?;
    if !missing.is_empty() {
        return Err(Prepared::NetworksMissing(missing));
    }
    if dry_run {
        return Ok((None, None));
    }
    // No report when the lock is held: the running run may well be writing the same file.
    let lock = PipelineLock::acquire(&PipelineLock::default_dir(), identity).map_err(|e| Prepared::Locked(e.into()))?;
    // Holding the lock, whatever carries this pipeline's labels is a crashed run's leftover.
    // An engine that does not answer here would not answer the run's calls either.
    match runner::clean(engine, Some(identity)) {
        Ok(_) => Ok((Some(lock), None)),
        Err(source @ EngineError::TimedOut { .. }) => Err(Prepared::Silent(source)),
        // Worded once the engine check has answered: an engine that does not answer is the
        // one thing to say then.
        Err(e) => Ok((Some(lock), Some(e))),
    }
}

pub(crate) fn refused_by_backend(
    engine: &str,
    pipeline: &copili::Pipeline,
    plan: &copili::Plan,
    file: &std::path::Path,
) -> Result<(), CliError> {
    if engine == "swarm" {
        refused_by(copili::planner::Backend::Swarm, pipeline, plan, file)?;
    }
    Ok(())
}

/// [`CliError::Refused`] when the containers the plan runs use options `backend` cannot carry:
/// each is shown, located, as validation errors are, before anything is created or written.
pub(crate) fn refused_by(
    backend: copili::planner::Backend,
    pipeline: &copili::Pipeline,
    plan: &copili::Plan,
    file: &std::path::Path,
) -> Result<(), CliError> {
    let refused = copili::planner::unsupported_among(pipeline.spec(), plan.order().chain(plan.handlers()), backend);
    if refused.is_empty() {
        return Ok(());
    }
    let diagnostics = copili::Diagnostics { items: refused };
    Err(CliError::Refused { diagnostics, file: file.display().to_string(), backend })
}

/// [`CliError::Usage`] when `--engine` names no engine (`none`). `none` is `plan`'s way not to
/// ask an engine, and `COPILI_ENGINE` is read by every command, so `run` may well be given it:
/// it must never mean a client binary called `none`.
pub(crate) fn require_engine(command: &str, engine: &str) -> Result<(), CliError> {
    if engine != "none" {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "--engine none: `copili {command}` needs a container engine (auto, docker, podman, swarm or a \
         client's path); `none` is for `copili plan` (COPILI_ENGINE may have set it)"
    )))
}

/// The engine `--engine` names: `auto`, `docker`, `podman`, `swarm` (Docker Swarm mode through
/// the docker client) or a client's path. A dry run prints the commands and needs no engine,
/// not even its client; for it, `none` is `auto`.
pub(crate) fn select_engine(
    choice: &str,
    dry_run: bool,
    timeout: std::time::Duration,
) -> Result<Box<dyn Engine>, EngineError> {
    if choice == "none" && !dry_run {
        return Err(EngineError::NotFound { binary: "none".into(), reason: "`none` names no engine".into() });
    }
    let swarm = choice == "swarm";
    let client = match choice {
        "swarm" => "docker",
        "none" => "auto",
        other => other,
    };
    let engine = match (CliEngine::select_with_timeout(client, timeout), dry_run) {
        (Ok(engine), _) => engine,
        (Err(_), true) => {
            let kind = if client.contains("docker") { EngineKind::Docker } else { EngineKind::Podman };
            let name = if client == "auto" { "podman" } else { client };
            CliEngine::new(name, kind).timeout(timeout)
        }
        (Err(e), false) => return Err(e),
    };
    let engine = if dry_run {
        engine.dry_run(|line| {
            // `copili run --dry-run | head` closes the pipe early: not an error.
            outln!("{line}");
        })
    } else {
        engine
    };
    Ok(if swarm { Box::new(SwarmEngine::new(engine)) } else { Box::new(engine) })
}

/// The reporters of one run: the console (with the summary table or without), the log files
/// (not for a dry run), `--report`, and the run's own report in the state directory's runs
/// directory (`runs_dir`, for the dashboard: [`copili::run_files`]).
pub(crate) fn reporters_for(
    args: &RunArgs,
    dry_run: bool,
    info: &RunInfo,
    summary: bool,
    runs_dir: Option<&std::path::Path>,
) -> Reporters {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut reporters = Reporters::new();
    // A terminal gets each line as it comes (standard output is line-buffered); a pipe or a
    // file gets the output in large writes, flushed periodically (see `Console::new`).
    let out: Box<dyn std::io::Write + Send> = if std::io::stdout().is_terminal() {
        Box::new(crate::output::Stdout)
    } else {
        Box::new(std::io::BufWriter::with_capacity(64 * 1024, crate::output::Stdout))
    };
    let console = Console::new(out, info, color);
    // On a terminal, each pull is one line that updates.
    let console = if std::io::stdout().is_terminal() && !dry_run { console.with_progress() } else { console };
    reporters.push(if summary { console } else { console.without_summary() });
    if !dry_run {
        reporters.push(LogFiles::new(&args.log_dir, info));
    }
    if let Some(path) = &args.report {
        let report = JsonReport::new(path, info, system_clock());
        reporters.push(if dry_run { report } else { report.with_log_dir(&args.log_dir) });
    }
    if let (Some(dir), false) = (runs_dir, dry_run) {
        let report = JsonReport::new(copili::run_files::report_path(dir, &info.run_id), info, system_clock());
        reporters.push(report.with_log_dir(&args.log_dir));
    }
    reporters
}

/// Writes `live.json` of the pipeline's runs directory: this process, its command and its log
/// directory (and dashboard), for `copili ui` ([`copili::run_files`]). A failure is a warning.
pub(crate) fn write_live_file(state: &RunState, identity: &str, command: &str, args: &RunArgs, ui: Option<String>) {
    let log_dir = std::path::absolute(&args.log_dir).unwrap_or_else(|_| args.log_dir.clone());
    let live = copili::run_files::LiveProcess {
        pipeline: identity.to_string(),
        pid: std::process::id(),
        command: command.to_string(),
        log_dir,
        started_at: copili::report::rfc3339_seconds(SystemTime::now()),
        ui,
    };
    let dir = state.runs_dir();
    if let Err(e) = copili::run_files::write_live(&dir, &live) {
        errln!("warning: cannot write {}: {e}", dir.join(copili::run_files::LIVE_FILE).display());
    }
}

/// Records a run in the state; a failure to write is a warning (the run itself happened).
pub(crate) fn record_state(state: &RunState, spec: &copili::model::Pipeline, record: RecordedRun<'_>) {
    if let Err(e) = state.record_run(spec, &record) {
        // With its cause: `cannot write the state file …: No space left on device`.
        errln!("warning: {}", crate::error::chain(&e));
    }
}

/// `copili run`.
pub fn run(input: &InputArgs, args: &RunArgs, once: &RunOnceArgs) -> Result<i32, CliError> {
    if !once.dry_run {
        require_engine("run", &args.engine)?;
    }
    let session = open_session(input, args, once.dry_run, false)?;
    let Session { pipeline, plan, engine, config, state, .. } = &session;
    let policy = state
        .as_ref()
        .map(|s| SkipPolicy::new(&s.lock(), args.force, once.resume))
        .transpose()
        .map_err(CliError::Resume)?;
    if once.resume && policy.is_none() {
        return Err(CliError::Resume("--resume: this pipeline has no previous run to resume".into()));
    }

    let cancel = CancelToken::new();
    let signal = Arc::new(AtomicI32::new(0));
    let signals = watch_signals(&cancel, &signal).map_err(CliError::Signals)?;

    let spec = pipeline.spec();
    let started_at = SystemTime::now();
    let info = RunInfo::new(pipeline, &config.run_id, engine.name(), started_at);
    let runs_dir = match (state, once.dry_run) {
        (Some(state), false) => {
            write_live_file(state, &config.identity, "run", args, None);
            Some(state.runs_dir())
        }
        _ => None,
    };
    let mut reporters = reporters_for(args, once.dry_run, &info, true, runs_dir.as_deref());
    if !once.dry_run {
        if let Some(metrics) =
            copili::report::metrics::MetricsFile::for_run(&info, runs_dir.as_deref(), args.metrics.clone())
        {
            reporters.push(metrics);
        }
    }
    let reporters = Mutex::new(reporters);
    let html = crate::report_command::html_report(once, args, &info);
    let no_hooks = runner::NoHooks;
    let hooks: &dyn runner::Hooks = match &policy {
        Some(policy) => policy,
        None => &no_hooks,
    };
    let ids = ImageIds::default();
    let flush = || reporters.lock().unwrap_or_else(PoisonError::into_inner).flush();
    let on_event = |event: RunEvent| {
        if copili::handlers::is_handler_skip(&event) {
            return;
        }
        ids.note(&event);
        reporters.lock().unwrap_or_else(PoisonError::into_inner).event(&event);
        if let Some(html) = &html {
            html.lock().unwrap_or_else(PoisonError::into_inner).event(&event);
        }
    };
    let mut outcomes = copili::report::flushing_periodically(flush, || {
        runner::run_with_hooks(&**engine, spec, plan, config, &cancel, hooks, &on_event)
    });
    let main_code = crate::run_handlers::after(
        &**engine,
        (spec, plan, config),
        &cancel,
        &mut outcomes,
        (&info, args, once.dry_run),
        &flush,
        &on_event,
    );
    let ids = ids.take();
    if !once.dry_run {
        crate::left_behind::report_left_behind(&**engine, &config.identity, &outcomes);
    }
    signals.close();

    let received = signal.load(Ordering::SeqCst);
    let code = if received != 0 { 128 + received } else { main_code };
    let finished_at = SystemTime::now();
    if let (Some(state), false) = (state, once.dry_run) {
        let containers: Vec<usize> = plan.order().collect();
        let record = RecordedRun {
            run_id: &config.run_id,
            command: if once.resume { RunCommand::Resume } else { RunCommand::Run },
            outcomes: &outcomes,
            containers: &containers,
            image_ids: &ids,
            started_at,
            finished_at,
            exit_code: code,
        };
        record_state(state, spec, record);
    }
    let mut reporters = reporters.into_inner().unwrap_or_else(PoisonError::into_inner);
    let summary = RunSummary { outcomes, finished_at, exit_code: code };
    reporters.finish(&summary);
    for error in reporters.errors() {
        errln!("warning: {error}");
    }
    if let (Some(path), Some(html)) = (&once.report_html, html) {
        crate::report_command::write_after_run(path, html, &summary, (input, args), pipeline, plan);
    }
    Ok(code)
}

/// `--report` on every outcome: also when the run could not start (engine unavailable, a
/// network missing), every container recorded as cancelled with the reason. What could not be
/// written, for the caller to say after the reason the run did not start.
fn write_report_without_run(
    args: &RunArgs,
    pipeline: &copili::Pipeline,
    plan: &copili::Plan,
    reason: &str,
    code: i32,
) -> Vec<String> {
    let Some(path) = &args.report else { return Vec::new() };
    let now = SystemTime::now();
    let info = RunInfo::new(pipeline, run_id(), &args.engine, now);
    let mut report = JsonReport::new(path, &info, system_clock());
    let outcomes = (0..pipeline.spec().containers.len())
        .map(|i| {
            let reason = match plan.exclusion(i) {
                Some(excluded) => runner::Reason::Excluded(excluded.clone()),
                None => runner::Reason::NotStarted { why: reason.to_string() },
            };
            let status = if plan.exclusion(i).is_some() { Status::Skipped } else { Status::Cancelled };
            runner::Outcome::not_run(status, reason)
        })
        .collect();
    report.finish(&RunSummary { outcomes, finished_at: now, exit_code: code });
    report.errors().iter().map(ToString::to_string).collect()
}

/// A run id people can sort: UTC time and pid.
fn run_id() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let compact: String = now.chars().filter(|c| c.is_ascii_digit() || *c == 'T').collect();
    format!("{compact}-{}", std::process::id())
}

/// SIGINT and SIGTERM become cancellation: the first stops gracefully, the second at once.
fn watch_signals(cancel: &CancelToken, received: &Arc<AtomicI32>) -> std::io::Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    let cancel = cancel.clone();
    let received = Arc::clone(received);
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let _ = received.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
            cancel.cancel();
        }
    });
    Ok(handle)
}
