//! The images of a pipeline against its lock file and the host: what `run --locked` refuses,
//! what `plan` shows, what `bundle` saves and checks after a load.

use std::collections::BTreeMap;

use copili_model::Pipeline;

use crate::engine::{Engine, EngineError, ImageIdentity};

use super::lockfile::{LockFile, LockedImage};

/// The containers (`name`, or `name/sidecar`) that use each image of the pipeline, by
/// reference, sorted: every container of the file, whatever a run selects.
pub fn images_of(pipeline: &Pipeline) -> BTreeMap<String, Vec<String>> {
    let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for container in &pipeline.containers {
        images.entry(container.image()).or_default().push(container.name.clone());
        for sidecar in &container.sidecars {
            images.entry(sidecar.image()).or_default().push(format!("{}/{}", container.name, sidecar.name));
        }
    }
    for users in images.values_mut() {
        users.sort();
        users.dedup();
    }
    images
}

/// How the host's image compares with the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Present at the locked identity.
    Locked {
        /// The host's identity.
        host: ImageIdentity,
    },
    /// Present, but another image than the locked one.
    Different {
        /// The host's identity.
        host: ImageIdentity,
    },
    /// Absent.
    Absent,
    /// The pipeline uses it, the lock does not have it (the pipeline changed since).
    NotLocked,
}

impl Verdict {
    /// A short word for scripts: `present-at-locked-identity`, `present-but-different`, `absent`,
    /// `not-locked`.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Locked { .. } => "present-at-locked-identity",
            Verdict::Different { .. } => "present-but-different",
            Verdict::Absent => "absent",
            Verdict::NotLocked => "not-locked",
        }
    }
}

/// One image of the pipeline, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCheck {
    /// The reference, as the pipeline names it.
    pub image: String,
    /// The containers that use it, sorted.
    pub containers: Vec<String>,
    /// What the lock says of it, if anything.
    pub locked: Option<LockedImage>,
    /// How the host compares.
    pub verdict: Verdict,
}

/// Checks the images of `images` (from [`images_of`], perhaps of a selection only) against the
/// lock and the engine, in reference order.
pub fn check(
    engine: &dyn Engine,
    lock: &LockFile,
    images: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<ImageCheck>, EngineError> {
    let mut checks = Vec::new();
    for (image, containers) in images {
        let locked = lock.images.get(image).cloned();
        let verdict = match &locked {
            None => Verdict::NotLocked,
            Some(locked) => match engine.image_identity(image)? {
                None => Verdict::Absent,
                Some(host) if locked.is(&host) => Verdict::Locked { host },
                Some(host) => Verdict::Different { host },
            },
        };
        checks.push(ImageCheck { image: image.clone(), containers: containers.clone(), locked, verdict });
    }
    Ok(checks)
}

/// The lock of a pipeline: each image's identity on the engine (present by then: pulled or
/// built), with where it came from.
pub fn lock_of(
    engine: &dyn Engine,
    pipeline: &Pipeline,
    identity: &str,
) -> Result<LockFile, (String, Option<EngineError>)> {
    let mut images = BTreeMap::new();
    for (image, containers) in images_of(pipeline) {
        let source = source_of(pipeline, &image);
        let host = match engine.image_identity(&image) {
            Ok(Some(host)) => host,
            Ok(None) => return Err((image, None)),
            Err(e) => return Err((image, Some(e))),
        };
        images.insert(image.clone(), LockedImage::from_identity(&image, &host, source, containers));
    }
    Ok(LockFile { copili_lock: super::LOCK_FORMAT, images, pipeline: identity.to_string() })
}

/// `build` when a container builds it, `local` for a `localhost/` image or one without a
/// registry digest, else `registry` (decided finally by [`LockedImage::from_identity`]: a
/// registry image without a digest is locked by id).
fn source_of(pipeline: &Pipeline, image: &str) -> &'static str {
    let specs = pipeline.containers.iter().flat_map(|c| std::iter::once(c).chain(&c.sidecars));
    let specs: Vec<_> = specs.filter(|s| s.image() == image).collect();
    if specs.iter().any(|s| s.build.is_some()) {
        "build"
    } else if copili_model::registry_of(image.split('@').next().unwrap_or(image)) == "localhost" {
        "local"
    } else {
        "registry"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copili_model::{load, EnvFile, Input, LoadOptions};

    #[test]
    fn every_image_of_the_file_with_its_containers_and_sidecars() {
        let options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
        let text = "p:
  - {name: b, image_repo: r.io/x, sidecars: [{name: db, image_repo: localhost/db}]}
  - {name: a, image_repo: r.io/x, tag: '1', exclude_in_env: [PROD]}
  - {name: c, image_repo: localhost/db}
";
        let pipeline = load(Input::Text(text), &options).expect("valid");
        let images = images_of(&pipeline);
        let listed: Vec<(&str, Vec<&str>)> =
            images.iter().map(|(i, c)| (i.as_str(), c.iter().map(String::as_str).collect())).collect();
        assert_eq!(
            listed,
            vec![("localhost/db:latest", vec!["b/db", "c"]), ("r.io/x:1", vec!["a"]), ("r.io/x:latest", vec!["b"]),]
        );
        assert_eq!(source_of(&pipeline, "localhost/db:latest"), "local");
        assert_eq!(source_of(&pipeline, "r.io/x:1"), "registry");
    }
}
