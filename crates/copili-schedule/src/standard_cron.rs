//! A schedule as a standard five-field cron expression (minute, hour, day of month, month, day
//! of week; digits only, days of the week 0 to 6), for schedulers that read nothing else, such
//! as Argo's `CronWorkflow`.

use std::time::Duration;

use crate::Schedule;

/// Why a schedule has no standard cron form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoStandardCron {
    /// The day-of-week field names day 7 (copili's and Vixie cron's other Sunday), which
    /// standard cron does not read.
    #[error("standard cron reads days of the week 0 to 6: write Sunday as 0 or SUN")]
    SundayAsSeven,
    /// An interval that divides neither an hour nor a day, which no `*/N` step expresses.
    #[error(
        "only intervals that divide an hour (1m, 2m, …, 30m) or a day (1h, 2h, …, 12h, 24h) have a cron form, not {}",
        humantime::format_duration(*.0)
    )]
    Interval(Duration),
}

impl Schedule {
    /// The standard cron expression of this schedule, or why there is none.
    ///
    /// Intervals become `*/N` steps, which keep the frequency but start on the clock (`every
    /// 10m` runs at :00, :10, …, where copili counts from its start): only intervals that divide
    /// an hour or a day have such a form. Month and weekday names become their numbers
    /// (`MON-FRI` is `1-5`, `JAN` is `1`); macros such as `@hourly` stay as written.
    pub fn to_standard_cron(&self) -> Result<String, NoStandardCron> {
        match self {
            Schedule::Daily(time) => Ok(format!("{} {} * * *", time.minute(), time.hour())),
            Schedule::Cron(expr) => {
                let text = expr.to_string();
                if text.starts_with('@') {
                    return Ok(text);
                }
                let mut fields: Vec<String> = text.split_whitespace().map(str::to_string).collect();
                if let Some(month) = fields.get_mut(3) {
                    *month = numeric_names(month, &MONTH_NAMES, 1);
                }
                if let Some(day_of_week) = fields.get_mut(4) {
                    if uses_day_of_week_seven(day_of_week) {
                        return Err(NoStandardCron::SundayAsSeven);
                    }
                    *day_of_week = numeric_names(day_of_week, &WEEKDAY_NAMES, 0);
                }
                Ok(fields.join(" "))
            }
            Schedule::Every(interval) => {
                let duration = interval.get();
                let unsupported = NoStandardCron::Interval(duration);
                if duration.subsec_nanos() != 0 || !duration.as_secs().is_multiple_of(60) {
                    return Err(unsupported);
                }
                match duration.as_secs() / 60 {
                    1 => Ok("* * * * *".into()),
                    minutes if minutes < 60 && 60u64.is_multiple_of(minutes) => Ok(format!("*/{minutes} * * * *")),
                    60 => Ok("0 * * * *".into()),
                    1440 => Ok("0 0 * * *".into()),
                    minutes if minutes.is_multiple_of(60) && minutes < 1440 && 1440u64.is_multiple_of(minutes) => {
                        Ok(format!("0 */{} * * *", minutes / 60))
                    }
                    _ => Err(unsupported),
                }
            }
        }
    }
}
const MONTH_NAMES: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A cron field with its names (`MON`, `jan`) replaced by their numbers, counted from `first`.
fn numeric_names(field: &str, names: &[&str], first: usize) -> String {
    let mut out = String::with_capacity(field.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            match names.iter().position(|n| n.eq_ignore_ascii_case(word)) {
                Some(index) => out.push_str(&(index + first).to_string()),
                None => out.push_str(word),
            }
            word.clear();
        }
    };
    for c in field.chars() {
        if c.is_ascii_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Whether a day-of-week field names day 7 (copili's and Vixie cron's other Sunday).
fn uses_day_of_week_seven(field: &str) -> bool {
    field.split(',').any(|item| {
        let range = item.split('/').next().unwrap_or("");
        range.split('-').any(|bound| bound.trim() == "7")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(text: &str) -> Result<String, NoStandardCron> {
        Schedule::parse(text).expect("a schedule").to_standard_cron()
    }

    #[test]
    fn schedules_become_standard_cron_expressions() {
        assert_eq!(cron("daily 03:30").as_deref(), Ok("30 3 * * *"));
        assert_eq!(cron("daily").as_deref(), Ok("0 0 * * *"));
        assert_eq!(cron("every 1m").as_deref(), Ok("* * * * *"));
        assert_eq!(cron("every 10m").as_deref(), Ok("*/10 * * * *"));
        assert_eq!(cron("every 30m").as_deref(), Ok("*/30 * * * *"));
        assert_eq!(cron("every 1h").as_deref(), Ok("0 * * * *"));
        assert_eq!(cron("every 6h").as_deref(), Ok("0 */6 * * *"));
        assert_eq!(cron("every 1d").as_deref(), Ok("0 0 * * *"));
        assert_eq!(cron("*/5 * * * mon-fri").as_deref(), Ok("*/5 * * * 1-5"));
        assert_eq!(cron("0 4 1 jan,Jul-SEP/2 SUN,sat").as_deref(), Ok("0 4 1 1,7-9/2 0,6"));
        assert_eq!(cron("@hourly").as_deref(), Ok("@hourly"));
        assert_eq!(cron("0 3 * * 0").as_deref(), Ok("0 3 * * 0"));
        assert!(cron("0 3 * * */7").is_ok());
    }

    #[test]
    fn what_has_no_standard_cron_form_says_why() {
        for (text, seconds) in
            [("every 7m", 420), ("every 90s", 90), ("every 45s", 45), ("every 5h", 18_000), ("every 2d", 172_800)]
        {
            assert_eq!(cron(text), Err(NoStandardCron::Interval(Duration::from_secs(seconds))), "{text}");
        }
        assert_eq!(cron("every 1h 30m"), Err(NoStandardCron::Interval(Duration::from_secs(5400))));
        assert_eq!(cron("0 3 * * 5-7"), Err(NoStandardCron::SundayAsSeven));
        assert_eq!(
            NoStandardCron::Interval(Duration::from_secs(420)).to_string(),
            "only intervals that divide an hour (1m, 2m, …, 30m) or a day (1h, 2h, …, 12h, 24h) have a cron form, not 7m"
        );
    }
}
