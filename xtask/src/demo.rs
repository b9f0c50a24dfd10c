//! `cargo xtask demo`: a newcomer's first look at copili.
//!
//! Builds the debug binary, then shows, each command printed before it runs, what copili does
//! with the examples today: validate a pipeline, print its plan, draw its dependency graph, and
//! give the plan of a pipeline with a sidecar as JSON; then sets up a container engine if there
//! is none (`cargo xtask setup`) and runs the quick example and the sidecar example on it.

use std::path::Path;
use std::process::Command;

use crate::{build_copili_binary, display_command, project_root, reject_unknown_option, run_command, Result};

/// The demonstrated commands, run from the workspace root.
const DEMO_COMMANDS: &[&[&str]] = &[
    &["validate", "examples/quickstart.yaml"],
    &["plan", "examples/quickstart.yaml"],
    &["graph", "examples/quickstart.yaml", "--format", "mermaid"],
    &["plan", "examples/json-03-sidecar.json", "--format", "json"],
];

/// Runs `cargo xtask demo`.
pub(crate) fn run(args: &[String]) -> Result {
    if let Some(arg) = args.first() {
        reject_unknown_option(arg)?;
    }
    let copili = build_copili_binary(false)?;
    for args in DEMO_COMMANDS {
        let mut command = copili_command(&copili, args);
        println!("\n$ {}", display_command(&command));
        run_command(&mut command)?;
    }
    println!("\n==> setting up a container engine (cargo xtask setup)");
    let engines = crate::setup::ensure()?;
    for pipeline in ["examples/quickstart.yaml", "examples/json-03-sidecar.json"] {
        let mut command = copili_command(&copili, &["run", pipeline, "--engine", "podman"]);
        // The host's podman settings (runc, ulimits) come from the environment, as for users.
        command.envs(engines.vars());
        println!("\n$ {}", display_command(&command));
        run_command(&mut command)?;
    }
    Ok(())
}

fn copili_command(copili: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(copili);
    command.args(args).current_dir(project_root());
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_commands_are_shown_as_typed() {
        let lines: Vec<String> = DEMO_COMMANDS
            .iter()
            .map(|args| display_command(&copili_command(Path::new("target/debug/copili"), args)))
            .collect();
        assert_eq!(
            lines,
            [
                "copili validate examples/quickstart.yaml",
                "copili plan examples/quickstart.yaml",
                "copili graph examples/quickstart.yaml --format mermaid",
                "copili plan examples/json-03-sidecar.json --format json",
            ]
        );
    }
}
