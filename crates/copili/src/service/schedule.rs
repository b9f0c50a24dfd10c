//! Service mode's bookkeeping: when each service container is next due, which are due now, and
//! that none runs twice at once. Pure: the caller supplies the time, so the arithmetic is tested
//! without waiting.
//!
//! A container's schedule is its own `schedule:` (in its `timezone:`), else the run's
//! (`--every` / `--cron`, `--timezone`), else the seed's default, daily at 00:00 local time.
//! Calendar schedules follow [`copili_schedule`]'s daylight-saving rules; an interval keeps its
//! rhythm from the previous due time, and a slot missed because the container was still running
//! (or copili was busy) is not made up for: the next slot after now is taken.

use copili_schedule::jiff::tz::TimeZone;
use copili_schedule::jiff::Timestamp;
use copili_schedule::Schedule;
use copili_state::PipelineState;

/// The schedule a container follows, and its time zone.
#[derive(Debug, Clone)]
pub struct Timing {
    /// When it is due.
    pub schedule: Schedule,
    /// The zone its wall-clock times are in.
    pub zone: TimeZone,
    /// The zone's name for messages (`local`, `Europe/Berlin`).
    pub zone_name: String,
}

/// A container's `timezone:` is not a time zone.
#[derive(Debug, thiserror::Error)]
#[error("{container}: {source}")]
pub struct TimingError {
    /// The container's name.
    pub container: String,
    /// Why the zone is unknown.
    #[source]
    pub source: copili_schedule::ScheduleError,
}

/// Each of `containers`' timing for the [`crate::service::Supervisor`] (index, name, timing,
/// `catch_up`): its own `schedule:` and `timezone:`, else the run's `default`.
pub fn timings(
    spec: &copili_model::Pipeline,
    containers: &[usize],
    default: &Timing,
) -> Result<Vec<(usize, String, Timing, bool)>, TimingError> {
    let mut out = Vec::new();
    for &c in containers {
        let Some(container) = spec.containers.get(c) else { continue };
        let (zone, zone_name) = match &container.timezone {
            Some(name) => {
                let zone = copili_schedule::parse_time_zone(name)
                    .map_err(|source| TimingError { container: container.name.clone(), source })?;
                (zone, name.clone())
            }
            None => (default.zone.clone(), default.zone_name.clone()),
        };
        let schedule = container.schedule.as_deref().cloned().unwrap_or_else(|| default.schedule.clone());
        out.push((c, container.name.clone(), Timing { schedule, zone, zone_name }, container.catch_up));
    }
    Ok(out)
}

/// One service container's place in the schedule.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Index into `Pipeline::containers`.
    pub container: usize,
    /// Its name.
    pub name: String,
    /// Its schedule.
    pub timing: Timing,
    /// Run once at start-up when a slot was missed.
    pub catch_up: bool,
    /// The next slot.
    pub next_due: Timestamp,
    /// The last slot it was started (or skipped) for.
    pub last_due: Option<Timestamp>,
    /// Whether a run of it is in progress.
    pub running: bool,
}

/// What is due at a moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Due {
    /// Containers to run now (marked running).
    pub run: Vec<usize>,
    /// Containers due but still running from their previous slot: not started again.
    pub still_running: Vec<usize>,
}

/// Every service container's schedule.
#[derive(Debug, Clone, Default)]
pub struct ServiceSchedule {
    /// One per service container, in plan order.
    pub entries: Vec<Entry>,
}

impl ServiceSchedule {
    /// The schedule at start-up. `timings` gives each service container (index, name, timing,
    /// catch_up); `ran_now` says whether it just ran in the initial run (then its next slot is
    /// the first after `now`); otherwise the state's last due time decides, with catch-up: the
    /// containers to run at once are returned.
    pub fn start(
        timings: Vec<(usize, String, Timing, bool)>,
        state: &PipelineState,
        now: Timestamp,
        ran_now: &dyn Fn(usize) -> bool,
    ) -> (ServiceSchedule, Vec<usize>) {
        let mut entries = Vec::new();
        let mut catch_up_now = Vec::new();
        for (container, name, timing, catch_up) in timings {
            let recorded = state.service.get(&name).and_then(|s| s.last_due);
            let (next_due, last_due) = if ran_now(container) {
                (timing.schedule.next_after(now, &timing.zone), Some(now))
            } else {
                let startup = timing.schedule.startup(&timing.zone, recorded, now, catch_up);
                if let Some(slot) = startup.catch_up {
                    catch_up_now.push(container);
                    (startup.next_due, Some(slot))
                } else {
                    (startup.next_due, recorded)
                }
            };
            let running = catch_up_now.contains(&container);
            entries.push(Entry { container, name, timing, catch_up, next_due, last_due, running });
        }
        (ServiceSchedule { entries }, catch_up_now)
    }

