//! Outputs between steps, as files. With [`RunConfig::outputs_dir`] set, every main container
//! gets a writable directory at [`OUT_DIR`] (`<outputs_dir>/<run-id>/out/<container>/` on the
//! host, [`host_dir`], mode 0777 so that any user of the container may write, rootless
//! podman's mapped users too), and sees each dependency's read-only at
//! `/copili/in/<dependency>/` (empty when the dependency did not run in this run: it ran
//! before, or in service mode's initial run). After it succeeded, its
//! `/copili/out/*.env` files (`KEY=VALUE` lines, `.env` syntax) are read, bounded by
//! [`MAX_FILE_BYTES`] and [`MAX_TOTAL_BYTES`], into [`Outcome::outputs`]; its dependents'
//! `command` and `env_vars` have `${{ steps.NAME.outputs.KEY }}` replaced when they start.
//!
//! Container names are `[A-Za-z0-9][A-Za-z0-9_.-]*` and never `.`/`..` (the loader checks),
//! and the run id is kept to those characters too ([`host_dir`]): the directories are always
//! right under `<outputs_dir>/<run-id>/out`. Those that hold something are left there after
//! the run; the empty ones (most containers write no outputs) are removed when it ends
//! (`remove_empty`), so that a service rerunning every few seconds leaves no directory per
//! run.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use copili_model::expression::{self, Reference};
use copili_model::{ContainerSpec, Pipeline, Secret};

use crate::engine::{Mount, MountSource};
use crate::reason::{OutputsProblem, Reason};

use super::{Outcome, RunConfig};

/// Where a container writes its outputs.
pub const OUT_DIR: &str = "/copili/out";
/// Where a container sees its dependencies' outputs: `/copili/in/<dependency>/`.
pub const IN_DIR: &str = "/copili/in";
/// The most bytes one `*.env` file of `/copili/out` may hold.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// The most bytes the `*.env` files of one container may hold together.
pub const MAX_TOTAL_BYTES: u64 = 1024 * 1024;

/// The host directory of a container's outputs in a run: `<outputs_dir>/<run-id>/out/<container>`,
/// the run id's characters outside `[A-Za-z0-9_.-]` replaced by `_` (and never `.` or `..`).
pub fn host_dir(outputs_dir: &Path, run_id: &str, container: &str) -> PathBuf {
    let mut run: String =
        run_id.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
    if run.chars().all(|c| c == '.') {
        run.insert(0, '_');
    }
    outputs_dir.join(run).join("out").join(container)
}

fn dir_of(config: &RunConfig, container: &str) -> Option<PathBuf> {
    config.outputs_dir.as_deref().map(|root| host_dir(root, &config.run_id, container))
}

/// Creates the container's output directory, writable by every user (the container's user
/// is not known on the host: a rootless engine maps it to a subordinate id), and those of its
/// dependencies that are not there (it mounts them: a dependency that did not run here).
pub(super) fn prepare_dir(config: &RunConfig, spec: &ContainerSpec) -> Result<(), Reason> {
    let Some(dir) = dir_of(config, &spec.name) else { return Ok(()) };
    let fail = |dir: &Path, e: std::io::Error| Reason::Outputs {
        file: dir.display().to_string(),
        problem: OutputsProblem::Directory(e.to_string()),
    };
    let writable = |dir: &Path| {
        std::fs::create_dir_all(dir).and_then(|()| {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
        })
    };
    writable(&dir).map_err(|e| fail(&dir, e))?;
    for dependency in spec.dependencies.iter().filter_map(|d| dir_of(config, d)) {
        if !dependency.is_dir() {
            writable(&dependency).map_err(|e| fail(&dependency, e))?;
        }
    }
    Ok(())
}

