//! The setup step that makes Argo's published schema available to the tests, offline: the
//! export tests (`tests/export.rs`) validate every document `copili export argo` writes with it.
//!
//! The schema comes from npm, as `@kubernetes-models/argo-workflows` (generated from Argo
//! Workflows' own OpenAPI document, v4: a container template's container needs a `name`, a
//! `CronWorkflow` its `schedules`). It is installed once into `<target>/test-env/argo-validate`
//! with the `npm` the machines have (node 20 is enough, whatever the package's `engines` says),
//! next to a small `validate.mjs`: JSON documents on stdin, one line per document, exit 1 if
//! any is invalid. A known-good and a known-bad Workflow prove it validates before the tests
//! rely on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{display_command, Error, Result};

/// The package and version whose schema the documents must satisfy.
const PACKAGE: &str = "@kubernetes-models/argo-workflows@2.0.0";

/// The validator: reads a JSON array of documents on stdin.
const VALIDATE_MJS: &str = r#"// Written by `cargo xtask setup`: validates Argo documents (a JSON array on stdin) against
// the schema of @kubernetes-models/argo-workflows; one line per document, exit 1 if any is invalid.
import { Workflow } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow";
import { CronWorkflow } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/CronWorkflow";
import { readFileSync } from "node:fs";
const docs = JSON.parse(readFileSync(0, "utf8")); let failed = 0;
for (const [i, doc] of docs.entries()) { const Model = { Workflow, CronWorkflow }[doc.kind];
  if (!Model) { console.log(`document ${i}: unknown kind ${doc.kind}`); failed++; continue; }
  try { new Model(doc).validate(); console.log(`document ${i} (${doc.kind}): valid`); }
  catch (e) { failed++; console.log(`document ${i} (${doc.kind}): INVALID ${e.message}`); } }
process.exit(failed ? 1 : 0);
"#;

/// A Workflow the schema accepts.
const KNOWN_GOOD: &str = r#"[{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
  "metadata": {"generateName": "check-"},
  "spec": {"entrypoint": "main", "templates": [{"name": "main",
    "container": {"name": "main", "image": "busybox:latest", "args": ["true"]}}]}}]"#;

/// The same Workflow without the container's `name`, which Argo's v4 schema requires.
const KNOWN_BAD: &str = r#"[{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
  "metadata": {"generateName": "check-"},
  "spec": {"entrypoint": "main", "templates": [{"name": "main",
    "container": {"image": "busybox:latest"}}]}}]"#;

/// Where the validator script is, under the test environment directory.
pub(crate) fn validator_path(test_env: &Path) -> PathBuf {
    test_env.join("argo-validate").join("validate.mjs")
}

/// Installs the schema package (unless present), writes the validator and checks it; returns
/// the step's outcome.
pub(crate) fn ensure(test_env: &Path) -> Result<String> {
    let dir = test_env.join("argo-validate");
    let node_version = version_of("node")?;
    let package_json = dir.join("node_modules/@kubernetes-models/argo-workflows/package.json");
    let installed = if package_json.is_file() {
        "already installed"
    } else {
        version_of("npm")?;
        std::fs::create_dir_all(&dir)
            .map_err(|error| Error::Failed(format!("cannot create {}: {error}", dir.display())))?;
        let mut install = Command::new("npm");
        install.arg("install").arg("--prefix").arg(&dir).args(["--no-audit", "--no-fund", PACKAGE]);
        checked(&mut install, None)?;
        if !package_json.is_file() {
            return Err(Error::Failed(format!(
                "`{}` succeeded but {} is missing",
                display_command(&install),
                package_json.display()
            )));
        }
        "installed"
    };
    let script = validator_path(test_env);
    if std::fs::read_to_string(&script).ok().as_deref() != Some(VALIDATE_MJS) {
        std::fs::write(&script, VALIDATE_MJS)
            .map_err(|error| Error::Failed(format!("cannot write {}: {error}", script.display())))?;
    }
    let good = checked(Command::new("node").arg(&script), Some(KNOWN_GOOD))?;
    if !good.contains("document 0 (Workflow): valid") {
        return Err(Error::Failed(format!("the validator did not accept a known-good Workflow:\n{good}")));
    }
    let mut bad = Command::new("node");
    bad.arg(&script);
    let (code, out) = run(&mut bad, Some(KNOWN_BAD))?;
    if code != Some(1) || !out.contains("INVALID") {
        return Err(Error::Failed(format!(
            "the validator accepted a Workflow without a container name (exit code {code:?}):\n{out}"
        )));
    }
    Ok(format!("{PACKAGE} {installed}, node {node_version}; validator {} checked", script.display()))
}

/// `PROGRAM --version`, or a clear error when it is missing.
fn version_of(program: &str) -> Result<String> {
    let mut command = Command::new(program);
    command.arg("--version");
    checked(&mut command, None).map(|out| out.trim().to_string()).map_err(|error| {
        Error::Failed(format!(
            "the Argo schema validator needs `{program}` (node 20 or later, and npm) on PATH: {error}"
        ))
    })
}

/// Runs `command` (with `input` on stdin); its exit code and stdout, stderr appended.
fn run(command: &mut Command, input: Option<&str>) -> Result<(Option<i32>, String)> {
    use std::io::Write as _;

    let line = display_command(command);
    let mut child = command
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // The inputs are a few hundred bytes: written before the output is read.
        stdin
            .write_all(text.as_bytes())
            .map_err(|error| Error::Failed(format!("cannot write to `{line}`: {error}")))?;
    }
    let output = child.wait_with_output().map_err(|error| Error::Failed(format!("`{line}` failed: {error}")))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok((output.status.code(), text))
}

/// Runs `command`, which must exit 0; its output.
fn checked(command: &mut Command, input: Option<&str>) -> Result<String> {
    let (code, out) = run(command, input)?;
    if code == Some(0) {
        Ok(out)
    } else {
        Err(Error::Failed(format!("`{}` failed (exit code {code:?}):\n{}", display_command(command), out.trim_end())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_validator_is_the_verified_script() {
        assert!(VALIDATE_MJS.contains("new Model(doc).validate()"));
        assert!(VALIDATE_MJS.ends_with("process.exit(failed ? 1 : 0);\n"));
        assert_eq!(
            validator_path(Path::new("/work/main/target/test-env")),
            Path::new("/work/main/target/test-env/argo-validate/validate.mjs")
        );
    }
}
