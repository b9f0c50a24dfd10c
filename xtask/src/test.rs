//! `cargo xtask test`: everything CI checks, in order, stopping at the first failure.
//!
//! 1. `cargo fmt --all -- --check` (skip locally with `--no-fmt`)
//! 2. `cargo clippy --workspace --all-targets -- -D warnings` (skip locally with `--no-clippy`)
//! 3. `cargo doc --workspace --no-deps` with `RUSTDOCFLAGS=-D warnings`: every intra-doc link
//!    resolves, no doc comment is malformed (skip locally with `--no-doc`)
//! 4. `cargo xtask setup`: installs, starts and checks podman (rootful and rootless), docker and
//!    the test image; a quick no-op when already done (see `setup/mod.rs`)
//! 5. `cargo test --workspace`: every member, xtask included, the real-engine tests too.
//!
//! `.ci/run` runs exactly `cargo xtask test`, with no flags. The steps are a plain list
//! ([`steps`]) so that a new one slots in where it belongs.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::{cargo_command, display_command, reject_unknown_option, Error, Result};

/// Which steps the command line skips.
#[derive(Debug, Default, PartialEq)]
struct Options {
    /// `--no-fmt`: skip the formatting check.
    no_fmt: bool,
    /// `--no-clippy`: skip clippy.
    no_clippy: bool,
    /// `--no-doc`: skip the documentation build.
    no_doc: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options::default();
        for arg in args {
            match arg.as_str() {
                "--no-fmt" => options.no_fmt = true,
                "--no-clippy" => options.no_clippy = true,
                "--no-doc" => options.no_doc = true,
                other => reject_unknown_option(other)?,
            }
        }
        Ok(options)
    }
}

/// One step: a short name for headers and messages, and the command it runs.
struct Step {
    name: &'static str,
    command: Command,
}

impl Step {
    fn cargo(name: &'static str, args: &[&str]) -> Step {
        let mut command = cargo_command();
        command.args(args);
        Step { name, command }
    }
}

/// The steps to run, in order.
fn steps(options: &Options) -> Vec<Step> {
    let mut steps = Vec::new();
    if !options.no_fmt {
        steps.push(Step::cargo("fmt", &["fmt", "--all", "--", "--check"]));
    }
    if !options.no_clippy {
        steps.push(Step::cargo("clippy", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]));
    }
    if !options.no_doc {
        let mut doc = Step::cargo("doc", &["doc", "--workspace", "--no-deps"]);
        doc.command.env("RUSTDOCFLAGS", "-D warnings");
        steps.push(doc);
    }
    // The engine tests need podman (rootful and rootless) and docker with the test image:
    // installed, started and checked by `cargo xtask setup`, a quick no-op once done.
    steps.push(Step::cargo("setup", &["xtask", "setup"]));
    steps.push(Step::cargo("tests", &["test", "--workspace"]));
    steps
}

/// Runs `cargo xtask test [--no-fmt] [--no-clippy] [--no-doc]`.
pub(crate) fn run(args: &[String]) -> Result {
    let options = Options::parse(args)?;
    let mut steps = steps(&options);
    let n_steps = steps.len();
    let started = Instant::now();
    for (step_idx, step) in steps.iter_mut().enumerate() {
        let line = display_command(&step.command);
        eprintln!("==> [{}/{n_steps}] {}: {line}", step_idx + 1, step.name);
        let step_started = Instant::now();
        let status = step.command.status();
        let elapsed = seconds(step_started.elapsed());
        match status {
            Ok(status) if status.success() => eprintln!("==> {} ok in {elapsed}", step.name),
            Ok(status) => {
                return Err(Error::Failed(format!("step `{}` failed after {elapsed}: `{line}` ({status})", step.name)))
            }
            Err(error) => return Err(Error::Failed(format!("step `{}`: cannot start `{line}`: {error}", step.name))),
        }
    }
    eprintln!("==> all {n_steps} steps passed in {}", seconds(started.elapsed()));
    Ok(())
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str], expected_steps: &[&str]) {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        let options = Options::parse(&args).expect("valid options");
        let names: Vec<&str> = steps(&options).iter().map(|step| step.name).collect();
        assert_eq!(names, expected_steps, "{args:?}");
    }

    #[test]
    fn steps_run_fmt_then_clippy_then_tests() {
        check(&[], &["fmt", "clippy", "doc", "setup", "tests"]);
        check(&["--no-fmt"], &["clippy", "doc", "setup", "tests"]);
        check(&["--no-clippy", "--no-fmt", "--no-doc"], &["setup", "tests"]);
    }

    #[test]
    fn steps_run_what_ci_expects() {
        let lines: Vec<String> = steps(&Options::default()).iter().map(|step| display_command(&step.command)).collect();
        let expected = [
            "fmt --all -- --check",
            "clippy --workspace --all-targets -- -D warnings",
            "doc --workspace --no-deps",
            "xtask setup",
            "test --workspace",
        ];
        for (line, expected) in lines.iter().zip(expected) {
            // The program is whatever cargo started xtask, so compare the arguments only.
            assert!(line.ends_with(&format!(" {expected}")), "{line}");
        }
        assert_eq!(lines.len(), expected.len());
    }

    #[test]
    fn unknown_options_are_usage_errors() {
        let args = vec!["--no-tests".to_string()];
        assert_eq!(Options::parse(&args), Err(Error::Usage("unexpected argument `--no-tests`".into())));
    }
}
