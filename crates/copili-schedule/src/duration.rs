//! Durations as copili reads them everywhere: a number of seconds (`600`, `1.5`) or humantime's
//! `1h 30m` form without its `M` (months, too easily taken for minutes). The pipeline loader's
//! durations (`timeout`, `retry_delay`, …), the `every` of a schedule and the JSON Schema's
//! duration pattern all come from here.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

/// The units of a duration, as humantime reads them, without its `M` (months), too easily
/// taken for minutes.
pub const DURATION_UNITS: &[&str] = &[
    "nanos", "nsec", "ns", "usec", "us", "µs", "millis", "msec", "ms", "seconds", "second", "secs", "sec", "s",
    "minutes", "minute", "mins", "min", "m", "hours", "hour", "hrs", "hr", "h", "days", "day", "d", "weeks", "week",
    "wks", "wk", "w", "months", "month", "years", "year", "yrs", "yr", "y",
];

/// A duration: a number of seconds, or humantime's `1h 30m` with the units of
/// [`DURATION_UNITS`] (the schema's pattern is built from it too).
pub fn duration_pattern() -> String {
    let units = DURATION_UNITS.join("|");
    format!(r"^\s*[0-9]+(\.[0-9]+)?\s*$|^\s*([0-9]+(\.[0-9]+)?\s*({units})\s*)+$")
}

static DURATION: LazyLock<Regex> = LazyLock::new(|| Regex::new(&duration_pattern()).expect("valid regex"));

/// The longest duration: far beyond any sensible wait, and far from where adding it to the
/// clock would overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// It starts with `-`.
    Negative,
    /// Longer than [`MAX_DURATION`].
    TooLong,
    /// humantime's `M`, months, which copili refuses.
    Months,
    /// A unit humantime does not know.
    UnknownUnit(String),
    /// Anything else: no number, a number without a unit among units, `1 30m`.
    Invalid,
}

/// A duration written as text: a number of seconds (`600`, `1.5`) or humantime's form
/// (`1h 30m`, `90s`, `30 minutes`).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    parse_duration_unlimited(text).and_then(at_most_max)
}

/// [`parse_duration`] without the upper bound, for callers that word "too long" themselves.
pub fn parse_duration_unlimited(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let plain_seconds = !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.');
    let humantime_text = if plain_seconds { format!("{trimmed}s") } else { trimmed.to_string() };
    let classify = |error: humantime::DurationError| match error {
        humantime::DurationError::NumberOverflow => DurationError::TooLong,
        humantime::DurationError::UnknownUnit { unit, .. } if !unit.is_empty() => DurationError::UnknownUnit(unit),
        _ => DurationError::Invalid,
    };
    if DURATION.is_match(trimmed) {
        return humantime::parse_duration(&humantime_text).map_err(classify);
    }
    // humantime would read some of what the pattern refuses (`30M`, `1 30m` as `130m`).
    match humantime::parse_duration(&humantime_text) {
        Ok(_) if trimmed.split(|c: char| !c.is_alphabetic()).any(|unit| unit == "M") => Err(DurationError::Months),
        Ok(_) => Err(DurationError::Invalid),
        Err(error) => Err(classify(error)),
    }
}

/// A duration written as a YAML number: seconds (`600`, `1.5`, `1e3`).
pub fn parse_seconds(text: &str) -> Result<Duration, DurationError> {
    if let Ok(seconds) = text.trim().parse::<u64>() {
        return at_most_max(Duration::from_secs(seconds));
    }
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds < 0.0 => Err(DurationError::Negative),
        Ok(seconds) if seconds.is_finite() => {
            Duration::try_from_secs_f64(seconds).map_err(|_| DurationError::TooLong).and_then(at_most_max)
        }
        Ok(_) => Err(DurationError::TooLong),
        Err(_) if text.trim().starts_with('-') => Err(DurationError::Negative),
        Err(_) => Err(DurationError::Invalid),
    }
}

/// `duration`, or [`DurationError::TooLong`] beyond [`MAX_DURATION`].
pub fn at_most_max(duration: Duration) -> Result<Duration, DurationError> {
    if duration > MAX_DURATION {
        Err(DurationError::TooLong)
    } else {
        Ok(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_text() {
        let secs = |s: u64| Ok(Duration::from_secs(s));
        assert_eq!(parse_duration("30m"), secs(1800));
        assert_eq!(parse_duration("1h 30m"), secs(5400));
        assert_eq!(parse_duration("1h30m"), secs(5400));
        assert_eq!(parse_duration("90s"), secs(90));
        assert_eq!(parse_duration(" 30 minutes "), secs(1800));
        assert_eq!(parse_duration("2 hours 5 sec"), secs(7205));
        assert_eq!(parse_duration("600"), secs(600));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1.5h"), secs(5400));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0s"), secs(0));
        assert_eq!(parse_duration("soon"), Err(DurationError::Invalid));
        assert_eq!(parse_duration(""), Err(DurationError::Invalid));
        assert_eq!(parse_duration("1h 30"), Err(DurationError::Invalid));
        assert_eq!(parse_duration("1 30m"), Err(DurationError::Invalid), "humantime reads 130m");
        assert_eq!(parse_duration("1h, 30m"), Err(DurationError::Invalid));
        assert_eq!(parse_duration("-5s"), Err(DurationError::Negative));
        assert_eq!(parse_duration("30M"), Err(DurationError::Months));
        assert_eq!(parse_duration("30 minuts"), Err(DurationError::UnknownUnit("minuts".into())));
        assert_eq!(parse_duration("99999999999999999999s"), Err(DurationError::TooLong));
        assert_eq!(parse_duration("100y"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("101y"), Err(DurationError::TooLong));
        assert_eq!(parse_seconds("3155760001"), Err(DurationError::TooLong));
        assert_eq!(parse_seconds("1e10"), Err(DurationError::TooLong));
        assert_eq!(parse_seconds("600"), secs(600));
        assert_eq!(parse_seconds("1e3"), secs(1000));
        assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_seconds("-1"), Err(DurationError::Negative));
        assert_eq!(parse_seconds("-1.5"), Err(DurationError::Negative));
        assert_eq!(parse_seconds("0x10"), Err(DurationError::Invalid));
        assert_eq!(parse_seconds("1e300"), Err(DurationError::TooLong));
    }

    #[test]
    fn the_schedule_reads_intervals_with_the_same_grammar() {
        let every = |text: &str| crate::Schedule::parse(text).map(|s| s.to_string());
        assert_eq!(every("every 1h30m").ok().as_deref(), Some("every 1h 30m"));
        assert!(every("every 1 30m").is_err(), "humantime would read 130m");
        assert!(every("every 600").is_err(), "an interval names its unit");
    }
}
