//! `cargo xtask bench`: how long `copili validate` and `copili plan` take, and how much memory
//! they need, on generated pipelines of 10,000 and 20,000 containers.
//!
//! The goal: 10,000 containers with about 30,000 dependency edges validate and plan in at most
//! 100 ms and 50 MiB, and 20,000 take about twice that. This is a report, not a test: a missed
//! goal is printed, only a failing command fails the run. `docs/benchmarks.md` says how to read
//! the numbers.
//!
//! 1. Builds the release binary.
//! 2. Writes the pipelines, YAML and JSON, to `<target>/bench/` ([`GeneratedPipeline`]).
//! 3. Runs each command once to warm the page cache, then `--runs` times (7 by default),
//!    measuring the wall time from spawn to exit and the child's peak RSS (`ru_maxrss` from
//!    `wait4(2)`, Linux only). `copili --version` gives the floor: the cost of starting a process.
//! 4. Prints a Markdown table (median, min, peak RSS, 20k/10k ratios, goal) and writes it to
//!    `<target>/bench/results.md`.
//!
//! The modules: [`pipeline`] generates the pipelines, [`measure`] runs and times copili,
//! [`report`] writes the table, and [`runtime`] compares `copili run` with the raw engine CLI.

mod measure;
mod pipeline;
mod report;
mod runtime;

use std::fs;
use std::io;
use std::path::Path;

use crate::{build_copili_binary, target_dir, Error, Result};
use measure::{machine_description, own_peak_mib, Bench};
use pipeline::GeneratedPipeline;
use report::{Report, Row};

/// The pipeline sizes, in containers; the goal is set for the first, the second checks growth.
const SIZES: [usize; 2] = [10_000, 20_000];
/// The seed of the generator: the same files on every machine and run.
const SEED: u64 = 0x00c0_9111_be4c_2024;

const DEFAULT_RUNS: usize = 7;

/// A pipeline file format.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Yaml,
    Json,
}

impl Format {
    const ALL: [Format; 2] = [Format::Yaml, Format::Json];

    fn extension(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }
}

/// The benchmarked copili commands, the pipeline file's path appended to the first argument.
const COMMANDS: [(&str, &[&str]); 2] = [("validate", &[]), ("plan", &["--format", "json", "--engine", "none"])];

/// The parts of the benchmark, for `--only`.
const PARTS: [&str; 2] = ["plan", "runtime"];

/// The options of `cargo xtask bench`.
#[derive(Debug, PartialEq)]
struct Options {
    /// `--runs N`.
    n_runs: usize,
    /// `--only PART`: one part of [`PARTS`]; all without it.
    only: Option<String>,
}

impl Options {
    fn includes(&self, part: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == part)
    }
}

/// Runs `cargo xtask bench [--runs N] [--only plan|runtime]`.
pub(crate) fn run(args: &[String]) -> Result {
    let options = parse_options(args)?;
    let n_runs = options.n_runs;
    let copili = build_copili_binary(true)?;
    let bench_dir = target_dir()?.join("bench");
    fs::create_dir_all(&bench_dir).map_err(|error| io_failure("cannot create", &bench_dir, error))?;
    let mut markdown = String::new();
    if options.includes("plan") {
        markdown.push_str(&plan_part(&copili, &bench_dir, n_runs)?);
    }
    if options.includes("runtime") {
        // The runtime: copili against the raw engine CLI, on engines set up as for the tests.
        let containers_conf = containers_conf()?;
        markdown.push_str(&runtime::run(&copili, &bench_dir, &containers_conf, n_runs.min(5))?);
    }
    print!("{markdown}");
    let results = bench_dir.join("results.md");
    fs::write(&results, &markdown).map_err(|error| io_failure("cannot write", &results, error))?;
    eprintln!("written to {}", results.display());
    Ok(())
}

