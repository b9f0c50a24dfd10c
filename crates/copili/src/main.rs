//! The `copili` binary: parses the command line, calls the library, prints, and maps
//! outcomes to the documented exit codes (`copili::exit_code`). Nothing else.
//!
//! An error that stops a command is a [`CliError`], said and given its exit code in one place,
//! [`main`].
//!
//! Every byte it writes goes through [`output`]: no write can panic (`println!` would on a full
//! disk), the lints below keep it so.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod airgap_command;
mod clean_command;
mod cli;
mod cli_service;
mod error;
mod export_command;
mod help_command;
mod left_behind;
mod output;
mod report_command;
mod run_command;
mod run_globals;
mod run_handlers;
mod service_command;
mod ui_command;

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use crate::output::{errln, outln};

use clap::Parser as _;
use copili::{exit_code, render, Diagnostics, EnvFile, Input, LoadOptions, Pipeline, Plan, Selection};

use crate::cli::{Cli, Command, GraphFormat, InputArgs, PlanFormat};
use crate::error::{plural, CliError};

/// One heap behind one lock instead of glibc's per-thread arenas: copili's threads mostly wait
/// on engine clients, so the lock is rarely contended, and a run of 200 containers peaked at
/// 21 MiB with glibc, a third of it arenas (docs/benchmarks.md, "Scale").
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> ExitCode {
    let code = match Cli::try_parse() {
        Ok(cli) => match error::catching_panics(|| run(cli)) {
            Ok(code) => code,
            Err(error) => {
                error.report();
                error.exit_code()
            }
        },
        Err(error) => clap_message(&error),
    };
    ExitCode::from(u8::try_from(output::finish(code)).unwrap_or(1))
}

/// Prints what clap has to say instead of running a command — the help, the version, a usage
/// error — through [`output`] (clap's own `exit` would ignore a full disk), and returns its
/// exit code: 0 for the help and the version, 2 for a usage error.
pub(crate) fn clap_message(error: &clap::Error) -> i32 {
    let text = output::styled(&error.render(), error.use_stderr());
    if error.use_stderr() {
        output::eprint(&text);
    } else {
        output::print(&text);
    }
    error.exit_code()
}

