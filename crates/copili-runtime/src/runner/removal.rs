//! When ended main containers are removed. On engines where removing contends with starting
//! ([`Engine::removal_contends_with_start`]: podman's `rm` and `run` both take its storage lock;
//! on docker each `rm` is one more client beside the start), they are removed together, one
//! engine call at a time, off the critical path: not while a container is starting, unless many
//! wait. Elsewhere each is removed at once, by a call of its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::Engine;

/// How long starting must have been quiet before ended containers are removed.
const QUIET: Duration = Duration::from_millis(500);

/// How many ended containers make a batch worth removing once starting is quiet.
const BATCH: usize = 8;

/// How long an ended container waits for [`BATCH`] others while starting is quiet.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// Ended containers that are removed even while others start: a long wide level does not keep
/// all of its ended containers until it ends.
const MAX_PENDING: usize = 32;

/// What the coordinator knows of starting when it asks for a batch.
#[derive(Debug, Clone, Copy)]
pub(super) struct Starting {
    /// A container is in its first moments (see [`super::pacing`]).
    pub(super) in_progress: bool,
    /// When the last container was started.
    pub(super) last: Instant,
}

/// The ended containers still to remove.
pub(super) struct Removals {
    batched: bool,
    pending: Vec<(String, Instant)>,
    /// A batch is being removed.
    in_flight: Arc<AtomicBool>,
}

/// Names to remove in one engine call; the next batch may be taken once it is dropped.
pub(super) struct Batch {
    pub(super) names: Vec<String>,
    in_flight: Arc<AtomicBool>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.in_flight.store(false, Ordering::SeqCst);
    }
}

impl Removals {
    pub(super) fn new(engine: &dyn Engine) -> Removals {
        Removals {
            batched: engine.removal_contends_with_start(),
            pending: Vec::new(),
            in_flight: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The container `name` ended (or will not run): removed at once where removals do not
    /// contend with starts (`Some`: the caller removes it), else later, with others.
    pub(super) fn ended(&mut self, name: String) -> Option<String> {
        if !self.batched {
            return Some(name);
        }
        self.pending.push((name, Instant::now()));
        None
    }

    /// The batch to remove now, if any: once starting has been quiet for a moment and
    /// [`BATCH`] have ended (or one has waited [`MAX_WAIT`]), or when [`MAX_PENDING`] wait;
    /// the rest when the run ends ([`Removals::rest`]). A `rm` client costs the engine more
    /// than the removals it makes: on podman (2 CPUs), 20 × `true` eight at a time, then one
    /// `rm` of all 20, took 5.9–6.7 s of CPU, as `run --rm` did (6.0–6.9 s); a `rm` after
    /// each took 7.0–7.9 s. A chain of short containers, always starting, is removed at its
    /// end.
    pub(super) fn due(&mut self, starting: Starting) -> Option<Batch> {
        if self.pending.is_empty() || self.in_flight.load(Ordering::SeqCst) {
            return None;
        }
        let quiet = !starting.in_progress && starting.last.elapsed() >= QUIET;
        let oldest = self.pending.first().map_or(Duration::ZERO, |(_, at)| at.elapsed());
        let due = self.pending.len() >= MAX_PENDING || (quiet && (self.pending.len() >= BATCH || oldest >= MAX_WAIT));
        due.then(|| self.take())
    }

    /// Whatever is still to remove (the run's end), however busy the engine.
    pub(super) fn rest(&mut self) -> Option<Batch> {
        (!self.pending.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> Batch {
        self.in_flight.store(true, Ordering::SeqCst);
        let names = self.pending.drain(..).map(|(name, _)| name).collect();
        Batch { names, in_flight: Arc::clone(&self.in_flight) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeEngine;

    fn batched() -> Removals {
        Removals { batched: true, pending: Vec::new(), in_flight: Arc::new(AtomicBool::new(false)) }
    }

    fn starting(in_progress: bool, ago: Duration) -> Starting {
        Starting { in_progress, last: Instant::now() - ago }
    }

    fn end(removals: &mut Removals, n: usize) {
        for i in 0..n {
            assert_eq!(removals.ended(format!("c{i}")), None);
        }
    }

    #[test]
    fn where_removals_do_not_contend_each_is_removed_at_once() {
        let engine = FakeEngine::new([]);
        assert!(!engine.removal_contends_with_start());
        let mut removals = Removals::new(&engine);
        assert_eq!(removals.ended("a".into()), Some("a".into()));
        assert!(removals.due(starting(false, Duration::from_secs(9))).is_none());
    }

    #[test]
    fn nothing_is_removed_while_a_container_starts_unless_many_wait() {
        let mut removals = batched();
        end(&mut removals, MAX_PENDING - 1);
        assert!(removals.due(starting(true, Duration::from_secs(5))).is_none());
        // Starting was not quiet long enough.
        assert!(removals.due(starting(false, Duration::from_millis(100))).is_none());
        end(&mut removals, 1);
        let batch = removals.due(starting(true, Duration::ZERO)).expect("too many wait");
        assert_eq!(batch.names.len(), MAX_PENDING);
    }

    #[test]
    fn a_quiet_start_removes_a_batch_and_one_at_a_time() {
        let mut removals = batched();
        end(&mut removals, BATCH - 1);
        let quiet = starting(false, QUIET);
        assert!(removals.due(quiet).is_none(), "fewer than a batch, none waited long");
        end(&mut removals, 1);
        let batch = removals.due(quiet).expect("a batch");
        assert_eq!(batch.names.len(), BATCH);
        end(&mut removals, BATCH);
        assert!(removals.due(quiet).is_none(), "one batch at a time");
        drop(batch);
        assert_eq!(removals.due(quiet).map(|b| b.names.len()), Some(BATCH));
    }

    #[test]
    fn a_lone_container_waits_a_while_and_the_rest_goes_at_the_end() {
        let mut removals = batched();
        removals.pending.push(("old".into(), Instant::now() - MAX_WAIT));
        assert!(removals.due(starting(true, Duration::ZERO)).is_none());
        assert_eq!(removals.due(starting(false, QUIET)).map(|b| b.names.clone()), Some(vec!["old".to_string()]));
        end(&mut removals, 2);
        assert!(removals.due(starting(false, QUIET)).is_none());
        assert_eq!(removals.rest().map(|b| b.names.len()), Some(2));
        assert!(removals.rest().is_none());
    }
}
