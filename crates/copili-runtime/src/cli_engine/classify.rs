//! What a failed pull or registry login means, read from docker's and podman's wording: the
//! one place that knows the engines' English (the rest of copili sees a [`PullFailure`]), with
//! the few other error outputs the client is asked about ("no such network", "no such image").

use crate::engine::EngineError;
use crate::reason::PullFailure;

/// Classifies a failed pull (or its login). The engines word the same failure differently
/// (docker: "no basic auth credentials", "unauthorized: authentication required"; podman:
/// "invalid username/password", "unauthorized", "authentication required"); copili reads the
/// step that failed first, then the words.
pub(crate) fn classify(error: &EngineError, had_credentials: bool) -> PullFailure {
    let text = match error {
        EngineError::Failed { stderr, .. } => stderr.to_lowercase(),
        EngineError::UnexpectedOutput { output, .. } => output.to_lowercase(),
        EngineError::NotFound { .. } | EngineError::NoClientOnPath | EngineError::TimedOut { .. } => {
            return PullFailure::Other
        }
    };
    let any = |words: &[&str]| words.iter().any(|w| text.contains(w));
    let unreachable = any(&[
        "connection refused",
        "no such host",
        "i/o timeout",
        "network is unreachable",
        "timeout exceeded",
        "no route to host",
        "server misbehaving",
        "tls: ",
        "x509",
    ]);
    if any(&["http response to https client"]) {
        return PullFailure::PlainHttp;
    }
    let auth_words = any(&[
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "invalid username/password",
        "incorrect username or password",
        "status 401",
        "401 unauthorized",
        "authentication failed",
        "access denied",
        "access to the resource is denied",
        "pull access denied",
        "status 403",
        "403 forbidden",
    ]);
    if error.step() == Some("login") {
        return if unreachable && !auth_words { PullFailure::Unreachable } else { PullFailure::CredentialsRefused };
    }
    if unreachable && !auth_words {
        return PullFailure::Unreachable;
    }
    let not_found = any(&["manifest unknown", "not found", "name unknown", "does not exist", "no such image"]);
    // docker hides private repositories behind "pull access denied … may require 'docker login'".
    if auth_words {
        if had_credentials {
            return PullFailure::AccessDenied;
        }
        return PullFailure::CredentialsMissing;
    }
    if not_found {
        return PullFailure::NotFound;
    }
    PullFailure::Other
}

/// Whether an error output says that an image does not exist (docker: "No such image",
/// podman: "image not known").
/// docker: `network X not found`, `No such network: X`; podman: `unable to find network with
/// name or ID X: network not found`.
pub(crate) fn is_no_such_network(stderr: &str) -> bool {
    let lower = stderr.to_lowercase();
    lower.contains("not found") || lower.contains("no such network")
}

/// Rootless podman setting up a container's network while its rootless network namespace is
/// torn down (the last container of the previous job just left it): `route ip+net: no such
/// network interface`. Gone a moment later.
pub(crate) fn is_rootless_netns_race(error: &EngineError) -> bool {
    matches!(error, EngineError::Failed { stderr, .. } if stderr.contains("no such network interface"))
}

pub(crate) fn is_no_such_image(stderr: &str) -> bool {
    let lower = stderr.to_lowercase();
    lower.contains("no such image") || lower.contains("image not known") || lower.contains("no such object")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(stderr: &str, command: &str) -> EngineError {
        EngineError::Failed { command: command.into(), code: Some(125), stderr: stderr.into() }
    }

    #[test]
    fn failures_are_classified_whatever_the_engine_says() {
        let cases = [
            ("Error: logging into \"r.io\": invalid username/password", "podman login", true, PullFailure::CredentialsRefused),
            ("Error response from daemon: Get \"https://r.io/v2/\": unauthorized: incorrect username or password", "docker login", true, PullFailure::CredentialsRefused),
            ("Error response from daemon: Head \"https://r.io/v2/x/manifests/latest\": no basic auth credentials", "docker pull", false, PullFailure::CredentialsMissing),
            ("Error: initializing source docker://r.io/x:latest: reading manifest latest in r.io/x: unauthorized: authentication required", "podman pull", false, PullFailure::CredentialsMissing),
            ("Error: reading manifest latest in r.io/x: requested access to the resource is denied", "podman pull", true, PullFailure::AccessDenied),
            ("Error: initializing source docker://r.io/x:nope: reading manifest nope in r.io/x: manifest unknown", "podman pull", false, PullFailure::NotFound),
            ("Error: pinging container registry r.io: Get \"https://r.io/v2/\": dial tcp 10.0.0.1:443: connect: connection refused", "podman pull", false, PullFailure::Unreachable),
            ("Error: pinging container registry 127.0.0.1:5858: Get \"https://127.0.0.1:5858/v2/\": http: server gave HTTP response to HTTPS client", "podman login", true, PullFailure::PlainHttp),
            ("Error: something odd", "podman pull", false, PullFailure::Other),
        ];
        for (stderr, command, credentials, expected) in cases {
            assert_eq!(classify(&failed(stderr, command), credentials), expected, "{stderr}");
        }
        assert!(!PullFailure::PlainHttp.is_retried() && !PullFailure::CredentialsRefused.is_retried());
        assert!(PullFailure::NotFound.is_retried() && PullFailure::Unreachable.is_retried());
    }
}

#[cfg(test)]
mod netns_race_tests {
    use super::is_rootless_netns_race;
    use crate::cli_engine::{CliEngine, EngineKind};
    use crate::engine::EngineError;

    fn failed(stderr: &str) -> EngineError {
        EngineError::Failed { command: "podman start x".into(), code: Some(125), stderr: stderr.into() }
    }

    #[test]
    fn the_rootless_netns_race_is_tried_again_and_other_failures_are_not() {
        let race = "Error: unable to start container \"x\": route ip+net: no such network interface";
        assert!(is_rootless_netns_race(&failed(race)));
        assert!(!is_rootless_netns_race(&failed("Error: no such container x")));
        let engine = CliEngine::new("podman", EngineKind::Podman);
        let mut calls = 0;
        let result = engine.retrying_netns_race(|| {
            calls += 1;
            if calls < 2 {
                Err(failed(race))
            } else {
                Ok(())
            }
        });
        assert!(result.is_ok() && calls == 2, "{calls} calls");
        let mut calls = 0;
        let result: Result<(), _> = engine.retrying_netns_race(|| {
            calls += 1;
            Err(failed(race))
        });
        assert!(result.is_err() && calls == 3, "gave up after {calls} calls");
        let mut calls = 0;
        let _ = engine.retrying_netns_race(|| -> Result<(), EngineError> {
            calls += 1;
            Err(failed("Error: no such container x"))
        });
        assert_eq!(calls, 1);
    }
}
