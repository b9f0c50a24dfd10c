//! Images: what each container needs, pulled or built once per run, early and in parallel.
//!
//! The runner asks [`jobs`] for the distinct images of the selected containers (a container's
//! and its sidecars'), in the order they will be needed, and prepares each with [`prepare`]
//! on a few threads of its own while containers run: the image of a container whose
//! dependencies are still running is pulled meanwhile. A container starts once its images are
//! ready, and fails at once, without starting, when one of them cannot be had.

mod build;
mod hash;
mod jobs;
mod plan;
mod pull;

use std::time::Duration;

use copili_model::{BuildSpec, PullPolicy};

use crate::engine::{Engine, EngineError, LogLine, RegistryAuth};
pub use crate::reason::PullFailure;
use crate::reason::{ImageFailure, RegistryFailure};

pub use hash::build_hash;
pub use jobs::jobs;
pub use plan::{normalize, plan, Planned, Unknown};

use build::BuildInputs;

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

/// What happened to an image, as [`crate::runner::RunEvent::Image`] reports it.
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
    /// A build starts (its output comes as [`crate::runner::RunEvent::BuildOutput`]).
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
    /// `--locked`: the image id each reference (`repo:tag`, as [`ImageJob::image`]) is run as,
    /// from the lock file, checked beforehand. A pinned image is neither pulled nor built: it
    /// must be present under that id, and its containers are created from the id.
    pub pinned: std::collections::BTreeMap<String, String>,
    /// Whether the engine had an image, asked just before the run ([`checked_beforehand`],
    /// beside the engine check): the answer of the presence check of a pull whose policy is
    /// not `always`, which is not asked again.
    pub checked: std::collections::BTreeMap<String, Result<bool, EngineError>>,
}

impl Default for ImageConfig {
    fn default() -> ImageConfig {
        ImageConfig {
            policy: None,
            pull_retries: 3,
            pull_retry_delay: Duration::from_secs(1),
            parallel: 3,
            pinned: Default::default(),
            checked: Default::default(),
        }
    }
}

/// The images a run will pull unless present (policy `missing` or `never`), the first
/// `parallel` of them in the order the containers need them, asked about at once: whether the
/// engine has each, or why it could not say. Asked beside the engine check and the leftover
/// listings before a run ([`ImageConfig::checked`]), so that the first container does not
/// wait for the question afterwards (an `image inspect` is a tenth of a second of a chain of
/// ten short containers on docker). A dry run asks nothing here: it shows its commands in the
/// order a run makes them.
pub fn checked_beforehand(
    engine: &dyn Engine,
    jobs: &[ImageJob],
    parallel: usize,
) -> std::collections::BTreeMap<String, Result<bool, EngineError>> {
    let skipped_when_present =
        |job: &&ImageJob| matches!(job.source, ImageSource::Pull { policy, .. } if policy != PullPolicy::Always);
    let wanted: Vec<&ImageJob> = jobs.iter().filter(skipped_when_present).take(parallel.max(1)).collect();
    if engine.is_dry_run() {
        return Default::default();
    }
    std::thread::scope(|scope| {
        let asked: Vec<_> =
            wanted.iter().map(|job| (&job.image, scope.spawn(|| engine.image_present(&job.image)))).collect();
        asked
            .into_iter()
            .map(|(image, asked)| {
                (image.clone(), asked.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            })
            .collect()
    })
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
        _ if config.pinned.contains_key(&job.image) => pinned(engine, job, &config.pinned[&job.image], on_event),
        ImageSource::Invalid(reason) => Err(reason.clone()),
        ImageSource::Pull { policy, auth, tls_verify } => {
            pull::pull(engine, job, *policy, auth.as_ref(), *tls_verify, config, cancelled, on_event)
        }
        ImageSource::Build { build, policy, auth, tls_verify } => {
            let request =
                BuildInputs { build, image: &job.image, policy: *policy, auth: auth.as_ref(), tls_verify: *tls_verify };
            build::build(engine, &request, base_labels, cancelled, on_event, on_build_line)
        }
    };
    if let Err(reason) = &result {
        on_event(ImageEvent::Failed { reason: reason.clone() });
    }
    result
}

/// A pinned image (`--locked`): present under its locked id, or the containers fail.
fn pinned(
    engine: &dyn Engine,
    job: &ImageJob,
    id: &str,
    on_event: &mut dyn FnMut(ImageEvent),
) -> Result<(), ImageFailure> {
    if engine.is_dry_run() {
        return Ok(());
    }
    match engine.image_present(id) {
        Ok(true) => {
            on_event(ImageEvent::Present);
            Ok(())
        }
        Ok(false) => Err(ImageFailure::LockedAbsent { image: job.image.clone(), id: id.to_string() }),
        Err(error) => Err(ImageFailure::PresenceUnknown { image: job.image.clone(), error }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copili_model::{load, EnvFile, Input, LoadOptions, Pipeline};

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
