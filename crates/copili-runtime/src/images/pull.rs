//! Pulls: presence checks, the pull policy, retries with backoff (not of refused credentials).

use std::time::{Duration, Instant};

use copili_model::PullPolicy;

use crate::engine::{Engine, PullRequest, RegistryAuth};
use crate::reason::{ImageFailure, PullError, RegistryFailure};

use super::{ImageConfig, ImageEvent, ImageJob};

#[allow(clippy::too_many_arguments)]
pub(super) fn pull(
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
        // Asked before the run, beside the engine check, or now.
        let answer = config.checked.get(image).cloned().unwrap_or_else(|| engine.image_present(image));
        let present = answer.map_err(|error| ImageFailure::PresenceUnknown { image: image.clone(), error })?;
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