    /// The containers due at `now`; each due entry moves on to its first slot after `now`.
    pub fn take_due(&mut self, now: Timestamp) -> Due {
        let mut due = Due::default();
        for entry in &mut self.entries {
            if entry.next_due > now {
                continue;
            }
            let slot = entry.next_due;
            entry.last_due = Some(slot);
            let mut next = entry.timing.schedule.next_after(slot, &entry.timing.zone);
            if next <= now {
                // Late (a long run, a suspended machine): the rhythm resumes after now.
                next = entry.timing.schedule.next_after(now, &entry.timing.zone);
            }
            entry.next_due = next;
            if entry.running {
                due.still_running.push(entry.container);
            } else {
                entry.running = true;
                due.run.push(entry.container);
            }
        }
        due
    }

    /// A run of `container` ended.
    pub fn finished(&mut self, container: usize) {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.container == container) {
            entry.running = false;
        }
    }

    /// The entry of `container`.
    pub fn entry(&self, container: usize) -> Option<&Entry> {
        self.entries.iter().find(|e| e.container == container)
    }

    /// The earliest next slot.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.entries.iter().map(|e| e.next_due).min()
    }
}

/// A time for people, in the entry's zone: `2026-11-25 16:00:00 CET`.
pub fn local_time(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned_datetime(zone.clone()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use copili_schedule::jiff::ToSpan as _;

    fn timing(text: &str, zone: &str) -> Timing {
        Timing {
            schedule: Schedule::parse(text).expect("valid"),
            zone: copili_schedule::parse_time_zone(zone).expect("known"),
            zone_name: zone.into(),
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    #[test]
    fn an_interval_runs_about_five_times_in_ten_seconds_and_never_overlaps() {
        let start = at("2026-11-25T12:00:00Z");
        let (mut schedule, now) = ServiceSchedule::start(
            vec![(3, "svc".into(), timing("every 2s", "UTC"), false)],
            &PipelineState::default(),
            start,
            &|_| true,
        );
        assert!(now.is_empty());
        assert_eq!(schedule.next_wakeup(), Some(at("2026-11-25T12:00:02Z")));
        let mut runs = 0;
        let mut t = start;
        while t < start + 10.seconds() {
            t = schedule.next_wakeup().expect("scheduled");
            let due = schedule.take_due(t);
            runs += due.run.len();
            schedule.finished(3);
        }
        assert_eq!(runs, 5);
        // A run longer than the interval: the next slot finds it running and skips it.
        let due = schedule.take_due(schedule.next_wakeup().expect("scheduled"));
        assert_eq!(due.run, vec![3]);
        let due = schedule.take_due(schedule.next_wakeup().expect("scheduled"));
        assert_eq!(due, Due { run: vec![], still_running: vec![3] });
    }

    #[test]
    fn late_slots_are_not_made_up_for() {
        let start = at("2026-11-25T12:00:00Z");
        let (mut schedule, _) = ServiceSchedule::start(
            vec![(0, "svc".into(), timing("every 10s", "UTC"), false)],
            &PipelineState::default(),
            start,
            &|_| true,
        );
        let due = schedule.take_due(at("2026-11-25T12:00:45Z"));
        assert_eq!(due.run, vec![0]);
        assert_eq!(schedule.next_wakeup(), Some(at("2026-11-25T12:00:55Z")));
    }

    #[test]
    fn catch_up_runs_once_after_downtime() {
        let mut state = PipelineState::default();
        state.service_mut("svc").last_due = Some(at("2026-11-24T23:00:00Z"));
        let now = at("2026-11-28T12:00:00Z");
        let timings = |catch_up| vec![(0, "svc".to_string(), timing("daily 00:00", "Europe/Berlin"), catch_up)];
        let (schedule, run_now) = ServiceSchedule::start(timings(true), &state, now, &|_| false);
        assert_eq!(run_now, vec![0], "three missed days, one run");
        assert_eq!(schedule.entries[0].last_due, Some(at("2026-11-27T23:00:00Z")));
        let (_, run_now) = ServiceSchedule::start(timings(false), &state, now, &|_| false);
        assert!(run_now.is_empty());
    }
}
