//! When service containers are due: schedules, their next due time, and catch-up after downtime.
//!
//! A [`Schedule`] is written as `every 10m`, `daily 03:30` or a five-field cron expression
//! (`*/10 * * * *`, `30 3 * * MON-FRI`, `@hourly`). Intervals are real time, whatever the wall
//! clock does; daily times and cron expressions are read in the civil (wall-clock) time of a
//! time zone ([`parse_time_zone`]).
//!
//! # Daylight saving time
//!
//! - A wall-clock time skipped by a jump forward (02:30 in Europe/Berlin on 2026-03-29) runs
//!   once, at the jump (03:00 local): never skipped, never twice, even when several skipped
//!   minutes match (`*/10 2 * * *` runs once at 03:00 that day).
//! - A repeated wall-clock time (02:00–03:00 on 2026-10-25 in Berlin) runs at its first
//!   occurrence only, so a daily time or an expression that names its hours never runs twice.
//!   Expressions that allow every hour of the day (`0 * * * *`, `*/10 * * * *`) run in both
//!   passes, keeping one run each real hour (every 10 real minutes).
//!
//! So a daily schedule runs exactly once on every civil day.
//!
//! This crate only computes instants; it neither sleeps nor reads the clock.
//!
//! # Why these crates
//!
//! - **jiff** for time zones: it reads the IANA database (with a bundled copy for hosts
//!   without `/usr/share/zoneinfo`, such as minimal container images), resolves ambiguous
//!   wall-clock times explicitly (gap or fold, with both offsets) and lists a zone's
//!   transitions, which is what DST-correct scheduling needs, instead of offset arithmetic by
//!   hand.
//! - **humantime** for intervals, as the pipeline file's `timeout:` already is.
//! - Cron matching is implemented here, on jiff's civil times: the maintained cron crates
//!   (`cron`, `croner`, `saffron`) are built on chrono and would bring a second date-time
//!   library and a second time zone database (chrono-tz) next to jiff, and their DST choices
//!   would not be ours. Five-field matching is a small bit-set search.

mod civil;
mod cron;
pub mod duration;
mod standard_cron;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

pub use crate::cron::{CronError, CronExpr};
pub use crate::standard_cron::NoStandardCron;
/// The date-time library of this API (`Timestamp`, `TimeZone`), for callers to use the same version.
pub use jiff;

/// The accepted forms, shown with every parse error.
const FORMS: &str = "accepted are `every <duration>` (e.g. `every 10m`, `every 1h 30m`), `daily [HH:MM]` (e.g. \
                     `daily 03:30`), a 5-field cron expression (e.g. `*/10 * * * *`, `30 3 * * MON-FRI`) or one \
                     of @hourly, @daily, @weekly, @monthly, @yearly";

/// Why a schedule or a time zone name was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The text is empty.
    #[error("empty schedule; {FORMS}")]
    Empty,
    /// `every` with a missing, zero, too long or unreadable duration.
    #[error("invalid interval in schedule `{text}`: {reason}; {FORMS}")]
    Interval {
        /// The schedule as written.
        text: String,
        /// What is wrong with the duration.
        reason: String,
    },
    /// `daily` with something other than `HH:MM`.
    #[error("invalid time of day in schedule `{text}`: expected HH:MM from 00:00 to 23:59; {FORMS}")]
    TimeOfDay {
        /// The schedule as written.
        text: String,
    },
    /// Neither `every` nor `daily`, and not a valid cron expression.
    #[error("invalid schedule `{text}`: {reason}; {FORMS}")]
    Cron {
        /// The schedule as written.
        text: String,
        /// What is wrong with it as a cron expression.
        reason: CronError,
    },
    /// A time zone name that is not in the time zone database.
    #[error("unknown time zone `{name}`: expected an IANA name such as `Europe/Berlin` or `UTC`, or `local`")]
    UnknownTimeZone {
        /// The name as written.
        name: String,
        /// Why jiff's time zone database has no such zone (or the system's is unreadable).
        #[source]
        source: jiff::Error,
    },
}

/// A positive interval of at most 100 years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval(Duration);

impl Interval {
    /// `duration` as an interval, `None` if it is zero or longer than 100 years.
    pub fn new(duration: Duration) -> Option<Interval> {
        (!duration.is_zero() && duration <= duration::MAX_DURATION).then_some(Interval(duration))
    }

    /// The time between two runs: more than zero, at most 100 years.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// A wall-clock time of day, to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TimeOfDay {
    hour: u8,
    minute: u8,
}

