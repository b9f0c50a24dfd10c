//! Schedules across daylight-saving changes, catch-up, parsing: all on computed instants, no
//! waiting. Berlin in 2026: clocks jump from 02:00 to 03:00 on 29 March (01:00 UTC) and fall
//! back from 03:00 to 02:00 on 25 October (01:00 UTC).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::*;

fn schedule(text: &str) -> Schedule {
    Schedule::parse(text).expect("valid schedule")
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("valid timestamp")
}

fn berlin() -> TimeZone {
    parse_time_zone("Europe/Berlin").expect("known time zone")
}

/// The first `count` due instants after `after`, in UTC.
fn next_dues(text: &str, tz: &TimeZone, after: &str, count: usize) -> Vec<String> {
    let schedule = schedule(text);
    let first = schedule.next_after(at(after), tz);
    std::iter::successors(Some(first), |previous| Some(schedule.next_after(*previous, tz)))
        .take(count)
        .map(|due| due.to_string())
        .collect()
}

#[test]
fn spring_forward_runs_once_at_the_jump() {
    let tz = berlin();
    let check = |text: &str, expected: &[&str]| {
        assert_eq!(next_dues(text, &tz, "2026-03-27T00:00:00Z", expected.len()), expected, "{text}");
    };
    // 02:30 does not exist on the 29th: once at 03:00 local.
    let half_past_two =
        ["2026-03-27T01:30:00Z", "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"];
    check("daily 02:30", &half_past_two);
    check("30 2 * * *", &half_past_two);
    check(
        "daily 03:30",
        &["2026-03-27T02:30:00Z", "2026-03-28T02:30:00Z", "2026-03-29T01:30:00Z", "2026-03-30T01:30:00Z"],
    );
    check("daily", &["2026-03-27T23:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"]);
    // The whole skipped hour is one run at the jump; the next minute goes on at 03:10 local.
    assert_eq!(
        next_dues("*/10 2 * * *", &tz, "2026-03-28T01:45:00Z", 3),
        ["2026-03-28T01:50:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"]
    );
}

