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
//! Then the runtime: [`runtime`] (a chain and a diamond against the raw engine CLI), [`wide`]
//! (wide levels against the raw engine in parallel, the default `--jobs`), [`scale`] (copili's
//! own footprint on 200 containers), [`output`] (how fast a container's output gets through)
//! and [`soak`] (service mode for minutes). `--only PART,…` runs some of them: `plan`,
//! `runtime`, `wide`, `output`, `scale`, `soak`.
//!
//! The modules: [`pipeline`] generates the pipelines, [`measure`] runs and times copili,
//! [`report`] writes the table, [`procfs`] samples a process from `/proc`.

mod measure;
mod output;
mod pipeline;
mod procfs;
mod report;
mod runtime;
mod scale;
mod soak;
mod wide;

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
const DEFAULT_SOAK_MINUTES: u64 = 10;

/// The parts of the benchmark, in the order they run.
const PARTS: [&str; 6] = ["plan", "runtime", "wide", "output", "scale", "soak"];

/// `cargo xtask bench`'s options.
#[derive(Debug, PartialEq)]
struct Options {
    n_runs: usize,
    /// The parts to run ([`PARTS`]).
    parts: Vec<&'static str>,
    soak_minutes: u64,
    /// The sizes of the wide part (`--sizes`, some of [`wide::SIZES`]).
    wide_sizes: Vec<usize>,
}

impl Options {
    fn runs(&self, part: &str) -> bool {
        self.parts.contains(&part)
    }
}

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

/// Runs `cargo xtask bench [--runs N] [--only PART,…] [--soak-minutes M] [--sizes N,…]`.
pub(crate) fn run(args: &[String]) -> Result {
    let options = parse_options(args)?;
    let n_runs = options.n_runs;
    let copili = build_copili_binary(true)?;
    let bench_dir = target_dir()?.join("bench");
    fs::create_dir_all(&bench_dir).map_err(|error| io_failure("cannot create", &bench_dir, error))?;
    let mut markdown = String::new();
    if options.runs("plan") {
        markdown.push_str(&plan_benchmark(&copili, &bench_dir, n_runs)?);
    }
    if PARTS[1..].iter().any(|part| options.runs(part)) {
        // The runtime: copili against the raw engine CLI, on engines set up as for the tests.
        let engines = crate::setup::ensure()?;
        if options.runs("runtime") {
            markdown.push_str(&runtime::run(&copili, &bench_dir, &engines, n_runs.min(5))?);
        }
        if options.runs("wide") {
            markdown.push_str(&wide::run(&copili, &bench_dir, &engines, n_runs.min(5), &options.wide_sizes)?);
        }
        if options.runs("output") {
            // Five alternating runs: a row is a second or two, and three left its median ±0.08.
            markdown.push_str(&output::run(&copili, &bench_dir, &engines.containers_conf, n_runs.min(5))?);
        }
        if options.runs("scale") {
            markdown.push_str(&scale::run(&copili, &bench_dir, &engines)?);
        }
        if options.runs("soak") {
            markdown.push_str(&soak::run(&copili, &bench_dir, &engines, options.soak_minutes)?);
        }
    }
    print!("{markdown}");
    let results = bench_dir.join("results.md");
    fs::write(&results, &markdown).map_err(|error| io_failure("cannot write", &results, error))?;
    eprintln!("written to {}", results.display());
    Ok(())
}

/// Validating and planning the generated pipelines: the Markdown of the table.
fn plan_benchmark(copili: &Path, bench_dir: &Path, n_runs: usize) -> Result<String> {
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

fn parse_options(args: &[String]) -> Result<Options> {
    let mut options = Options {
        n_runs: DEFAULT_RUNS,
        parts: PARTS.to_vec(),
        soak_minutes: DEFAULT_SOAK_MINUTES,
        wide_sizes: wide::SIZES.to_vec(),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| Error::Usage(format!("{flag} takes {what}")));
        match flag.as_str() {
            "--runs" | "--soak-minutes" => {
                let value = value("a positive number")?;
                let number = value.parse::<u64>().ok().filter(|n| *n > 0);
                let number =
                    number.ok_or_else(|| Error::Usage(format!("{flag} takes a positive number, not `{value}`")))?;
                if flag == "--runs" {
                    options.n_runs = number as usize;
                } else {
                    options.soak_minutes = number;
                }
            }
            "--only" => {
                let value = value(&format!("a list of parts ({})", PARTS.join(", ")))?;
                options.parts = Vec::new();
                for name in value.split(',') {
                    let part = PARTS.iter().find(|part| **part == name).ok_or_else(|| {
                        Error::Usage(format!("--only: unknown part `{name}` (the parts: {})", PARTS.join(", ")))
                    })?;
                    options.parts.push(part);
                }
            }
            "--sizes" => {
                let sizes: Vec<String> = wide::SIZES.iter().map(usize::to_string).collect();
                let value = value(&format!("a list of wide sizes ({})", sizes.join(", ")))?;
                options.wide_sizes = Vec::new();
                for size in value.split(',') {
                    let n = size.parse::<usize>().ok().filter(|n| wide::SIZES.contains(n)).ok_or_else(|| {
                        Error::Usage(format!("--sizes: `{size}` is not a wide size (the sizes: {})", sizes.join(", ")))
                    })?;
                    options.wide_sizes.push(n);
                }
            }
            other => return Err(Error::Usage(format!("unexpected argument `{other}`"))),
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
        let all = Options {
            n_runs: DEFAULT_RUNS,
            parts: PARTS.to_vec(),
            soak_minutes: DEFAULT_SOAK_MINUTES,
            wide_sizes: vec![20, 100, 200],
        };
        assert_eq!(parse_options(&args(&[])), Ok(all));
        let some =
            parse_options(&args(&["--runs", "3", "--only", "wide,soak", "--soak-minutes", "2", "--sizes", "20,200"]));
        assert_eq!(
            some,
            Ok(Options { n_runs: 3, parts: vec!["wide", "soak"], soak_minutes: 2, wide_sizes: vec![20, 200] })
        );
        assert!(matches!(parse_options(&args(&["--sizes", "20,30"])), Err(Error::Usage(_))));
        assert!(matches!(parse_options(&args(&["--runs", "0"])), Err(Error::Usage(_))));
        assert!(matches!(parse_options(&args(&["--runs"])), Err(Error::Usage(_))));
        assert!(matches!(parse_options(&args(&["--only", "plan,fast"])), Err(Error::Usage(_))));
        assert!(matches!(parse_options(&args(&["--fast"])), Err(Error::Usage(_))));
    }
}
