//! `cargo xtask fuzz [--minutes N] [--target NAME]`: runs copili's `cargo fuzz` targets for N
//! minutes each (default 10) and prints libFuzzer's figures: executions, coverage (`cov:`,
//! covered code edges), features (`ft:`), the corpus, crashes.
//!
//! The targets live in `fuzz/` (a workspace of its own, excluded from the main one):
//!
//! - `pipeline_text`: arbitrary bytes as a pipeline file, seeded from `fuzz/corpus/pipeline/`
//!   (examples and fixtures) with the format's words as a dictionary (`fuzz/pipeline.dict`);
//! - `pipeline_structured`: pipelines built from a structure of the format's forms, mostly
//!   valid, so that planning, rendering and the export see many.
//!
//! Both run parse → interpolate → validate → plan → render plan (text, JSON) and graph (dot,
//! mermaid) → export argo (`fuzz/src/lib.rs`); a panic is a crash.
//!
//! 1. Installs cargo-fuzz (`cargo install cargo-fuzz --locked`) when `cargo fuzz` is missing.
//! 2. Runs `cargo fuzz run TARGET` with AddressSanitizer (cargo-fuzz's default: serde_yaml's
//!    emitter, `unsafe-libyaml`, is C translated to unsafe Rust), one process, on one core. New
//!    inputs go to `<target>/fuzz/corpus/TARGET/`, so the committed seeds stay as they are and
//!    a later run goes on from where the last stopped; a crash's input is written to
//!    `<target>/fuzz/artifacts/TARGET/`.
//! 3. Prints a summary line per target; fails (exit 1) when a target crashed, naming the input
//!    and how to rerun it. A crash's input belongs under `tests/fixtures/invalid/` or in a
//!    regression test of the crate with the bug.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{cargo_command, display_command, project_root, run_command, target_dir, Error, Result};

/// The fuzz targets, in the order they run, and their seed corpus in the repository.
const TARGETS: [(&str, Option<&str>); 2] =
    [("pipeline_text", Some("fuzz/corpus/pipeline")), ("pipeline_structured", None)];

/// The dictionary of `pipeline_text`.
const DICTIONARY: &str = "fuzz/pipeline.dict";

const DEFAULT_MINUTES: u64 = 10;

/// An input that runs longer than this is a finding (a hang), in seconds.
const UNIT_TIMEOUT_SECONDS: u64 = 10;

/// What `cargo xtask fuzz` was asked to do.
#[derive(Debug, PartialEq)]
struct Options {
    minutes: u64,
    /// `None`: every target.
    target: Option<String>,
}

/// Runs `cargo xtask fuzz`.
pub(crate) fn run(args: &[String]) -> Result {
    let options = parse_args(args)?;
    install_cargo_fuzz()?;
    let work = target_dir()?.join("fuzz");
    let mut results = Vec::new();
    for (target, seeds) in TARGETS {
        if options.target.as_deref().is_some_and(|t| t != target) {
            continue;
        }
        eprintln!("== fuzzing {target} for {} minute(s)", options.minutes);
        results.push((target, fuzz(target, seeds, options.minutes, &work)?));
    }
    println!("\nfuzz summary ({} minute(s) per target):", options.minutes);
    for (target, figures) in &results {
        println!("  {target}: {}", figures.summary());
    }
    let crashed: Vec<String> = results
        .iter()
        .filter_map(|(target, figures)| {
            let input = figures.crash_input.as_deref()?;
            Some(format!(
                "{target} crashed on {input}; rerun it with `RUSTC_BOOTSTRAP=1 cargo fuzz run {target} {input}`"
            ))
        })
        .collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(Error::Failed(crashed.join("\n")))
    }
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut options = Options { minutes: DEFAULT_MINUTES, target: None };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--minutes" => {
                let value = args.next().ok_or_else(|| Error::Usage("--minutes takes a positive number".into()))?;
                options.minutes = match value.parse() {
                    Ok(minutes) if minutes > 0 => minutes,
                    _ => return Err(Error::Usage(format!("--minutes takes a positive number, not `{value}`"))),
                };
            }
            "--target" => {
                let value = args.next().ok_or_else(|| Error::Usage("--target takes a target's name".into()))?;
                if !TARGETS.iter().any(|(name, _)| name == value) {
                    let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
                    return Err(Error::Usage(format!(
                        "unknown fuzz target `{value}`: expected one of {}",
                        names.join(", ")
                    )));
                }
                options.target = Some(value.clone());
            }
            other => return Err(Error::Usage(format!("unexpected argument `{other}`"))),
        }
    }
    Ok(options)
}

/// `cargo install cargo-fuzz --locked`, unless `cargo fuzz` already runs.
fn install_cargo_fuzz() -> Result {
    let mut version = cargo_command();
    version.args(["fuzz", "--version"]).stdout(Stdio::null()).stderr(Stdio::null());
    if version.status().is_ok_and(|status| status.success()) {
        return Ok(());
    }
    eprintln!("cargo-fuzz is missing: installing it");
    run_command(cargo_command().args(["install", "cargo-fuzz", "--locked"]))
}

