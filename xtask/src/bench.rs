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

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{build_copili_binary, display_command, target_dir, Error, Result};

/// The pipeline sizes, in containers; the goal is set for the first, the second checks growth.
const SIZES: [usize; 2] = [10_000, 20_000];
/// The seed of the generator: the same files on every machine and run.
const SEED: u64 = 0x00c0_9111_be4c_2024;
/// Dependencies are picked among this many preceding containers, so the graph is deep.
const RECENT_WINDOW: usize = 50;
/// One dependency in this many is picked among all preceding containers instead.
const LONG_EDGE_ONE_IN: u64 = 10;
/// Dependencies per container (fewer for the first ones).
const DEPENDENCIES_PER_CONTAINER: usize = 3;

/// Goal for the smaller size: median wall time.
const GOAL_MILLISECONDS: f64 = 100.0;
/// Goal for the smaller size: peak RSS.
const GOAL_MIB: f64 = 50.0;
/// Largest net 20k/10k ratio still called linear: O(n log n) gives about 2.1, O(n²) 4.
const LINEAR_RATIO_LIMIT: f64 = 2.5;
/// Below these net values (above the floor) a ratio is noise, and is not computed.
const NOISE_MILLISECONDS: f64 = 1.0;
const NOISE_MIB: f64 = 1.0;

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

/// Runs `cargo xtask bench [--runs N]`.
pub(crate) fn run(args: &[String]) -> Result {
    let n_runs = parse_runs(args)?;
    let copili = build_copili_binary(true)?;
    let bench_dir = target_dir()?.join("bench");
    fs::create_dir_all(&bench_dir).map_err(|error| io_failure("cannot create", &bench_dir, error))?;

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

    let bench = Bench { copili: &copili, dir: &bench_dir, n_runs };
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
    let mut markdown = report.to_markdown();
    // The runtime: copili against the raw engine CLI, on engines set up as for the tests.
    let engines = crate::setup::ensure()?;
    markdown.push_str(&crate::bench_run::run(&copili, &bench_dir, &engines, n_runs.min(5))?);
    print!("{markdown}");
    let results = bench_dir.join("results.md");
    fs::write(&results, &markdown).map_err(|error| io_failure("cannot write", &results, error))?;
    eprintln!("written to {}", results.display());
    Ok(())
}

fn parse_runs(args: &[String]) -> Result<usize> {
    match args {
        [] => Ok(DEFAULT_RUNS),
        [flag, value] if flag == "--runs" => match value.parse() {
            Ok(n_runs) if n_runs > 0 => Ok(n_runs),
            _ => Err(Error::Usage(format!("--runs takes a positive number, not `{value}`"))),
        },
        [flag] if flag == "--runs" => Err(Error::Usage("--runs takes a positive number".into())),
        [other, ..] => Err(Error::Usage(format!("unexpected argument `{other}`"))),
    }
}

fn io_failure(what: &str, path: &Path, error: io::Error) -> Error {
    Error::Failed(format!("{what} {}: {error}", path.display()))
}

/// A pipeline made up for the benchmark: container `i` is named `c{i:05}` and depends on up to
/// three distinct earlier containers, so the graph is acyclic by construction.
#[derive(Debug, PartialEq)]
struct GeneratedPipeline {
    /// For each container, the indices of its dependencies, ascending, all below its own.
    dependencies: Vec<Vec<usize>>,
}

impl GeneratedPipeline {
    fn generate(n_containers: usize, seed: u64) -> GeneratedPipeline {
        let mut random = SplitMix64(seed);
        let dependencies = (0..n_containers)
            .map(|container_idx| {
                let n_dependencies = container_idx.min(DEPENDENCIES_PER_CONTAINER);
                let mut picked: Vec<usize> = Vec::with_capacity(n_dependencies);
                while picked.len() < n_dependencies {
                    // Mostly a recent container, which makes long chains; sometimes any earlier
                    // one, which makes wide fan-outs.
                    let candidate = if random.below(LONG_EDGE_ONE_IN) == 0 {
                        random.below(container_idx as u64) as usize
                    } else {
                        let window = container_idx.min(RECENT_WINDOW);
                        container_idx - 1 - random.below(window as u64) as usize
                    };
                    if !picked.contains(&candidate) {
                        picked.push(candidate);
                    }
                }
                picked.sort_unstable();
                picked
            })
            .collect();
        GeneratedPipeline { dependencies }
    }

