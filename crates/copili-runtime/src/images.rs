//! Images: what each container needs, pulled or built once per run, early and in parallel.
//!
//! The runner asks [`jobs`] for the distinct images of the selected containers (a container's
//! and its sidecars'), in the order they will be needed, and prepares each with [`prepare`]
//! on a few threads of its own while containers run: the image of a container whose
//! dependencies are still running is pulled meanwhile. A container starts once its images are
//! ready, and fails at once, without starting, when one of them cannot be had.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use copili_model::{BuildContext, BuildSpec, ContainerSpec, Pipeline, PullPolicy};
use sha2::Digest as _;

use crate::engine::{BuildRequest, Engine, LogLine, LogStream, PullRequest, RegistryAuth};
pub use crate::reason::PullFailure;
use crate::reason::{
    BuildError, GitFailure, GitStep, GivenCredential, ImageFailure, IoError, PullError, RegistryFailure,
};

/// The image label holding the hash of a build's inputs, compared before building again.
pub const BUILD_HASH_LABEL: &str = "io.copili.build-hash";

/// One distinct image of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageJob {
    /// The reference, `repo:tag`.
    pub image: String,
    /// How it is had.
    pub source: ImageSource,
    /// The containers (indices into `Pipeline::containers`) that need it, for themselves or a
    /// sidecar, in plan order.
    pub users: Vec<usize>,
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// A registry.
    Pull {
        /// When to pull.
        policy: PullPolicy,
        /// The container's credentials, if it has any.
        auth: Option<RegistryAuth>,
        /// The container's `tls_verify`.
        tls_verify: bool,
    },
    /// A build.
    Build {
        /// What to build.
        build: BuildSpec,
        /// `always` rebuilds even when the inputs are unchanged and pulls newer base images.
        policy: PullPolicy,
        /// Credentials for base images.
        auth: Option<RegistryAuth>,
        /// The container's `tls_verify`.
        tls_verify: bool,
    },
    /// Nothing can be done: the reason is the container's failure (credentials given by half).
    Invalid(ImageFailure),
}

impl ImageJob {
    /// The container whose log gets the build's output: the first that needs the image.
    pub fn owner(&self) -> usize {
        self.users.first().copied().unwrap_or_default()
    }
}

/// What happened to an image, as [`crate::RunEvent::Image`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageEvent {
    /// It is present and its policy does not ask for a pull.
    Present,
    /// A pull attempt starts.
    Pulling {
        /// 1 for the first.
        attempt: u32,
    },
    /// A line of the pull's progress.
    Progress(String),
    /// A pull attempt failed and another follows after `delay`.
    Retrying {
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next.
        delay: Duration,
        /// Why.
        reason: RegistryFailure,
    },
    /// Pulled.
    Pulled {
        /// How long the pull took, retries included.
        elapsed: Duration,
    },
    /// A build starts (its output comes as [`crate::RunEvent::BuildOutput`]).
    Building,
    /// Built.
    Built {
        /// How long the build took.
        elapsed: Duration,
    },
    /// A build was skipped: the image was built from the same inputs before.
    UpToDate,
    /// The engine's id of the image, once it is there (for the run state).
    Identified {
        /// `sha256:…`.
        id: String,
    },
    /// The image cannot be had; the containers that need it fail.
    Failed {
        /// Why (the registry named, credentials never).
        reason: ImageFailure,
    },
}

/// How images are had.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// The run's pull policy (`--pull`), overriding every container's.
    pub policy: Option<PullPolicy>,
    /// Attempts after a failed pull.
    pub pull_retries: u32,
    /// The wait before the first retry of a pull, doubled before each further one.
    pub pull_retry_delay: Duration,
    /// Images prepared at once.
    pub parallel: usize,
}

impl Default for ImageConfig {
    fn default() -> ImageConfig {
        ImageConfig { policy: None, pull_retries: 3, pull_retry_delay: Duration::from_secs(1), parallel: 3 }
    }
}

