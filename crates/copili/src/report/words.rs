//! The words for the runtime's typed reasons: the one place that turns a [`Reason`], an
//! [`ImageFailure`], a [`Cancelling`] or a [`Planned`] into the sentence the console, the log
//! files, the JSON report's `reason` and `copili plan` show. Registries are named, credentials
//! never.

use copili_runtime::images::{Planned, Unknown};
use copili_runtime::reason::{
    Cancelling, DependencyEnd, GitFailure, GitStep, GivenCredential, ImageFailure, PullFailure, Reason, RegistryFailure,
};
use copili_runtime::runner::{LeftBehind, LeftKind};
use copili_runtime::EngineError;

/// Why a container failed, was cancelled or skipped.
pub fn reason(reason: &Reason) -> String {
    match reason {
        Reason::ExitCode { code, oom_killed: true } => format!("exit code {code} (killed: out of memory)"),
        Reason::ExitCode { code, oom_killed: false } => format!("exit code {code}"),
        Reason::TimedOut { after } => format!("timed out after {}s", after.as_secs()),
        Reason::Engine(error) => engine_error(error),
        Reason::SidecarNotReady { sidecar, after } => format!("sidecar {sidecar} not ready after {}s", after.as_secs()),
        Reason::Image(failure) => image_failure(failure),
        Reason::Interrupted => "interrupted".into(),
        Reason::FailFast { failed } => fail_fast(failed),
        Reason::Dependency { name, end } => match end {
            DependencyEnd::Failed => format!("dependency {name} failed"),
            DependencyEnd::Cancelled => format!("dependency {name} was cancelled"),
            DependencyEnd::NotRun(Some(why)) => format!("dependency {name} was not run ({})", self::reason(why)),
            DependencyEnd::NotRun(None) => format!("dependency {name} was not run"),
            DependencyEnd::DidNotRun => format!("dependency {name} did not run"),
        },
        Reason::Excluded(exclusion) => exclusion.to_string(),
        Reason::RanBefore { why } | Reason::NotStarted { why } => why.clone(),
        Reason::HookRefused => "dependencies not met (dependencies_met hook)".into(),
        Reason::HookNeverMet => "dependencies never met (dependencies_met hook)".into(),
        Reason::Outputs { file, problem } => format!("outputs: {file} {problem}"),
        Reason::OutputMissing { step, key } => {
            format!("`steps.{step}.outputs.{key}` not written by {step} (no `{key}=` line in its /copili/out/*.env)")
        }
    }
}

/// Why the run stops starting containers.
pub fn cancelling(cancelling: &Cancelling) -> String {
    match cancelling {
        Cancelling::Interrupted => "interrupted".into(),
        Cancelling::FailFast { failed } => fail_fast(failed),
    }
}

fn fail_fast(failed: &str) -> String {
    format!("--fail-fast: {failed} failed")
}

/// An engine failure as a short reason: the engine's own last words (the whole command is in
/// the error, for whoever needs it).
fn engine_error(error: &EngineError) -> String {
    match error {
        EngineError::TimedOut { command, after } => timed_out(command, *after),
        EngineError::Failed { code, .. } => match (error.telling_line(), code) {
            (Some(line), _) => format!("engine error: {line}"),
            (None, Some(code)) => format!("engine error (exit code {code})"),
            (None, None) => "engine error".into(),
        },
        other => format!("engine error: {other}"),
    }
}

/// An engine error's telling line, inside a sentence about an image.
fn short(error: &EngineError) -> String {
    match error {
        EngineError::TimedOut { command, after } => timed_out(command, *after),
        EngineError::Failed { code, .. } => match (error.telling_line(), code) {
            (Some(line), _) => line.to_string(),
            (None, Some(code)) => format!("exit code {code}"),
            (None, None) => "killed".into(),
        },
        other => other.to_string(),
    }
}

/// An engine error on one line, for messages about what it stopped: the client's telling line,
/// or the call that did not answer.
pub fn engine_failure(error: &EngineError) -> String {
    match error {
        EngineError::Failed { .. } | EngineError::TimedOut { .. } => short(error),
        other => other.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "),
    }
}