    fn n_containers(&self) -> usize {
        self.dependencies.len()
    }

    fn n_edges(&self) -> usize {
        self.dependencies.iter().map(Vec::len).sum()
    }

    /// The number of containers on the longest dependency chain.
    fn longest_chain(&self) -> usize {
        let mut chain_ending_at: Vec<usize> = Vec::with_capacity(self.dependencies.len());
        for dependencies in &self.dependencies {
            let longest_before = dependencies.iter().map(|&dependency_idx| chain_ending_at[dependency_idx]).max();
            chain_ending_at.push(longest_before.unwrap_or(0) + 1);
        }
        chain_ending_at.into_iter().max().unwrap_or(0)
    }

    fn write_file(&self, path: &Path, format: Format) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        match format {
            Format::Yaml => self.write_yaml(&mut out)?,
            Format::Json => self.write_json(&mut out)?,
        }
        out.flush()
    }

    fn write_yaml(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(
            out,
            "# Generated by `cargo xtask bench`: {} containers, {} edges.",
            self.n_containers(),
            self.n_edges()
        )?;
        writeln!(out, "bench:")?;
        for (container_idx, dependencies) in self.dependencies.iter().enumerate() {
            writeln!(out, "  - name: {}", container_name(container_idx))?;
            writeln!(out, "    image_repo: localhost/copili-test")?;
            writeln!(out, "    tag: latest")?;
            writeln!(out, "    env_vars:")?;
            writeln!(out, "      CONTAINER_INDEX: \"{container_idx}\"")?;
            writeln!(out, "      LOG_LEVEL: info")?;
            writeln!(out, "    command: [sh, -c, \"exit 0\"]")?;
            if !dependencies.is_empty() {
                let names: Vec<String> = dependencies.iter().map(|&idx| container_name(idx)).collect();
                writeln!(out, "    dependencies: [{}]", names.join(", "))?;
            }
        }
        Ok(())
    }

    fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{{\"bench\": [")?;
        for (container_idx, dependencies) in self.dependencies.iter().enumerate() {
            write!(
                out,
                "  {{\"name\": \"{}\", \"image_repo\": \"localhost/copili-test\", \"tag\": \"latest\", \
                 \"env_vars\": {{\"CONTAINER_INDEX\": \"{container_idx}\", \"LOG_LEVEL\": \"info\"}}, \
                 \"command\": [\"sh\", \"-c\", \"exit 0\"]",
                container_name(container_idx)
            )?;
            if !dependencies.is_empty() {
                let names: Vec<String> =
                    dependencies.iter().map(|&idx| format!("\"{}\"", container_name(idx))).collect();
                write!(out, ", \"dependencies\": [{}]", names.join(", "))?;
            }
            let separator = if container_idx + 1 < self.dependencies.len() { "," } else { "" };
            writeln!(out, "}}{separator}")?;
        }
        writeln!(out, "]}}")
    }
}

