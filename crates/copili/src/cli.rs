//! The command line: clap definitions only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod airgap;
use airgap::LOCK_EXAMPLES;
mod examples;
pub use crate::cli_service::{default_schedule, ScheduleArgs, ServiceArgs, TokenArgs};
use crate::cli_service::{SERVICE_EXAMPLES, UI_EXAMPLES};
pub use airgap::{BundleAction, BundleLoadArgs, BundleSaveArgs, LockArgs};
use examples::{EXPORT_ARGO_EXAMPLES, GRAPH_EXAMPLES, MAN_EXAMPLES, REPORT_EXAMPLES, VALIDATE_EXAMPLES};

const EXAMPLES: &str = "\
Examples:
  copili validate pipeline.yaml              check a pipeline file, all errors at once
  copili plan pipeline.yaml                  show what would run, level by level
  copili plan pipeline.yaml --format json    the same as JSON, for scripts
  ENV=PROD copili plan pipeline.yaml         leave out containers excluded in PROD
  copili plan pipeline.yaml --only loader    a container and what it depends on
  copili graph pipeline.yaml | dot -Tsvg > pipeline.svg
  cat pipeline.json | copili validate -      read the pipeline from stdin
  copili schema > copili.schema.json         JSON Schema for editor completion

Exit codes: 0 ok, 1 a container failed, 2 invalid input or usage, 3 engine unavailable.";

const PLAN_EXAMPLES: &str = "\
Examples:
  copili plan pipeline.yaml
  copili plan pipeline.yaml --environment PROD
  copili plan pipeline.yaml --only load_genes,load_proteins --skip cleanup
  copili plan pipeline.yaml --service-only
  copili plan pipeline.yaml --format json | jq '.levels'

Secret values (registry passwords, env_vars values) are shown as ****.
Exit codes: 0 ok, 2 invalid input or usage.";

const RUN_EXAMPLES: &str = "\
Examples:
  copili run pipeline.yaml
  copili run pipeline.yaml --engine docker --jobs 4 --fail-fast
  copili run pipeline.yaml --only load_genes --report run.json
  copili run pipeline.yaml --set-env NEO4J_URL=bolt://neo4j:7687 --label team=data
  copili run pipeline.yaml --dry-run

Ctrl-C or SIGTERM stops the running containers (grace period --stop-timeout, a second
Ctrl-C kills at once) and removes everything copili created.
Exit codes: 0 all succeeded, 1 a container failed or was cancelled, 2 invalid input,
3 engine unavailable, 130/143 interrupted by SIGINT/SIGTERM.";