/// The distinct images of the containers in `order` (with their sidecars), in the order they
/// are first needed, and for each container the indices of the jobs it waits for.
///
/// When containers disagree about an image's policy, the most eager wins (`always`, then
/// `missing`, then `never`): the image is there for all of them. A build wins over a pull of
/// the same reference; the first container's credentials are used.
pub fn jobs(pipeline: &Pipeline, order: &[usize], policy: Option<PullPolicy>) -> (Vec<ImageJob>, Vec<Vec<usize>>) {
    let mut jobs: Vec<ImageJob> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut needs = vec![Vec::new(); pipeline.containers.len()];
    for &c in order {
        let main = &pipeline.containers[c];
        for spec in std::iter::once(main).chain(&main.sidecars) {
            let image = spec.image();
            let source = source_of(spec, policy);
            let at = match index.get(&image) {
                Some(&at) => {
                    merge(&mut jobs[at].source, source);
                    if !jobs[at].users.contains(&c) {
                        jobs[at].users.push(c);
                    }
                    at
                }
                None => {
                    index.insert(image.clone(), jobs.len());
                    jobs.push(ImageJob { image, source, users: vec![c] });
                    jobs.len() - 1
                }
            };
            if !needs[c].contains(&at) {
                needs[c].push(at);
            }
        }
    }
    (jobs, needs)
}

fn source_of(spec: &ContainerSpec, run_policy: Option<PullPolicy>) -> ImageSource {
    let policy = run_policy.or(spec.pull).unwrap_or_default();
    let auth = match (&spec.image_reg_username, &spec.image_reg_password) {
        (Some(username), Some(password)) if !username.is_empty() => Some(RegistryAuth {
            registry: spec.registry().to_string(),
            username: username.clone(),
            password: password.clone(),
        }),
        (None, None) => None,
        (Some(u), None) if u.is_empty() => None,
        (None, Some(p)) if p.expose().is_empty() => None,
        (Some(_), None) | (Some(_), Some(_)) => {
            return ImageSource::Invalid(ImageFailure::HalfCredentials {
                registry: spec.registry().to_string(),
                given: GivenCredential::Username,
            });
        }
        (None, Some(_)) => {
            return ImageSource::Invalid(ImageFailure::HalfCredentials {
                registry: spec.registry().to_string(),
                given: GivenCredential::Password,
            });
        }
    };
    match &spec.build {
        Some(build) => ImageSource::Build { build: (**build).clone(), policy, auth, tls_verify: spec.tls_verify },
        None => ImageSource::Pull { policy, auth, tls_verify: spec.tls_verify },
    }
}

fn rank(policy: PullPolicy) -> u8 {
    match policy {
        PullPolicy::Always => 2,
        PullPolicy::Missing => 1,
        PullPolicy::Never => 0,
    }
}

/// Combines what a further container says about an image with what the job has.
fn merge(current: &mut ImageSource, other: ImageSource) {
    match (&mut *current, other) {
        (ImageSource::Invalid(_), _) => {}
        (_, invalid @ ImageSource::Invalid(_)) => *current = invalid,
        (ImageSource::Pull { .. }, build @ ImageSource::Build { .. }) => *current = build,
        (
            ImageSource::Pull { policy, auth, tls_verify } | ImageSource::Build { policy, auth, tls_verify, .. },
            ImageSource::Pull { policy: other, auth: other_auth, tls_verify: other_tls }
            | ImageSource::Build { policy: other, auth: other_auth, tls_verify: other_tls, .. },
        ) => {
            if rank(other) > rank(*policy) {
                *policy = other;
            }
            if auth.is_none() {
                *auth = other_auth;
            }
            // One image, one registry: if a container says it speaks plain HTTP, it does.
            *tls_verify &= other_tls;
        }
    }
}