fn container_name(container_idx: usize) -> String {
    format!("c{container_idx:05}")
}

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast and good enough to pick dependencies.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`), by the multiply-shift method (no modulo bias
    /// worth the name for these bounds).
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// Runs the copili binary from the bench directory and measures it.
struct Bench<'a> {
    copili: &'a Path,
    dir: &'a Path,
    n_runs: usize,
}

/// One run of a command.
struct Sample {
    wall: Duration,
    peak_rss_kib: Option<u64>,
}

/// The runs of one command, summarised.
struct Measurement {
    median_ms: f64,
    min_ms: f64,
    /// The largest peak RSS over the runs; `None` where the platform does not tell.
    peak_rss_mib: Option<f64>,
}

impl Bench<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.copili);
        command.args(args).current_dir(self.dir).stdin(Stdio::null());
        command
    }

    /// `copili --version`, for the report's header.
    fn version(&self) -> Result<String> {
        let mut command = self.command(&["--version"]);
        let line = display_command(&command);
        let output = command.output().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
        if !output.status.success() {
            return Err(Error::Failed(format!("`{line}` failed ({})", output.status)));
        }
        let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
        Ok(if version.is_empty() { "copili (no version printed)".to_string() } else { version })
    }

    /// One warm-up run, then `n_runs` measured ones.
    fn measure(&self, args: &[&str]) -> Result<Measurement> {
        eprintln!("measuring `{}`", display_command(&self.command(args)));
        self.run_once(args)?;
        let mut samples = Vec::with_capacity(self.n_runs);
        for _ in 0..self.n_runs {
            samples.push(self.run_once(args)?);
        }
        let mut milliseconds: Vec<f64> = samples.iter().map(|sample| sample.wall.as_secs_f64() * 1e3).collect();
        milliseconds.sort_by(f64::total_cmp);
        let peak_rss_kib = samples.iter().map(|sample| sample.peak_rss_kib).max().flatten();
        Ok(Measurement {
            median_ms: median(&milliseconds),
            min_ms: milliseconds.first().copied().unwrap_or(f64::NAN),
            peak_rss_mib: peak_rss_kib.map(|kib| kib as f64 / 1024.0),
        })
    }

    /// Runs the command with stdout discarded and stderr in a file (a pipe could fill up and
    /// stall the child, and would need a reader thread timed along with it).
    fn run_once(&self, args: &[&str]) -> Result<Sample> {
        let mut command = self.command(args);
        let line = display_command(&command);
        let stderr_path = self.dir.join("stderr.txt");
        let stderr = File::create(&stderr_path).map_err(|error| io_failure("cannot create", &stderr_path, error))?;
        command.stdout(Stdio::null()).stderr(stderr);
        let started = Instant::now();
        let child = command.spawn().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
        let (status, peak_rss_kib) =
            wait_with_peak_rss(child).map_err(|error| Error::Failed(format!("cannot wait for `{line}`: {error}")))?;
        let wall = started.elapsed();
        if !status.success() {
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(Error::Failed(format!(
                "`{line}` failed ({status}), run from {}; its stderr ends with:\n{}",
                self.dir.display(),
                tail.join("\n")
            )));
        }
        Ok(Sample { wall, peak_rss_kib })
    }
}

/// Waits for `child` with `wait4(2)`, which also returns the child's resource usage: its peak
/// resident set size, `ru_maxrss`, in KiB on Linux.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn wait_with_peak_rss(child: Child) -> io::Result<(ExitStatus, Option<u64>)> {
    use std::os::unix::process::ExitStatusExt;

    let pid = libc::pid_t::try_from(child.id()).map_err(|_| io::Error::other("process id out of range"))?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero bytes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child and not yet reaped (std reaps only in `Child::wait` and
        // `try_wait`, never called on `child`); both pointers are valid for the call.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if waited == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    // Dropping a `Child` neither waits nor kills; its stdio handles are closed.
    drop(child);
    Ok((ExitStatus::from_raw(status), u64::try_from(usage.ru_maxrss).ok()))
}

/// Elsewhere `ru_maxrss` has other units, or there is no `wait4`: no memory figures.
#[cfg(not(target_os = "linux"))]
fn wait_with_peak_rss(mut child: Child) -> io::Result<(ExitStatus, Option<u64>)> {
    Ok((child.wait()?, None))
}

/// The peak RSS of xtask itself. On Linux a child's `ru_maxrss` also counts the memory of the
/// process that spawned it (the address space it started from), so it can never read below this.
fn own_peak_mib() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 =
        status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU model, CPU count and kernel, for the report: numbers mean little without them.
fn machine_description() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|cpuinfo| {
            cpuinfo.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let n_cpus = std::thread::available_parallelism().map_or_else(|_| "?".to_string(), |n| n.to_string());
    let mut description = format!("{cpu}, {n_cpus} CPUs, {}", std::env::consts::OS);
    if let Ok(release) = fs::read_to_string("/proc/sys/kernel/osrelease") {
        description.push(' ');
        description.push_str(release.trim());
    }
    // Other work on the machine (a build, say) shows in the numbers: say how busy it was.
    if let Some(load) = fs::read_to_string("/proc/loadavg").ok().and_then(|loadavg| {
        let fields: Vec<&str> = loadavg.split_whitespace().take(3).collect();
        (fields.len() == 3).then(|| fields.join(" "))
    }) {
        let _ = write!(description, ", load average {load} before the runs");
    }
    description
}

/// The median of sorted values (NaN for none).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0,
    }
}

/// One line of the table.
struct Row {
    n_containers: usize,
    n_edges: usize,
    format: Format,
    /// The copili arguments, with `FILE` for the pipeline.
    command: String,
    measurement: Measurement,
}

struct Report {
    version: String,
    n_runs: usize,
    floor: Measurement,
    rows: Vec<Row>,
    machine: String,
    measurer_peak_mib: Option<f64>,
}

impl Report {
    fn to_markdown(&self) -> String {
        let mut out = String::new();
        let [small, large] = SIZES;
        let floor = &self.floor;
        // `write!` to a String cannot fail.
        let _ = writeln!(out, "## copili bench\n");
        let _ = writeln!(out, "- copili: {} (release build)", self.version);
        let _ = writeln!(out, "- machine: {}", self.machine);
        let _ = writeln!(
            out,
            "- method: wall time from spawn to exit, {} runs after 1 warm-up, median and min; \
             peak RSS is the largest `ru_maxrss` over the runs",
            self.n_runs
        );
        if let Some(mib) = self.measurer_peak_mib {
            let _ = writeln!(
                out,
                "- the measuring process peaked at {mib:.1} MiB; no child's peak RSS can read below that"
            );
        }
        let _ = writeln!(
            out,
            "- ratios are {}/{} containers, net of the floor (`copili --version`); raw in brackets\n",
            thousands(large),
            thousands(small)
        );
        let _ = writeln!(
            out,
            "| containers | edges | format | command | median ms | min ms | peak RSS MiB | time ratio | RSS ratio \
             | goal |"
        );
        let _ = writeln!(out, "|---:|---:|---|---|---:|---:|---:|---:|---:|---|");
        let _ = writeln!(
            out,
            "| | | | `--version` (floor) | {:.1} | {:.1} | {} | | | |",
            floor.median_ms,
            floor.min_ms,
            mib_cell(floor.peak_rss_mib)
        );
        let mut missed = Vec::new();
        for row in &self.rows {
            let m = &row.measurement;
            let (time_ratio, rss_ratio, goal) = if row.n_containers == small {
                let verdict = small_size_goal(m);
                if verdict != "met" {
                    missed.push(format!(
                        "{} `{}` at {}: {verdict}",
                        row.format.extension(),
                        row.command,
                        thousands(small)
                    ));
                }
                (String::new(), String::new(), verdict)
            } else {
                let smaller = self
                    .rows
                    .iter()
                    .find(|other| {
                        other.n_containers == small && other.format == row.format && other.command == row.command
                    })
                    .map(|other| &other.measurement);
                match smaller {
                    Some(smaller) => {
                        let time = Ratio::new(smaller.median_ms, m.median_ms, floor.median_ms, NOISE_MILLISECONDS);
                        let rss = match (smaller.peak_rss_mib, m.peak_rss_mib, floor.peak_rss_mib) {
                            (Some(small_mib), Some(large_mib), Some(floor_mib)) => {
                                Some(Ratio::new(small_mib, large_mib, floor_mib, NOISE_MIB))
                            }
                            _ => None,
                        };
                        let verdict = linearity_verdict(&time, rss.as_ref());
                        if verdict.starts_with("NOT") {
                            missed.push(format!(
                                "{} `{}` from {} to {}: {verdict}",
                                row.format.extension(),
                                row.command,
                                thousands(small),
                                thousands(large)
                            ));
                        }
                        (time.to_string(), rss.map_or_else(|| "n/a".to_string(), |rss| rss.to_string()), verdict)
                    }
                    None => (String::new(), String::new(), String::new()),
                }
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | {:.1} | {:.1} | {} | {time_ratio} | {rss_ratio} | {goal} |",
                thousands(row.n_containers),
                thousands(row.n_edges),
                row.format.extension(),
                row.command,
                m.median_ms,
                m.min_ms,
                mib_cell(m.peak_rss_mib),
            );
        }
        let _ = writeln!(out);
        if missed.is_empty() {
            let _ = writeln!(
                out,
                "Goal met: {} containers validate and plan in ≤ {GOAL_MILLISECONDS:.0} ms and ≤ {GOAL_MIB:.0} MiB, \
                 and {} take at most {LINEAR_RATIO_LIMIT}× as long and as much.",
                thousands(small),
                thousands(large)
            );
        } else {
            let _ = writeln!(out, "Goal NOT met:");
            for miss in missed {
                let _ = writeln!(out, "- {miss}");
            }
        }
        out
    }
}

/// `met`, or `NOT met` with what was missed, for a measurement at the smaller size.
fn small_size_goal(measurement: &Measurement) -> String {
    let mut misses = Vec::new();
    if measurement.median_ms.is_nan() || measurement.median_ms > GOAL_MILLISECONDS {
        misses.push(format!("> {GOAL_MILLISECONDS:.0} ms"));
    }
    match measurement.peak_rss_mib {
        Some(mib) if mib > GOAL_MIB => misses.push(format!("> {GOAL_MIB:.0} MiB")),
        Some(_) => {}
        None => misses.push("memory not measured".to_string()),
    }
    if misses.is_empty() {
        "met".to_string()
    } else {
        format!("NOT met ({})", misses.join(", "))
    }
}

/// `linear`, `NOT linear (…)`, or `n/a` when both figures are within noise of the floor.
fn linearity_verdict(time: &Ratio, rss: Option<&Ratio>) -> String {
    let mut nonlinear = Vec::new();
    let mut measured = false;
    for (what, ratio) in [("time", Some(time)), ("RSS", rss)] {
        if let Some(net) = ratio.and_then(|ratio| ratio.net) {
            measured = true;
            if net > LINEAR_RATIO_LIMIT {
                nonlinear.push(format!("{what} ×{net:.2}"));
            }
        }
    }
    match (measured, nonlinear.is_empty()) {
        (false, _) => "n/a (at the floor)".to_string(),
        (true, true) => "linear".to_string(),
        (true, false) => format!("NOT linear ({})", nonlinear.join(", ")),
    }
}

/// The growth from the smaller to the larger pipeline.
#[derive(Debug, PartialEq)]
struct Ratio {
    raw: f64,
    /// Net of the floor; `None` when the smaller value is within noise of the floor.
    net: Option<f64>,
}

impl Ratio {
    fn new(smaller: f64, larger: f64, floor: f64, noise: f64) -> Ratio {
        let net = (smaller - floor >= noise).then(|| (larger - floor) / (smaller - floor));
        Ratio { raw: larger / smaller, net }
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.net {
            Some(net) => write!(f, "{net:.2} ({:.2})", self.raw),
            None => write!(f, "n/a ({:.2})", self.raw),
        }
    }
}

fn mib_cell(mib: Option<f64>) -> String {
    mib.map_or_else(|| "n/a".to_string(), |mib| format!("{mib:.1}"))
}

/// `29994` → `29,994`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (idx, digit) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pipeline_is_acyclic_with_three_dependencies_each() {
        let pipeline = GeneratedPipeline::generate(1_000, SEED);
        assert_eq!(pipeline.n_containers(), 1_000);
        // 0 + 1 + 2 for the first three, then 3 each.
        assert_eq!(pipeline.n_edges(), 3 * 1_000 - 6);
        let mut recent = 0;
        for (container_idx, dependencies) in pipeline.dependencies.iter().enumerate() {
            assert_eq!(dependencies.len(), container_idx.min(3), "container {container_idx}");
            // Strictly ascending: distinct. All earlier: acyclic, and file order is a valid order.
            assert!(dependencies.windows(2).all(|pair| pair[0] < pair[1]), "container {container_idx}");
            assert!(dependencies.iter().all(|&dependency_idx| dependency_idx < container_idx));
            recent +=
                dependencies.iter().filter(|&&dependency_idx| container_idx - dependency_idx <= RECENT_WINDOW).count();
        }
        assert!(recent * 10 >= pipeline.n_edges() * 8, "{recent} of {} edges are recent", pipeline.n_edges());
        let longest_chain = pipeline.longest_chain();
        assert!((50..1_000).contains(&longest_chain), "longest chain {longest_chain}");
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(GeneratedPipeline::generate(300, SEED), GeneratedPipeline::generate(300, SEED));
        assert_ne!(GeneratedPipeline::generate(300, SEED), GeneratedPipeline::generate(300, SEED + 1));
    }

    fn rendered(pipeline: &GeneratedPipeline, format: Format) -> String {
        let mut out = Vec::new();
        match format {
            Format::Yaml => pipeline.write_yaml(&mut out),
            Format::Json => pipeline.write_json(&mut out),
        }
        .expect("writing to memory");
        String::from_utf8(out).expect("ASCII")
    }

    #[test]
    fn yaml_lists_every_container_under_one_key() {
        let pipeline = GeneratedPipeline::generate(1_000, SEED);
        let yaml = rendered(&pipeline, Format::Yaml);
        assert_eq!(
            yaml.lines().filter(|line| !line.starts_with('#') && !line.starts_with(' ')).collect::<Vec<_>>(),
            ["bench:"]
        );
        let names: Vec<&str> = yaml.lines().filter_map(|line| line.strip_prefix("  - name: ")).collect();
        assert_eq!(names.len(), 1_000);
        assert_eq!((names[0], names[999]), ("c00000", "c00999"));
        let n_edges: usize = yaml
            .lines()
            .filter_map(|line| line.strip_prefix("    dependencies: ["))
            .map(|list| list.split(", ").count())
            .sum();
        assert_eq!(n_edges, pipeline.n_edges());
        let first_with_dependencies = "  - name: c00003\n    image_repo: localhost/copili-test\n    tag: latest\n    \
             env_vars:\n      CONTAINER_INDEX: \"3\"\n      LOG_LEVEL: info\n    command: [sh, -c, \"exit 0\"]\n    \
             dependencies: [";
        assert!(yaml.contains(first_with_dependencies), "{}", &yaml[..600]);
    }

    #[test]
    fn json_lists_every_container_under_one_key() {
        let pipeline = GeneratedPipeline::generate(1_000, SEED);
        let json = rendered(&pipeline, Format::Json);
        assert!(json.starts_with(
            r#"{"bench": [
  {"name": "c00000", "image_repo": "localhost/copili-test", "#
        ));
        assert!(json.ends_with("}\n]}\n"));
        assert_eq!(json.matches("{\"name\": ").count(), 1_000);
        // Every line but the last container's ends with a comma; brackets balance.
        assert_eq!(json.lines().filter(|line| line.ends_with("},")).count(), 999);
        for (open, close) in [('{', '}'), ('[', ']')] {
            assert_eq!(json.matches(open).count(), json.matches(close).count());
        }
        let n_dependency_names: usize = json
            .lines()
            .filter_map(|line| line.split_once("\"dependencies\": [").map(|(_, list)| list.split(", ").count()))
            .sum();
        assert_eq!(n_dependency_names, pipeline.n_edges());
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs for seed 0 of the reference implementation (Vigna's splitmix64.c).
        let mut random = SplitMix64(0);
        assert_eq!(random.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(random.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        let mut random = SplitMix64(SEED);
        assert!((0..1_000).all(|_| random.below(7) < 7));
    }

    #[test]
    fn median_and_thousands() {
        assert_eq!(median(&[1.0, 2.0, 10.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 10.0]), 3.0);
        assert!(median(&[]).is_nan());
        assert_eq!(
            [thousands(0), thousands(999), thousands(29_994), thousands(1_234_567)],
            ["0", "999", "29,994", "1,234,567"]
        );
    }

    #[test]
    fn ratios_are_net_of_the_floor_and_skip_noise() {
        assert_eq!(Ratio::new(11.0, 21.0, 1.0, 1.0).to_string(), "2.00 (1.91)");
        assert_eq!(Ratio::new(1.5, 1.6, 1.0, 1.0).to_string(), "n/a (1.07)");
        let linear = Ratio::new(11.0, 21.0, 1.0, 1.0);
        let quadratic = Ratio::new(11.0, 41.0, 1.0, 1.0);
        assert_eq!(linearity_verdict(&linear, Some(&linear)), "linear");
        assert_eq!(linearity_verdict(&linear, Some(&quadratic)), "NOT linear (RSS ×4.00)");
        assert_eq!(linearity_verdict(&Ratio::new(1.5, 1.6, 1.0, 1.0), None), "n/a (at the floor)");
    }

    #[test]
    fn small_size_goal_names_what_was_missed() {
        let check = |median_ms: f64, peak_rss_mib: Option<f64>, expected: &str| {
            let measurement = Measurement { median_ms, min_ms: median_ms, peak_rss_mib };
            assert_eq!(small_size_goal(&measurement), expected);
        };
        check(99.0, Some(49.0), "met");
        check(101.0, Some(49.0), "NOT met (> 100 ms)");
        check(101.0, Some(51.0), "NOT met (> 100 ms, > 50 MiB)");
        check(10.0, None, "NOT met (memory not measured)");
    }

    #[test]
    fn runs_option() {
        let args = |list: &[&str]| list.iter().map(|arg| arg.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_runs(&args(&[])), Ok(DEFAULT_RUNS));
        assert_eq!(parse_runs(&args(&["--runs", "3"])), Ok(3));
        assert!(matches!(parse_runs(&args(&["--runs", "0"])), Err(Error::Usage(_))));
        assert!(matches!(parse_runs(&args(&["--fast"])), Err(Error::Usage(_))));
    }

    #[test]
    fn a_failing_command_fails_the_bench_with_its_stderr() {
        let dir = std::env::temp_dir().join(format!("copili-xtask-bench-test-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temporary directory");
        let bench = Bench { copili: Path::new("sh"), dir: &dir, n_runs: 1 };
        let result = bench.measure(&["-c", "echo first; echo invalid pipeline >&2; exit 2"]);
        fs::remove_dir_all(&dir).expect("temporary directory removed");
        let Err(Error::Failed(message)) = result else { panic!("expected a failure") };
        assert!(message.starts_with("`sh -c 'echo first; echo invalid pipeline >&2; exit 2'` failed (exit status: 2)"));
        assert!(message.ends_with("its stderr ends with:\ninvalid pipeline"), "{message}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn wait4_reports_the_exit_status_and_a_peak_rss() {
        let child = Command::new("sh").args(["-c", "exit 3"]).spawn().expect("sh is there");
        let (status, peak_rss_kib) = wait_with_peak_rss(child).expect("waited");
        assert_eq!(status.code(), Some(3));
        assert!(peak_rss_kib.is_some_and(|kib| kib > 0), "{peak_rss_kib:?}");
    }
}