/// Runs one target for `minutes`; libFuzzer's output is passed on to stderr as it comes.
fn fuzz(target: &str, seeds: Option<&str>, minutes: u64, work: &Path) -> Result<Figures> {
    let corpus = work.join("corpus").join(target);
    let artifacts = work.join("artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir)
            .map_err(|error| Error::Failed(format!("cannot create {}: {error}", dir.display())))?;
    }
    let mut command = fuzz_command(target, seeds, minutes, work, &corpus, &artifacts);
    let line = display_command(&command);
    eprintln!("RUSTC_BOOTSTRAP=1 {line}");
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
    let mut figures = Figures::default();
    if let Some(stderr) = child.stderr.take() {
        for output_line in BufReader::new(stderr).lines() {
            let Ok(output_line) = output_line else { break };
            eprintln!("{output_line}");
            figures.read(&output_line);
        }
    }
    let status = child.wait().map_err(|error| Error::Failed(format!("`{line}`: {error}")))?;
    if !status.success() && figures.crash_input.is_none() {
        return Err(Error::Failed(format!("`{line}` failed ({status}) without a crash input: see its output above")));
    }
    Ok(figures)
}

/// `cargo fuzz run TARGET CORPUS [SEEDS] -- LIBFUZZER OPTIONS`, from the workspace root.
fn fuzz_command(
    target: &str,
    seeds: Option<&str>,
    minutes: u64,
    work: &Path,
    corpus: &Path,
    artifacts: &Path,
) -> Command {
    let mut command = cargo_command();
    // cargo-fuzz passes rustc nightly-only flags (`-Zsanitizer=address` among them):
    // RUSTC_BOOTSTRAP=1 lets the stable toolchain, the only one on the build machines, accept
    // them. For this command only, never for the workspace's own builds, and in a target
    // directory of its own, so no other build reuses what it compiled.
    command.env("RUSTC_BOOTSTRAP", "1");
    command.args(["fuzz", "run", target, "--target-dir"]).arg(work.join("build"));
    // New inputs go to the first corpus directory; the seeds are read only.
    command.arg(corpus);
    if let Some(seeds) = seeds {
        command.arg(project_root().join(seeds));
    }
    command.arg("--");
    command.arg(format!("-max_total_time={}", minutes * 60));
    command.arg(format!("-timeout={UNIT_TIMEOUT_SECONDS}"));
    command.arg("-print_final_stats=1");
    command.arg(format!("-artifact_prefix={}/", artifacts.display()));
    if seeds.is_some() {
        command.arg(format!("-dict={}", project_root().join(DICTIONARY).display()));
    } else {
        // Without seeds libFuzzer starts at inputs of a few bytes and lengthens them slowly;
        // a structured input needs a few hundred to describe a pipeline with sidecars.
        command.arg("-len_control=0");
    }
    command
}

/// libFuzzer's figures of one run, from its output.
#[derive(Debug, Default, PartialEq)]
struct Figures {
    /// Inputs run (`stat::number_of_executed_units`, else the last status line's `#N`).
    executions: u64,
    /// Executions per second.
    per_second: u64,
    /// Covered code edges (`cov:`).
    coverage: u64,
    /// Features (`ft:`): edges with hit counts, comparisons, …
    features: u64,
    /// Inputs in the corpus (`corp:`).
    corpus: u64,
    /// Peak memory (`stat::peak_rss_mb`).
    peak_rss_mb: u64,
    /// The file a crashing (or hanging) input was written to.
    crash_input: Option<String>,
}