impl TimeOfDay {
    /// 00:00.
    pub const MIDNIGHT: TimeOfDay = TimeOfDay { hour: 0, minute: 0 };

    /// `hour:minute`, `None` unless `hour < 24` and `minute < 60`.
    pub fn new(hour: u8, minute: u8) -> Option<TimeOfDay> {
        (hour < 24 && minute < 60).then_some(TimeOfDay { hour, minute })
    }

    /// The hour, 0 to 23.
    pub fn hour(self) -> u8 {
        self.hour
    }

    /// The minute, 0 to 59.
    pub fn minute(self) -> u8 {
        self.minute
    }

    /// `H:MM` or `HH:MM`.
    fn parse(text: &str) -> Option<TimeOfDay> {
        let (hour, minute) = text.split_once(':')?;
        let number = |part: &str, lengths: &[usize]| {
            if lengths.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse::<u8>().ok()
            } else {
                None
            }
        };
        TimeOfDay::new(number(hour, &[1, 2])?, number(minute, &[2])?)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// When a service container is due.
///
/// Parsed from text with [`Schedule::parse`] (or `str::parse`); its [`Display`](fmt::Display)
/// is the canonical text (`every 1h 30m`, `daily 03:30`, `*/10 * * * *`), which parses back to
/// the same schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// At a fixed interval of real time, whatever the wall clock does.
    Every(Interval),
    /// Once a day at a wall-clock time.
    Daily(TimeOfDay),
    /// Whenever a cron expression matches the wall-clock minute.
    Cron(CronExpr),
}

impl Default for Schedule {
    /// Daily at 00:00.
    fn default() -> Schedule {
        Schedule::Daily(TimeOfDay::MIDNIGHT)
    }
}

impl Schedule {
    /// Reads `every <duration>`, `daily`, `daily HH:MM` or a cron expression; keywords are
    /// case-insensitive.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let (keyword, rest) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
        let rest = rest.trim();
        if keyword.eq_ignore_ascii_case("every") {
            parse_interval(rest)
                .map(Schedule::Every)
                .map_err(|reason| ScheduleError::Interval { text: trimmed.to_string(), reason: reason.to_string() })
        } else if keyword.eq_ignore_ascii_case("daily") {
            if rest.is_empty() {
                return Ok(Schedule::Daily(TimeOfDay::MIDNIGHT));
            }
            TimeOfDay::parse(rest)
                .map(Schedule::Daily)
                .ok_or_else(|| ScheduleError::TimeOfDay { text: trimmed.to_string() })
        } else {
            CronExpr::parse(trimmed)
                .map(Schedule::Cron)
                .map_err(|reason| ScheduleError::Cron { text: trimmed.to_string(), reason })
        }
    }

    /// The first due instant strictly after `after`.
    ///
    /// For [`Schedule::Every`] that is `after` plus the interval: pass the previous due time to
    /// keep the rhythm; `tz` is not used. Daily times and cron expressions are read in the
    /// wall-clock time of `tz`, with the daylight-saving rules of the crate documentation.
    /// Returns [`Timestamp::MAX`] if no due instant is within jiff's range (year 9999).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Timestamp {
        let next = match self {
            Schedule::Every(interval) => after.checked_add(interval.get()).ok(),
            Schedule::Daily(time) => civil::next_due(&cron::CronFields::daily(time.hour, time.minute), after, tz),
            Schedule::Cron(expr) => civil::next_due(expr.fields(), after, tz),
        };
        next.unwrap_or(Timestamp::MAX)
    }

    /// The due instants in `(after, until]`, in order ([`Timestamp::MAX`], "never", excluded).
    pub fn due_between<'a>(
        &'a self,
        tz: &'a TimeZone,
        after: Timestamp,
        until: Timestamp,
    ) -> impl Iterator<Item = Timestamp> + 'a {
        // `next_after` returns `Timestamp::MAX` when nothing is due any more.
        let due = move |next: Timestamp| (next <= until && next < Timestamp::MAX).then_some(next);
        std::iter::successors(due(self.next_after(after, tz)), move |previous| due(self.next_after(*previous, tz)))
    }

    /// What to do when the service starts at `now`, the slot last run (or skipped) being
    /// `last_due` (`None` on the first start: the initial pipeline run covers it).
    ///
    /// With `catch_up`, if one or more slots came due in `(last_due, now]` while copili was
    /// not running, the service runs *once* right away, however many slots were missed, and
    /// records the latest missed slot as its last due time. Without `catch_up`, missed slots
    /// are dropped. Either way the next regular run is the first slot after `now`; intervals
    /// keep the rhythm of `last_due`. A `last_due` later than `now` (the clock was set back)
    /// counts as nothing missed, and the schedule restarts from `now`.
    pub fn startup(&self, tz: &TimeZone, last_due: Option<Timestamp>, now: Timestamp, catch_up: bool) -> Startup {
        let last_due = last_due.filter(|last_due| *last_due <= now);
        let (missed, next_due) = match (self, last_due) {
            (Schedule::Every(interval), Some(last_due)) => missed_intervals(*interval, last_due, now),
            (_, Some(last_due)) => (self.latest_due_in(tz, last_due, now), self.next_after(now, tz)),
            (_, None) => (None, self.next_after(now, tz)),
        };
        Startup { catch_up: missed.filter(|_| catch_up), next_due }
    }

    /// The latest due instant in `(after, until]`, looking back from `until` over a window
    /// that doubles until it holds one, so that a long downtime does not mean walking every
    /// slot of it.
    fn latest_due_in(&self, tz: &TimeZone, after: Timestamp, until: Timestamp) -> Option<Timestamp> {
        if self.next_after(after, tz) > until {
            return None;
        }
        let mut window = SignedDuration::from_hours(1);
        loop {
            let start = until.checked_sub(window).map_or(after, |start| start.max(after));
            if let Some(latest) = self.due_between(tz, start, until).last() {
                return Some(latest);
            }
            if start == after {
                return None;
            }
            window = window.checked_mul(2).unwrap_or(SignedDuration::MAX);
        }
    }
}

