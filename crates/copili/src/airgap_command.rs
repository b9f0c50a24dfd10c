//! `copili lock`, `copili bundle save|load`, and what `run --locked` and `plan` ask of the lock:
//! glue between the command line and `copili_runtime::airgap`.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use copili::exit_code;
use copili::runtime::airgap::{self, bundle::size, ImageCheck, LockFile, Verdict};
use copili::runtime::images::{self, ImageConfig, ImageEvent};
use copili::runtime::Engine;

use crate::cli::{BundleLoadArgs, BundleSaveArgs, InputArgs, LockArgs, RunArgs};
use crate::error::{plural, CliError};
use crate::output::{errln, outln};
use crate::run_command::{require_engine, select_engine};

/// An engine that answers, or why not (exit 3).
fn engine_for(choice: &str, command: &str, timeout: std::time::Duration) -> Result<Box<dyn Engine>, CliError> {
    require_engine(command, choice)?;
    let engine = select_engine(choice, false, timeout)
        .map_err(|source| CliError::EngineMissing { engine: choice.to_string(), source })?;
    engine.ping().map_err(|source| CliError::EngineSilent { engine: engine.name().to_string(), source })?;
    Ok(engine)
}

/// The input options of a command that reads the whole file (no selection).
fn whole_file(file: &Path, name: Option<&str>, env_file: Option<&Path>, strict_env: bool) -> InputArgs {
    InputArgs {
        file: file.to_path_buf(),
        name: name.map(String::from),
        env_file: env_file.map(Path::to_path_buf),
        strict_env,
        environment: None,
        only: Vec::new(),
        skip: Vec::new(),
    }
}

/// The lock file of a pipeline given on the command line; standard input has none.
fn lock_path(file: &Path, what: &str) -> Result<PathBuf, CliError> {
    if file.as_os_str() == "-" {
        return Err(CliError::Usage(format!("{what} needs a pipeline file (its lock is FILE.lock), not `-`")));
    }
    Ok(LockFile::path_for(file))
}

/// `copili lock FILE`: every image pulled or built as a run would, then pinned.
pub(crate) fn lock(args: &LockArgs) -> Result<i32, CliError> {
    let path = lock_path(&args.file, "copili lock")?;
    let input = whole_file(&args.file, args.name.as_deref(), args.env_file.as_deref(), args.strict_env);
    let (pipeline, _, _) = crate::load_and_plan(&input, false)?;
    let engine = engine_for(&args.engine, "lock", args.timeout.engine_timeout)?;
    let spec = pipeline.spec();
    let order: Vec<usize> = (0..spec.containers.len()).collect();
    let (jobs, _) = images::jobs(spec, &order, args.pull);
    let config = ImageConfig { policy: args.pull, parallel: 1, ..ImageConfig::default() };
    let labels = vec![(copili::runtime::runner::PIPELINE_LABEL.to_string(), pipeline.identity().to_string())];
    let mut failed = Vec::new();
    for job in &jobs {
        let image = job.image.as_str();
        let result = images::prepare(
            &*engine,
            job,
            &config,
            &labels,
            &|| false,
            &mut |event| match event {
                ImageEvent::Pulling { attempt: 1 } => outln!("--> image {image} pulling"),
                ImageEvent::Pulled { elapsed } => outln!("<-- image {image} pulled in {:.1}s", elapsed.as_secs_f64()),
                ImageEvent::Building => outln!("--> image {image} building"),
                ImageEvent::Built { elapsed } => outln!("<-- image {image} built in {:.1}s", elapsed.as_secs_f64()),
                ImageEvent::UpToDate => outln!("=== image {image} up to date (build inputs unchanged): not rebuilt"),
                _ => {}
            },
            &mut |line| outln!("{image} (build) | {}", line.text),
        );
        if let Err(reason) = result {
            failed.push(format!("image {image}: {}", copili::report::words::image_failure(&reason)));
        }
    }
    if !failed.is_empty() {
        return Err(CliError::Images(failed));
    }
    let lock = airgap::lock_of(&*engine, spec, pipeline.identity()).map_err(|(image, error)| {
        CliError::Images(vec![match error {
            Some(e) => format!("image {image}: {} cannot say what it is: {}", engine.name(), one_line(&e)),
            None => format!("image {image} is not on {} after it was had", engine.name()),
        }])
    })?;
    lock.write(&path).map_err(CliError::LockFile)?;
    outln!("wrote {}: {} pinned on {}", path.display(), plural(lock.images.len(), "image"), engine.name());
    let width = lock.images.keys().map(String::len).max().unwrap_or(0);
    for (image, locked) in &lock.images {
        let by = locked.digest.as_deref().unwrap_or(&locked.id);
        outln!("  {image:<width$}  {by}  ({}: {})", locked.source, locked.containers.join(", "));
    }
    Ok(exit_code::SUCCESS)
}

