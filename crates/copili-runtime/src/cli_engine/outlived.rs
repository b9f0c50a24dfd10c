//! An attached client (`run`, `start --attach`) that outlives its container: the container has
//! ended, by the engine's record, and the client neither says more nor exits (a podman stuck
//! after its container's exit, a docker whose daemon stopped answering the wait). Such a client
//! is given up — killed — once it has been idle for the engine's bound after the record said
//! the container ended; the status is then the record's, never a guess. A client still handing
//! on output, or one whose output waits for the console, is never given up: nothing is lost.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the watch of an attached client wakes (it asks the record only once a bound):
/// seldom, as there is one for every running container.
pub(super) const WATCH_POLL: Duration = Duration::from_secs(1);

/// What a streamed client has done so far, as its watcher sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Activity {
    /// Batches of output received from the client so far.
    pub(crate) batches: u64,
    /// Whether everything received has been handed on and more is being waited for.
    pub(crate) waiting: bool,
}

/// The watch on one attached client: asks the record once a bound, gives up one bound after
/// the record said the container ended if the client has been idle all along.
pub(super) struct EndWatch {
    bound: Duration,
    state: Mutex<State>,
}

struct State {
    /// When to look next; `None`: never (a bound too long to be reached).
    next_look: Option<Instant>,
    /// The client's activity when the record last said the container had ended.
    ended_at: Option<Activity>,
    gave_up: bool,
}

impl EndWatch {
    pub(super) fn new(bound: Duration) -> EndWatch {
        let next_look = Instant::now().checked_add(bound);
        EndWatch { bound, state: Mutex::new(State { next_look, ended_at: None, gave_up: false }) }
    }

    /// Whether to kill the client now; `ended` asks the engine's record whether the container
    /// has ended. Called often: asks at most once a bound.
    pub(super) fn give_up(&self, activity: Activity, ended: &dyn Fn() -> bool) -> bool {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        match state.next_look {
            Some(at) if now >= at => state.next_look = now.checked_add(self.bound),
            _ => return false,
        }
        if let Some(seen) = state.ended_at {
            if seen.batches == activity.batches && activity.waiting {
                state.gave_up = true;
                return true;
            }
        }
        state.ended_at = ended().then_some(activity);
        false
    }

    /// Whether the client was given up.
    pub(super) fn gave_up(&self) -> bool {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).gave_up
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Activity = Activity { batches: 3, waiting: true };

    fn after(bound: Duration) {
        std::thread::sleep(bound + Duration::from_millis(5));
    }

    #[test]
    fn an_idle_client_is_given_up_one_bound_after_its_container_ended() {
        let bound = Duration::from_millis(30);
        let watch = EndWatch::new(bound);
        assert!(!watch.give_up(IDLE, &|| panic!("asked before the bound")));
        after(bound);
        assert!(!watch.give_up(IDLE, &|| true), "not at the first look that sees it ended");
        assert!(!watch.give_up(IDLE, &|| panic!("asked twice within the bound")));
        after(bound);
        assert!(watch.give_up(IDLE, &|| true));
        assert!(watch.gave_up());
    }

    #[test]
    fn a_running_container_or_a_busy_client_is_never_given_up() {
        let bound = Duration::from_millis(20);
        let watch = EndWatch::new(bound);
        for _ in 0..3 {
            after(bound);
            assert!(!watch.give_up(IDLE, &|| false), "the container runs");
        }
        // Ended, but the client still hands output on, or waits for the console.
        after(bound);
        assert!(!watch.give_up(IDLE, &|| true));
        after(bound);
        assert!(!watch.give_up(Activity { batches: 4, waiting: true }, &|| true), "more output came");
        after(bound);
        assert!(!watch.give_up(Activity { batches: 4, waiting: false }, &|| true), "the console is behind");
        assert!(!watch.gave_up());
    }

    #[test]
    fn a_bound_too_long_to_reach_never_looks() {
        let watch = EndWatch::new(Duration::MAX);
        assert!(!watch.give_up(IDLE, &|| panic!("never asked")));
    }
}
