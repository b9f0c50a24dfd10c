//! `copili export argo`: glue between the command line and `copili::export::argo`. Reads the
//! options, prints the warnings, writes the documents and, on request, the Secrets manifest.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use copili::exit_code;
use copili::export::argo::{self, ArgoOptions, ExportError};

use crate::cli::{ArgoArgs, ExportTarget};
use crate::error::CliError;
use crate::load_and_plan;
use crate::output::errln;

/// Runs `copili export TARGET`.
pub(crate) fn export(target: &ExportTarget) -> Result<i32, CliError> {
    match target {
        ExportTarget::Argo(args) => export_argo(args),
    }
}

fn export_argo(args: &ArgoArgs) -> Result<i32, CliError> {
    // Checked before anything is read or written: a refused command line writes nothing.
    let ((documents_to, manifest_to), options) =
        destinations(args).and_then(|d| argo_options(args).map(|options| (d, options))).map_err(CliError::Usage)?;
    let (pipeline, plan, _) = load_and_plan(&args.input, false)?;
    let export = argo::export(&pipeline, &plan, &options).map_err(|error| match error {
        // Shown as validation errors are; nothing is written.
        ExportError::Unsupported(diagnostics) => CliError::Refused {
            diagnostics,
            file: args.input.file.display().to_string(),
            backend: copili::planner::Backend::Argo,
        },
        other => CliError::Export(other),
    })?;
    for warning in &export.warnings {
        errln!("warning: {warning}");
    }
    let yaml = copili::export::to_yaml(&export.documents)
        .map_err(|e| CliError::internal("the documents would not serialize", e))?;
    match &documents_to {
        Destination::File(path) => {
            std::fs::write(path, &yaml).map_err(|source| CliError::Write { path: path.clone(), source })?
        }
        Destination::Stdout => crate::output::print(&yaml),
    }
    match &manifest_to {
        Some(destination) => {
            let manifest = copili::export::to_yaml(&export.secrets_manifest())
                .map_err(|e| CliError::internal("the Secrets manifest would not serialize", e))?;
            let (place, nothing) = match destination {
                Destination::File(path) => {
                    write_private(path, &manifest).map_err(|source| CliError::Write { path: path.clone(), source })?;
                    (format!("{} (mode 0600)", path.display()), format!("{} is empty", path.display()))
                }
                Destination::Stdout => {
                    crate::output::print(&manifest);
                    ("standard output".to_string(), "nothing written to standard output".to_string())
                }
            };
            let names: Vec<String> = export.secrets.iter().map(|s| format!("`{}`", s.name)).collect();
            match names.len() {
                0 => errln!("note: the documents need no Secrets; {nothing}"),
                1 => errln!(
                    "note: wrote the Secret {} with its values to {place}: apply it before the workflow, and keep \
                     it out of version control",
                    names.join("")
                ),
                _ => errln!(
                    "note: wrote the Secrets {} with their values to {place}: apply them before the workflow, and \
                     keep them out of version control",
                    names.join(" and "),
                ),
            }
        }
        None => {
            for secret in &export.secrets {
                let what = if secret.registries.is_empty() {
                    let word = if secret.keys.len() == 1 { "key" } else { "keys" };
                    format!("{word} {}", secret.keys.join(", "))
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

/// Where a YAML stream goes: `-` is standard output, never a file called `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    fn of(path: &Path) -> Destination {
        if path == Path::new("-") {
            Destination::Stdout
        } else {
            Destination::File(path.to_path_buf())
        }
    }
}

/// Where the documents (`-o`, standard output by default) and the Secrets manifest go, or why
/// not: both to standard output would mix the values into the documents, and one file for both
/// would overwrite the documents with the values.
fn destinations(args: &ArgoArgs) -> Result<(Destination, Option<Destination>), String> {
    let documents = args.output.as_deref().map_or(Destination::Stdout, Destination::of);
    let Some(manifest_path) = args.secrets_manifest.as_deref() else {
        return Ok((documents, None));
    };
    let manifest = Destination::of(manifest_path);
    match (&documents, &manifest) {
        (Destination::Stdout, Destination::Stdout) => {
            Err("--secrets-manifest -: the documents go to standard output already, and the Secrets' values must not \
             be mixed into them; write the documents to a file with -o FILE"
                .to_string())
        }
        (Destination::File(documents), Destination::File(manifest)) if same_file(documents, manifest) => Err(format!(
            "-o {} and --secrets-manifest {} name the same file: the Secrets' values would overwrite the \
                 documents; give two files",
            documents.display(),
            manifest.display()
        )),
        _ => Ok((documents, Some(manifest))),
    }
}

/// Whether two paths name one file: the same inode when both exist, else the same path once
/// symbolic links and `.`/`..` are resolved (as far as the directories exist).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    if let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        use std::os::unix::fs::MetadataExt as _;
        return a.dev() == b.dev() && a.ino() == b.ino();
    }
    match (resolved(a), resolved(b)) {
        (Some(a), Some(b)) => a == b,
        _ => absolute(a).ok() == absolute(b).ok(),
    }
}

/// The path a write to `path` would create or open: symbolic links followed (also one whose
/// target does not exist yet), its directory canonicalised. `None` when the directory does
/// not exist (the write fails anyway).
fn resolved(path: &Path) -> Option<PathBuf> {
    let mut path = std::path::absolute(path).ok()?;
    // As the kernel does: at most 40 links.
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&path) else { break };
        path = path.parent()?.join(target);
    }
    if let Ok(canonical) = std::fs::canonicalize(&path) {
        return Some(canonical);
    }
    let name = path.file_name()?;
    Some(std::fs::canonicalize(path.parent()?).ok()?.join(name))
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
        plain_env: args.plain_env,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dash_is_standard_output() {
        assert_eq!(Destination::of(Path::new("-")), Destination::Stdout);
        assert_eq!(Destination::of(Path::new("./-")), Destination::File(PathBuf::from("./-")));
        assert_eq!(Destination::of(Path::new("w.yaml")), Destination::File(PathBuf::from("w.yaml")));
    }

    #[cfg(unix)]
    #[test]
    fn same_file_sees_through_spellings_and_links() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).expect("mkdir");
        let file = d.join("w.yaml");
        // Neither exists yet: compared as paths.
        assert!(same_file(&file, &d.join("sub/../w.yaml")));
        assert!(same_file(&file, &d.join("./w.yaml")));
        assert!(!same_file(&file, &d.join("s.yaml")));
        // A link to a file that does not exist yet is the file it would create.
        std::os::unix::fs::symlink(&file, d.join("dangling")).expect("symlink");
        assert!(same_file(&file, &d.join("dangling")));
        std::os::unix::fs::symlink("../w.yaml", d.join("sub/relative")).expect("symlink");
        assert!(same_file(&d.join("sub/relative"), &file));
        // Existing: the same inode, also through a hard link or a linked directory.
        std::fs::write(&file, "x").expect("writable");
        std::fs::hard_link(&file, d.join("hard")).expect("link");
        assert!(same_file(&file, &d.join("hard")));
        std::os::unix::fs::symlink(d, d.join("sub/up")).expect("symlink");
        assert!(same_file(&d.join("sub/up/w.yaml"), &file));
        std::fs::write(d.join("other"), "x").expect("writable");
        assert!(!same_file(&file, &d.join("other")));
        assert!(!same_file(&file, &d.join("missing")));
    }
}
