//! What the supervisor tells its reporter: typed events, worded by reporters
//! ([`crate::report::service`] has the `=== …` lines `copili service` prints).

use copili_runtime::runner::Status;
use copili_schedule::jiff::Timestamp;
use copili_state::StateError;

use crate::report::{Reporter, RunInfo};
use crate::service::schedule::Timing;

/// One thing that happened in service mode, in the order it happened.
#[derive(Debug)]
pub enum ServiceEvent<'a> {
    /// There is no service container: nothing will be scheduled.
    NothingToSchedule,
    /// At start-up, after the initial run: when a service container is first due.
    Scheduled {
        /// The container's name.
        name: &'a str,
        /// Its next slot.
        next_due: Timestamp,
        /// Its schedule and zone.
        timing: &'a Timing,
    },
    /// Service containers are due now (`catch_up`: at start-up, for a slot missed while service
    /// mode was not running), and are to run as one group.
    Due {
        /// Their names.
        names: Vec<&'a str>,
        /// The supervisor's time.
        at: Timestamp,
        /// Whether this is the start-up catch-up of missed slots.
        catch_up: bool,
    },
    /// A container is due but its previous run still runs: the slot is skipped, not deferred.
    SkippedOverlap {
        /// The container's name.
        name: &'a str,
        /// Its next slot.
        next_due: Timestamp,
        /// Its schedule and zone.
        timing: &'a Timing,
    },
    /// A due container is skipped: a dependency of it outside its group never succeeded.
    SkippedDependency {
        /// The container's name.
        name: &'a str,
        /// The dependencies that have not succeeded.
        missing: Vec<&'a str>,
    },
    /// A run starts: the initial run of the whole pipeline, or a service run of a due group.
    RunStarted {
        /// Its run id.
        run_id: &'a str,
        /// The containers it is about.
        names: Vec<&'a str>,
        /// Whether it is the initial run.
        initial: bool,
        /// The supervisor's time.
        at: Timestamp,
    },
    /// A run ended (recorded in the state, its reporters not yet finished).
    RunFinished {
        /// Its run id.
        run_id: &'a str,
        /// Each container it was about, with how it ended.
        results: Vec<(&'a str, Status)>,
        /// Whether it was the initial run.
        initial: bool,
    },
    /// A run of a container ended; when it is next due.
    NextDue {
        /// The container's name.
        name: &'a str,
        /// Its next slot.
        next_due: Timestamp,
        /// Its schedule and zone.
        timing: &'a Timing,
    },
    /// The state could not be written (service mode goes on).
    StateNotWritten(&'a StateError),
    /// A run's reporter could not write (a log file, the report).
    ReportNotWritten(&'a str),
    /// Service mode stopped: nothing runs any more.
    Stopped,
}

/// Words the supervisor's events and makes the reporters of each run.
pub trait ServiceReporter: Sync {
    /// One event.
    fn event(&self, event: &ServiceEvent<'_>);

    /// The reporters of a run's [`crate::RunEvent`]s: the initial run reports every container
    /// and ends with the summary table; a service run only its own containers.
    fn run_reporter(&self, info: &RunInfo, initial: bool) -> Box<dyn Reporter + Send>;
}