/// An engine call killed at its bound: `` `podman inspect …` did not answer within 30s
/// (killed)``. A long command is cut after its first words (the client, the subcommand and
/// what it names come first; the first three words are always shown).
pub fn timed_out(command: &str, after: std::time::Duration) -> String {
    format!("`{}` did not answer within {} (killed)", short_command(command), humantime::format_duration(after))
}

/// About [`COMMAND_WIDTH`] characters of a command, on one line: cut at a word with ` … `,
/// keeping its first three words (the client, the subcommand) and its last (what it names:
/// the container of an `rm`, the network of a `network rm`).
fn short_command(command: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    if words.join(" ").chars().count() <= COMMAND_WIDTH {
        return words.join(" ");
    }
    let (last, rest) = match words.split_last() {
        Some((last, rest)) => (*last, rest),
        None => return String::new(),
    };
    let mut shown = String::new();
    let budget = COMMAND_WIDTH.saturating_sub(last.chars().count() + 3);
    for (i, word) in rest.iter().enumerate() {
        if i >= 3 && shown.chars().count() + 1 + word.chars().count() > budget {
            break;
        }
        if i > 0 {
            shown.push(' ');
        }
        shown.push_str(word);
    }
    format!("{shown} … {last}")
}

/// How much of a command [`timed_out`] shows.
const COMMAND_WIDTH: usize = 100;

/// Something a run could not remove, with why and the command that removes it.
pub fn left_behind(left: &LeftBehind, engine: &str) -> String {
    let name = &left.name;
    // The client the user runs: swarm's services and networks are docker's.
    let (what, remove) = match (left.kind, engine) {
        (LeftKind::Container, "swarm") => ("service", format!("docker service rm {name}")),
        (LeftKind::Network, "swarm") => ("network", format!("docker network rm {name}")),
        (LeftKind::Container, client) => ("container", format!("{client} rm --force {name}")),
        (LeftKind::Network, client) => ("network", format!("{client} network rm {name}")),
    };
    format!("{what} `{name}` was left behind on {engine} ({}): remove it with `{remove}`", engine_failure(&left.error))
}

/// Why an image cannot be had.
pub fn image_failure(failure: &ImageFailure) -> String {
    match failure {
        ImageFailure::HalfCredentials { registry, given: GivenCredential::Username } => format!(
            "registry {registry}: `image_reg_username` is set but `image_reg_password` is not (or is empty)"
        ),
        ImageFailure::HalfCredentials { registry, given: GivenCredential::Password } => {
            format!("registry {registry}: `image_reg_password` is set but `image_reg_username` is not")
        }
        ImageFailure::PresenceUnknown { image, error } => {
            format!("cannot tell whether image {image} is present: {}", short(error))
        }
        ImageFailure::AbsentNever { image } => format!(
            "image {image} is not present and its pull policy is `never` (load it with `docker load` / `podman load`, or set `pull: missing`)"
        ),
        ImageFailure::LockedAbsent { image, id } => {
            format!("image {image} is not present under its locked id {id} (--locked neither pulls nor builds)")
        }
        ImageFailure::LocalOnly { image } => format!(
            "image {image} is not present, and `localhost/` images are local: build it (`build:`) or load it (`docker load` / `podman load`)"
        ),
        ImageFailure::Pull { failure, attempts } => {
            let tries = if *attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() };
            format!("{}{tries}", registry_failure(failure))
        }
        ImageFailure::BuildLogin(failure) => registry_failure(failure),
        ImageFailure::Interrupted => "interrupted".into(),
        ImageFailure::ContextNotADirectory { written, resolved } => {
            format!("the build context `{written}` ({}) is not a directory", resolved.display())
        }
        ImageFailure::NoSubdirectory { url, subdir } => format!("the repository {url} has no directory `{subdir}`"),
        ImageFailure::NoDockerfile { name, path } => {
            format!("the build context has no `{name}` ({})", path.display())
        }
        ImageFailure::ContextUnreadable { context, error } => {
            format!("cannot read the build context {}: {}", context.display(), error.message)
        }
        ImageFailure::InspectFailed { image, error } => format!("cannot inspect image {image}: {}", short(error)),
        ImageFailure::BuildFailed { image, error } => format!("building {image} failed: {}", short(error)),
        ImageFailure::NoGit { url } => format!("building from the git repository {url} needs `git` on PATH"),
        ImageFailure::CloneDirectory(error) => format!("cannot create a directory for the clone: {}", error.message),
        ImageFailure::Git { url, step, failure } => {
            let failure = match failure {
                GitFailure::Interrupted => "interrupted".to_string(),
                GitFailure::CannotRun(error) => format!("cannot run git: {}", error.message),
                GitFailure::Failed { last_line } => last_line.clone(),
            };
            match step {
                GitStep::Clone => format!("cannot clone {url}: {failure}"),
                GitStep::Checkout { reference } => format!("cannot check out `{reference}` of {url}: {failure}"),
            }
        }
    }
}

