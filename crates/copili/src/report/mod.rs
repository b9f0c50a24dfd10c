//! Reporters of `copili run`: they turn the runner's [`RunEvent`]s and final outcomes into
//! text for people ([`console`]), per-container log files ([`log_files`]) and a JSON document
//! for programs ([`json`]).
//!
//! The split follows nextest's reporter/events: the runner only emits events and returns one
//! [`Outcome`] per container, its reason typed; it never formats. [`words`] is the one place
//! that words the typed reasons, for every reporter (and `copili plan`). The binary builds a [`RunInfo`] before the
//! run, hands every event to each [`Reporter`] and calls [`Reporter::finish`] once with a
//! [`RunSummary`] — also when the run was interrupted. The runner calls back from several
//! threads, so the binary keeps the reporters behind one `Mutex` (a [`Reporters`] fans out to
//! several):
//!
//! ```no_run
//! use std::io::IsTerminal;
//! use std::sync::Mutex;
//! use std::time::SystemTime;
//!
//! use copili::report::{system_clock, Console, JsonReport, LogFiles, Reporter, Reporters, RunInfo, RunSummary};
//! use copili::{CancelToken, Engine, Pipeline, RunConfig, RunEvent, Selection};
//!
//! # fn sketch(pipeline: &Pipeline, engine: &dyn Engine, config: &RunConfig) {
//! let info = RunInfo::new(pipeline, &config.run_id, engine.name(), SystemTime::now());
//! let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
//! let mut reporters = Reporters::new();
//! reporters.push(Console::new(Box::new(std::io::stdout()), &info, color));
//! reporters.push(LogFiles::new("logs", &info));
//! reporters.push(JsonReport::new("report.json", &info, system_clock()));
//! let reporters = Mutex::new(reporters);
//! // A reporter that panicked leaves the mutex poisoned; the others still deserve the events.
//! let report = |event: RunEvent| reporters.lock().unwrap_or_else(|e| e.into_inner()).event(&event);
//! let outcomes = pipeline.run(engine, &Selection::default(), config, &CancelToken::new(), &report).expect("plannable");
//! let summary = RunSummary { outcomes, finished_at: SystemTime::now(), exit_code: 1 };
//! let mut reporters = reporters.into_inner().unwrap_or_else(|e| e.into_inner());
//! reporters.finish(&summary);
//! for error in reporters.errors() {
//!     eprintln!("warning: {error}");
//! }
//! # }
//! ```
//!
//! Architecture invariants: reporters never read the clock themselves (times come from the
//! [`RunInfo`], the [`Outcome`]s and the [`RunSummary`], or from an injected [`Clock`]), so
//! their output is reproducible in tests; and they print nothing but names, images, output
//! lines and the runner's reasons, never a request or an environment value.

mod atomic;
pub mod console;
mod fields;
pub mod html;
pub mod json;
pub mod log_files;
pub mod metrics;
pub mod service;
pub mod words;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use copili_runtime::runner::{Outcome, RunEvent};

pub use console::Console;
pub use json::JsonReport;
pub use log_files::LogFiles;

/// What is known about a run before it starts, built by the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// The pipeline's identity (its top-level key, or `--name`).
    pub pipeline: String,
    /// This run's id, as on the containers' `io.copili.run-id` label.
    pub run_id: String,
    /// The engine's name: `docker`, `podman`, or the client's path.
    pub engine: String,
    /// When the run started.
    pub started_at: SystemTime,
    /// Every container of the pipeline, in the pipeline's order (the runner's indexes).
    pub containers: Vec<ContainerInfo>,
}

/// One container of a [`RunInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The container's name in the pipeline.
    pub name: String,
    /// Its image reference, `repo:tag`.
    pub image: String,
    /// The names of its sidecars (their output lines are prefixed `name/sidecar`).
    pub sidecars: Vec<String>,
    /// The names of its direct dependencies.
    pub depends_on: Vec<String>,
    /// Those of them it needs only to have ended (`condition: completed`).
    pub completed_dependencies: Vec<String>,
    /// A service container.
    pub service: bool,
    /// A handler's `run_on` (`failure`, `success`, `always`); `None` for other containers.
    pub run_on: Option<String>,
    /// For an expansion of a `matrix` description: where it comes from.
    pub matrix: Option<copili_model::MatrixOrigin>,
}

