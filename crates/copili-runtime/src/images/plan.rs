//! What `copili plan` can say about each image before a run, and references as docker reads them.

use copili_model::{Pipeline, PullPolicy};

use crate::reason::ImageFailure;

use super::{jobs, ImageSource};

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
    local: Option<&Result<Vec<String>, impl std::fmt::Display>>,
) -> std::collections::HashMap<String, Planned> {
    let (jobs, _) = jobs(pipeline, order, policy);
    let present: Option<Result<std::collections::HashSet<String>, Unknown>> = local.map(|l| {
        l.as_ref()
            .map(|list| list.iter().map(|i| normalize(i)).collect())
            .map_err(|why| Unknown::Unavailable(why.to_string()))
    });
    let is_present = |image: &str| -> Result<Option<bool>, Unknown> {
        match &present {
            None => Ok(None),
            Some(Err(unknown)) => Err(unknown.clone()),
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