/// Run a pipeline of docker or podman containers in a coordinated way.
#[derive(Debug, Parser)]
// Our own `help` command: clap's refuses `copili help --help`.
#[command(
    name = "copili",
    version,
    about,
    after_help = EXAMPLES,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a pipeline file and report every problem, located.
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate {
        /// The pipeline and selection.
        #[command(flatten)]
        input: InputArgs,
        /// Also check that every selected container can run there: `swarm` (`run --engine
        /// swarm`) or `argo` (`export argo`); options the backend cannot carry are errors.
        #[arg(long = "for", value_enum, value_name = "BACKEND")]
        backend: Option<BackendChoice>,
    },
    /// Show what a run would do: containers by level, what is left out and why.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan {
        /// The pipeline and selection.
        #[command(flatten)]
        input: InputArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// Plan service mode's reruns: service containers only.
        #[arg(long)]
        service_only: bool,
        /// The engine asked which images are present: `auto`, `docker`, `podman`, `swarm` (also
        /// lists the `docker service` commands a run makes; the images are the manager's
        /// docker's), a client's path, or `none` not to ask.
        #[arg(long, env = "COPILI_ENGINE", default_value = "auto", value_name = "ENGINE")]
        engine: String,
        /// The pull policy of every container, as for `run`.
        #[arg(long, value_name = "POLICY", value_parser = parse_pull_policy)]
        pull: Option<copili::model::PullPolicy>,
        /// The bound of the engine's answer, as for `run`.
        #[command(flatten)]
        timeout: EngineTimeout,
    },
    /// Draw the dependency graph (edges point from a dependency to its dependent).
    #[command(after_help = GRAPH_EXAMPLES)]
    Graph {
        /// The pipeline and selection.
        #[command(flatten)]
        input: InputArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// With `--format svg`: colour each container by its status in this JSON report of a
        /// run (`run --report`) and show how long it ran.
        #[arg(long, value_name = "RUN.json", value_parser = PathParser)]
        report: Option<PathBuf>,
    },
    /// Write the HTML report of a run from its JSON report (`run --report`) and log files.
    #[command(after_help = REPORT_EXAMPLES)]
    Report {
        /// The JSON report of the run.
        #[arg(value_name = "RUN.json", value_parser = PathParser)]
        report: PathBuf,
        /// The HTML file to write.
        #[arg(short = 'o', long = "output", value_name = "FILE", value_parser = PathParser)]
        output: PathBuf,
        /// Where the run state is kept, to show the pipeline's last runs.
        #[arg(long, value_name = "DIR", value_parser = PathParser)]
        state_dir: Option<PathBuf>,
        /// The directory the run ran in, from which the report's relative log paths are
        /// read (default: the current directory).
        #[arg(long, value_name = "DIR", value_parser = PathParser)]
        logs_from: Option<PathBuf>,
    },
    /// Run the pipeline once: every selected container, in dependency order.
    #[command(after_help = RUN_EXAMPLES)]
    Run {
        /// The pipeline and selection.
        #[command(flatten)]
        input: InputArgs,
        /// The options `run` shares with `service`.
        #[command(flatten)]
        run: RunArgs,
        /// The options of `run` alone.
        #[command(flatten)]
        once: RunOnceArgs,
    },
    /// Run the pipeline once, then rerun its service containers on their schedule
    ///
    /// Runs until SIGTERM or Ctrl-C, which stop it gracefully: running containers get
    /// `--stop-timeout` to finish, everything is removed, exit code 0.
    #[command(after_help = SERVICE_EXAMPLES)]
    Service {
        /// The pipeline and selection.
        #[command(flatten)]
        input: InputArgs,
        /// The run's options.
        #[command(flatten)]
        run: RunArgs,
        /// The schedule options.
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Pin every image of a pipeline to its registry digest or id, in FILE.lock
    ///
    /// Pulls what is missing and builds what is built, as a run would, then records each image's
    /// identity. `run --locked` runs exactly those images and refuses to start when the host's
    /// differ; `bundle save` carries them to an air-gapped host.
    #[command(after_help = LOCK_EXAMPLES)]
    Lock(LockArgs),
    /// Carry a pipeline and its images across an air gap in one checked archive.
    Bundle {
        /// What to do.
        #[command(subcommand)]
        action: BundleAction,
    },
    /// Show the last runs of a pipeline and when its service containers are next due.
    Status {
        /// The pipeline file.
        #[arg(value_name = "FILE", value_parser = PathParser)]
        file: PathBuf,
        /// The identity the pipeline ran under, if not its top-level key.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Where the run state is kept (default: `.copili/` beside the pipeline file).
        #[arg(long, value_name = "DIR", value_parser = PathParser)]
        state_dir: Option<PathBuf>,
        /// How many runs to show.
        #[arg(long, default_value_t = 10, value_name = "N")]
        runs: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// The default schedule of service containers, as given to `copili service`.
        #[command(flatten)]
        schedule: ScheduleArgs,
    },
    /// Serve a read-only dashboard of the pipelines of state directories
    ///
    /// Every pipeline with a state file there: the process running it, its current run with
    /// the live log of each running container, its next due times and its history, each run's
    /// report a click away. Runs until SIGTERM or Ctrl-C.
    #[command(after_help = UI_EXAMPLES)]
    Ui {
        /// A state directory to show (repeatable; default: `.copili`).
        #[arg(long = "state-dir", value_name = "DIR", value_parser = PathParser)]
        state_dirs: Vec<PathBuf>,
        /// The address to listen on; one that is not loopback needs a token.
        #[arg(long, default_value = "127.0.0.1:8090", value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// Who may look.
        #[command(flatten)]
        token: TokenArgs,
    },
    /// Remove every container and network copili left (of one pipeline, or of all).
    Clean {
        /// The pipeline whose leftovers to remove; without it, every pipeline's.
        #[arg(value_name = "FILE", value_parser = PathParser)]
        file: Option<PathBuf>,
        /// The identity the pipeline ran under, if not its top-level key.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The container engine: `auto` (podman if installed, else docker), `docker`, `podman`,
        /// `swarm` (Docker Swarm mode through the docker client), or the path of a client binary.
        #[arg(long, env = "COPILI_ENGINE", default_value = "auto", value_name = "ENGINE")]
        engine: String,
        /// The bound of the engine's answer, as for `run`.
        #[command(flatten)]
        timeout: EngineTimeout,
    },
    /// Write the pipeline for another scheduler: Argo Workflows.
    Export {
        /// The scheduler.
        #[command(subcommand)]
        target: ExportTarget,
    },
    /// Print the JSON Schema of the pipeline format (for yaml-language-server and editors).
    Schema,
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write a man page for copili and one for each of its commands into a directory
    ///
    /// The pages are `copili.1`, `copili-validate.1` and so on to `copili-export-argo.1`, generated from
    /// the same definitions as `--help`; the directory is created if need be.
    #[command(after_help = MAN_EXAMPLES)]
    Man {
        /// The directory, e.g. `~/.local/share/man/man1`.
        #[arg(value_name = "DIR", value_parser = PathParser)]
        dir: PathBuf,
    },
    /// Print the help of copili, or of a command (the same as `copili COMMAND --help`).
    Help {
        /// The command, and its subcommand (`export argo`).
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
    },
}