/// Makes a job's image available: checks, pulls with retries, or builds. `Err` is why the
/// containers that need it fail. `on_build_line` gets the build's (and clone's) output.
pub fn prepare(
    engine: &dyn Engine,
    job: &ImageJob,
    config: &ImageConfig,
    base_labels: &[(String, String)],
    cancelled: &(dyn Fn() -> bool + Sync),
    on_event: &mut dyn FnMut(ImageEvent),
    on_build_line: &mut dyn FnMut(LogLine),
) -> Result<(), ImageFailure> {
    let result = match &job.source {
        ImageSource::Invalid(reason) => Err(reason.clone()),
        ImageSource::Pull { policy, auth, tls_verify } => {
            pull(engine, job, *policy, auth.as_ref(), *tls_verify, config, cancelled, on_event)
        }
        ImageSource::Build { build, policy, auth, tls_verify } => {
            let request =
                BuildInputs { build, image: &job.image, policy: *policy, auth: auth.as_ref(), tls_verify: *tls_verify };
            self::build(engine, &request, base_labels, cancelled, on_event, on_build_line)
        }
    };
    if let Err(reason) = &result {
        on_event(ImageEvent::Failed { reason: reason.clone() });
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn pull(
    engine: &dyn Engine,
    job: &ImageJob,
    policy: PullPolicy,
    auth: Option<&RegistryAuth>,
    tls_verify: bool,
    config: &ImageConfig,
    cancelled: &(dyn Fn() -> bool + Sync),
    on_event: &mut dyn FnMut(ImageEvent),
) -> Result<(), ImageFailure> {
    let image = &job.image;
    if policy != PullPolicy::Always {
        let present = engine
            .image_present(image)
            .map_err(|error| ImageFailure::PresenceUnknown { image: image.clone(), error })?;
        if present {
            on_event(ImageEvent::Present);
            return Ok(());
        }
        if policy == PullPolicy::Never {
            return Err(ImageFailure::AbsentNever { image: image.clone() });
        }
    }
    let registry = copili_model::registry_of(image.split('@').next().unwrap_or(image)).to_string();
    // `localhost/…` names a local image (podman names what it builds or imports so), not a
    // registry on port 443 of this host: there is nothing to pull it from.
    if registry == "localhost" {
        // A dry run cannot tell whether it is present: it shows the run as if it were.
        if engine.is_dry_run() {
            return Ok(());
        }
        if policy == PullPolicy::Always && engine.image_present(image).unwrap_or(false) {
            on_event(ImageEvent::Present);
            return Ok(());
        }
        return Err(ImageFailure::LocalOnly { image: image.clone() });
    }
    let request = PullRequest { image: image.clone(), auth: auth.cloned(), tls_verify };
    let started = Instant::now();
    let mut delay = config.pull_retry_delay;
    let mut attempt = 0;
    loop {
        attempt += 1;
        on_event(ImageEvent::Pulling { attempt });
        let result = engine.pull(&request, &mut |line| on_event(ImageEvent::Progress(line.text)), cancelled);
        let error = match result {
            Ok(()) => {
                on_event(ImageEvent::Pulled { elapsed: started.elapsed() });
                return Ok(());
            }
            Err(error) => error,
        };
        if cancelled() {
            return Err(ImageFailure::Interrupted);
        }
        let PullError { kind, error } = error;
        let failure = RegistryFailure { kind, image: image.clone(), registry: registry.clone(), error };
        // Refused credentials are not tried again: it would not help, and registries lock
        // accounts after repeated failures.
        if !kind.is_retried() || attempt > config.pull_retries {
            return Err(ImageFailure::Pull { failure, attempts: attempt });
        }
        on_event(ImageEvent::Retrying { attempt, delay, reason: failure });
        let deadline = Instant::now() + delay;
        while Instant::now() < deadline {
            if cancelled() {
                return Err(ImageFailure::Interrupted);
            }
            std::thread::sleep(Duration::from_millis(20).min(deadline.saturating_duration_since(Instant::now())));
        }
        delay = delay.saturating_mul(2);
    }
}

struct BuildInputs<'a> {
    build: &'a BuildSpec,
    image: &'a str,
    policy: PullPolicy,
    auth: Option<&'a RegistryAuth>,
    tls_verify: bool,
}

fn build(
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

/// A hash of everything a build reads: the context's files (names, kinds, executable bits,
/// contents; `.git` left out), the Dockerfile, the target and the arguments. Equal hashes:
/// the build would produce the same image, so it is skipped.
pub fn build_hash(context: &Path, dockerfile: &Path, build: &BuildSpec) -> std::io::Result<String> {
    let mut hasher = sha2::Sha256::new();
    let field = |hasher: &mut sha2::Sha256, bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(&mut hasher, b"copili-build-1");
    field(&mut hasher, build.target.as_deref().unwrap_or("").as_bytes());
    for (name, value) in &build.args {
        field(&mut hasher, name.as_bytes());
        field(&mut hasher, value.expose().as_bytes());
    }
    // The Dockerfile by content and by place (it may live outside the context).
    field(&mut hasher, dockerfile.strip_prefix(context).unwrap_or(dockerfile).to_string_lossy().as_bytes());
    field(&mut hasher, &std::fs::read(dockerfile)?);
    let mut files = Vec::new();
    walk(context, context, &mut files)?;
    files.sort();
    let mut buffer = vec![0u8; 64 * 1024];
    for (relative, path) in files {
        let meta = std::fs::symlink_metadata(&path)?;
        field(&mut hasher, relative.as_bytes());
        if meta.file_type().is_symlink() {
            field(&mut hasher, b"link");
            field(&mut hasher, std::fs::read_link(&path)?.to_string_lossy().as_bytes());
        } else if meta.is_dir() {
            field(&mut hasher, b"dir");
        } else {
            #[cfg(unix)]
            let executable = {
                use std::os::unix::fs::PermissionsExt;
                meta.permissions().mode() & 0o111 != 0
            };
            #[cfg(not(unix))]
            let executable = false;
            field(&mut hasher, if executable { b"exec" } else { b"file" });
            hasher.update(meta.len().to_le_bytes());
            let mut file = std::fs::File::open(&path)?;
            loop {
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
            }
        }
    }
    let digest = hasher.finalize();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name() == ".git" {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
        let is_dir = entry.file_type()?.is_dir();
        out.push((relative, path.clone()));
        if is_dir {
            walk(root, &path, out)?;
        }
    }
    Ok(())
}

/// What `copili plan` can say about an image before a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// Present; not pulled (policy `missing` or `never`).
    Present,
    /// Absent: will be pulled.
    WillPull,
    /// Pulled whatever is present (`always`).
    PullAlways,
    /// Absent with `pull: never`: the containers that need it will fail.
    AbsentNever,
    /// Built (reused when its inputs are unchanged); whether an image of that name exists.
    Build {
        /// An image of that name is present (maybe from the same inputs).
        present: Option<bool>,
    },
    /// Whether it is present is not known.
    Unknown(Unknown),
    /// The description cannot be pulled as it is (credentials given by half).
    Invalid(ImageFailure),
}

/// Why `plan` cannot tell whether an image is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unknown {
    /// The engine was not asked.
    NotAsked,
    /// The image is pinned by digest: checked when it runs.
    PinnedByDigest,
    /// The engine could not be asked, in the caller's words.
    Unavailable(String),
}

