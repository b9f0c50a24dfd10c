//! Builds: from a directory or a git repository (cloned into a private directory), skipped
//! when the inputs' hash matches the image's label.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use copili_model::{BuildContext, BuildSpec, PullPolicy};

use crate::engine::{BuildRequest, Engine, LogLine, LogStream, RegistryAuth};
use crate::reason::{BuildError, GitFailure, GitStep, ImageFailure, IoError, PullError, RegistryFailure};

use super::hash::build_hash;
use super::{ImageEvent, BUILD_HASH_LABEL};

/// What a build is of, from its job.
pub(super) struct BuildInputs<'a> {
    pub(super) build: &'a BuildSpec,
    pub(super) image: &'a str,
    pub(super) policy: PullPolicy,
    pub(super) auth: Option<&'a RegistryAuth>,
    pub(super) tls_verify: bool,
}

pub(super) fn build(
    engine: &dyn Engine,
    inputs: &BuildInputs<'_>,
    base_labels: &[(String, String)],
    cancelled: &(dyn Fn() -> bool + Sync),
    on_event: &mut dyn FnMut(ImageEvent),
    on_line: &mut dyn FnMut(LogLine),
) -> Result<(), ImageFailure> {
    let image = inputs.image;
    // A clone lives in a private directory removed when the build is done.
    let (_clone, context) = match &inputs.build.context {
        BuildContext::Dir { written, resolved } => {
            if !resolved.is_dir() {
                return Err(ImageFailure::ContextNotADirectory {
                    written: written.clone(),
                    resolved: resolved.clone(),
                });
            }
            (None, resolved.clone())
        }
        BuildContext::Git { url, reference, subdir } => {
            // A dry run shows the clone and the build without cloning.
            let placeholder = "<private temporary directory>/repo";
            let quoted = crate::shell_quote(url);
            if engine.show_instead_of_running(&format!("git clone --quiet -- {quoted} '{placeholder}'")) {
                if let Some(reference) = reference {
                    engine.show_instead_of_running(&format!(
                        "git -C '{placeholder}' checkout --quiet --detach {}",
                        crate::shell_quote(reference)
                    ));
                }
                let context = match subdir {
                    Some(subdir) => PathBuf::from(placeholder).join(subdir),
                    None => PathBuf::from(placeholder),
                };
                let request = BuildRequest {
                    image: image.to_string(),
                    dockerfile: inputs.build.dockerfile.as_ref().map(|file| context.join(file)),
                    context,
                    args: inputs.build.args.clone(),
                    target: inputs.build.target.clone(),
                    labels: base_labels.to_vec(),
                    pull: inputs.policy == PullPolicy::Always,
                    auth: inputs.auth.cloned(),
                    tls_verify: inputs.tls_verify,
                };
                on_event(ImageEvent::Building);
                return match engine.build(&request, on_line, cancelled) {
                    Ok(()) => {
                        on_event(ImageEvent::Built { elapsed: Duration::ZERO });
                        Ok(())
                    }
                    Err(error) => Err(build_failure(image, inputs.auth, error)),
                };
            }
            let dir = clone(url, reference.as_deref(), on_line, cancelled)?;
            let mut context = dir.path().join("repo");
            if let Some(subdir) = subdir {
                context = context.join(subdir);
                if !context.is_dir() {
                    return Err(ImageFailure::NoSubdirectory { url: url.clone(), subdir: subdir.clone() });
                }
            }
            (Some(dir), context)
        }
    };
    let dockerfile = match &inputs.build.dockerfile {
        Some(file) => context.join(file),
        None => context.join("Dockerfile"),
    };
    if !dockerfile.is_file() {
        let name = inputs.build.dockerfile.as_deref().unwrap_or("Dockerfile");
        return Err(ImageFailure::NoDockerfile { name: name.to_string(), path: dockerfile });
    }
    let hash = build_hash(&context, &dockerfile, inputs.build)
        .map_err(|e| ImageFailure::ContextUnreadable { context: context.clone(), error: IoError::from(e) })?;
    if inputs.policy != PullPolicy::Always {
        match engine.image_label(image, BUILD_HASH_LABEL) {
            Ok(Some(existing)) if existing == hash => {
                on_event(ImageEvent::UpToDate);
                return Ok(());
            }
            Ok(_) => {}
            Err(error) => return Err(ImageFailure::InspectFailed { image: image.to_string(), error }),
        }
    }
    let mut labels = base_labels.to_vec();
    labels.push((BUILD_HASH_LABEL.to_string(), hash));
    let request = BuildRequest {
        image: image.to_string(),
        context,
        dockerfile: inputs.build.dockerfile.as_ref().map(|_| dockerfile),
        args: inputs.build.args.clone(),
        target: inputs.build.target.clone(),
        labels,
        pull: inputs.policy == PullPolicy::Always,
        auth: inputs.auth.cloned(),
        tls_verify: inputs.tls_verify,
    };
    on_event(ImageEvent::Building);
    let started = Instant::now();
    match engine.build(&request, on_line, cancelled) {
        Ok(()) => {
            on_event(ImageEvent::Built { elapsed: started.elapsed() });
            Ok(())
        }
        Err(_) if cancelled() => Err(ImageFailure::Interrupted),
        Err(error) => Err(build_failure(image, inputs.auth, error)),
    }
}

