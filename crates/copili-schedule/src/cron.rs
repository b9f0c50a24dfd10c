//! Five-field cron expressions (`minute hour day-of-month month day-of-week`), parsed into bit
//! sets and matched against civil (wall-clock) date-times. Time zones are not this module's
//! business: `civil.rs` maps the matches to instants.

use std::fmt;

use jiff::civil::{Date, DateTime};
use jiff::SignedDuration;

/// How many years [`CronFields::next_match`] looks ahead. A valid expression matches within 28
/// years (29 February on a given weekday), 40 across a century that is not a leap year.
const SEARCH_YEARS: i16 = 50;

/// The longest a month can be, leap years included, by month number (index 0 unused).
const MAX_DAYS_IN_MONTH: [u8; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const MONTH_NAMES: &[&str] = &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The macros and the expressions they stand for.
const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// What is wrong with a cron expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CronError {
    /// Not five whitespace-separated fields.
    #[error("expected 5 fields (minute hour day-of-month month day-of-week), found {found}")]
    FieldCount {
        /// How many fields there were.
        found: usize,
    },
    /// A word starting with `@` that is not a known macro.
    #[error("unknown macro `{text}`; known are @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly")]
    UnknownMacro {
        /// The unknown macro as written, `@` included.
        text: String,
    },
    /// A value that is neither a number in the field's range nor one of its names.
    #[error("{field} field: `{value}` is not {expected}")]
    Value {
        /// The field's name, e.g. `minute`.
        field: &'static str,
        /// The item of the field that is out of range or not a number, as written.
        value: String,
        /// What the field accepts, e.g. `a number from 0 to 59`.
        expected: String,
    },
    /// A range `a-b` with `a` after `b`.
    #[error("{field} field: range `{range}` goes backwards")]
    BackwardsRange {
        /// The field's name.
        field: &'static str,
        /// The range as written.
        range: String,
    },
    /// A step that is not a positive number.
    #[error("{field} field: step in `{item}` must be a number of at least 1")]
    Step {
        /// The field's name.
        field: &'static str,
        /// The list item with the step.
        item: String,
    },
    /// An empty entry in a comma-separated list.
    #[error("{field} field: empty list entry")]
    EmptyItem {
        /// The field's name.
        field: &'static str,
    },
    /// The days of the month never occur in the months given, such as `31 2` (31 February).
    #[error("the day of the month never occurs in the months given")]
    NeverDue,
}

/// A parsed cron expression. Its [`Display`](fmt::Display) is the canonical text: fields
/// separated by one space, names in capitals, macros as written (lowercase).
///
/// Semantics are Vixie cron's: day-of-week 0 and 7 are Sunday; when both the day-of-month and
/// the day-of-week field are restricted (neither starts with `*`), a day matches if *either*
/// does, otherwise both must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    text: String,
    fields: CronFields,
}

impl CronExpr {
    /// Parses a five-field expression or a macro such as `@daily`.
    pub fn parse(text: &str) -> Result<CronExpr, CronError> {
        let text = text.trim();
        if text.starts_with('@') {
            let lowercase = text.to_ascii_lowercase();
            let (name, expansion) = MACROS
                .iter()
                .find(|(name, _)| *name == lowercase)
                .ok_or_else(|| CronError::UnknownMacro { text: text.to_string() })?;
            let fields = CronFields::parse(expansion)?;
            return Ok(CronExpr { text: (*name).to_string(), fields });
        }
        let fields = CronFields::parse(text)?;
        let canonical = text.split_whitespace().map(str::to_ascii_uppercase).collect::<Vec<_>>().join(" ");
        Ok(CronExpr { text: canonical, fields })
    }

    /// Whether the expression matches the minute of `datetime` (seconds are ignored).
    pub fn matches(&self, datetime: DateTime) -> bool {
        self.fields.matches(datetime)
    }