impl Planned {
    /// A short word for scripts: `present`, `pull`, `build`, `absent`, `unknown`, `invalid`.
    pub fn kind(&self) -> &'static str {
        match self {
            Planned::Present => "present",
            Planned::WillPull | Planned::PullAlways => "pull",
            Planned::AbsentNever => "absent",
            Planned::Build { .. } => "build",
            Planned::Unknown(_) => "unknown",
            Planned::Invalid(_) => "invalid",
        }
    }
}

/// What happens to each image of the containers in `order`: `local` is the engine's list of
/// present images (`Err`: why it could not be asked; `None`: not asked).
pub fn plan(
    pipeline: &Pipeline,
    order: &[usize],
    policy: Option<PullPolicy>,
    local: Option<&Result<Vec<String>, String>>,
) -> std::collections::HashMap<String, Planned> {
    let (jobs, _) = jobs(pipeline, order, policy);
    let present: Option<Result<std::collections::HashSet<String>, String>> =
        local.map(|l| l.as_ref().map(|list| list.iter().map(|i| normalize(i)).collect()).map_err(Clone::clone));
    let is_present = |image: &str| -> Result<Option<bool>, Unknown> {
        match &present {
            None => Ok(None),
            Some(Err(reason)) => Err(Unknown::Unavailable(reason.clone())),
            Some(Ok(set)) => {
                if image.contains('@') {
                    return Err(Unknown::PinnedByDigest);
                }
                // An unqualified name may also be one of podman's `localhost/` images.
                let local = format!("localhost/{image}");
                Ok(Some(set.contains(&normalize(image)) || (!image.contains('/') && set.contains(&normalize(&local)))))
            }
        }
    };
    jobs.into_iter()
        .map(|job| {
            let planned = match &job.source {
                ImageSource::Invalid(reason) => Planned::Invalid(reason.clone()),
                ImageSource::Build { .. } => Planned::Build { present: is_present(&job.image).ok().flatten() },
                ImageSource::Pull { policy: PullPolicy::Always, .. } => Planned::PullAlways,
                ImageSource::Pull { policy, .. } => match is_present(&job.image) {
                    Ok(Some(true)) => Planned::Present,
                    Ok(Some(false)) if *policy == PullPolicy::Never => Planned::AbsentNever,
                    Ok(Some(false)) => Planned::WillPull,
                    Ok(None) => Planned::Unknown(Unknown::NotAsked),
                    Err(reason) => Planned::Unknown(reason),
                },
            };
            (job.image, planned)
        })
        .collect()
}