fn one_line(error: &copili::runtime::EngineError) -> String {
    crate::error::one_line(&copili::report::words::engine_failure(error))
}

/// The images of the selected containers (main containers in `order`, with their sidecars).
fn selected_images(spec: &copili::model::Pipeline, order: &[usize]) -> BTreeMap<String, Vec<String>> {
    let selected: Vec<&str> = order.iter().map(|&c| spec.containers[c].name.as_str()).collect();
    let mut images = airgap::images_of(spec);
    images.retain(|_, users| users.iter().any(|u| selected.contains(&u.split('/').next().unwrap_or(u))));
    images
}

/// A line for an image that is not the locked one, naming its containers and both identities.
fn refusal(check: &ImageCheck, engine: &str, lock_file: &Path) -> Option<String> {
    let who = check.containers.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let who = if check.containers.len() == 1 { format!("container {who}") } else { format!("containers {who}") };
    let lock_file = lock_file.display();
    let locked = check.locked.as_ref().map(|l| match &l.digest {
        Some(digest) => format!("{} ({digest})", l.id),
        None => l.id.clone(),
    });
    let locked = locked.unwrap_or_default();
    match &check.verdict {
        Verdict::Locked { .. } => None,
        Verdict::Different { host } => {
            // The host's registry digest too, when the lock pins one (a new image pulled).
            let repository = check.image.rsplit_once(':').map_or(check.image.as_str(), |(repo, _)| repo);
            let host_digest = check.locked.as_ref().and_then(|l| l.digest.as_ref()).and_then(|_| {
                host.repo_digests.iter().find(|d| d.split_once('@').is_some_and(|(repo, _)| repo == repository))
            });
            let host = match host_digest {
                Some(digest) => format!("{} ({digest})", host.id),
                None => host.id.clone(),
            };
            Some(format!("{who}: image {} is {host} on {engine}, but {lock_file} has {locked}", check.image))
        }
        Verdict::Absent => Some(format!("{who}: image {} is not on {engine}; {lock_file} has {locked}", check.image)),
        Verdict::NotLocked => Some(format!("{who}: image {} is not in {lock_file}", check.image)),
    }
}

/// `run --locked`: the id each image of the selected containers runs as, checked against the
/// engine's images before anything starts; [`CliError::NotLocked`] naming every image that
/// differs or is missing. A dry run does not ask the engine: it shows the locked ids. Without
/// `--locked`: none.
pub(crate) fn pinned_images(
    input: &InputArgs,
    args: &RunArgs,
    pipeline: &copili::Pipeline,
    plan: &copili::Plan,
    engine: &dyn Engine,
    dry_run: bool,
) -> Result<BTreeMap<String, String>, CliError> {
    if !args.locked {
        return Ok(BTreeMap::new());
    }
    if args.engine == "swarm" {
        return Err(CliError::Usage(
            "--locked is for docker and podman: a swarm's nodes pull images themselves".into(),
        ));
    }
    let file = input.file.as_path();
    let path = lock_path(file, "--locked")?;
    let lock = LockFile::read(&path, file).map_err(CliError::LockFile)?;
    let order: Vec<usize> = plan.order().collect();
    let images = selected_images(pipeline.spec(), &order);
    if dry_run {
        let missing: Vec<String> = images
            .keys()
            .filter(|i| !lock.images.contains_key(*i))
            .map(|i| format!("image {i} is not in {}", path.display()))
            .collect();
        if !missing.is_empty() {
            return Err(CliError::NotLocked {
                lines: missing,
                help: format!("lock it: `copili lock {}`", file.display()),
            });
        }
    } else {
        let checks = airgap::check(engine, &lock, &images).map_err(CliError::Engine)?;
        let lines: Vec<String> = checks.iter().filter_map(|c| refusal(c, engine.name(), &path)).collect();
        if !lines.is_empty() {
            return Err(CliError::NotLocked {
                lines,
                help: format!(
                    "nothing was started: load the locked images (`copili bundle load`), or lock the pipeline \
                     again (`copili lock {}`)",
                    file.display()
                ),
            });
        }
    }
    Ok(images.keys().filter_map(|i| Some((i.clone(), lock.images.get(i)?.id.clone()))).collect())
}