fn run(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Validate { input, backend } => {
            let (pipeline, plan, warnings) = load_and_plan(&input, false)?;
            if let Some(backend) = backend {
                let backend = match backend {
                    cli::BackendChoice::Swarm => copili::planner::Backend::Swarm,
                    cli::BackendChoice::Argo => copili::planner::Backend::Argo,
                };
                run_command::refused_by(backend, &pipeline, &plan, &input.file)?;
            }
            let spec = pipeline.spec();
            let sidecars: usize = spec.containers.iter().map(|c| c.sidecars.len()).sum();
            let sidecars = match sidecars {
                0 => String::new(),
                1 => ", 1 sidecar".into(),
                n => format!(", {n} sidecars"),
            };
            let warnings = if warnings == 0 { String::new() } else { format!(", {}", plural(warnings, "warning")) };
            outln!(
                "{}: pipeline `{}` is valid: {}{sidecars}, {} selected in {}{warnings}",
                spec.source.name,
                pipeline.identity(),
                plural(spec.containers.len(), "container"),
                plan.len(),
                plural(plan.levels.len(), "level"),
            );
            release_at_exit((pipeline, plan));
            Ok(exit_code::SUCCESS)
        }
        Command::Plan { input, format, service_only, engine, pull, timeout } => {
            let (pipeline, plan, _) = load_and_plan(&input, service_only)?;
            run_command::refused_by_backend(&engine, &pipeline, &plan, &input.file)?;
            let images = plan_images(&pipeline, &plan, &engine, pull, timeout.engine_timeout);
            let swarm = (engine == "swarm").then(|| swarm_commands(&pipeline, &plan));
            let locked = airgap_command::plan_locked(&input.file, &pipeline, &plan, &engine, timeout.engine_timeout);
            match format {
                PlanFormat::Text => {
                    let mut text = render::plan::to_text(&pipeline, &plan, &images);
                    if let Some(commands) = &swarm {
                        text.push_str("\nswarm (docker service commands, in the order a run makes them):\n");
                        for (_, lines) in commands {
                            for line in lines {
                                text.push_str(&format!("  {line}\n"));
                            }
                        }
                    }
                    if let Some((path, result)) = &locked {
                        text.push_str(&airgap_command::plan_locked_text(path, result));
                    }
                    output::print(&text);
                }
                // Written as it is serialized: a large plan is never one string in memory.
                PlanFormat::Json => output::print_with(|out| {
                    let mut json = render::plan::to_json(&pipeline, &plan, &images);
                    json.swarm_commands = swarm.map(|commands| {
                        commands.into_iter().map(|(name, lines)| (name, serde_json::Value::from(lines))).collect()
                    });
                    json.locked_images = locked.as_ref().map(|(_, result)| airgap_command::plan_locked_json(result));
                    serde_json::to_writer_pretty(&mut *out, &json)?;
                    out.write_all(b"\n")
                })
                .map_err(|e| CliError::internal("the plan would not serialize", e))?,
            }
            release_at_exit((pipeline, plan));
            Ok(exit_code::SUCCESS)
        }
        Command::Graph { input, format, report } => {
            if report.is_some() && format != GraphFormat::Svg {
                return Err(CliError::Usage("--report colours the drawing of `--format svg` only".into()));
            }
            let report = report.map(|path| report_command::read_report(&path)).transpose()?;
            let (pipeline, plan, _) = load_and_plan(&input, false)?;
            let text = match format {
                GraphFormat::Dot => render::graph::to_dot(&pipeline, &plan),
                GraphFormat::Mermaid => render::graph::to_mermaid(&pipeline, &plan),
                GraphFormat::Svg => {
                    let graph = render::svg::Graph::from_plan(&pipeline, &plan);
                    let graph = match &report {
                        Some(report) => graph.with_report(report),
                        None => graph,
                    };
                    render::svg::to_svg(&graph)
                }
            };
            output::print(&text);
            Ok(exit_code::SUCCESS)
        }
        Command::Run { input, run, once } => run_command::run(&input, &run, &once),
        Command::Report { report, output, state_dir, logs_from } => {
            report_command::report(&report, &output, state_dir.as_deref(), logs_from.as_deref())
        }
        Command::Service { input, run, service } => service_command::service(&input, &run, &service),
        Command::Lock(args) => airgap_command::lock(&args),
        Command::Bundle { action } => match action {
            cli::BundleAction::Save(args) => airgap_command::bundle_save(&args),
            cli::BundleAction::Load(args) => airgap_command::bundle_load(&args),
        },
        Command::Status { file, name, state_dir, runs, format, schedule } => {
            service_command::status(&file, name.as_deref(), state_dir.as_deref(), runs, format, &schedule)
        }
        Command::Ui { state_dirs, listen, token } => ui_command::ui(&state_dirs, listen, &token),
        Command::Clean { file, name, engine, timeout } => {
            clean_command::clean(file.as_deref(), name.as_deref(), &engine, timeout.engine_timeout)
        }
        Command::Export { target } => export_command::export(&target),
        Command::Schema => {
            let mut json = serde_json::to_string_pretty(&copili::model::schema::json_schema())
                .map_err(|e| CliError::internal("the JSON schema would not serialize", e))?;
            json.push('\n');
            output::print(&json);
            Ok(exit_code::SUCCESS)
        }
        Command::Completions { shell } => help_command::completions(shell),
        Command::Man { dir } => help_command::man(&dir),
        Command::Help { command } => Ok(help_command::help(&command)),
    }
}

/// The `docker service create` commands a swarm run makes, per container (`plan --engine
/// swarm`), and a warning on stderr for each bind mount without a placement constraint: on a
/// swarm, a host path is a path on whichever node runs the job.
fn swarm_commands(pipeline: &Pipeline, plan: &Plan) -> Vec<(String, Vec<String>)> {
    use copili::runtime::{CliEngine, EngineKind, SwarmEngine};
    let engine = SwarmEngine::new(CliEngine::new("docker", EngineKind::Docker).dry_run(|_| {}));
    let config = copili::RunConfig {
        identity: pipeline.identity().to_string(),
        run_id: "<run id>".into(),
        jobs: 1,
        fail_fast: false,
        stop_timeout: std::time::Duration::from_secs(10),
        global_env: Vec::new(),
        global_labels: Vec::new(),
        policies: Vec::new(),
        images: Default::default(),
        instance: None,
        outputs_dir: None,
    };
    let spec = pipeline.spec();
    let mut out = Vec::new();
    for c in plan.order() {
        let container = &spec.containers[c];
        for (sidecar, request) in copili::runtime::runner::planned_requests(container, &config) {
            let binds = request.mounts.iter().any(|m| matches!(m.source, copili::runtime::MountSource::Host(_)));
            if binds && request.placement.is_empty() {
                let who = sidecar.as_ref().map_or(container.name.clone(), |s| format!("{}/{s}", container.name));
                errln!(
                    "warning: `{who}` bind-mounts a host path but has no `placement`: on a swarm the path is on whichever node runs it (add e.g. `placement: [node.hostname==…]`, or use shared storage)"
                );
            }
        }
        let lines = engine.planned_command_lines(container, &config);
        out.push((container.name.clone(), lines));
    }
    out
}

