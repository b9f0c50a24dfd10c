//! Cancellation: the [`CancelToken`] shared by the coordinator, the workers and a signal
//! handler, and the sleeps that end when it is cancelled.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests to stop, shared by the coordinator, the workers and a signal handler.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicU8>);

impl CancelToken {
    // Low bits: 0 running, 1 stop gracefully, 2 stop now; `DRAIN`: start nothing more.
    const RUNNING: u8 = 0;
    const NOW: u8 = 2;
    const LEVEL: u8 = 0x0f;
    const DRAIN: u8 = 0x10;

    /// A token that has not been cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// First request: stop starting containers, stop running ones with the grace period.
    /// A second request skips the grace period.
    pub fn cancel(&self) {
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
            Some((s & Self::DRAIN) | ((s & Self::LEVEL) + 1).min(Self::NOW))
        });
    }

    /// Stop at once: nothing more starts and running containers are killed without their grace
    /// period (a second Ctrl-C; a grace period that ran out).
    pub fn cancel_now(&self) {
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| Some((s & Self::DRAIN) | Self::NOW));
    }

    /// Start nothing more, but let what runs finish (service mode's first signal); what has
    /// not started is cancelled as interrupted. [`CancelToken::cancel`] then stops the rest.
    pub fn drain(&self) {
        self.0.fetch_or(Self::DRAIN, Ordering::SeqCst);
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst) & Self::LEVEL != Self::RUNNING
    }

    /// Whether nothing more is to start (drained or cancelled).
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst) & Self::DRAIN != 0 || self.is_cancelled()
    }

    /// Whether the grace period is to be skipped.
    pub fn is_urgent(&self) -> bool {
        self.0.load(Ordering::SeqCst) & Self::LEVEL == Self::NOW
    }
}

/// Sleeps; `false` when cancelled meanwhile.
pub(super) fn sleep_unless_cancelled(duration: Duration, cancel: &CancelToken) -> bool {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        if cancel.is_cancelled() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(deadline.saturating_duration_since(Instant::now())));
    }
    !cancel.is_cancelled()
}