    pub(crate) fn fields(&self) -> &CronFields {
        &self.fields
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The matching part of a cron expression: one bit per allowed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CronFields {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    /// Bits 0 (Sunday) to 6 (Saturday); a 7 in the text is folded into 0.
    days_of_week: u64,
    /// The day-of-month field starts with `*` (Vixie cron's `DOM_STAR`).
    day_of_month_star: bool,
    /// The day-of-week field starts with `*` (Vixie cron's `DOW_STAR`).
    day_of_week_star: bool,
}

/// One field's range and names.
struct FieldKind {
    name: &'static str,
    min: u8,
    max: u8,
    /// Names for the values from `min` on, matched case-insensitively.
    names: &'static [&'static str],
}

const MINUTE: FieldKind = FieldKind { name: "minute", min: 0, max: 59, names: &[] };
const HOUR: FieldKind = FieldKind { name: "hour", min: 0, max: 23, names: &[] };
const DAY_OF_MONTH: FieldKind = FieldKind { name: "day-of-month", min: 1, max: 31, names: &[] };
const MONTH: FieldKind = FieldKind { name: "month", min: 1, max: 12, names: MONTH_NAMES };
const DAY_OF_WEEK: FieldKind = FieldKind { name: "day-of-week", min: 0, max: 7, names: WEEKDAY_NAMES };

impl CronFields {
    /// Every day at `hour:minute` (both in range, as `TimeOfDay` guarantees).
    pub(crate) fn daily(hour: u8, minute: u8) -> CronFields {
        CronFields {
            minutes: 1 << minute,
            hours: 1 << hour,
            days_of_month: bits(1, 31),
            months: bits(1, 12),
            days_of_week: bits(0, 6),
            day_of_month_star: true,
            day_of_week_star: true,
        }
    }

    fn parse(text: &str) -> Result<CronFields, CronError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
            return Err(CronError::FieldCount { found: fields.len() });
        };
        let mut days_of_week = parse_field(day_of_week, &DAY_OF_WEEK)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week & !(1 << 7)) | 1;
        }
        let fields = CronFields {
            minutes: parse_field(minute, &MINUTE)?,
            hours: parse_field(hour, &HOUR)?,
            days_of_month: parse_field(day_of_month, &DAY_OF_MONTH)?,
            months: parse_field(month, &MONTH)?,
            days_of_week,
            day_of_month_star: day_of_month.starts_with('*'),
            day_of_week_star: day_of_week.starts_with('*'),
        };
        if fields.both_day_fields_must_match() && !fields.day_of_month_exists() {
            return Err(CronError::NeverDue);
        }
        Ok(fields)
    }

    fn both_day_fields_must_match(&self) -> bool {
        self.day_of_month_star || self.day_of_week_star
    }

    /// Some month allows some day of the month that it has. (Every date falls on every weekday
    /// sooner or later, so the day-of-week field cannot make an expression never due.)
    fn day_of_month_exists(&self) -> bool {
        (1..=12u8).any(|month| {
            has(self.months, month) && self.days_of_month & bits(1, MAX_DAYS_IN_MONTH[month as usize]) != 0
        })
    }

    /// Every hour of the day is allowed: such an expression runs in both passes of a repeated
    /// (fall-back) hour, see `civil.rs`.
    pub(crate) fn every_hour(&self) -> bool {
        self.hours == bits(0, 23)
    }

    pub(crate) fn matches(&self, datetime: DateTime) -> bool {
        has(self.months, datetime.month() as u8)
            && self.day_matches(datetime.date())
            && has(self.hours, datetime.hour() as u8)
            && has(self.minutes, datetime.minute() as u8)
    }

    fn day_matches(&self, date: Date) -> bool {
        let day_of_month = has(self.days_of_month, date.day() as u8);
        let day_of_week = has(self.days_of_week, date.weekday().to_sunday_zero_offset() as u8);
        if self.both_day_fields_must_match() {
            day_of_month && day_of_week
        } else {
            day_of_month || day_of_week
        }
    }

    /// The earliest whole minute at or after `from` that matches, searching [`SEARCH_YEARS`]
    /// ahead; `None` beyond that or beyond the end of jiff's range (year 9999).
    pub(crate) fn next_match(&self, from: DateTime) -> Option<DateTime> {
        let mut datetime = ceil_to_minute(from)?;
        let last_year = from.year().saturating_add(SEARCH_YEARS);
        loop {
            if datetime.year() > last_year {
                return None;
            }
            let date = datetime.date();
            if !has(self.months, date.month() as u8) {
                datetime = date.last_of_month().tomorrow().ok()?.to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if !self.day_matches(date) {
                datetime = date.tomorrow().ok()?.to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            let Some(hour) = next_bit(self.hours, datetime.hour() as u8) else {
                datetime = date.tomorrow().ok()?.to_datetime(jiff::civil::Time::midnight());
                continue;
            };
            let first_minute = if hour == datetime.hour() as u8 { datetime.minute() as u8 } else { 0 };
            match next_bit(self.minutes, first_minute) {
                Some(minute) => return Some(date.at(hour as i8, minute as i8, 0, 0)),
                None if hour == 23 => datetime = date.tomorrow().ok()?.to_datetime(jiff::civil::Time::midnight()),
                None => datetime = date.at(hour as i8 + 1, 0, 0, 0),
            }
        }
    }
}

/// `from` if it is a whole minute, else the next whole minute.
pub(crate) fn ceil_to_minute(from: DateTime) -> Option<DateTime> {
    let floor = from.date().at(from.hour(), from.minute(), 0, 0);
    if floor == from {
        Some(floor)
    } else {
        floor.checked_add(SignedDuration::from_mins(1)).ok()
    }
}

/// The bits `low..=high`.
fn bits(low: u8, high: u8) -> u64 {
    (low..=high).fold(0, |set, value| set | (1 << value))
}

fn has(set: u64, value: u8) -> bool {
    value < 64 && set & (1 << value) != 0
}

/// The smallest value in `set` that is at least `from`.
fn next_bit(set: u64, from: u8) -> Option<u8> {
    let rest = set.checked_shr(u32::from(from))?;
    (rest != 0).then(|| from + rest.trailing_zeros() as u8)
}

/// A comma-separated list of `*`, `n`, `a-b`, each optionally followed by `/step`; `n/step`
/// means `n-max/step`.
fn parse_field(text: &str, kind: &FieldKind) -> Result<u64, CronError> {
    let mut set = 0;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(CronError::EmptyItem { field: kind.name });
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => match step.parse::<u8>() {
                Ok(step) if step >= 1 => (range, Some(step)),
                _ => return Err(CronError::Step { field: kind.name, item: item.to_string() }),
            },
            None => (item, None),
        };
        let (low, high) = if range == "*" {
            (kind.min, kind.max)
        } else if let Some((low, high)) = range.split_once('-') {
            let (low, high) = (parse_value(low, kind)?, parse_value(high, kind)?);
            if low > high {
                return Err(CronError::BackwardsRange { field: kind.name, range: range.to_string() });
            }
            (low, high)
        } else {
            let value = parse_value(range, kind)?;
            (value, if step.is_some() { kind.max } else { value })
        };
        for value in (low..=high).step_by(usize::from(step.unwrap_or(1))) {
            set |= 1 << value;
        }
    }
    Ok(set)
}

