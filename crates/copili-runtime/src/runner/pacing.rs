//! How fast containers are started: at most a few per CPU in their first moments at once, on
//! engines whose calls contend with each other. `--jobs` bounds what runs; this bounds how
//! fast it is started.

use std::time::{Duration, Instant};

use crate::engine::Engine;

/// How long a container counts as starting after its `run` or `start` was issued.
///
/// A second, at first: on a slow host that was how long a start took under contention. On a
/// faster one (2026-12-04: the raw engine's 20 × `sleep 1` at `-P 20` in 3.2 s, not 4.8 s) it
/// held starts back that the engine would have taken: 20 × `sleep 1` came in waves a second
/// apart, 1.18 × the raw engine on podman and 1.17 × on docker. With half a second (by hand,
/// alternating): podman 20 × `sleep 1` 1.176 → 0.978 (5 runs), 20 × `true` 1.042 → 1.017,
/// 100 × `sleep 1` 1.11–1.13 → 1.06–1.10, 200 × `sleep 1` 1.03 → 0.99–1.05 (2 runs each);
/// docker 20 × `sleep 1` 1.165 → 1.049 (4 runs); and with a CPU-bound process taking one of the
/// two CPUs (a slower host), podman 100 × `sleep 1` 1.02 either way.
pub(super) const START_PHASE: Duration = Duration::from_millis(500);

/// Containers per CPU that may be in their first [`START_PHASE`] at once, on engines whose
/// calls contend with each other ([`Engine::removal_contends_with_start`]: podman and docker).
///
/// `--jobs` bounds the containers that run; this bounds how fast they are started. Every
/// start is the engine's work (its client, its daemon or `conmon`, the OCI runtime), and on 2
/// CPUs 32 of them at once slow each other: 100 containers of `sleep 1` took 1.32 × the raw
/// engine started 8 at a time on podman, and 1.06–1.10 × with at most 8 starting (docker:
/// 1.02 and 0.97 × its best, 20 at a time). A container that runs on is no longer starting
/// after [`START_PHASE`], so a wide level of loaders that wait still runs 32 at once.
pub(super) const STARTING_PER_CPU: usize = 4;

/// [`STARTING_PER_CPU`] for this host's CPUs.
pub(super) fn starting_limit() -> usize {
    STARTING_PER_CPU * std::thread::available_parallelism().map_or(1, usize::from)
}

/// The containers in their first [`START_PHASE`], oldest first: at most the limit of them, so
/// that asking whether another may start costs no more than that, however large the run.
pub(super) struct Starts {
    recent: std::collections::VecDeque<(usize, Instant)>,
    limit: usize,
}

impl Starts {
    /// On `engine`: bounded where its calls contend, else not at all.
    pub(super) fn new(engine: &dyn Engine) -> Starts {
        let limit = if engine.removal_contends_with_start() { starting_limit() } else { usize::MAX };
        Starts { recent: std::collections::VecDeque::new(), limit }
    }

    /// Whether another container may start now.
    pub(super) fn has_room(&mut self) -> bool {
        self.expire();
        self.recent.len() < self.limit
    }

    /// Whether a container is in its first [`START_PHASE`] (always `false` where starts are
    /// not bounded: they are not followed).
    pub(super) fn in_progress(&mut self) -> bool {
        self.expire();
        !self.recent.is_empty()
    }

    fn expire(&mut self) {
        while self.recent.front().is_some_and(|(_, at)| at.elapsed() >= START_PHASE) {
            self.recent.pop_front();
        }
    }

    /// The container was started.
    pub(super) fn started(&mut self, container: usize) {
        if self.limit != usize::MAX {
            self.recent.push_back((container, Instant::now()));
        }
    }

    /// The container ended (its attempts are over).
    pub(super) fn ended(&mut self, container: usize) {
        self.recent.retain(|(c, _)| *c != container);
    }
}