/// `plan`: with a lock file beside the pipeline and an engine to ask, each image of the
/// selected containers against it; `None` otherwise (or, as a line, why the engine could not
/// say).
pub(crate) fn plan_locked(
    file: &Path,
    pipeline: &copili::Pipeline,
    plan: &copili::Plan,
    engine: &str,
    timeout: std::time::Duration,
) -> Option<(PathBuf, Result<Vec<ImageCheck>, String>)> {
    if file.as_os_str() == "-" || engine == "none" {
        return None;
    }
    let path = LockFile::path_for(file);
    if !path.exists() {
        return None;
    }
    let result = (|| {
        let lock = LockFile::read(&path, file).map_err(|e| e.to_string())?;
        let engine = if engine == "swarm" { "docker" } else { engine };
        let engine = copili::runtime::CliEngine::select_with_timeout(engine, timeout).map_err(|e| e.to_string())?;
        let order: Vec<usize> = plan.order().collect();
        airgap::check(&engine, &lock, &selected_images(pipeline.spec(), &order)).map_err(|e| one_line(&e))
    })();
    Some((path, result))
}

/// The text of [`plan_locked`]'s answer.
pub(crate) fn plan_locked_text(path: &Path, result: &Result<Vec<ImageCheck>, String>) -> String {
    let mut out = format!("\nlocked images ({}):\n", path.display());
    match result {
        Err(why) => out.push_str(&format!("  could not tell: {why}\n")),
        Ok(checks) => {
            let width = checks.iter().map(|c| c.image.len()).max().unwrap_or(0);
            for check in checks {
                let locked = check.locked.as_ref().map_or("", |l| l.id.as_str());
                let state = match &check.verdict {
                    Verdict::Locked { .. } => format!("present at locked identity {locked}"),
                    Verdict::Different { host } => format!("present but different: {} (locked {locked})", host.id),
                    Verdict::Absent => format!("absent (locked {locked})"),
                    Verdict::NotLocked => "not in the lock file".to_string(),
                };
                out.push_str(&format!("  {:<width$}  {state}\n", check.image));
            }
        }
    }
    out
}

/// The JSON of [`plan_locked`]'s answer.
pub(crate) fn plan_locked_json(result: &Result<Vec<ImageCheck>, String>) -> Vec<serde_json::Value> {
    match result {
        Err(why) => vec![serde_json::json!({"state": "unknown", "reason": why})],
        Ok(checks) => checks
            .iter()
            .map(|c| {
                let host = match &c.verdict {
                    Verdict::Locked { host } | Verdict::Different { host } => Some(host.id.clone()),
                    _ => None,
                };
                serde_json::json!({
                    "image": c.image,
                    "containers": c.containers,
                    "state": c.verdict.kind(),
                    "locked_id": c.locked.as_ref().map(|l| l.id.clone()),
                    "locked_digest": c.locked.as_ref().and_then(|l| l.digest.clone()),
                    "host_id": host,
                })
            })
            .collect(),
    }
}

/// A progress bar on standard error when it is a terminal; hidden otherwise.
fn progress_bar() -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        let style =
            indicatif::ProgressStyle::with_template("{msg:12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

fn show(bar: &indicatif::ProgressBar, progress: airgap::Progress) {
    use airgap::Progress;
    let (message, done, total) = match progress {
        Progress::Saving { done, expected } => ("saving", done, expected.max(done)),
        Progress::Packing { done, total } => ("packing", done, total),
        Progress::Verifying { done, total } => ("verifying", done, total),
        Progress::Unpacking { done, total } => ("unpacking", done, total),
        Progress::Loading => {
            bar.set_message("loading");
            return;
        }
    };
    bar.set_message(message);
    bar.set_length(total);
    bar.set_position(done);
}

/// SIGINT and SIGTERM set a flag instead of ending copili at once, so that a save can remove
/// its temporary files.
fn interrupt_flag() -> Result<Arc<AtomicBool>, CliError> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&flag)).map_err(CliError::Signals)?;
    }
    Ok(flag)
}