/// A registry's refusal or failure, as the containers' failure reason.
pub fn registry_failure(failure: &RegistryFailure) -> String {
    let RegistryFailure { kind, image, registry, error } = failure;
    match kind {
        PullFailure::CredentialsRefused => format!(
            "authentication failed: registry {registry} refused the credentials (check `image_reg_username` and `image_reg_password`)"
        ),
        PullFailure::CredentialsMissing => format!(
            "authentication failed: registry {registry} requires credentials for {image} and none were given (set `image_reg_username` and `image_reg_password`)"
        ),
        PullFailure::AccessDenied => {
            format!("authentication failed: registry {registry} refused access to {image} with the given credentials")
        }
        PullFailure::NotFound => format!("image {image} not found in registry {registry}"),
        PullFailure::Unreachable => format!("registry {registry} cannot be reached: {}", short(error)),
        PullFailure::PlainHttp => format!(
            "registry {registry} speaks plain HTTP, not HTTPS: set `tls_verify: false` (podman) or mark it insecure in registries.conf / docker's `insecure-registries`"
        ),
        PullFailure::Other => format!("pulling {image} failed: {}", short(error)),
    }
}

/// What `copili plan` says will happen to an image.
pub fn planned(planned: &Planned) -> String {
    match planned {
        Planned::Present => "present".into(),
        Planned::WillPull => "absent: will be pulled".into(),
        Planned::PullAlways => "will be pulled (pull: always)".into(),
        Planned::AbsentNever => "absent: the container will fail (pull: never)".into(),
        Planned::Build { present: Some(true) } => {
            "will be built (skipped when its inputs are unchanged since the last build)".into()
        }
        Planned::Build { .. } => "will be built".into(),
        Planned::Unknown(unknown) => {
            let why = match unknown {
                Unknown::NotAsked => "the engine was not asked",
                Unknown::PinnedByDigest => "pinned by digest: checked when it runs",
                Unknown::Unavailable(why) => why,
            };
            format!("could not tell whether it is present ({why})")
        }
        Planned::Invalid(failure) => format!("cannot be pulled: {}", image_failure(failure)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use copili_planner::ExclusionReason;

    use super::*;

    fn failed(stderr: &str) -> EngineError {
        EngineError::Failed { command: "podman pull r.io/x".into(), code: Some(125), stderr: stderr.into() }
    }

    #[test]
    fn container_reasons_are_worded_as_before() {
        let cases = [
            (Reason::ExitCode { code: 137, oom_killed: true }, "exit code 137 (killed: out of memory)"),
            (Reason::ExitCode { code: 3, oom_killed: false }, "exit code 3"),
            (Reason::TimedOut { after: Duration::from_millis(2500) }, "timed out after 2s"),
            (Reason::Engine(failed("noise\nError: no such image\n")), "engine error: Error: no such image"),
            (
                Reason::Engine(EngineError::Failed { command: "x".into(), code: Some(4), stderr: String::new() }),
                "engine error (exit code 4)",
            ),
            (
                Reason::SidecarNotReady { sidecar: "db".into(), after: Duration::from_secs(5) },
                "sidecar db not ready after 5s",
            ),
            (Reason::Interrupted, "interrupted"),
            (Reason::FailFast { failed: "a".into() }, "--fail-fast: a failed"),
            (Reason::Dependency { name: "a".into(), end: DependencyEnd::Failed }, "dependency a failed"),
            (Reason::Dependency { name: "a".into(), end: DependencyEnd::Cancelled }, "dependency a was cancelled"),
            (
                Reason::Dependency {
                    name: "a".into(),
                    end: DependencyEnd::NotRun(Some(Box::new(Reason::Excluded(ExclusionReason::Skipped)))),
                },
                "dependency a was not run (skipped by --skip)",
            ),
            (Reason::HookNeverMet, "dependencies never met (dependencies_met hook)"),
            (Reason::RanBefore { why: "succeeded before".into() }, "succeeded before"),
        ];
        for (given, expected) in cases {
            assert_eq!(reason(&given), expected, "{given:?}");
        }
    }

    /// A call killed at its bound is one line naming the command and the bound, wherever it
    /// is said: a container's reason, an image's, what a run left behind.
    #[test]
    fn an_engine_call_that_did_not_answer_is_one_line_naming_the_command_and_the_time() {
        let inspect = EngineError::TimedOut {
            command: "podman inspect --format {{.State.Status}} {{.State.ExitCode}} p-a".into(),
            after: Duration::from_secs(30),
        };
        let create = EngineError::TimedOut {
            command: format!(
                "/opt/engines/podman create --name p-load --sig-proxy=false --pull=never --hostname load --label {} localhost/x:latest sh -c 'echo\nhi'",
                "io.copili.pipeline=p --label io.copili.role=main --label io.copili.run-id=20261202T021000-1234"
            ),
            after: Duration::from_millis(1500),
        };
        let left = |kind, name: &str, error: &EngineError| LeftBehind { kind, name: name.into(), error: error.clone() };
        let rm =
            EngineError::TimedOut { command: "docker rm --force --volumes p-a".into(), after: Duration::from_secs(2) };
        let failed = EngineError::Failed {
            command: "podman network rm p-a-net".into(),
            code: Some(2),
            stderr: "Error: network p-a-net has associated containers".into(),
        };
        let start = EngineError::TimedOut {
            command: format!("/tmp/copili-e2e-iMkdbr/bin/podman start {}", "df71d03eb080".repeat(5)),
            after: Duration::from_secs(90),
        };
        let long_rm = EngineError::TimedOut {
            command:
                "/tmp/copili-e2e-kkdkTx/bin/podman rm --force --ignore --time 0 --volumes e2e-hang-rm1-podman-3420-main"
                    .into(),
            after: Duration::from_secs(5),
        };
        let lines = [
            reason(&Reason::Engine(inspect.clone())),
            reason(&Reason::Engine(start)),
            engine_failure(&long_rm),
            reason(&Reason::Engine(create)),
            image_failure(&ImageFailure::PresenceUnknown { image: "localhost/x:latest".into(), error: inspect }),
            left_behind(&left(LeftKind::Container, "p-a", &rm), "docker"),
            left_behind(&left(LeftKind::Network, "p-a-net", &failed), "podman"),
            left_behind(&left(LeftKind::Container, "p-a", &rm), "swarm"),
        ];
        assert!(lines.iter().all(|line| !line.contains('\n')), "{lines:#?}");
        insta::assert_snapshot!("engine_timed_out", lines.join("\n"));
    }

    #[test]
    fn pull_failures_name_the_registry_and_count_attempts() {
        let failure = |kind| RegistryFailure {
            kind,
            image: "r.io/x:1".into(),
            registry: "r.io".into(),
            error: failed("Error: dial tcp: connection refused"),
        };
        assert_eq!(
            image_failure(&ImageFailure::Pull { failure: failure(PullFailure::Unreachable), attempts: 3 }),
            "registry r.io cannot be reached: Error: dial tcp: connection refused (after 3 attempts)"
        );
        assert_eq!(
            image_failure(&ImageFailure::Pull { failure: failure(PullFailure::NotFound), attempts: 1 }),
            "image r.io/x:1 not found in registry r.io"
        );
        assert_eq!(
            planned(&Planned::Invalid(ImageFailure::HalfCredentials {
                registry: "r.io".into(),
                given: GivenCredential::Password
            })),
            "cannot be pulled: registry r.io: `image_reg_password` is set but `image_reg_username` is not"
        );
    }
}