/// A failed build (or its login) as the containers' failure.
fn build_failure(image: &str, auth: Option<&RegistryAuth>, error: BuildError) -> ImageFailure {
    match error {
        BuildError::Login(PullError { kind, error }) => ImageFailure::BuildLogin(RegistryFailure {
            kind,
            image: image.to_string(),
            registry: auth.map_or("", |a| a.registry.as_str()).to_string(),
            error,
        }),
        BuildError::Failed(error) => ImageFailure::BuildFailed { image: image.to_string(), error },
    }
}

/// Clones a repository with the `git` CLI into a new private directory (`<dir>/repo`) and
/// checks out `reference`; git's output goes to `on_line`.
fn clone(
    url: &str,
    reference: Option<&str>,
    on_line: &mut dyn FnMut(LogLine),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<tempfile::TempDir, ImageFailure> {
    let git = which::which("git").map_err(|_| ImageFailure::NoGit { url: url.to_string() })?;
    let mut builder = tempfile::Builder::new();
    builder.prefix("copili-build-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let dir = builder.tempdir().map_err(|e| ImageFailure::CloneDirectory(IoError::from(e)))?;
    let repo = dir.path().join("repo");
    let run_git = |args: Vec<String>, on_line: &mut dyn FnMut(LogLine)| -> Result<(), GitFailure> {
        if cancelled() {
            return Err(GitFailure::Interrupted);
        }
        let output = duct::cmd(&git, &args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "true")
            .stdin_null()
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()
            .map_err(|e| GitFailure::CannotRun(IoError::from(e)))?;
        let text = String::from_utf8_lossy(&output.stdout);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            on_line(LogLine { stream: LogStream::Stderr, text: line.to_string() });
        }
        if output.status.success() {
            Ok(())
        } else {
            let last_line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            Err(GitFailure::Failed { last_line })
        }
    };
    let repo_text = repo.display().to_string();
    on_line(LogLine { stream: LogStream::Stderr, text: format!("cloning {url}") });
    run_git(vec!["clone".into(), "--quiet".into(), "--".into(), url.into(), repo_text.clone()], on_line)
        .map_err(|failure| ImageFailure::Git { url: url.to_string(), step: GitStep::Clone, failure })?;
    if let Some(reference) = reference {
        let checkout = |r: &str, on_line: &mut dyn FnMut(LogLine)| {
            run_git(
                vec!["-C".into(), repo_text.clone(), "checkout".into(), "--quiet".into(), "--detach".into(), r.into()],
                on_line,
            )
        };
        checkout(reference, on_line).or_else(|_| checkout(&format!("origin/{reference}"), on_line)).map_err(
            |failure| ImageFailure::Git {
                url: url.to_string(),
                step: GitStep::Checkout { reference: reference.to_string() },
                failure,
            },
        )?;
    }
    Ok(dir)
}