impl Figures {
    /// Takes what a line of libFuzzer's output says.
    fn read(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix('#') {
            // `#1234\tNEW    cov: 2345 ft: 6789 corp: 12/345b lim: 4 exec/s: 567 rss: 89Mb L: …`
            let mut words = rest.split_whitespace();
            let Some(Ok(executions)) = words.next().map(str::parse) else { return };
            self.executions = executions;
            let words: Vec<&str> = words.collect();
            for pair in words.windows(2) {
                let number = || pair[1].split('/').next().and_then(|n| n.parse().ok());
                match pair[0] {
                    "cov:" => self.coverage = number().unwrap_or(self.coverage),
                    "ft:" => self.features = number().unwrap_or(self.features),
                    "corp:" => self.corpus = number().unwrap_or(self.corpus),
                    "exec/s:" => self.per_second = number().unwrap_or(self.per_second),
                    _ => {}
                }
            }
        } else if let Some((key, value)) = line.split_once(": ") {
            let value = value.trim().parse().ok();
            match (key.trim(), value) {
                ("stat::number_of_executed_units", Some(n)) => self.executions = n,
                ("stat::average_exec_per_sec", Some(n)) => self.per_second = n,
                ("stat::peak_rss_mb", Some(n)) => self.peak_rss_mb = n,
                _ => {}
            }
        }
        // `artifact_prefix='…/'; Test unit written to …/crash-0123abcd`
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            self.crash_input = Some(path.trim().to_string());
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} executions ({}/s), cov: {}, ft: {}, corpus: {} inputs, peak RSS {} MB, crashes: {}",
            self.executions,
            self.per_second,
            self.coverage,
            self.features,
            self.corpus,
            self.peak_rss_mb,
            match &self.crash_input {
                Some(input) => format!("1 ({input})"),
                None => "0".to_string(),
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_are_parsed() {
        assert_eq!(parse_args(&args(&[])), Ok(Options { minutes: 10, target: None }));
        assert_eq!(parse_args(&args(&["--minutes", "3"])), Ok(Options { minutes: 3, target: None }));
        assert_eq!(
            parse_args(&args(&["--target", "pipeline_structured", "--minutes", "1"])),
            Ok(Options { minutes: 1, target: Some("pipeline_structured".into()) })
        );
        for bad in [&["--minutes"][..], &["--minutes", "0"], &["--minutes", "ten"], &["--target"], &["--fast"]] {
            assert!(matches!(parse_args(&args(bad)), Err(Error::Usage(_))), "{bad:?}");
        }
        assert_eq!(
            parse_args(&args(&["--target", "nope"])),
            Err(Error::Usage("unknown fuzz target `nope`: expected one of pipeline_text, pipeline_structured".into()))
        );
    }

    #[test]
    fn figures_are_read_from_libfuzzer_output() {
        let mut figures = Figures::default();
        for line in [
            "INFO: Seed: 1234",
            "#2\tINITED cov: 812 ft: 1024 corp: 15/13Kb exec/s: 0 rss: 45Mb",
            "#4096\tpulse  cov: 2345 ft: 6789 corp: 120/20Kb lim: 4096 exec/s: 2048 rss: 90Mb",
            "#8191\tNEW    cov: 2346 ft: 6800 corp: 121/20Kb lim: 4096 exec/s: 2047 rss: 91Mb L: 40/300 MS: 2 \
             ChangeBit-CMP- DE: \"env_vars\"-",
            "#1200000\tDONE   cov: 2400 ft: 7000 corp: 300/60Kb lim: 4096 exec/s: 2000 rss: 120Mb",
            "Done 1200000 runs in 601 second(s)",
            "stat::number_of_executed_units: 1200001",
            "stat::average_exec_per_sec:     1996",
            "stat::peak_rss_mb:              123",
        ] {
            figures.read(line);
        }
        assert_eq!(
            figures,
            Figures {
                executions: 1_200_001,
                per_second: 1996,
                coverage: 2400,
                features: 7000,
                corpus: 300,
                peak_rss_mb: 123,
                crash_input: None,
            }
        );
        assert_eq!(
            figures.summary(),
            "1200001 executions (1996/s), cov: 2400, ft: 7000, corpus: 300 inputs, peak RSS 123 MB, crashes: 0"
        );
        figures.read("artifact_prefix='/t/fuzz/artifacts/pipeline_text/'; Test unit written to /t/a/crash-09af");
        assert_eq!(figures.crash_input.as_deref(), Some("/t/a/crash-09af"));
        assert!(figures.summary().ends_with("crashes: 1 (/t/a/crash-09af)"));
    }

    #[test]
    fn the_command_keeps_the_seeds_read_only_and_sets_rustc_bootstrap() {
        let work = Path::new("/t/fuzz");
        let command = fuzz_command(
            "pipeline_text",
            Some("fuzz/corpus/pipeline"),
            2,
            work,
            &work.join("corpus/pipeline_text"),
            &work.join("artifacts/pipeline_text"),
        );
        let root = project_root();
        assert_eq!(
            display_command(&command),
            format!(
                "cargo fuzz run pipeline_text --target-dir /t/fuzz/build /t/fuzz/corpus/pipeline_text \
                 {}/fuzz/corpus/pipeline -- -max_total_time=120 -timeout=10 -print_final_stats=1 \
                 -artifact_prefix=/t/fuzz/artifacts/pipeline_text/ -dict={}/fuzz/pipeline.dict",
                root.display(),
                root.display()
            )
        );
        let bootstrap = command.get_envs().find(|(key, _)| *key == "RUSTC_BOOTSTRAP").and_then(|(_, value)| value);
        assert_eq!(bootstrap, Some(std::ffi::OsStr::new("1")));
    }

    #[test]
    fn the_seed_corpus_and_dictionary_are_committed() {
        assert!(project_root().join(DICTIONARY).is_file(), "{DICTIONARY} is missing");
        let seeds = std::fs::read_dir(project_root().join("fuzz/corpus/pipeline")).expect("the seed corpus").count();
        assert!(seeds >= 10, "a dozen seeds or so, found {seeds}");
    }
}
