//! RFC 3339 times, read and written without a date library.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day since 1970-01-01 (`civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// Seconds since the epoch of an RFC 3339 time (`2026-11-25T12:00:00Z`,
/// `2026-11-25T12:00:00.25+01:00`, …); `None` if it is not one: digits where the date and
/// time have them, `-`, `T` and `:` between them, an optional fraction (`.` and digits), and
/// `Z` or an offset `±HH:MM`.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let digits = |range: std::ops::Range<usize>| {
        let part = text.get(range)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse::<i64>().ok())?
    };
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || bytes[10] != b'T'
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let days = days_from_civil(digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let mut seconds = (days * 86_400 + digits(11..13)? * 3600 + digits(14..16)? * 60 + digits(17..19)?) as f64;
    let rest = &text[19..];
    let zone_at = rest.find(['Z', '+', '-'])?;
    let fraction = &rest[..zone_at];
    if !fraction.is_empty() {
        let fraction_digits = fraction.strip_prefix('.')?;
        if fraction_digits.is_empty() || !fraction_digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        seconds += format!("0{fraction}").parse::<f64>().ok()?;
    }
    let zone = &rest[zone_at..];
    if zone != "Z" {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = zone[1..].split_once(':')?;
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hours) || !two_digits(minutes) {
            return None;
        }
        let offset = hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60;
        seconds -= (sign * offset) as f64;
    }
    Some(seconds)
}

/// Whether `text` is an RFC 3339 time (see [`parse_rfc3339`]).
pub fn is_rfc3339(text: &str) -> bool {
    parse_rfc3339(text).is_some()
}

/// `2026-11-25T00:00:00Z` for a whole number of seconds since the epoch.
pub fn format_rfc3339(unix: i64) -> String {
    let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
    let second_of_day = unix.rem_euclid(86_400);
    let (hour, minute, second) = (second_of_day / 3600, second_of_day % 3600 / 60, second_of_day % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// Seconds since the epoch, now.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::SystemTime::UNIX_EPOCH).expect("after 1970").as_secs_f64()
}