impl RunInfo {
    /// The information of a run of `pipeline`, every container included.
    pub fn new(
        pipeline: &crate::Pipeline,
        run_id: impl Into<String>,
        engine: impl Into<String>,
        started_at: SystemTime,
    ) -> RunInfo {
        RunInfo {
            pipeline: pipeline.identity().to_string(),
            run_id: run_id.into(),
            engine: engine.into(),
            started_at,
            containers: pipeline
                .spec()
                .containers
                .iter()
                .map(|c| ContainerInfo {
                    name: c.name.clone(),
                    image: c.image(),
                    sidecars: c.sidecars.iter().map(|s| s.name.clone()).collect(),
                    depends_on: c.dependencies.clone(),
                    completed_dependencies: c
                        .dependencies
                        .iter()
                        .filter(|d| c.condition_of(d) == copili_model::DependencyCondition::Completed)
                        .cloned()
                        .collect(),
                    service: c.is_service_container,
                    run_on: c.run_on.map(|r| r.as_str().to_string()),
                    matrix: c.matrix.as_deref().cloned(),
                })
                .collect(),
        }
    }

    /// The name of the container with this index; `#index` for an index the pipeline does not
    /// have (never panics on an event).
    pub fn container_name(&self, container: usize) -> String {
        match self.containers.get(container) {
            Some(info) => info.name.clone(),
            None => format!("#{container}"),
        }
    }
}

/// How a run ended, handed to [`Reporter::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// One outcome per container, index = position in the pipeline (what the runner returns).
    pub outcomes: Vec<Outcome>,
    /// When the run ended.
    pub finished_at: SystemTime,
    /// The exit code the binary will exit with.
    pub exit_code: i32,
}

/// Consumes a run's events, then its summary. Implementations write to a `Box<dyn Write>` or
/// files; they never panic on an IO error (they collect it, see [`Reporter::errors`]).
pub trait Reporter {
    /// One event of the runner, in the order the runner emitted them.
    fn event(&mut self, event: &RunEvent);

    /// The run is over (finished or interrupted); called once, after the last event.
    fn finish(&mut self, summary: &RunSummary);

    /// Problems met writing (a log file that cannot be opened, a full disk), for the binary
    /// to show once as warnings after the run. None by default.
    fn errors(&self) -> Vec<String> {
        Vec::new()
    }

    /// Writes out what is buffered. Containers' output is buffered (their own lines of copili
    /// are not): whoever runs the reporters calls this every [`FLUSH_PERIOD`] while a run
    /// goes on ([`flushing_periodically`]), so that a log file or a piped console is at most
    /// that late. Nothing by default.
    fn flush(&mut self) {}
}

/// How often a run's reporters are flushed ([`flushing_periodically`]): the most a line of a
/// container's output waits in a buffer before it is in the log file or a piped console.
pub const FLUSH_PERIOD: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs `body` while another thread calls `flush` every [`FLUSH_PERIOD`]; the thread ends
/// with `body`, without waiting out its period.
pub fn flushing_periodically<T>(flush: impl Fn() + Sync, body: impl FnOnce() -> T) -> T {
    let done = (std::sync::Mutex::new(false), std::sync::Condvar::new());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut finished = done.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Checked before each wait too: a body that ended before this thread got the lock
            // (a dry run takes a millisecond) must not wait a whole period for the flusher.
            while !*finished {
                finished = match done.1.wait_timeout(finished, FLUSH_PERIOD) {
                    Ok((guard, _)) => guard,
                    Err(poisoned) => poisoned.into_inner().0,
                };
                if *finished {
                    return;
                }
                flush();
            }
        });
        let result = body();
        *done.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        done.1.notify_all();
        result
    })
}