fn parse_value(text: &str, kind: &FieldKind) -> Result<u8, CronError> {
    let by_name =
        kind.names.iter().position(|name| name.eq_ignore_ascii_case(text)).map(|index| index as u8 + kind.min);
    match by_name.or_else(|| text.parse::<u8>().ok()) {
        Some(value) if (kind.min..=kind.max).contains(&value) => Ok(value),
        _ => {
            let mut expected = format!("a number from {} to {}", kind.min, kind.max);
            if let (Some(first), Some(last)) = (kind.names.first(), kind.names.last()) {
                expected.push_str(&format!(" or a name {first}…{last}"));
            }
            Err(CronError::Value { field: kind.name, value: text.to_string(), expected })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn expr(text: &str) -> CronExpr {
        CronExpr::parse(text).expect("valid cron expression")
    }

    #[test]
    fn canonical_text() {
        for (text, canonical) in [
            ("*/10 * * * *", "*/10 * * * *"),
            ("  30   3 * *   mon-fri ", "30 3 * * MON-FRI"),
            ("0 0 1 jan,Jul *", "0 0 1 JAN,JUL *"),
            ("@Daily", "@daily"),
            ("@hourly", "@hourly"),
        ] {
            assert_eq!(expr(text).to_string(), canonical, "{text}");
            assert_eq!(expr(canonical), expr(text), "{text}");
        }
    }

    #[test]
    fn parse_errors() {
        for (text, message) in [
            ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 4"),
            ("0 0 * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 6"),
            ("60 * * * *", "minute field: `60` is not a number from 0 to 59"),
            ("* 24 * * *", "hour field: `24` is not a number from 0 to 23"),
            ("* * 0 * *", "day-of-month field: `0` is not a number from 1 to 31"),
            ("* * * FOO *", "month field: `FOO` is not a number from 1 to 12 or a name JAN…DEC"),
            ("* * * * 8", "day-of-week field: `8` is not a number from 0 to 7 or a name SUN…SAT"),
            ("*/0 * * * *", "minute field: step in `*/0` must be a number of at least 1"),
            ("5-1 * * * *", "minute field: range `5-1` goes backwards"),
            ("1,,2 * * * *", "minute field: empty list entry"),
            ("0 0 31 2 *", "the day of the month never occurs in the months given"),
            ("0 0 30,31 FEB *", "the day of the month never occurs in the months given"),
            (
                "@reboot",
                "unknown macro `@reboot`; known are @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly",
            ),
        ] {
            let error = CronExpr::parse(text).expect_err(text);
            assert_eq!(error.to_string(), message, "{text}");
        }
    }

    #[test]
    fn fields() {
        let weekdays = expr("30 3 * * 1-5");
        assert!(weekdays.matches(date(2026, 6, 1).at(3, 30, 0, 0)), "a Monday");
        assert!(!weekdays.matches(date(2026, 6, 6).at(3, 30, 0, 0)), "a Saturday");
        assert!(!weekdays.matches(date(2026, 6, 1).at(3, 31, 0, 0)));
        // 7 is Sunday, like 0.
        let sunday = expr("0 12 * * 7");
        assert!(sunday.matches(date(2026, 6, 7).at(12, 0, 0, 0)));
        // Both day fields restricted: either matches (the 13th, or any Friday).
        let either = expr("0 0 13 * FRI");
        assert!(either.matches(date(2026, 6, 13).at(0, 0, 0, 0)), "Saturday the 13th");
        assert!(either.matches(date(2026, 6, 5).at(0, 0, 0, 0)), "Friday the 5th");
        assert!(!either.matches(date(2026, 6, 6).at(0, 0, 0, 0)));
        // One of them starts with `*`: both must match.
        let both = expr("0 0 */2 * FRI");
        assert!(both.matches(date(2026, 6, 5).at(0, 0, 0, 0)), "Friday the 5th");
        assert!(!both.matches(date(2026, 6, 12).at(0, 0, 0, 0)), "Friday the 12th");
        // `n/step` runs from n to the end of the range.
        let steps = expr("5/20 * * * *");
        let minutes: Vec<i8> = (0..60).filter(|m| steps.matches(date(2026, 1, 1).at(0, *m, 0, 0))).collect();
        assert_eq!(minutes, [5, 25, 45]);
    }

    #[test]
    fn next_match() {
        let check = |text: &str, from: DateTime, expected: DateTime| {
            assert_eq!(expr(text).fields().next_match(from), Some(expected), "{text} from {from}");
        };
        check("*/10 * * * *", date(2026, 1, 1).at(0, 0, 0, 0), date(2026, 1, 1).at(0, 0, 0, 0));
        check("*/10 * * * *", date(2026, 1, 1).at(0, 0, 0, 1), date(2026, 1, 1).at(0, 10, 0, 0));
        check("*/10 * * * *", date(2026, 12, 31).at(23, 55, 0, 0), date(2027, 1, 1).at(0, 0, 0, 0));
        check("30 3 * * 1-5", date(2026, 6, 5).at(3, 31, 0, 0), date(2026, 6, 8).at(3, 30, 0, 0));
        check("0 9-17/4 * * *", date(2026, 6, 5).at(13, 1, 0, 0), date(2026, 6, 5).at(17, 0, 0, 0));
        check("@yearly", date(2026, 1, 1).at(0, 0, 30, 0), date(2027, 1, 1).at(0, 0, 0, 0));
        check("0 0 29 2 *", date(2026, 3, 1).at(0, 0, 0, 0), date(2028, 2, 29).at(0, 0, 0, 0));
        // 29 February on a Sunday (both fields must match: the day-of-week field starts with `*`).
        check("0 0 29 2 */7", date(2026, 1, 1).at(0, 0, 0, 0), date(2032, 2, 29).at(0, 0, 0, 0));
    }
}
