//! Which exit codes of an attached client (`run`, `start --attach`) may be the client's own
//! rather than the container's: for those the container's status is read from the engine's
//! record (`inspect`), never taken from the client.

use super::EngineKind;

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
