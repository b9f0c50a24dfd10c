//! Where the supervisor reads the time and waits: the system clock in service mode, a fake one
//! in tests, which jumps to the next due time at once.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use copili_runtime::runner::CancelToken;
use copili_schedule::jiff::Timestamp;

/// The supervisor's time source. It waits in short steps: after each [`Clock::wait`] it looks
/// for ended runs and at the cancel token, so a wait may return early.
pub trait Clock: Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// Waits until `until` at the latest (`None`: nothing is scheduled). `running`: runs are in
    /// progress, whose end the supervisor is to notice soon.
    fn wait(&self, until: Option<Timestamp>, running: bool, cancel: &CancelToken);

    /// Waits a moment for the runs in progress to end, service mode being stopped.
    fn wait_for_runs(&self);
}

/// How long the system clock waits at most before the supervisor looks again.
const POLL: Duration = Duration::from_millis(100);

/// How long the system clock waits for the runs to end, service mode being stopped.
const STOPPING_POLL: Duration = Duration::from_millis(50);

/// The system clock: waits for real, at most 100 ms at a time (50 ms while stopping).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn wait(&self, until: Option<Timestamp>, _running: bool, _cancel: &CancelToken) {
        let wait = until
            .map(|at| Duration::try_from(at.duration_since(Timestamp::now())).unwrap_or_default())
            .unwrap_or(POLL)
            .min(POLL);
        std::thread::sleep(wait);
    }

    fn wait_for_runs(&self) {
        std::thread::sleep(STOPPING_POLL);
    }
}

/// A clock for tests: it stands still until the supervisor waits, then jumps to the instant
/// waited for. While runs are in progress it stands still (so that a run of the fake engine,
/// which takes real time, ends at the instant it started), unless made to
/// [`FakeClock::advance_while_running`]. Waiting past its stop time ([`FakeClock::new`]) drains
/// the cancel token there: service mode stops as at a first signal.
#[derive(Debug)]
pub struct FakeClock {
    now: Mutex<Timestamp>,
    stop_at: Timestamp,
    advance_while_running: bool,
}

impl FakeClock {
    /// A clock at `start` that stops service mode when it would pass `stop_at`.
    pub fn new(start: Timestamp, stop_at: Timestamp) -> FakeClock {
        FakeClock { now: Mutex::new(start), stop_at, advance_while_running: false }
    }

    /// Jumps to the next due time even while runs are in progress (to make a run outlast its
    /// interval), but stops service mode only once they have ended.
    pub fn advance_while_running(mut self) -> FakeClock {
        self.advance_while_running = true;
        self
    }

    fn set(&self, at: Timestamp) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = (*now).max(at);
    }
}

/// The real pause of a fake clock that stands still, so that runs in progress get on.
const FAKE_PAUSE: Duration = Duration::from_millis(1);

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait(&self, until: Option<Timestamp>, running: bool, cancel: &CancelToken) {
        if running && !self.advance_while_running {
            std::thread::sleep(FAKE_PAUSE);
            return;
        }
        match until {
            Some(at) if at <= self.stop_at => self.set(at),
            // Service mode stops once the runs in progress have ended.
            _ if running => {}
            _ => {
                self.set(self.stop_at);
                cancel.drain();
            }
        }
        if running {
            std::thread::sleep(FAKE_PAUSE);
        }
    }

    fn wait_for_runs(&self) {
        std::thread::sleep(FAKE_PAUSE);
    }
}
