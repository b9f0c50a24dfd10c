//! Service mode (`copili service`) as a library: the whole pipeline runs once, then the service
//! containers rerun on their schedules, each due group as a run of its own, never one container
//! twice at once.
//!
//! - [`schedule`]: the pure bookkeeping of when each service container is next due.
//! - [`Supervisor`]: the loop over it that starts the due groups on an engine, records them in
//!   the run state and tells a [`ServiceReporter`] what happens ([`ServiceEvent`]); it reads the
//!   time from a [`Clock`], so that tests run a day of schedules without waiting.

mod clock;
mod event;
pub mod schedule;
mod supervisor;
#[cfg(test)]
mod tests;

pub use clock::{Clock, FakeClock, SystemClock};
pub use event::{ServiceEvent, ServiceReporter};
pub use schedule::{local_time, Due, Entry, ServiceSchedule, Timing};
pub use supervisor::{ServiceError, Supervisor};