/// `copili bundle save FILE -o BUNDLE.tar`.
pub(crate) fn bundle_save(args: &BundleSaveArgs) -> Result<i32, CliError> {
    let lock_file = lock_path(&args.file, "copili bundle save")?;
    let input = whole_file(&args.file, args.name.as_deref(), args.env_file.as_deref(), false);
    let (pipeline, _, _) = crate::load_and_plan(&input, false)?;
    let lock = LockFile::read(&lock_file, &args.file).map_err(CliError::LockFile)?;
    let env_file = if args.include_env_file {
        let path = args.env_file.clone().unwrap_or_else(|| crate::airgap_command::beside(&args.file, ".env"));
        if !path.is_file() {
            return Err(CliError::Usage(format!("--include-env-file: there is no env file {}", path.display())));
        }
        Some(path)
    } else {
        None
    };
    let engine = engine_for(&args.engine, "bundle save", args.timeout.engine_timeout)?;
    let checks = airgap::check(&*engine, &lock, &airgap::images_of(pipeline.spec())).map_err(CliError::Engine)?;
    let lines: Vec<String> = checks.iter().filter_map(|c| refusal(c, engine.name(), &lock_file)).collect();
    if !lines.is_empty() {
        return Err(CliError::NotLocked {
            lines,
            help: format!(
                "nothing was written: a bundle holds the locked images; lock the pipeline again (`copili lock {}`)",
                args.file.display()
            ),
        });
    }
    let sizes: Vec<(String, u64)> = checks
        .iter()
        .map(|c| {
            let size = match &c.verdict {
                Verdict::Locked { host } => host.size,
                _ => 0,
            };
            (c.image.clone(), size)
        })
        .collect();
    let request = airgap::SaveRequest {
        output: &args.output,
        pipeline_file: &args.file,
        lock: &lock,
        lock_file: &lock_file,
        env_file: env_file.as_deref(),
        images: sizes,
        copili_version: env!("CARGO_PKG_VERSION"),
    };
    let interrupted = interrupt_flag()?;
    let bar = progress_bar();
    let started = Instant::now();
    let saved = airgap::save(&*engine, &request, &|| interrupted.load(Ordering::SeqCst), &|p| show(&bar, p))
        .map_err(CliError::Bundle)?;
    bar.finish_and_clear();
    outln!(
        "wrote {}: {} from {} ({} in all as the engine counts them), bundle {}, in {:.1}s",
        args.output.display(),
        plural(lock.images.len(), "image"),
        engine.name(),
        size(saved.images_sum),
        size(saved.bundle_size),
        started.elapsed().as_secs_f64()
    );
    if env_file.is_some() {
        outln!("the bundle holds the env file: it holds secrets, keep the bundle as you keep them");
    }
    outln!("on the offline host: copili bundle load {} --engine ENGINE", args.output.display());
    Ok(exit_code::SUCCESS)
}

/// A file beside the pipeline file.
pub(crate) fn beside(file: &Path, name: &str) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(name),
        _ => PathBuf::from(name),
    }
}