/// Several reporters as one: each event and the summary go to each, in order.
#[derive(Default)]
pub struct Reporters {
    reporters: Vec<Box<dyn Reporter + Send>>,
}

impl Reporters {
    /// No reporter yet.
    pub fn new() -> Reporters {
        Reporters::default()
    }

    /// Adds a reporter after the others.
    pub fn push(&mut self, reporter: impl Reporter + Send + 'static) {
        self.reporters.push(Box::new(reporter));
    }
}

impl Reporter for Reporters {
    fn event(&mut self, event: &RunEvent) {
        for reporter in &mut self.reporters {
            reporter.event(event);
        }
    }

    fn finish(&mut self, summary: &RunSummary) {
        for reporter in &mut self.reporters {
            reporter.finish(summary);
        }
    }

    /// The errors of every reporter, in the order they were added.
    fn errors(&self) -> Vec<String> {
        self.reporters.iter().flat_map(|reporter| reporter.errors()).collect()
    }

    fn flush(&mut self) {
        for reporter in &mut self.reporters {
            reporter.flush();
        }
    }
}

/// The source of "now" for reporters that need one (the JSON report's `started_at` of a
/// container still running); tests inject a fixed time.
pub type Clock = Box<dyn Fn() -> SystemTime + Send>;

/// The system clock.
pub fn system_clock() -> Clock {
    Box::new(SystemTime::now)
}

/// `2026-11-25T12:00:00Z`: RFC 3339, UTC, whole seconds.
pub fn rfc3339_seconds(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(representable(time)).to_string()
}

/// `2026-11-25T12:00:00.250Z`: RFC 3339, UTC, milliseconds.
pub fn rfc3339_millis(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(representable(time)).to_string()
}

/// humantime panics on times before 1970 and after 9999; a system clock can be set to those,
/// so they are clamped (the times are then wrong, but the report is written).
fn representable(time: SystemTime) -> SystemTime {
    // The last second of year 9999.
    const LAST: Duration = Duration::from_secs(253_402_300_799);
    match time.duration_since(UNIX_EPOCH) {
        Err(_) => UNIX_EPOCH,
        Ok(since) if since > LAST => UNIX_EPOCH + LAST,
        Ok(_) => time,
    }
}

/// The time between two instants; `None` when either is unknown or they are out of order.
pub fn elapsed(from: Option<SystemTime>, to: Option<SystemTime>) -> Option<Duration> {
    to?.duration_since(from?).ok()
}

/// A duration for people: `0.4s`, `12.3s`, `2m05s`, `1h02m05s` (tenths are truncated, so
/// that a duration is never shown longer than it was).
pub fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds < 60 {
        format!("{seconds}.{}s", duration.subsec_millis() / 100)
    } else if seconds < 3600 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{}h{:02}m{:02}s", seconds / 3600, seconds / 60 % 60, seconds % 60)
    }
}

