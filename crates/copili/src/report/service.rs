//! The words of service mode (`copili service`): each [`ServiceEvent`] as the `=== …` line the
//! binary prints, or a warning for standard error. The supervisor only emits events.

use crate::service::{local_time, ServiceEvent};

/// A line of service mode's output, and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceLine {
    /// For standard output.
    Out(String),
    /// For standard error (a warning).
    Err(String),
}

/// The line telling `event`, if it is told (a due group is told by its run, the initial run by
/// its own reporters).
pub fn service_line(event: &ServiceEvent<'_>) -> Option<ServiceLine> {
    let out = |line: String| Some(ServiceLine::Out(line));
    match event {
        ServiceEvent::NothingToSchedule => {
            out("=== no service containers (`is_service_container: true`): nothing to schedule; stop with Ctrl-C"
                .into())
        }
        ServiceEvent::Scheduled { name, next_due, timing } => {
            out(format!("=== {name} next due at {} ({})", local_time(*next_due, &timing.zone), timing.schedule))
        }
        ServiceEvent::Due { .. } => None,
        ServiceEvent::SkippedOverlap { name, next_due, timing } => out(format!(
            "=== {name} is due but still running: not started again (next due at {})",
            local_time(*next_due, &timing.zone)
        )),
        ServiceEvent::SkippedDependency { name, missing } => {
            out(format!("=== {name} skipped: its dependency {} has not succeeded yet", missing.join(", ")))
        }
        ServiceEvent::RunStarted { initial: true, .. } | ServiceEvent::RunFinished { initial: true, .. } => None,
        ServiceEvent::RunStarted { run_id, names, .. } => {
            out(format!("=== service run {run_id}: {}", names.join(", ")))
        }
        ServiceEvent::RunFinished { run_id, results, .. } => {
            let results: Vec<String> =
                results.iter().map(|(name, status)| format!("{name} {}", status.label())).collect();
            out(format!("=== service run {run_id} done: {}", results.join(", ")))
        }
        ServiceEvent::NextDue { name, next_due, timing } => {
            out(format!("=== {name} next due at {}", local_time(*next_due, &timing.zone)))
        }
        ServiceEvent::StateNotWritten(error) => Some(ServiceLine::Err(format!("warning: {error}"))),
        ServiceEvent::ReportNotWritten(error) => Some(ServiceLine::Err(format!("warning: {error}"))),
        ServiceEvent::Stopped => out("=== service mode stopped".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Timing;
    use copili_runtime::runner::Status;
    use copili_schedule::jiff::Timestamp;

    #[test]
    fn every_event_in_words() {
        let timing = Timing {
            schedule: copili_schedule::Schedule::parse("daily 02:30").expect("valid"),
            zone: copili_schedule::parse_time_zone("Europe/Berlin").expect("known"),
            zone_name: "Europe/Berlin".into(),
        };
        let next_due: Timestamp = "2026-03-29T01:00:00Z".parse().expect("a time");
        let state_error = copili_state::StateError::Write {
            path: ".copili/nightly.json".into(),
            source: std::io::Error::other("disk full"),
        };
        let events = [
            ServiceEvent::NothingToSchedule,
            ServiceEvent::Scheduled { name: "svc", next_due, timing: &timing },
            ServiceEvent::Due { names: vec!["svc"], at: next_due, catch_up: true },
            ServiceEvent::RunStarted { run_id: "r-1", names: vec!["load", "svc"], initial: true, at: next_due },
            ServiceEvent::RunFinished { run_id: "r-1", results: vec![("load", Status::Succeeded)], initial: true },
            ServiceEvent::RunStarted { run_id: "r-2", names: vec!["svc", "other"], initial: false, at: next_due },
            ServiceEvent::SkippedOverlap { name: "svc", next_due, timing: &timing },
            ServiceEvent::SkippedDependency { name: "report", missing: vec!["load", "index"] },
            ServiceEvent::RunFinished {
                run_id: "r-2",
                results: vec![("svc", Status::Succeeded), ("other", Status::Failed)],
                initial: false,
            },
            ServiceEvent::NextDue { name: "svc", next_due, timing: &timing },
            ServiceEvent::StateNotWritten(&state_error),
            ServiceEvent::ReportNotWritten("cannot write logs/svc.log"),
            ServiceEvent::Stopped,
        ];
        let text: Vec<String> = events
            .iter()
            .filter_map(service_line)
            .map(|line| match line {
                ServiceLine::Out(line) => format!("out: {line}"),
                ServiceLine::Err(line) => format!("err: {line}"),
            })
            .collect();
        insta::assert_snapshot!(text.join("\n"), @r"
        out: === no service containers (`is_service_container: true`): nothing to schedule; stop with Ctrl-C
        out: === svc next due at 2026-03-29 03:00:00 CEST (daily 02:30)
        out: === service run r-2: svc, other
        out: === svc is due but still running: not started again (next due at 2026-03-29 03:00:00 CEST)
        out: === report skipped: its dependency load, index has not succeeded yet
        out: === service run r-2 done: svc succeeded, other failed
        out: === svc next due at 2026-03-29 03:00:00 CEST
        err: warning: cannot write the state file .copili/nightly.json
        err: warning: cannot write logs/svc.log
        out: === service mode stopped
        ");
    }
}