/// `copili validate` and `copili plan` on the generated pipelines; the Markdown report.
fn plan_part(copili: &Path, bench_dir: &Path, n_runs: usize) -> Result<String> {
    let mut pipelines = Vec::new();
    for n_containers in SIZES {
        let pipeline = GeneratedPipeline::generate(n_containers, SEED);
        for format in Format::ALL {
            let path = bench_dir.join(format!("pipeline-{n_containers}.{}", format.extension()));
            pipeline.write_file(&path, format).map_err(|error| io_failure("cannot write", &path, error))?;
        }
        eprintln!(
            "generated {n_containers} containers, {} dependency edges, longest chain {} containers",
            pipeline.n_edges(),
            pipeline.longest_chain()
        );
        pipelines.push(pipeline);
    }

    let bench = Bench { copili, dir: bench_dir, n_runs };
    let version = bench.version()?;
    let floor = bench.measure(&["--version"])?;
    let mut rows = Vec::new();
    for format in Format::ALL {
        for (command, options) in COMMANDS {
            for pipeline in &pipelines {
                let file = format!("pipeline-{}.{}", pipeline.n_containers(), format.extension());
                let mut args = vec![command, file.as_str()];
                args.extend_from_slice(options);
                let measurement = bench.measure(&args)?;
                rows.push(Row {
                    n_containers: pipeline.n_containers(),
                    n_edges: pipeline.n_edges(),
                    format,
                    command: args
                        .iter()
                        .map(|arg| if *arg == file { "FILE" } else { arg })
                        .collect::<Vec<_>>()
                        .join(" "),
                    measurement,
                });
            }
        }
    }

    let report =
        Report { version, n_runs, floor, rows, machine: machine_description(), measurer_peak_mib: own_peak_mib() };
    Ok(report.to_markdown())
}

/// Rootful podman's `CONTAINERS_CONF`, from the `engines.env` that `cargo xtask setup` wrote;
/// without one the engines are set up first. (Setting up again from a second checkout fails:
/// the registry it would start is the first checkout's.)
fn containers_conf() -> Result<String> {
    let env_file = target_dir()?.join("test-env").join(crate::setup::ENGINES_ENV_FILE);
    let Ok(text) = fs::read_to_string(&env_file) else {
        return Ok(crate::setup::ensure()?.containers_conf.display().to_string());
    };
    text.lines()
        .find_map(|line| line.strip_prefix("CONTAINERS_CONF="))
        .map(String::from)
        .ok_or_else(|| Error::Failed(format!("no CONTAINERS_CONF in {}: run `cargo xtask setup`", env_file.display())))
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut options = Options { n_runs: DEFAULT_RUNS, only: None };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--runs", Some(value)) => match value.parse() {
                Ok(n_runs) if n_runs > 0 => options.n_runs = n_runs,
                _ => return Err(Error::Usage(format!("--runs takes a positive number, not `{value}`"))),
            },
            ("--runs", None) => return Err(Error::Usage("--runs takes a positive number".into())),
            ("--only", Some(part)) if PARTS.contains(&part.as_str()) => options.only = Some(part.clone()),
            ("--only", _) => return Err(Error::Usage(format!("--only takes one of: {}", PARTS.join(", ")))),
            (other, _) => return Err(Error::Usage(format!("unexpected argument `{other}`"))),
        }
    }
    Ok(options)
}

fn io_failure(what: &str, path: &Path, error: io::Error) -> Error {
    Error::Failed(format!("{what} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let args = |list: &[&str]| list.iter().map(|arg| arg.to_string()).collect::<Vec<_>>();
        let options = |n_runs, only: Option<&str>| Ok(Options { n_runs, only: only.map(String::from) });
        assert_eq!(parse_options(&args(&[])), options(DEFAULT_RUNS, None));
        assert_eq!(parse_options(&args(&["--runs", "3"])), options(3, None));
        assert_eq!(parse_options(&args(&["--only", "runtime", "--runs", "3"])), options(3, Some("runtime")));
        assert!(matches!(parse_options(&args(&["--runs", "0"])), Err(Error::Usage(_))));
        assert!(matches!(parse_options(&args(&["--runs"])), Err(Error::Usage(_))));
        assert!(matches!(parse_options(&args(&["--only", "everything"])), Err(Error::Usage(_))));
        assert!(matches!(parse_options(&args(&["--fast"])), Err(Error::Usage(_))));
        let runtime = Options { n_runs: 1, only: Some("runtime".into()) };
        assert!(runtime.includes("runtime") && !runtime.includes("plan"));
        assert!(Options { n_runs: 1, only: None }.includes("plan"));
    }
}
