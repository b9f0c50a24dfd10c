//! [`RunEvent`]: everything the runner reports, its only way to communicate.

use std::time::Duration;

use crate::engine::{LogLine, LogLines};
use crate::images::ImageEvent;
use crate::reason::{Cancelling, Reason};

use super::Outcome;

/// Everything the runner reports; the only way it communicates.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// A container (attempt) is starting.
    ContainerStarted {
        /// Index into `Pipeline::containers`.
        container: usize,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// Lines of output of a container or of one of its sidecars, as one read brought them
    /// (see [`LogLines`]: a line over [`crate::MAX_LINE_BYTES`] comes in pieces, marked).
    Output {
        /// Index of the main container.
        container: usize,
        /// The sidecar's name, when the lines are a sidecar's.
        sidecar: Option<String>,
        /// The lines.
        lines: LogLines,
    },
    /// A sidecar of the container's current attempt was started; its ready check, when it
    /// has one, runs next (the main container starts once every sidecar is ready).
    SidecarStarted {
        /// The main container.
        container: usize,
        /// The sidecar's name.
        sidecar: String,
    },
    /// A sidecar's ready check succeeded.
    SidecarReady {
        /// The main container.
        container: usize,
        /// The sidecar's name.
        sidecar: String,
    },
    /// An attempt failed and another follows after `delay`.
    Retrying {
        /// The container.
        container: usize,
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next.
        delay: Duration,
        /// Why the attempt failed.
        reason: Reason,
    },
    /// A container reached its final state (also for those that never ran).
    ContainerFinished {
        /// The container.
        container: usize,
        /// How it ended.
        outcome: Outcome,
    },
    /// Something happened to an image (pulled once per run, however many use it).
    Image {
        /// The reference.
        image: String,
        /// The containers that need it.
        users: Vec<usize>,
        /// What happened.
        event: ImageEvent,
    },
    /// A line of an image build's output (or of the clone of its repository), for the log of
    /// the container that builds it.
    BuildOutput {
        /// The container.
        container: usize,
        /// The line.
        line: LogLine,
    },
    /// The run stops starting containers (interrupt or `--fail-fast`).
    RunCancelling {
        /// Why.
        reason: Cancelling,
    },
}
