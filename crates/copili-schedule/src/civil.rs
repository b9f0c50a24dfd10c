//! From wall-clock matches to instants: where daylight saving time is handled, in one place.
//!
//! The time zone's timeline is walked segment by segment, a segment being the time between two
//! offset transitions, in which wall-clock time and instants map one to one. The rules:
//!
//! - **Gap** (spring forward, e.g. 02:00–03:00 does not exist in Europe/Berlin on 2026-03-29):
//!   wall-clock times that do not exist run once, at the instant of the transition (03:00 local).
//!   Several skipped matches, and a match at the first valid minute, are that same instant,
//!   hence one run. Vixie cron does the same for jumps forward of less than three hours.
//! - **Fold** (fall back, e.g. 02:00–03:00 happens twice on 2026-10-25): a wall-clock time runs
//!   at its first occurrence. Only expressions that allow every hour of the day (`0 * * * *`,
//!   `*/10 * * * *`) run in the second pass too, so that "every hour" keeps a run each real
//!   hour. A daily time, or any expression that names its hours, never runs twice a day.

use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use crate::cron::{ceil_to_minute, CronFields};

/// A bound on the offset transitions walked: a valid expression matches within 50 years, and
/// time zones change their offset at most a few times a year.
const MAX_SEGMENTS: usize = 1000;

/// The first instant strictly after `after` at which `fields` is due in `tz`, or `None` if there
/// is none within jiff's range.
pub(crate) fn next_due(fields: &CronFields, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let mut offset = tz.to_offset(after);
    // The first whole minute strictly after `after`, in this segment's wall-clock time.
    let mut from = ceil_to_minute(offset.to_datetime(after).checked_add(SignedDuration::from_nanos(1)).ok()?)?;
    let mut segment_start = after;
    for _ in 0..MAX_SEGMENTS {
        let transition = tz.following(segment_start).next().map(|t| (t.timestamp(), t.offset()));
        let segment_end = transition.map(|(at, _)| at);
        while let Some(datetime) = fields.next_match(from) {
            let at = offset.to_timestamp(datetime).ok()?;
            if segment_end.is_some_and(|end| at >= end) {
                break;
            }
            if fields.every_hour() || !is_second_occurrence(tz, datetime, offset) {
                return Some(at);
            }
            from = datetime.checked_add(SignedDuration::from_mins(1)).ok()?;
        }
        let (end, next_offset) = transition?;
        if next_offset > offset && matches_in_gap(fields, end, offset, next_offset) {
            return Some(end);
        }
        offset = next_offset;
        from = ceil_to_minute(offset.to_datetime(end))?;
        segment_start = end;
    }
    None
}

/// `datetime`, read with `offset`, is the second pass of a repeated wall-clock time.
fn is_second_occurrence(tz: &TimeZone, datetime: jiff::civil::DateTime, offset: Offset) -> bool {
    matches!(tz.to_ambiguous_timestamp(datetime).offset(), AmbiguousOffset::Fold { after, .. } if after == offset)
}

/// Some wall-clock minute skipped by the jump forward at `at` (from `before` to `after`)
/// matches.
fn matches_in_gap(fields: &CronFields, at: Timestamp, before: Offset, after: Offset) -> bool {
    let gap_start = before.to_datetime(at);
    let gap_end = after.to_datetime(at);
    fields.next_match(gap_start).is_some_and(|datetime| datetime < gap_end)
}