/// Removes the run's empty output directories, then `out` and the run's directory if they
/// are empty too. What holds a file stays. Errors are ignored: a directory another process
/// wrote into meanwhile is simply not empty.
pub(super) fn remove_empty(outputs_dir: Option<&Path>, run_id: &str) {
    let Some(root) = outputs_dir else { return };
    let out = host_dir(root, run_id, "_");
    let Some(out) = out.parent() else { return };
    if let Ok(entries) = std::fs::read_dir(out) {
        for entry in entries.flatten() {
            // `remove_dir` removes only an empty directory.
            let _ = std::fs::remove_dir(entry.path());
        }
    }
    let _ = std::fs::remove_dir(out);
    if let Some(run) = out.parent() {
        let _ = std::fs::remove_dir(run);
    }
}

/// The mounts of a main container: its own directory at [`OUT_DIR`], each dependency's
/// read-only at `/copili/in/<dependency>`. None without an `outputs_dir`.
pub(super) fn mounts(spec: &ContainerSpec, config: &RunConfig) -> Vec<Mount> {
    let Some(dir) = dir_of(config, &spec.name) else { return Vec::new() };
    let mut mounts = vec![Mount { source: MountSource::Host(dir), target: OUT_DIR.into(), read_only: false }];
    for dependency in &spec.dependencies {
        mounts.push(Mount {
            source: MountSource::Host(dir_of(config, dependency).unwrap_or_default()),
            target: format!("{IN_DIR}/{dependency}"),
            read_only: true,
        });
    }
    mounts
}

/// The outputs a container wrote: every `KEY=VALUE` of its directory's `*.env` files, in
/// file-name order, then line order. A file over the bounds, unreadable, or with a bad line
/// or key fails the container, naming the file as the container sees it.
pub(super) fn read(config: &RunConfig, container: &str) -> Result<Vec<(String, String)>, Reason> {
    let Some(dir) = dir_of(config, container) else { return Ok(Vec::new()) };
    read_dir(&dir)
}

fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, Reason> {
    let fail = |name: &str, problem| Reason::Outputs { file: format!("{OUT_DIR}/{name}"), problem };
    let entries = std::fs::read_dir(dir).map_err(|e| fail("", OutputsProblem::Directory(e.to_string())))?;
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".env"))
        .collect();
    names.sort();
    let mut outputs = Vec::new();
    let mut total = 0u64;
    for name in names {
        let path = dir.join(&name);
        // Not followed: a link could point anywhere on the host.
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| fail(&name, OutputsProblem::Unreadable(e.to_string())))?;
        if !meta.is_file() {
            return Err(fail(&name, OutputsProblem::NotAFile));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(fail(&name, OutputsProblem::FileTooLarge { size: meta.len(), limit: MAX_FILE_BYTES }));
        }
        total += meta.len();
        if total > MAX_TOTAL_BYTES {
            return Err(fail(&name, OutputsProblem::TotalTooLarge { limit: MAX_TOTAL_BYTES }));
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| fail(&name, OutputsProblem::Unreadable(e.to_string())))?;
        let (entries, errors) = copili_model::dotenv::parse(&text);
        if let Some(e) = errors.first() {
            return Err(fail(&name, OutputsProblem::BadLine { line: e.line, message: e.message.clone() }));
        }
        for entry in entries {
            if !expression::is_key(&entry.key) {
                return Err(fail(&name, OutputsProblem::BadKey { line: entry.line, key: entry.key }));
            }
            outputs.retain(|(k, _): &(String, String)| *k != entry.key);
            outputs.push((entry.key, entry.value));
        }
    }
    Ok(outputs)
}