#[test]
fn fall_back_runs_a_repeated_time_once() {
    let tz = berlin();
    let check = |text: &str, expected: &[&str]| {
        assert_eq!(next_dues(text, &tz, "2026-10-23T12:00:00Z", expected.len()), expected, "{text}");
    };
    // 02:30 happens at 00:30 and 01:30 UTC on the 25th: only the first.
    let half_past_two =
        ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"];
    check("daily 02:30", &half_past_two);
    check("30 2 * * *", &half_past_two);
    check("daily 03:30", &["2026-10-24T01:30:00Z", "2026-10-25T02:30:00Z", "2026-10-26T02:30:00Z"]);
    check("daily 00:00", &["2026-10-23T22:00:00Z", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"]);
    // Named hours: the first pass only.
    let ten_minutes_in_hour_two = next_dues("*/10 2 * * *", &tz, "2026-10-24T12:00:00Z", 7);
    let expected: Vec<String> = (0..6).map(|n| format!("2026-10-25T00:{n}0:00Z")).collect();
    assert_eq!(ten_minutes_in_hour_two[..6], expected);
    assert_eq!(ten_minutes_in_hour_two[6], "2026-10-26T01:00:00Z");
}

#[test]
fn daily_runs_once_on_every_civil_day_of_the_year() {
    let zones = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "UTC"];
    let times =
        ["daily 00:00", "daily 01:30", "daily 02:00", "daily 02:30", "daily 02:59", "daily 03:00", "daily 23:59"];
    for zone in zones {
        let tz = parse_time_zone(zone).expect("known time zone");
        for text in times {
            let schedule = schedule(text);
            let mut per_day: BTreeMap<Date, usize> = BTreeMap::new();
            let dues = schedule.due_between(&tz, at("2025-12-31T12:00:00Z"), at("2027-01-01T12:00:00Z"));
            for due in dues {
                *per_day.entry(due.to_zoned_datetime(tz.clone()).date()).or_default() += 1;
            }
            let days_2026: Vec<Date> = per_day.keys().copied().filter(|day| day.year() == 2026).collect();
            assert_eq!(days_2026.len(), 365, "{text} in {zone}");
            assert!(per_day.values().all(|runs| *runs == 1), "{text} in {zone}: {per_day:?}");
        }
    }
}

#[test]
fn every_hour_keeps_a_run_each_real_hour() {
    let tz = berlin();
    for (start, end) in
        [("2026-03-28T20:00:00Z", "2026-03-29T06:00:00Z"), ("2026-10-24T20:00:00Z", "2026-10-25T06:00:00Z")]
    {
        for (text, step) in [("every 1h", 3600), ("0 * * * *", 3600), ("@hourly", 3600), ("*/10 * * * *", 600)] {
            let dues: Vec<Timestamp> = schedule(text).due_between(&tz, at(start), at(end)).collect();
            assert_eq!(dues.len() as i64, 10 * 3600 / step, "{text} from {start}");
            for pair in dues.windows(2) {
                assert_eq!(pair[0].duration_until(pair[1]).as_secs(), step, "{text} at {}", pair[0]);
            }
        }
    }
    // The wall-clock view of the hourly cron on both days.
    assert_eq!(
        next_dues("0 * * * *", &tz, "2026-03-28T23:30:00Z", 3),
        ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"],
    );
    assert_eq!(
        next_dues("0 * * * *", &tz, "2026-10-24T23:30:00Z", 3),
        ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"],
    );
}

#[test]
fn next_after_is_strictly_after() {
    let tz = berlin();
    let daily = schedule("daily 03:00");
    assert_eq!(daily.next_after(at("2026-05-01T01:00:00Z"), &tz), at("2026-05-02T01:00:00Z"));
    assert_eq!(daily.next_after(at("2026-05-01T00:59:59.999Z"), &tz), at("2026-05-01T01:00:00Z"));
    let every = schedule("every 2s");
    assert_eq!(every.next_after(at("2026-05-01T01:00:00Z"), &tz), at("2026-05-01T01:00:02Z"));
    // An interval close to the end of jiff's range: never due again, no panic.
    assert_eq!(schedule("every 100y").next_after(at("9990-01-01T00:00:00Z"), &tz), Timestamp::MAX);
    assert_eq!(schedule("every 100y").due_between(&tz, at("9990-01-01T00:00:00Z"), Timestamp::MAX).count(), 0);
}

#[test]
fn catch_up_runs_once_for_three_missed_slots() {
    let tz = berlin();
    let daily = schedule("daily 03:00");
    let last_due = at("2026-05-01T01:00:00Z");
    let now = at("2026-05-04T08:00:00Z");
    assert_eq!(daily.due_between(&tz, last_due, now).count(), 3, "three slots missed");
    let next_due = at("2026-05-05T01:00:00Z");
    assert_eq!(
        daily.startup(&tz, Some(last_due), now, true),
        Startup { catch_up: Some(at("2026-05-04T01:00:00Z")), next_due }
    );
    let without = daily.startup(&tz, Some(last_due), now, false);
    assert_eq!(without, Startup { catch_up: None, next_due });
    assert!(!without.run_now());
    // First start: the initial run covers it.
    assert_eq!(daily.startup(&tz, None, now, true), Startup { catch_up: None, next_due });
    // Nothing missed.
    assert_eq!(daily.startup(&tz, Some(at("2026-05-04T01:00:00Z")), now, true), Startup { catch_up: None, next_due });
    // The clock was set back: nothing missed.
    assert_eq!(daily.startup(&tz, Some(at("2026-06-01T01:00:00Z")), now, true), Startup { catch_up: None, next_due });
}

#[test]
fn catch_up_of_intervals_keeps_their_rhythm() {
    let tz = TimeZone::UTC;
    let hourly = schedule("every 1h");
    let last_due = at("2026-05-01T10:00:00Z");
    let now = at("2026-05-01T13:30:00Z");
    let next_due = at("2026-05-01T14:00:00Z");
    let startup = hourly.startup(&tz, Some(last_due), now, true);
    assert_eq!(startup, Startup { catch_up: Some(at("2026-05-01T13:00:00Z")), next_due });
    assert!(startup.run_now());
    assert_eq!(hourly.startup(&tz, Some(last_due), now, false), Startup { catch_up: None, next_due });
    assert_eq!(
        hourly.startup(&tz, Some(at("2026-05-01T13:00:00Z")), now, true),
        Startup { catch_up: None, next_due },
        "nothing missed"
    );
    assert_eq!(hourly.startup(&tz, None, now, true), Startup { catch_up: None, next_due: at("2026-05-01T14:30:00Z") });
    assert_eq!(
        hourly.startup(&tz, Some(at("2026-05-02T00:00:00Z")), now, true),
        Startup { catch_up: None, next_due: at("2026-05-01T14:30:00Z") },
        "clock set back"
    );
}

#[test]
fn catch_up_after_a_long_downtime() {
    let tz = TimeZone::UTC;
    let startup =
        schedule("*/10 * * * *").startup(&tz, Some(at("2026-01-01T00:00:00Z")), at("2026-04-01T12:05:00Z"), true);
    assert_eq!(startup, Startup { catch_up: Some(at("2026-04-01T12:00:00Z")), next_due: at("2026-04-01T12:10:00Z") });
    let startup =
        schedule("0 0 29 2 *").startup(&tz, Some(at("2020-02-29T00:00:00Z")), at("2026-04-01T12:05:00Z"), true);
    assert_eq!(startup, Startup { catch_up: Some(at("2024-02-29T00:00:00Z")), next_due: at("2028-02-29T00:00:00Z") });
}

#[test]
fn parse_and_display() {
    for (text, canonical) in [
        ("every 10m", "every 10m"),
        ("every 1h 30m", "every 1h 30m"),
        ("every 90m", "every 1h 30m"),
        ("EVERY 2s", "every 2s"),
        ("every 1d", "every 1day"),
        ("daily 03:30", "daily 03:30"),
        ("daily 3:30", "daily 03:30"),
        ("  Daily  ", "daily 00:00"),
        ("daily 23:59", "daily 23:59"),
        ("*/10 * * * *", "*/10 * * * *"),
        ("30 3 * * 1-5", "30 3 * * 1-5"),
        ("0 4 * jan mon", "0 4 * JAN MON"),
        ("@daily", "@daily"),
        ("@HOURLY", "@hourly"),
    ] {
        let parsed = schedule(text);
        assert_eq!(parsed.to_string(), canonical, "{text}");
        assert_eq!(schedule(canonical), parsed, "{text}");
        assert_eq!(canonical.parse::<Schedule>().expect("valid schedule"), parsed, "{text}");
    }
    assert_eq!(schedule("every 10m"), Schedule::Every(Interval::new(Duration::from_secs(600)).expect("positive")));
    assert_eq!(schedule("daily 3:30"), Schedule::Daily(TimeOfDay::new(3, 30).expect("valid time")));
    assert_eq!(Schedule::default(), schedule("daily"));
    assert_eq!(Schedule::default().to_string(), "daily 00:00");
}

#[test]
fn parse_errors() {
    for (text, problem) in [
        ("", "empty schedule"),
        ("every", "invalid interval in schedule `every`: missing duration"),
        ("every 0s", "invalid interval in schedule `every 0s`: must be more than zero"),
        ("every 200y", "invalid interval in schedule `every 200y`: must be at most 100 years"),
        (
            "every 10M",
            "invalid interval in schedule `every 10M`: `M` would be months: write `m` for minutes, or days (`30d`)",
        ),
        (
            "every 10 parsecs",
            "invalid interval in schedule `every 10 parsecs`: unknown time unit \"parsecs\", supported units: ns, \
             us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)",
        ),
        ("daily 25:00", "invalid time of day in schedule `daily 25:00`: expected HH:MM from 00:00 to 23:59"),
        ("daily 3:5", "invalid time of day in schedule `daily 3:5`: expected HH:MM from 00:00 to 23:59"),
        ("daily noon", "invalid time of day in schedule `daily noon`: expected HH:MM from 00:00 to 23:59"),
        (
            "weekly",
            "invalid schedule `weekly`: expected 5 fields (minute hour day-of-month month day-of-week), found 1",
        ),
        ("61 * * * *", "invalid schedule `61 * * * *`: minute field: `61` is not a number from 0 to 59"),
        ("0 0 31 2 *", "invalid schedule `0 0 31 2 *`: the day of the month never occurs in the months given"),
    ] {
        let message = Schedule::parse(text).expect_err(text).to_string();
        assert_eq!(message, format!("{problem}; {FORMS}"), "{text}");
    }
    assert!(FORMS.contains("`every <duration>`") && FORMS.contains("`daily [HH:MM]`") && FORMS.contains("cron"));
}

#[test]
fn time_zones() {
    assert_eq!(parse_time_zone(" Europe/Berlin ").expect("known").iana_name(), Some("Europe/Berlin"));
    assert_eq!(parse_time_zone("UTC").expect("known").iana_name(), Some("UTC"));
    let error = parse_time_zone("Europe/Berln").expect_err("unknown");
    assert_eq!(
        error.to_string(),
        "unknown time zone `Europe/Berln`: expected an IANA name such as `Europe/Berlin` or `UTC`, or `local`"
    );
    assert!(std::error::Error::source(&error).is_some(), "jiff's reason is kept");
}
