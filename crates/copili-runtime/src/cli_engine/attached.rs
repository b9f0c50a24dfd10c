//! The attached clients (`run`, `start --attach`): one runs a container to its end, streaming
//! its output. Which of their exit codes may be the client's own rather than the container's:
//! for those the container's status is read from the engine's record (`inspect`), never taken
//! from the client. One that outlives its container is given up ([`super::outlived`]).

use crate::engine::{ContainerStatus, Engine as _, EngineError, ExitStatus, LogLines};

use super::outlived::{EndWatch, WATCH_POLL};
use super::{CliEngine, EngineKind};

/// The attached client that ran a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Attached {
    /// `run`: creates, starts and streams the container.
    Run,
    /// `start --attach`: starts a container created before and streams it.
    StartAttach,
}

/// Whether `code`, the attached client's exit code, may not be the container's own.
///
/// docker and podman document `run`'s exit code as the container's, except 125, 126 and 127,
/// which are also theirs for their own failures; podman's `start --attach` fails with 125 too.
/// docker's `start --attach` reports a start the daemon refused (no such executable, no such
/// user, a port taken) with 1, as any docker command reports an error, where its record says
/// the container never ran. 137 is asked about for the OOM flag.
pub(super) fn may_be_the_clients(kind: EngineKind, client: Attached, code: i32) -> bool {
    let start_refused = kind == EngineKind::Docker && client == Attached::StartAttach && code == 1;
    (125..=127).contains(&code) || code == 137 || start_refused
}

impl CliEngine {
    /// Runs an attached client (`run` or `start --attach`) to its end, streaming the output;
    /// the container's exit status. The client's exit code is the container's, except where it
    /// can be the client's own ([`may_be_the_clients`]): then, and for a client killed by a
    /// signal, the status is read from `inspect`, never guessed.
    pub(super) fn attached(
        &self,
        client: Attached,
        argv: &[String],
        client_env: &[(&str, &str)],
        name: &str,
        on_output: &mut dyn FnMut(LogLines),
    ) -> Result<ExitStatus, EngineError> {
        let watch = EndWatch::new(self.timeout);
        let ended = || matches!(self.inspect(name), Ok(ContainerStatus { exit: Some(_), .. }));
        let (status, stderr) =
            self.stream_watched(argv, client_env, on_output, Some((&|a| watch.give_up(a, &ended), WATCH_POLL)))?;
        if watch.gave_up() {
            self.note_killed(&EngineError::TimedOut { command: self.render(argv), after: self.timeout });
        }
        if let Some(code) = status.filter(|&c| !may_be_the_clients(self.kind, client, c)) {
            return Ok(ExitStatus { code, oom_killed: false });
        }
        match self.inspect(name) {
            Ok(ContainerStatus { exit: Some(exit), .. }) => Ok(exit),
            // The engine no longer answers: that is the failure to report.
            Err(error @ EngineError::TimedOut { .. }) => Err(error),
            // Never ran (bad mount, no such image, name taken…): the client said why.
            Ok(_) | Err(_) => Err(EngineError::Failed {
                command: self.render(argv),
                code: status,
                stderr: if stderr.is_empty() { "the container did not run".into() } else { stderr },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_containers_own_codes_are_trusted() {
        for kind in [EngineKind::Docker, EngineKind::Podman] {
            for client in [Attached::Run, Attached::StartAttach] {
                for code in [0, 2, 3, 124, 128, 130, 143, 255] {
                    assert!(!may_be_the_clients(kind, client, code), "{kind:?} {client:?} {code}");
                }
                for code in [125, 126, 127, 137] {
                    assert!(may_be_the_clients(kind, client, code), "{kind:?} {client:?} {code}");
                }
            }
        }
    }

    #[test]
    fn only_dockers_start_attach_reports_its_own_failures_with_1() {
        assert!(may_be_the_clients(EngineKind::Docker, Attached::StartAttach, 1));
        assert!(!may_be_the_clients(EngineKind::Docker, Attached::Run, 1));
        assert!(!may_be_the_clients(EngineKind::Podman, Attached::StartAttach, 1));
        assert!(!may_be_the_clients(EngineKind::Podman, Attached::Run, 1));
    }
}