/// `spec` with every `${{ steps.NAME.outputs.KEY }}` of its `command` and `env_vars` replaced
/// by the value the step wrote (the planner checked that the step is a dependency, so it has
/// ended); unchanged when it uses none. A key the step did not write fails the container.
pub(super) fn resolve<'s>(
    spec: &'s ContainerSpec,
    pipeline: &Pipeline,
    outcomes: &[Option<Outcome>],
) -> Result<Cow<'s, ContainerSpec>, Reason> {
    if !copili_planner::outputs::uses_outputs(spec) {
        return Ok(Cow::Borrowed(spec));
    }
    let mut missing: Option<(String, String)> = None;
    let mut lookup = |reference: &Reference| -> Option<String> {
        let Reference::StepOutput { step, key } = reference else { return None };
        let value = pipeline
            .containers
            .iter()
            .position(|c| c.name == *step)
            .and_then(|d| outcomes[d].as_ref())
            .and_then(|o| o.outputs.iter().find(|(k, _)| k == key))
            .map(|(_, v)| v.clone());
        if value.is_none() && missing.is_none() {
            missing = Some((step.clone(), key.clone()));
        }
        value
    };
    let mut resolved = spec.clone();
    // The planner reported expressions that cannot be read: none are left here.
    for word in &mut resolved.command {
        *word = expression::substitute(word, &mut lookup).unwrap_or_else(|_| word.clone());
    }
    for (_, value) in &mut resolved.env_vars {
        let substituted = expression::substitute(value.expose(), &mut lookup).unwrap_or_else(|_| value.expose().into());
        *value = Secret::new(substituted);
    }
    match missing {
        Some((step, key)) => Err(Reason::OutputMissing { step, key }),
        None => Ok(Cow::Owned(resolved)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).expect("written");
    }

    #[test]
    fn env_files_are_read_in_name_order_and_bounded() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "b.env", "ROWS=5000\nNAME='a b'\n");
        write(dir.path(), "a.env", "ROWS=1\nFIRST=x\n");
        write(dir.path(), "data.csv", "not=read\n");
        let outputs = read_dir(dir.path()).expect("read");
        assert_eq!(
            outputs,
            [("FIRST".into(), "x".into()), ("ROWS".into(), "5000".into()), ("NAME".into(), "a b".into())]
        );
        write(dir.path(), "c.env", "bad-key=1\n");
        let e = read_dir(dir.path()).expect_err("a bad key");
        assert_eq!(
            e,
            Reason::Outputs {
                file: "/copili/out/c.env".into(),
                problem: OutputsProblem::BadKey { line: 1, key: "bad-key".into() }
            }
        );
        std::fs::remove_file(dir.path().join("c.env")).expect("removed");
        write(dir.path(), "d.env", &"X=1\n".repeat(20_000));
        assert!(matches!(
            read_dir(dir.path()),
            Err(Reason::Outputs { problem: OutputsProblem::FileTooLarge { limit: MAX_FILE_BYTES, .. }, .. })
        ));
        std::fs::remove_file(dir.path().join("d.env")).expect("removed");
        write(dir.path(), "e.env", "just words\n");
        assert!(matches!(
            read_dir(dir.path()),
            Err(Reason::Outputs { problem: OutputsProblem::BadLine { line: 1, .. }, .. })
        ));
    }

    #[test]
    fn empty_directories_are_removed_when_the_run_ends() {
        let root = tempfile::tempdir().expect("a temporary directory");
        let (empty, full) = (host_dir(root.path(), "run-1", "a"), host_dir(root.path(), "run-1", "b"));
        std::fs::create_dir_all(&empty).expect("created");
        std::fs::create_dir_all(&full).expect("created");
        write(&full, "result.env", "ROWS=1\n");
        remove_empty(Some(root.path()), "run-1");
        assert!(!empty.exists() && full.join("result.env").is_file());
        std::fs::remove_file(full.join("result.env")).expect("removed");
        remove_empty(Some(root.path()), "run-1");
        assert!(!root.path().join("run-1").exists(), "nothing left of the run");
    }

    #[test]
    fn a_link_is_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("x.env")).expect("linked");
        assert!(matches!(read_dir(dir.path()), Err(Reason::Outputs { problem: OutputsProblem::NotAFile, .. })));
    }

    #[test]
    fn directories_stay_under_the_run_s() {
        let root = Path::new("/logs");
        assert_eq!(host_dir(root, "2026T1-42", "load.v2"), Path::new("/logs/2026T1-42/out/load.v2"));
        assert_eq!(host_dir(root, "../x", "a"), Path::new("/logs/.._x/out/a"));
        assert_eq!(host_dir(root, "..", "a"), Path::new("/logs/_../out/a"));
    }
}