/// The input options every command that reads a pipeline takes.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The pipeline file (YAML or JSON), or `-` for standard input.
    #[arg(value_name = "FILE", value_parser = PathParser)]
    pub file: PathBuf,
    /// Run under this identity instead of the file's top-level key (like compose's project
    /// name), so two files with the same key can run side by side.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Read variables from this file instead of the `.env` beside the pipeline file.
    #[arg(long, value_name = "PATH", value_parser = PathParser)]
    pub env_file: Option<PathBuf>,
    /// Make an undefined variable without a default an error instead of a warning.
    #[arg(long)]
    pub strict_env: bool,
    /// The environment containers' `exlude_in_env` is compared with (default: `ENV`).
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
    /// Run only these containers and what they depend on (repeatable or comma-separated).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Leave out these containers; their dependents are cancelled (repeatable or comma-separated).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub skip: Vec<String>,
}

/// The options of `copili run` that `copili service` takes too.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The container engine: `auto` (podman if installed, else docker), `docker`, `podman`,
    /// `swarm` (Docker Swarm mode through the docker client), or the path of a client binary.
    #[arg(long, env = "COPILI_ENGINE", default_value = "auto", value_name = "ENGINE")]
    pub engine: String,
    /// The bound of the engine's answer.
    #[command(flatten)]
    pub timeout: EngineTimeout,
    /// How many containers run at once (sidecars take no slot); default: 16 per CPU.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Stop starting containers after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// How long a stopped container has before it is killed.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub stop_timeout: std::time::Duration,
    /// An environment variable for every container: `KEY=VALUE`, or `KEY` to pass copili's own
    /// (repeatable). A container's own `env_vars` win.
    #[arg(long = "set-env", value_name = "KEY[=VALUE]")]
    pub set_env: Vec<String>,
    /// A label for every container: `KEY=VALUE` (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Where the per-container log files go.
    #[arg(long, default_value = "logs", value_name = "DIR", value_parser = PathParser)]
    pub log_dir: PathBuf,
    /// Write a JSON report of the run here (also when interrupted).
    #[arg(long, value_name = "FILE", value_parser = PathParser)]
    pub report: Option<PathBuf>,
    /// Write Prometheus metrics here after each run (text format, for node_exporter's
    /// textfile collector); counters accumulate across runs in the state directory.
    #[arg(long, value_name = "FILE", value_parser = PathParser)]
    pub metrics: Option<PathBuf>,
    /// The pull policy of every container, overriding their `pull`: `missing` (pull only an
    /// absent image), `always` (copili 1.4's force pull), or `never` (air-gapped hosts).
    #[arg(long, value_name = "POLICY", value_parser = parse_pull_policy)]
    pub pull: Option<copili::model::PullPolicy>,
    /// Where the run state is kept (default: `.copili/` beside the pipeline file).
    #[arg(long, value_name = "DIR", value_parser = PathParser)]
    pub state_dir: Option<PathBuf>,
    /// Run exactly the images of the lock file (FILE.lock, `copili lock`), by their ids:
    /// refuse to start, before anything is created, when an image on the host is another or
    /// missing. Locked images are never pulled or built.
    #[arg(long)]
    pub locked: bool,
    /// Run `run_once` containers even when they succeeded before.
    #[arg(long)]
    pub force: bool,
}

/// `--engine-timeout`, of every command that asks the engine.
#[derive(Debug, Args)]
pub struct EngineTimeout {
    /// How long an engine call that should return quickly (version, inspect, create, start, rm,
    /// network and image queries; `stop` after its grace period) may take before its client is
    /// killed and the call fails. Not run, logs, wait, pull or build.
    #[arg(
        long = "engine-timeout",
        env = "COPILI_ENGINE_TIMEOUT",
        default_value = "60s",
        value_name = "DURATION",
        value_parser = parse_engine_timeout
    )]
    pub engine_timeout: std::time::Duration,
}

