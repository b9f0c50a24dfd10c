//! Service mode (`copili service`) as a library: the whole pipeline runs once, then the service
//! containers rerun on their schedules, each due group as a run of its own, never one container
//! twice at once.
//!
//! - [`schedule`]: the pure bookkeeping of when each service container is next due.
//! - [`Supervisor`]: the loop over it that starts the due groups on an engine, records them in
//!   the run state and tells a [`ServiceReporter`] what happens ([`ServiceEvent`]); it reads the
//!   time from a [`Clock`], so that tests run a day of schedules without waiting.
//!
//! Service mode on the fake engine, for two simulated days:
//!
//! ```
//! use copili::report::{Reporter, Reporters, RunInfo};
//! use copili::run_state::RunState;
//! use copili::runtime::fake::FakeEngine;
//! use copili::service::{timings, FakeClock, ServiceEvent, ServiceReporter, Supervisor, Timing};
//! use copili::{CancelToken, LoadOptions, Pipeline, RunConfig, Selection};
//!
//! struct Print;
//! impl ServiceReporter for Print {
//!     fn event(&self, event: &ServiceEvent<'_>) {
//!         if let ServiceEvent::Due { names, at, .. } = event {
//!             println!("{} due at {at}", names.join(", "));
//!         }
//!     }
//!     fn run_reporter(&self, _info: &RunInfo, _initial: bool) -> Box<dyn Reporter + Send> {
//!         Box::new(Reporters::new())
//!     }
//! }
//!
//! let yaml = "nightly:\n  - {name: load, image_repo: x, is_service_container: true}\n";
//! let pipeline = Pipeline::from_str(yaml, &LoadOptions::default()).expect("valid");
//! let plan = pipeline.plan(&Selection::default()).expect("plannable");
//! let service_plan = pipeline.plan(&Selection { service_only: true, ..Selection::default() }).expect("plannable");
//! let default = Timing {
//!     schedule: copili_schedule::Schedule::parse("daily 03:30").expect("valid"),
//!     zone: copili_schedule::parse_time_zone("Europe/Berlin").expect("known"),
//!     zone_name: "Europe/Berlin".into(),
//! };
//! let order: Vec<usize> = service_plan.order().collect();
//! let state_dir = tempfile::tempdir().expect("a directory");
//! let state = RunState::open(state_dir.path(), pipeline.identity()).expect("state");
//! let config = RunConfig {
//!     identity: pipeline.identity().to_string(),
//!     run_id: "example".into(),
//!     jobs: 1,
//!     fail_fast: false,
//!     stop_timeout: std::time::Duration::from_secs(10),
//!     global_env: Vec::new(),
//!     global_labels: Vec::new(),
//!     policies: Vec::new(),
//!     images: Default::default(),
//!     instance: None,
//!     outputs_dir: None,
//! };
//! let engine = FakeEngine::new([]);
//! let supervisor = Supervisor {
//!     pipeline: &pipeline,
//!     plan: &plan,
//!     service_plan: &service_plan,
//!     engine: &engine,
//!     config: &config,
//!     state: &state,
//!     timings: timings(pipeline.spec(), &order, &default).expect("known zones"),
//!     initial_run: true,
//!     force: false,
//! };
//! // A real service uses `SystemClock` and drains the token on SIGTERM.
//! let at = |text: &str| text.parse().expect("a time");
//! let clock = FakeClock::new(at("2026-11-25T12:00:00Z"), at("2026-11-27T12:00:00Z"));
//! supervisor.run(&clock, &CancelToken::new(), &Print).expect("ran");
//! assert_eq!(state.lock().history.len(), 3, "the initial run and two nights");
//! ```

mod clock;
mod event;
pub mod schedule;
mod supervisor;
#[cfg(test)]
mod tests;

pub use clock::{Clock, FakeClock, SystemClock};
pub use event::{ServiceEvent, ServiceReporter};
pub use schedule::{local_time, timings, Due, Entry, ServiceSchedule, Timing, TimingError};
pub use supervisor::{ServiceError, Supervisor};
