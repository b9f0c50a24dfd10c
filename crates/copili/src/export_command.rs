//! `copili export argo`: glue between the command line and `copili::export::argo`. Reads the
//! options, prints the warnings, writes the documents and, on request, the Secrets manifest.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use copili::exit_code;
use copili::export::argo::{self, ArgoOptions};

use crate::cli::{ArgoArgs, ExportTarget};
use crate::load_and_plan;
use crate::output::errln;

/// Runs `copili export TARGET`.
pub(crate) fn export(target: &ExportTarget) -> anyhow::Result<i32> {
    match target {
        ExportTarget::Argo(args) => export_argo(args),
    }
}

fn export_argo(args: &ArgoArgs) -> anyhow::Result<i32> {
    let options = match argo_options(args) {
        Ok(options) => options,
        Err(message) => {
            errln!("error: {message}");
            return Ok(exit_code::INVALID_INPUT);
        }
    };
    let Some((pipeline, plan, _)) = load_and_plan(&args.input, false)? else {
        return Ok(exit_code::INVALID_INPUT);
    };
    let export = match argo::export(&pipeline, &plan, &options) {
        Ok(export) => export,
        Err(error) => {
            errln!("error: {:#}", anyhow::Error::new(error));
            return Ok(exit_code::INVALID_INPUT);
        }
    };
    for warning in &export.warnings {
        errln!("warning: {warning}");
    }
    let yaml = copili::export::to_yaml(&export.documents)?;
    match &args.output {
        Some(path) => std::fs::write(path, &yaml).with_context(|| format!("cannot write {}", path.display()))?,
        None => crate::output::print(&yaml),
    }
    match &args.secrets_manifest {
        Some(path) => {
            let manifest = copili::export::to_yaml(&export.secrets_manifest())?;
            write_private(path, &manifest).with_context(|| format!("cannot write {}", path.display()))?;
            let names: Vec<String> = export.secrets.iter().map(|s| format!("`{}`", s.name)).collect();
            if names.is_empty() {
                errln!("note: the documents need no Secrets; {} is empty", path.display());
            } else {
                errln!(
                    "note: wrote the Secrets {} with their values to {} (mode 0600): apply it before the workflow, \
                     and keep it out of version control",
                    names.join(" and "),
                    path.display()
                );
            }
        }
        None => {
            for secret in &export.secrets {
                let what = if secret.registries.is_empty() {
                    format!("keys {}", secret.keys.join(", "))
                } else {
                    format!("key {}, with logins for {}", secret.keys.join(", "), secret.registries.join(", "))
                };
                errln!(
                    "note: the documents read the Secret `{}` ({}, {what}): create it in the cluster",
                    secret.name,
                    secret.kind
                );
            }
            if !export.secrets.is_empty() {
                errln!("note: or let copili write them, values included: --secrets-manifest FILE");
            }
        }
    }
    Ok(exit_code::SUCCESS)
}

/// The export options of the command line, or what is wrong with them.
fn argo_options(args: &ArgoArgs) -> Result<ArgoOptions, String> {
    let default_schedule = crate::cli::default_schedule(args.every.as_deref(), args.cron.as_deref())?;
    let mut volume_map = Vec::new();
    for entry in &args.volume_map {
        let Some((host, claim)) = entry.rsplit_once('=') else {
            return Err(format!("--volume-map {entry}: expected HOST=PVC, e.g. `./exports=kg-exports`"));
        };
        if host.is_empty() {
            return Err(format!("--volume-map {entry}: the host path is empty"));
        }
        volume_map
            .push((absolute(Path::new(host)).map_err(|e| format!("--volume-map {entry}: {e}"))?, claim.to_string()));
    }
    Ok(ArgoOptions {
        volume_map,
        namespace: args.namespace.clone(),
        default_schedule,
        default_timezone: args.timezone.clone(),
    })
}

/// `path` made absolute against the working directory and cleaned of `.` and `..`, as the
/// pipeline's host paths are (without following symbolic links).
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let joined = std::path::absolute(path)?;
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Writes a file only its owner can read and write, also when it existed with another mode.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    // `mode` applies to a new file only: an existing one is tightened (it is empty by now).
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