/// `--engine-timeout`'s value: a duration (`30s`, `2m`), more than zero.
pub fn parse_engine_timeout(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be more than 0 (e.g. `30s`, `2m`)".into()),
        Ok(duration) => Ok(duration),
        Err(e) => Err(format!("{e} (expected a duration such as `30s` or `2m`)")),
    }
}

/// The options of `copili run` that `copili service` has no use for.
#[derive(Debug, Args)]
pub struct RunOnceArgs {
    /// Print the engine commands in order instead of running them.
    #[arg(long)]
    pub dry_run: bool,
    /// Rerun only what failed or was cancelled in the previous run; its successes count as met
    /// dependencies.
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,
    /// Write the run's HTML report here when it ends: one self-contained file (see `copili
    /// report`).
    #[arg(long, value_name = "FILE", value_parser = PathParser)]
    pub report_html: Option<PathBuf>,
}

/// The schedulers `copili export` writes for.
#[derive(Debug, Subcommand)]
pub enum ExportTarget {
    /// An Argo Workflows `Workflow` of the pipeline, and a `CronWorkflow` per schedule of its
    /// service containers
    ///
    /// Secret values never appear in the output: env values that came from variables are read
    /// from the Secret `<pipeline>-env`, registry logins from `<pipeline>-registry`; create them,
    /// or write them with `--secrets-manifest`.
    #[command(after_help = EXPORT_ARGO_EXAMPLES)]
    Argo(ArgoArgs),
}

/// The options of `copili export argo`.
#[derive(Debug, Args)]
pub struct ArgoArgs {
    /// The pipeline and selection.
    #[command(flatten)]
    pub input: InputArgs,
    /// Write the documents here instead of to standard output (`-`: standard output).
    #[arg(long, short = 'o', value_name = "FILE", value_parser = PathParser)]
    pub output: Option<PathBuf>,
    /// Also write the Secrets the documents refer to, with their values, to this file (mode
    /// 0600; not the file of -o). `-`: standard output, when -o names a file.
    #[arg(long, value_name = "FILE", value_parser = PathParser)]
    pub secrets_manifest: Option<PathBuf>,
    /// Write env values in clear into the Workflow, instead of reading every one from the
    /// Secret `<pipeline>-env`: whoever can read the documents can read them.
    #[arg(long)]
    pub plain_env: bool,
    /// Mount this PersistentVolumeClaim instead of a host path: mounts of HOST or below it
    /// (with a subPath) use PVC (repeatable; HOST is relative to the working directory).
    #[arg(long = "volume-map", value_name = "HOST=PVC")]
    pub volume_map: Vec<String>,
    /// The namespace of every document.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// The interval of service containers without a `schedule` (e.g. `10m`; it must divide an
    /// hour or a day).
    #[arg(long, value_name = "DURATION", conflicts_with = "cron")]
    pub every: Option<String>,
    /// Or a cron expression for them (default: daily at 00:00).
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// The time zone of schedules without their own `timezone` (default: the Argo controller's).
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
}

/// The parser of every path on the command line: a line break or a NUL in it is refused, naming
/// the option. The engine, env files and log readers would split such a path, or cut it short;
/// no real path needs one. Anything else, not UTF-8 included, is a path as given.
#[derive(Debug, Clone, Copy)]
pub struct PathParser;

impl clap::builder::TypedValueParser for PathParser {
    type Value = PathBuf;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<PathBuf, clap::Error> {
        let bytes = value.as_encoded_bytes();
        let what = if bytes.contains(&b'\n') {
            "a line break"
        } else if bytes.contains(&0) {
            "a NUL byte"
        } else {
            return Ok(PathBuf::from(value));
        };
        let option = arg.map_or_else(|| "a path".to_string(), ToString::to_string);
        let message = format!("{option}: {value:?}: a path must not contain {what}\n");
        Err(clap::Error::raw(clap::error::ErrorKind::ValueValidation, message).with_cmd(cmd))
    }
}

/// `--pull`'s value.
pub fn parse_pull_policy(text: &str) -> Result<copili::model::PullPolicy, String> {
    copili::model::PullPolicy::parse(text).ok_or_else(|| "expected `always`, `missing` or `never`".to_string())
}

/// The backends `copili validate --for` checks a pipeline against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// Docker Swarm (`copili run --engine swarm`).
    Swarm,
    /// Argo Workflows (`copili export argo`).
    Argo,
}

/// Formats of `copili plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For people.
    Text,
    /// A stable JSON document (see docs/cli.md).
    Json,
}

/// Formats of `copili graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// An SVG drawing, laid out by copili (open it in a browser).
    Svg,
}