/// The latest interval slot in `(last_due, now]`, if any, and the first after `now`.
fn missed_intervals(interval: Interval, last_due: Timestamp, now: Timestamp) -> (Option<Timestamp>, Timestamp) {
    let step = interval.get().as_nanos() as i128;
    let slots = last_due.duration_until(now).as_nanos() / step;
    let slot = |n: i128| {
        let nanos = n.checked_mul(step).and_then(|offset| last_due.as_nanosecond().checked_add(offset));
        nanos.and_then(|nanos| Timestamp::from_nanosecond(nanos).ok()).unwrap_or(Timestamp::MAX)
    };
    let latest = (slots > 0).then(|| slot(slots));
    (latest, slot(slots + 1))
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(interval) => write!(f, "every {interval}"),
            Schedule::Daily(time) => write!(f, "daily {time}"),
            Schedule::Cron(expr) => write!(f, "{expr}"),
        }
    }
}

/// What a service does when copili starts: see [`Schedule::startup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Startup {
    /// `Some(slot)`: run once now to catch up, and record `slot`, the latest missed one, as
    /// the last due time.
    pub catch_up: Option<Timestamp>,
    /// The next regular due time, strictly after now.
    pub next_due: Timestamp,
}

impl Startup {
    /// Whether to run once right away.
    pub fn run_now(&self) -> bool {
        self.catch_up.is_some()
    }
}

/// The time zone called `name`: an IANA name (`Europe/Berlin`, `UTC`), or `local` for the
/// system's.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, ScheduleError> {
    let trimmed = name.trim();
    let zone = if trimmed.eq_ignore_ascii_case("local") { TimeZone::try_system() } else { TimeZone::get(trimmed) };
    zone.map_err(|source| ScheduleError::UnknownTimeZone { name: trimmed.to_string(), source })
}

/// An interval: a duration as [`duration::parse_duration`] reads it, with a unit (`every 600`
/// is refused, as humantime refuses it), more than zero and at most 100 years.
fn parse_interval(text: &str) -> Result<Interval, String> {
    if text.is_empty() {
        return Err("missing duration".to_string());
    }
    let humantime_reason = || humantime::parse_duration(text).err().map(|error| error.to_string());
    let needs_unit = text.chars().all(|c| c.is_ascii_digit() || c == '.');
    let duration = match duration::parse_duration_unlimited(text) {
        Ok(_) if needs_unit => return Err(humantime_reason().unwrap_or_else(|| "a unit is needed".to_string())),
        Ok(duration) => duration,
        Err(duration::DurationError::Months) => {
            return Err("`M` would be months: write `m` for minutes, or days (`30d`)".to_string())
        }
        Err(duration::DurationError::TooLong) => return Err("must be at most 100 years".to_string()),
        Err(_) => {
            return Err(
                humantime_reason().unwrap_or_else(|| "expected a duration such as `10m` or `1h 30m`".to_string())
            )
        }
    };
    Interval::new(duration).ok_or_else(|| {
        if duration.is_zero() { "must be more than zero" } else { "must be at most 100 years" }.to_string()
    })
}

#[cfg(test)]
mod tests;