/// `copili bundle load BUNDLE.tar`.
pub(crate) fn bundle_load(args: &BundleLoadArgs) -> Result<i32, CliError> {
    let dir = match &args.directory {
        Some(dir) => dir.clone(),
        None => {
            // In the current directory: the bundle's may well be read-only (a USB stick).
            PathBuf::from(args.bundle.file_stem().map(|s| s.to_os_string()).unwrap_or_else(|| "bundle".into()))
        }
    };
    if !args.bundle.is_file() {
        return Err(CliError::Usage(format!("no bundle {}", args.bundle.display())));
    }
    let engine = engine_for(&args.engine, "bundle load", args.timeout.engine_timeout)?;
    let bar = progress_bar();
    let started = Instant::now();
    let loaded = airgap::load(&*engine, &args.bundle, &dir, &|p| show(&bar, p));
    bar.finish_and_clear();
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(airgap::LoadError::Bundle(error)) => return Err(CliError::Bundle(error)),
        Err(airgap::LoadError::Engine { source, .. }) => return Err(CliError::Engine(source)),
        Err(airgap::LoadError::NotLocked { checks }) => {
            let lock_name = Path::new("the lock");
            return Err(CliError::LoadedNotLocked(
                checks.iter().filter_map(|c| refusal(c, engine.name(), lock_name)).collect(),
            ));
        }
    };
    let manifest = &loaded.manifest;
    outln!(
        "{}: every checksum matches (written by copili {} from {})",
        args.bundle.display(),
        manifest.copili_version,
        manifest.engine
    );
    outln!(
        "loaded {} into {} in {:.1}s, each the locked one:",
        plural(loaded.checks.len(), "image"),
        engine.name(),
        started.elapsed().as_secs_f64()
    );
    let width = loaded.checks.iter().map(|c| c.image.len()).max().unwrap_or(0);
    for check in &loaded.checks {
        let id = check.locked.as_ref().map_or("", |l| l.id.as_str());
        outln!("  {:<width$}  {id}  ({})", check.image, check.containers.join(", "));
    }
    let mut unpacked = vec![loaded.pipeline_file.display().to_string(), loaded.lock_file.display().to_string()];
    if let Some(env) = &loaded.env_file {
        unpacked.push(format!("{} (secrets: mode 0600)", env.display()));
    }
    outln!("unpacked {}", unpacked.join(", "));
    let engine_arg = if args.engine == "auto" { String::new() } else { format!(" --engine {}", args.engine) };
    outln!("run it with: copili run {} --locked --pull never{engine_arg}", loaded.pipeline_file.display());
    if loaded.names.is_empty() {
        errln!("warning: {} did not say which images it loaded", engine.name());
    }
    Ok(exit_code::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use copili::runtime::airgap::LockedImage;
    use copili::runtime::ImageIdentity;

    const LOCKED: &str = "sha256:1efd44c063c4abeea3c52bd684cf611a0a888d7ad5b7f2d2af8cd126881521c3";
    const HOST: &str = "sha256:59d90a0a7c1b3a613c0e93e5d37a179d11efb4b55e1b0effba793a656d003933";

    fn checked(image: &str, digest: Option<&str>, verdict: Verdict) -> ImageCheck {
        let containers = vec!["report".to_string(), "report/side".to_string()];
        let locked = LockedImage {
            containers: containers.clone(),
            digest: digest.map(String::from),
            id: LOCKED.into(),
            source: "registry".into(),
        };
        ImageCheck { image: image.into(), containers, locked: Some(locked), verdict }
    }

    #[test]
    fn a_refusal_names_the_containers_and_both_identities() {
        let lock = Path::new("nightly.yaml.lock");
        let host = ImageIdentity { id: HOST.into(), repo_digests: vec!["r.io/report@sha256:bbbb".into()], size: 1 };
        let lines: Vec<String> = [
            checked("localhost/report:latest", None, Verdict::Different { host: host.clone() }),
            checked("r.io/report:2", Some("r.io/report@sha256:aaaa"), Verdict::Different { host }),
            checked("r.io/report:2", Some("r.io/report@sha256:aaaa"), Verdict::Absent),
            ImageCheck {
                image: "localhost/new:1".into(),
                containers: vec!["new".into()],
                locked: None,
                verdict: Verdict::NotLocked,
            },
        ]
        .iter()
        .filter_map(|c| refusal(c, "podman", lock))
        .collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        containers `report`, `report/side`: image localhost/report:latest is sha256:59d90a0a7c1b3a613c0e93e5d37a179d11efb4b55e1b0effba793a656d003933 on podman, but nightly.yaml.lock has sha256:1efd44c063c4abeea3c52bd684cf611a0a888d7ad5b7f2d2af8cd126881521c3
        containers `report`, `report/side`: image r.io/report:2 is sha256:59d90a0a7c1b3a613c0e93e5d37a179d11efb4b55e1b0effba793a656d003933 (r.io/report@sha256:bbbb) on podman, but nightly.yaml.lock has sha256:1efd44c063c4abeea3c52bd684cf611a0a888d7ad5b7f2d2af8cd126881521c3 (r.io/report@sha256:aaaa)
        containers `report`, `report/side`: image r.io/report:2 is not on podman; nightly.yaml.lock has sha256:1efd44c063c4abeea3c52bd684cf611a0a888d7ad5b7f2d2af8cd126881521c3 (r.io/report@sha256:aaaa)
        container `new`: image localhost/new:1 is not in nightly.yaml.lock
        ");
        let present = ImageIdentity { id: LOCKED.into(), repo_digests: vec![], size: 1 };
        assert_eq!(refusal(&checked("x:1", None, Verdict::Locked { host: present }), "podman", lock), None);
    }
}