/// A message on one line: engines' errors carry several (the tail of their stderr).
/// Characters that would act on a terminal are escaped: a reason can quote a file or an engine.
pub fn one_line(text: &str) -> String {
    let joined = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    copili_model::escape::escape_controls(&joined).into_owned()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A scripted run shared by the reporters' tests: a tiny pipeline, a fixed clock and a
    //! sequence of events covering output of a main container and a sidecar, a retry, a
    //! failure, a cancellation and a skip.

    use std::io::{self, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use copili_runtime::runner::{Cancelling, DependencyEnd, Outcome, Reason, RunEvent, Status};
    use copili_runtime::{LogLines, LogStream};

    use super::{ContainerInfo, RunInfo, RunSummary};

    /// An in-memory `Write` the test keeps a handle on.
    #[derive(Clone, Default)]
    pub struct SharedBuffer(pub Arc<Mutex<Vec<u8>>>);

    impl SharedBuffer {
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("not poisoned").clone()).expect("utf-8")
        }
    }

    impl Write for SharedBuffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// 2026-11-25T12:00:00Z plus `millis`.
    pub fn at(millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_608_000) + Duration::from_millis(millis)
    }

    /// `load` (with sidecar `db`) → `transform` (retried, fails) → `publish` (cancelled);
    /// `cleanup` is excluded in the environment.
    pub fn info() -> RunInfo {
        let container = |name: &str, sidecars: &[&str]| ContainerInfo {
            name: name.into(),
            image: format!("localhost/{name}:latest"),
            sidecars: sidecars.iter().map(|s| s.to_string()).collect(),
            depends_on: Vec::new(),
            completed_dependencies: Vec::new(),
            service: false,
            run_on: None,
            matrix: None,
        };
        RunInfo {
            pipeline: "nightly".into(),
            run_id: "20261125T120000-42".into(),
            engine: "podman".into(),
            started_at: at(0),
            containers: vec![
                container("load", &["db"]),
                container("transform", &[]),
                container("publish", &[]),
                container("cleanup", &[]),
            ],
        }
    }

    fn out(container: usize, sidecar: Option<&str>, text: &str) -> RunEvent {
        RunEvent::Output {
            container,
            sidecar: sidecar.map(String::from),
            lines: LogLines::line(LogStream::Stdout, text),
        }
    }

    pub fn outcomes() -> Vec<Outcome> {
        vec![
            Outcome {
                status: Status::Succeeded,
                exit_code: Some(0),
                attempts: 1,
                started_at: Some(at(100)),
                finished_at: Some(at(1_350)),
                reason: None,
                outputs: Vec::new(),
            },
            Outcome {
                status: Status::Failed,
                exit_code: Some(3),
                attempts: 2,
                started_at: Some(at(1_400)),
                finished_at: Some(at(12_500)),
                reason: Some(Reason::ExitCode { code: 3, oom_killed: false }),
                outputs: Vec::new(),
            },
            Outcome {
                status: Status::Cancelled,
                exit_code: None,
                attempts: 0,
                started_at: None,
                finished_at: None,
                reason: Some(Reason::Dependency { name: "transform".into(), end: DependencyEnd::Failed }),
                outputs: Vec::new(),
            },
            Outcome {
                status: Status::Skipped,
                exit_code: None,
                attempts: 0,
                started_at: None,
                finished_at: None,
                // The hook's words, kept as they were (the exclusion's own words quote the
                // environment).
                reason: Some(Reason::RanBefore { why: "excluded in environment prod".into() }),
                outputs: Vec::new(),
            },
        ]
    }

    pub fn events() -> Vec<RunEvent> {
        let outcomes = outcomes();
        let finished =
            |container: usize| RunEvent::ContainerFinished { container, outcome: outcomes[container].clone() };
        vec![
            finished(3),
            RunEvent::ContainerStarted { container: 0, attempt: 1 },
            out(0, Some("db"), "database system is ready"),
            out(0, None, "loading 3 files"),
            RunEvent::Output {
                container: 0,
                sidecar: None,
                lines: LogLines::line(LogStream::Stderr, "warning: file 2 is empty"),
            },
            finished(0),
            RunEvent::ContainerStarted { container: 1, attempt: 1 },
            out(1, None, "transforming"),
            RunEvent::Retrying {
                container: 1,
                attempt: 1,
                delay: Duration::from_secs(10),
                reason: Reason::ExitCode { code: 3, oom_killed: false },
            },
            RunEvent::ContainerStarted { container: 1, attempt: 2 },
            out(1, None, "transforming again"),
            finished(1),
            RunEvent::RunCancelling { reason: Cancelling::FailFast { failed: "a container".into() } },
            finished(2),
        ]
    }

    pub fn summary() -> RunSummary {
        RunSummary { outcomes: outcomes(), finished_at: at(12_600), exit_code: 1 }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;

    #[test]
    fn durations_for_people() {
        let check = |millis: u64, expected: &str| {
            assert_eq!(human_duration(Duration::from_millis(millis)), expected, "{millis} ms");
        };
        check(0, "0.0s");
        check(449, "0.4s");
        check(12_345, "12.3s");
        check(59_999, "59.9s");
        check(60_000, "1m00s");
        check(125_000, "2m05s");
        check(3_725_000, "1h02m05s");
    }

    #[test]
    fn times_are_rfc3339_utc_and_never_panic() {
        let time = test_support::at(250);
        assert_eq!(rfc3339_seconds(time), "2026-11-25T12:00:00Z");
        assert_eq!(rfc3339_millis(time), "2026-11-25T12:00:00.250Z");
        assert_eq!(rfc3339_seconds(UNIX_EPOCH - Duration::from_secs(1)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(400_000_000_000)), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn elapsed_needs_both_ends_in_order() {
        let (a, b) = (test_support::at(0), test_support::at(1_500));
        assert_eq!(elapsed(Some(a), Some(b)), Some(Duration::from_millis(1_500)));
        assert_eq!(elapsed(Some(b), Some(a)), None);
        assert_eq!(elapsed(None, Some(b)), None);
    }

    #[test]
    fn messages_on_one_line() {
        assert_eq!(
            one_line("`docker start` failed:\n  Error: no such image\n\n"),
            "`docker start` failed: Error: no such image"
        );
    }

    #[test]
    fn reporters_fan_out_in_order_and_gather_errors() {
        struct Recorder(&'static str, test_support::SharedBuffer);
        impl Reporter for Recorder {
            fn event(&mut self, event: &RunEvent) {
                let _ = writeln!(self.1, "{} event {}", self.0, matches!(event, RunEvent::RunCancelling { .. }));
            }
            fn finish(&mut self, summary: &RunSummary) {
                let _ = writeln!(self.1, "{} finish {}", self.0, summary.exit_code);
            }
            fn errors(&self) -> Vec<String> {
                vec![format!("{} failed", self.0)]
            }
        }
        let buffer = test_support::SharedBuffer::default();
        let mut reporters = Reporters::new();
        reporters.push(Recorder("a", buffer.clone()));
        reporters.push(Recorder("b", buffer.clone()));
        reporters.event(&RunEvent::RunCancelling { reason: copili_runtime::runner::Cancelling::Interrupted });
        reporters.finish(&test_support::summary());
        assert_eq!(buffer.text(), "a event true\nb event true\na finish 1\nb finish 1\n");
        assert_eq!(reporters.errors(), ["a failed", "b failed"]);
    }

    #[test]
    fn unknown_container_indexes_do_not_panic() {
        assert_eq!(test_support::info().container_name(1), "transform");
        assert_eq!(test_support::info().container_name(9), "#9");
    }
}

#[cfg(test)]
mod flush_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::{flushing_periodically, FLUSH_PERIOD};

    #[test]
    fn flushes_every_period_while_the_body_runs_and_stops_with_it() {
        let flushes = AtomicUsize::new(0);
        let started = Instant::now();
        let result = flushing_periodically(
            || {
                flushes.fetch_add(1, Ordering::SeqCst);
            },
            || {
                std::thread::sleep(FLUSH_PERIOD * 4 + FLUSH_PERIOD / 2);
                42
            },
        );
        assert_eq!(result, 42);
        let n = flushes.load(Ordering::SeqCst);
        assert!((2..=5).contains(&n), "{n} flushes in 4.5 periods");
        // The flusher does not wait out its period once the body is done.
        assert!(started.elapsed() < FLUSH_PERIOD * 5 + Duration::from_millis(40), "{:?}", started.elapsed());
        let after = flushes.load(Ordering::SeqCst);
        std::thread::sleep(FLUSH_PERIOD * 2);
        assert_eq!(flushes.load(Ordering::SeqCst), after, "no flush after the body ended");
    }

    /// A body that ends before the flusher thread has started (a dry run) is not held up.
    #[test]
    fn a_quick_body_is_not_held_for_a_period() {
        for _ in 0..20 {
            let started = Instant::now();
            flushing_periodically(|| {}, || ());
            assert!(started.elapsed() < FLUSH_PERIOD / 2, "{:?}", started.elapsed());
        }
    }
}