/// A reference as docker reads it: `docker.io/library/` added to official images, `docker.io/`
/// to other unqualified ones, `:latest` when there is no tag.
pub fn normalize(reference: &str) -> String {
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].find(':') {
        Some(colon) => (&name[..last_slash + colon], Some(&name[last_slash + colon + 1..])),
        None => (name, None),
    };
    let qualified = match repo.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => repo.to_string(),
        Some(_) => format!("docker.io/{repo}"),
        None => format!("docker.io/library/{repo}"),
    };
    match (digest, tag) {
        (Some(digest), _) => format!("{qualified}@{digest}"),
        (None, Some(tag)) => format!("{qualified}:{tag}"),
        (None, None) => format!("{qualified}:latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copili_model::{load, EnvFile, Input, LoadOptions};

    fn pipeline(text: &str) -> Pipeline {
        let options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
        load(Input::Text(text), &options).expect("valid")
    }

    #[test]
    fn one_job_per_image_with_the_most_eager_policy_and_plain_http_if_any_says_so() {
        let p = pipeline(
            "p:
  - {name: a, image_repo: r.io/x, pull: never}
  - {name: b, image_repo: r.io/x, pull: always, tls_verify: false, image_reg_username: u, image_reg_password: pw}
  - {name: c, image_repo: r.io/y, sidecars: [{name: s, image_repo: r.io/x}]}
",
        );
        let (jobs, needs) = jobs(&p, &[0, 1, 2], None);
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].users, vec![0, 1, 2]);
        match &jobs[0].source {
            ImageSource::Pull { policy, auth, tls_verify } => {
                assert_eq!(*policy, PullPolicy::Always);
                assert_eq!(auth.as_ref().map(|a| a.registry.as_str()), Some("r.io"));
                assert!(!tls_verify);
            }
            other => panic!("a pull: {other:?}"),
        }
        assert_eq!(needs[2], vec![1, 0], "c needs its own image and its sidecar's");
        let (jobs, _) = super::jobs(&p, &[0], Some(PullPolicy::Missing));
        assert!(matches!(jobs[0].source, ImageSource::Pull { policy: PullPolicy::Missing, .. }));
    }

    #[test]
    fn references_are_normalised_as_docker_reads_them() {
        assert_eq!(normalize("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(normalize("team/app:1"), "docker.io/team/app:1");
        assert_eq!(normalize("localhost/x"), "localhost/x:latest");
        assert_eq!(normalize("r.io:5000/a/b:v2"), "r.io:5000/a/b:v2");
    }
}