/// What will happen to each image, asking the engine which are present (`--engine none`: not
/// asked; an engine that does not answer: "could not tell").
fn plan_images(
    pipeline: &Pipeline,
    plan: &Plan,
    engine: &str,
    pull: Option<copili::model::PullPolicy>,
    timeout: std::time::Duration,
) -> render::plan::ImagePlans {
    use copili::runtime::Engine as _;
    // Not asked, nothing to say: a plan of a large pipeline stays as quick as without images.
    if engine == "none" {
        return render::plan::ImagePlans::new();
    }
    let local = {
        // Swarm's images are the manager's docker's.
        let engine = if engine == "swarm" { "docker" } else { engine };
        Some(match copili::runtime::CliEngine::select_with_timeout(engine, timeout) {
            Ok(engine) => engine.local_images().map_err(|e| {
                let text = copili::report::words::engine_failure(&e);
                let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
                format!("{} does not answer: {line}", engine.name())
            }),
            Err(e) => Err(format!("no engine: {e}")),
        })
    };
    let order: Vec<usize> = plan.order().collect();
    copili::runtime::images::plan(pipeline.spec(), &order, pull, local.as_ref())
}

/// Leaves a large pipeline to the operating system, which frees a process's memory at once,
/// instead of freeing it piece by piece just before exiting (a few percent of a large run).
fn release_at_exit<T>(value: T) {
    std::mem::forget(value);
}

/// Loads, validates and plans; prints the warnings to stderr. [`CliError::Invalid`] (or another
/// invalid-input error) when the input is invalid. The count is the number of warnings printed.
pub(crate) fn load_and_plan(input: &InputArgs, service_only: bool) -> Result<(Pipeline, Plan, usize), CliError> {
    let mut options = LoadOptions::from_process();
    options.strict_env = input.strict_env;
    if let Some(path) = &input.env_file {
        options.env_file = EnvFile::Path(path.clone());
    }
    let stdin_text;
    let source = if input.file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(CliError::Stdin)?;
        stdin_text = copili::model::decode_utf8("<stdin>", bytes).map_err(|diagnostic| CliError::Invalid {
            diagnostics: Diagnostics { items: vec![*diagnostic] },
            file: "-".into(),
        })?;
        Input::Stdin(&stdin_text)
    } else {
        Input::File(&input.file)
    };
    let file = input.file.display().to_string();
    let pipeline = match Pipeline::load(source, &options) {
        Ok(pipeline) => pipeline,
        Err(diagnostics) => return Err(CliError::Invalid { diagnostics, file }),
    };
    let pipeline = match &input.name {
        Some(name) if name.trim().is_empty() => return Err(CliError::Usage("--name must not be empty".into())),
        Some(name) => pipeline.with_identity(name.clone()),
        None => pipeline,
    };
    let selection = Selection {
        environment: input.environment.clone().or_else(|| pipeline.default_environment(&options)),
        only: input.only.clone(),
        skip: input.skip.clone(),
        service_only,
    };
    let plan = match pipeline.plan(&selection) {
        Ok(plan) => plan,
        Err(diagnostics) => {
            for w in pipeline.warnings() {
                errln!("{w}");
            }
            return Err(CliError::Invalid { diagnostics, file });
        }
    };
    let warnings: Vec<_> = pipeline.warnings().iter().chain(&plan.warnings).collect();
    for w in &warnings {
        errln!("{w}");
    }
    let n = warnings.len();
    Ok((pipeline, plan, n))
}
