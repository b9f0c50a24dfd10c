//! The distinct images of a run ([`ImageJob`]s) and where each comes from.

use copili_model::{ContainerSpec, Pipeline, PullPolicy};

use crate::engine::RegistryAuth;
use crate::reason::{GivenCredential, ImageFailure};

use super::{ImageJob, ImageSource};

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
