//! The loader's conversions of what bounds a run in time: `timeout`, `retries`, `retry_delay`
//! and the sidecars' `ready` checks.

use super::*;

impl Loader {
    /// A duration (`timeout`, `retry_delay`, the ready check's): a humantime string such as
    /// `1h 30m`, or a number of seconds. Returns it with the text it was read from, for messages.
    pub(super) fn duration(&mut self, node: &Node, at: At<'_>) -> Option<(Duration, String)> {
        let (text, parsed, interpolated) = match &node.value {
            Value::Scalar { text, ty: ScalarType::Int | ScalarType::Float } => {
                (text.clone(), parse_seconds(text), false)
            }
            Value::Scalar { text: written, ty: ScalarType::Str } => {
                let text = self.expand(written, node.span, at, false)?;
                let parsed = parse_duration(&text);
                let interpolated = text != *written;
                (text, parsed, interpolated)
            }
            _ => {
                self.error(
                    format!("expected a duration such as `30m` or a number of seconds, found {}", node.kind_name()),
                    node.span,
                    Some(at),
                )
                .help = Some(match at.property {
                    "timeout" => "write e.g. `timeout: 30m`, or `timeout: 600` for seconds".to_string(),
                    property => format!("write e.g. `{}: 5s`", property.rsplit('.').next().unwrap_or(property)),
                });
                return None;
            }
        };
        let shown = if interpolated { format!("`{text}` (the variable's value)") } else { format!("`{text}`") };
        let (message, help) = match parsed {
            Ok(duration) => return Some((duration, text)),
            Err(DurationError::Negative) => (format!("a duration cannot be negative, found {shown}"), None),
            Err(DurationError::TooLong) => (format!("the duration {shown} is too long: at most 100 years"), None),
            Err(DurationError::Months) => (
                format!("ambiguous unit `M` in {shown}: it means months, not minutes"),
                Some("write `m` or `min` for minutes, `months` for months".to_string()),
            ),
            Err(DurationError::UnknownUnit(unit)) => {
                let help = match properties::suggest(&unit, DURATION_UNITS.iter().copied()) {
                    Some(known) => format!("did you mean `{known}`?"),
                    None => DURATION_UNITS_HELP.to_string(),
                };
                (format!("invalid duration {shown}: unknown unit `{unit}`"), Some(help))
            }
            Err(DurationError::Invalid) => (
                format!(
                    "invalid duration {shown}: expected a duration such as `30m`, `1h 30m` or `90s`, or a number of seconds"
                ),
                Some(DURATION_UNITS_HELP.to_string()),
            ),
        };
        self.error(message, node.span, Some(at)).help = help;
        None
    }

    /// `retries`: a whole number from 0 to [`MAX_RETRIES`].
    pub(super) fn retries(&mut self, node: &Node, at: At<'_>) -> Option<u32> {
        let (text, interpolated) = match &node.value {
            Value::Scalar { text, ty: ScalarType::Int } => (text.clone(), false),
            Value::Scalar { text, ty: ScalarType::Str } if text.contains('$') => {
                (self.expand(text, node.span, at, false)?, true)
            }
            _ => {
                let found = match &node.value {
                    Value::Scalar { text, ty: ScalarType::Str } => format!("the string `{text}`"),
                    Value::Scalar { text, ty: ScalarType::Float } => format!("`{text}`"),
                    _ => node.kind_name().to_string(),
                };
                let d = self.error(format!("expected a whole number, found {found}"), node.span, Some(at));
                if let Value::Scalar { text, ty: ScalarType::Str } = &node.value {
                    if text.trim().parse::<i64>().is_ok() {
                        d.help = Some(format!("write the number without quotes: `retries: {}`", text.trim()));
                    }
                }
                return None;
            }
        };
        let trimmed = text.trim();
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let shown = if interpolated { format!("`{text}` (the variable's value)") } else { format!("`{text}`") };
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            if trimmed.strip_prefix('-').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())) {
                self.error(format!("`retries` cannot be negative, found {shown}"), node.span, Some(at)).help =
                    Some("write `retries: 0` (the default) for no retries".into());
            } else {
                let what = if interpolated { "but the variable's value is" } else { "found" };
                self.error(format!("expected a whole number, {what} `{text}`"), node.span, Some(at));
            }
            return None;
        }
        match digits.parse::<u32>() {
            Ok(retries) if retries <= MAX_RETRIES => Some(retries),
            // Too large for a `u32`, or above the limit.
            _ => {
                self.error(format!("`retries` is at most {MAX_RETRIES}, found {shown}"), node.span, Some(at)).help =
                    Some("`retries` counts the attempts after the first one, each after a longer `retry_delay`".into());
                None
            }
        }
    }

    /// A sidecar's `ready`: a command (a string or a list), or `{command, timeout, interval}`.
    pub(super) fn ready(&mut self, node: &Node, key_span: Span, container: &str) -> Option<ReadyCheck> {
        let at = At { container, property: "ready" };
        let entries = match &node.value {
            Value::Null => return None,
            Value::Scalar { .. } | Value::Seq(_) => {
                let command = self.ready_command(node, at)?;
                return Some(ReadyCheck {
                    command,
                    timeout: ReadyCheck::DEFAULT_TIMEOUT,
                    interval: ReadyCheck::DEFAULT_INTERVAL,
                });
            }
            Value::Map(entries) => entries,
        };
        const OPTIONS: [&str; 3] = ["command", "timeout", "interval"];
        let mut command: Option<Option<Vec<String>>> = None;
        let mut timeout: Option<(Duration, Span)> = None;
        let mut interval: Option<(Duration, Span)> = None;
        let mut valid = true;
        let mut misspelt_command = false;
        for (option_key, option_value) in entries {
            let option = option_key.as_scalar().map(|(k, _)| k).unwrap_or("");
            let path = format!("ready.{option}");
            let option_at = At { container, property: &path };
            match option {
                "command" => command = Some(self.ready_command(option_value, option_at)),
                "timeout" | "interval" => {
                    let Some((duration, written)) = self.duration(option_value, option_at) else {
                        valid = false;
                        continue;
                    };
                    if duration.is_zero() {
                        let help = if option == "timeout" {
                            "the sidecar needs time to start: the default is `60s`"
                        } else {
                            "the check would run again without a pause: the default is `1s`"
                        };
                        self.error(
                            format!("the ready check's {option} must be longer than zero, found `{written}`"),
                            option_value.span,
                            Some(option_at),
                        )
                        .help = Some(help.into());
                        valid = false;
                    } else if option == "timeout" {
                        timeout = Some((duration, option_value.span));
                    } else {
                        interval = Some((duration, option_value.span));
                    }
                }
                _ => {
                    let message = if option_key.as_scalar().is_some() {
                        format!("unknown `ready` option `{option}`: expected `command`, `timeout` and `interval`")
                    } else {
                        format!("a `ready` option must be a string, found {}", option_key.kind_name())
                    };
                    let suggestion = properties::suggest(option, OPTIONS);
                    misspelt_command |= suggestion == Some("command");
                    let help = suggestion.map(|s| format!("did you mean `{s}`?"));
                    self.error(message, option_key.span, Some(at)).help = help;
                    valid = false;
                }
            }
        }
        let command = match command {
            Some(command) => command?,
            // Reported as misspelt already.
            None if misspelt_command => return None,
            None => {
                self.error("the ready check has no `command`", key_span, Some(at)).help = Some(
                    "write the command to run inside the sidecar: `ready: {command: pg_isready, timeout: 30s}`".into(),
                );
                return None;
            }
        };
        let (timeout_value, timeout_span) = match timeout {
            Some((duration, span)) => (duration, Some(span)),
            None => (ReadyCheck::DEFAULT_TIMEOUT, None),
        };
        if let Some((interval_value, interval_span)) = interval {
            if interval_value > timeout_value {
                let default = if timeout_span.is_none() { ", the default" } else { "" };
                let d = self.error(
                    format!(
                        "the ready check's interval ({}) is longer than its timeout ({}{default})",
                        humantime::format_duration(interval_value),
                        humantime::format_duration(timeout_value)
                    ),
                    interval_span,
                    Some(At { container, property: "ready.interval" }),
                );
                if let Some(span) = timeout_span {
                    d.notes.push(crate::diagnostic::Note { message: "the timeout is set here".into(), span });
                }
                d.help = Some(
                    "the check runs every `interval` until `timeout` has passed: make `interval` shorter or `timeout` longer"
                        .into(),
                );
                valid = false;
            }
        }
        valid.then(|| ReadyCheck {
            command,
            timeout: timeout_value,
            interval: interval.map_or(ReadyCheck::DEFAULT_INTERVAL, |(d, _)| d),
        })
    }

    /// The command of a ready check, as `command` reads it; `None` (reported) when it is
    /// invalid or empty.
    pub(super) fn ready_command(&mut self, node: &Node, at: At<'_>) -> Option<Vec<String>> {
        if let Value::Map(_) = node.value {
            self.error("expected a list of strings or one string, found a mapping", node.span, Some(at)).help =
                Some("write the command as one string, e.g. `command: pg_isready -U postgres`".into());
            return None;
        }
        let errors_before = self.diagnostics.iter().filter(|d| d.is_error()).count();
        let command = self.command(node, at);
        if self.diagnostics.iter().filter(|d| d.is_error()).count() > errors_before {
            return None;
        }
        if command.is_empty() {
            self.error("the ready check's command is empty", node.span, Some(at)).help = Some(
                "write the command run inside the sidecar until it succeeds, e.g. `ready: pg_isready -U postgres`"
                    .into(),
            );
            return None;
        }
        Some(command)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn timeout_forms() {
        let timeout = |value: &str| ok(&container(&format!("    timeout: {value}\n"))).containers[0].timeout;
        assert_eq!(timeout("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(timeout("1h 30m"), Some(Duration::from_secs(5400)));
        assert_eq!(timeout("600"), Some(Duration::from_secs(600)));
        assert_eq!(timeout("\"600\""), Some(Duration::from_secs(600)));
        assert_eq!(timeout("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(timeout("${T:-2h}"), Some(Duration::from_secs(7200)));
        assert_eq!(ok(&container("")).containers[0].timeout, None);
        let value = serde_json::json!({"p": [{"name": "a", "image_repo": "busybox", "timeout": 90}]});
        let p = load(Input::Value(&value), &options()).expect("valid");
        assert_eq!(p.containers[0].timeout, Some(Duration::from_secs(90)));
    }

    #[test]
    fn timeout_errors() {
        let error = |value: &str| error_with_help(&container(&format!("    timeout: {value}\n")));
        let (message, help) = error("soon");
        assert_eq!(
            message,
            "invalid duration `soon`: expected a duration such as `30m`, `1h 30m` or `90s`, or a number of seconds"
        );
        assert!(help.is_some_and(|h| h.contains("`1h 30m`")));
        assert_eq!(
            error("30 minuts"),
            ("invalid duration `30 minuts`: unknown unit `minuts`".into(), Some("did you mean `minutes`?".into()))
        );
        assert_eq!(error("1H").1.as_deref(), Some("did you mean `h`?"));
        assert_eq!(error("30M").0, "ambiguous unit `M` in `30M`: it means months, not minutes");
        assert_eq!(error("0").0, "the timeout must be longer than zero, found `0`");
        assert_eq!(error("0s").1.as_deref(), Some("remove `timeout` for no time limit"));
        assert_eq!(error("-5").0, "a duration cannot be negative, found `-5`");
        assert_eq!(error("-5m").0, "a duration cannot be negative, found `-5m`");
        assert_eq!(error("[30m]").0, "expected a duration such as `30m` or a number of seconds, found a list");
        assert_eq!(error("true").0, "expected a duration such as `30m` or a number of seconds, found a boolean");
        assert_eq!(error("").0, "expected a duration such as `30m` or a number of seconds, found nothing (null)");
        assert_eq!(error("${T:-later}").0, "invalid duration `later` (the variable's value): expected a duration such as `30m`, `1h 30m` or `90s`, or a number of seconds");
        assert_eq!(error("1e400").0, "the duration `1e400` is too long: at most 100 years");
        assert_eq!(error("500000000000y").0, "the duration `500000000000y` is too long: at most 100 years");
        let draft = load_draft(Input::Text(&container("    timeout: soon\n")), &options());
        let d = draft.diagnostics.errors().next().expect("an error");
        assert_eq!((d.container.as_deref(), d.property.as_deref()), (Some("a"), Some("timeout")));
    }

    #[test]
    fn retries_and_retry_delay() {
        let p = ok(&container("    retries: 3\n    retry_delay: 1m\n"));
        assert_eq!((p.containers[0].retries, p.containers[0].retry_delay), (3, Duration::from_secs(60)));
        let p = ok(&container("    retries: ${RETRIES:-2}\n    retry_delay: 0\n"));
        assert_eq!((p.containers[0].retries, p.containers[0].retry_delay), (2, Duration::ZERO));
        let p = ok(&container("    retries: 100\n"));
        assert_eq!((p.containers[0].retries, p.containers[0].retry_delay), (100, crate::spec::DEFAULT_RETRY_DELAY));
        assert!(p.warnings.is_empty());
        assert_eq!(ok(&container("")).containers[0].retries, 0);
    }

    #[test]
    fn retries_errors() {
        let error = |value: &str| error_with_help(&container(&format!("    retries: {value}\n")));
        assert_eq!(
            error("-1"),
            (
                "`retries` cannot be negative, found `-1`".into(),
                Some("write `retries: 0` (the default) for no retries".into())
            )
        );
        let (message, help) = error("101");
        assert_eq!(message, "`retries` is at most 100, found `101`");
        assert!(help.is_some_and(|h| h.contains("after the first")));
        assert_eq!(error("99999999999999999999").0, "`retries` is at most 100, found `99999999999999999999`");
        assert_eq!(error("2.5").0, "expected a whole number, found `2.5`");
        assert_eq!(error("three").0, "expected a whole number, found the string `three`");
        assert_eq!(
            error("\"3\""),
            (
                "expected a whole number, found the string `3`".into(),
                Some("write the number without quotes: `retries: 3`".into())
            )
        );
        assert_eq!(error("[1]").0, "expected a whole number, found a list");
        assert_eq!(error("${R:-many}").0, "expected a whole number, but the variable's value is `many`");
        assert_eq!(error("${R:--2}").0, "`retries` cannot be negative, found `-2` (the variable's value)");
        assert_eq!(error("${R:-1000}").0, "`retries` is at most 100, found `1000` (the variable's value)");
        assert_eq!(
            error_with_help(&container("    retries: 1\n    retry_delay: later\n")).0,
            "invalid duration `later`: expected a duration such as `30m`, `1h 30m` or `90s`, or a number of seconds"
        );
        assert_eq!(
            error_with_help(&container("    retries: 1\n    retry_delay: -1\n")).0,
            "a duration cannot be negative, found `-1`"
        );
    }

    #[test]
    fn ready_forms() {
        let ready = |props: &str| ok(&sidecar(props)).containers[0].sidecars[0].ready.clone();
        let check = |command: &[&str], timeout: u64, interval: u64| {
            Some(Box::new(ReadyCheck {
                command: command.iter().map(|s| s.to_string()).collect(),
                timeout: Duration::from_secs(timeout),
                interval: Duration::from_secs(interval),
            }))
        };
        assert_eq!(
            ready("        ready: wget -q -O- 'http://localhost:8080/'\n"),
            check(&["wget", "-q", "-O-", "http://localhost:8080/"], 60, 1)
        );
        assert_eq!(ready("        ready: [redis-cli, ping]\n"), check(&["redis-cli", "ping"], 60, 1));
        assert_eq!(
            ready("        ready:\n          command: pg_isready -U postgres\n          timeout: 2m\n          interval: 5\n"),
            check(&["pg_isready", "-U", "postgres"], 120, 5)
        );
        assert_eq!(ready("        ready: {command: [redis-cli, ping]}\n"), check(&["redis-cli", "ping"], 60, 1));
        assert_eq!(ready("        ready: {command: x, interval: 1m}\n"), check(&["x"], 60, 60));
        assert_eq!(ready("        ready: {command: x, timeout: 10s}\n"), check(&["x"], 10, 1));
        assert_eq!(
            ready("        ready: {command: x, interval: 500ms}\n").map(|r| r.interval),
            Some(Duration::from_millis(500))
        );
        assert_eq!(ready("        ready: ${CHECK:-redis-cli ping}\n"), check(&["redis-cli", "ping"], 60, 1));
        assert_eq!(ready("        ready:\n"), None);
        assert_eq!(ready(""), None);
    }

    #[test]
    fn ready_errors() {
        let error = |props: &str| error_with_help(&sidecar(props));
        assert_eq!(
            error("        ready: {comand: x}\n"),
            (
                "unknown `ready` option `comand`: expected `command`, `timeout` and `interval`".into(),
                Some("did you mean `command`?".into())
            )
        );
        assert_eq!(
            error("        ready: {command: x, intervall: 2s}\n").1.as_deref(),
            Some("did you mean `interval`?")
        );
        let (message, help) = error("        ready: {timeout: 30s}\n");
        assert_eq!(message, "the ready check has no `command`");
        assert!(help.is_some_and(|h| h.contains("command")));
        assert_eq!(error("        ready: \"\"\n").0, "the ready check's command is empty");
        assert_eq!(error("        ready: []\n").0, "the ready check's command is empty");
        assert_eq!(error("        ready: {command: }\n").0, "the ready check's command is empty");
        assert_eq!(error("        ready: {command: \"  \"}\n").0, "the ready check's command is empty");
        assert_eq!(
            error("        ready: \"sh -c 'x\"\n").0,
            "the command has an unclosed quote or a trailing backslash"
        );
        assert_eq!(error("        ready: [x, [y]]\n").0, "expected a string in the command, found a list");
        assert_eq!(
            error("        ready: {command: {a: b}}\n").0,
            "expected a list of strings or one string, found a mapping"
        );
        let (message, help) = error("        ready: {command: x, timeout: 5s, interval: 10s}\n");
        assert_eq!(message, "the ready check's interval (10s) is longer than its timeout (5s)");
        assert!(help.is_some_and(|h| h.contains("make `interval` shorter")));
        assert_eq!(
            error("        ready: {command: x, interval: 2m}\n").0,
            "the ready check's interval (2m) is longer than its timeout (1m, the default)"
        );
        assert_eq!(
            error("        ready: {command: x, timeout: 0}\n").0,
            "the ready check's timeout must be longer than zero, found `0`"
        );
        assert_eq!(
            error("        ready: {command: x, interval: 0s}\n").0,
            "the ready check's interval must be longer than zero, found `0s`"
        );
        assert_eq!(
            error("        ready: {command: x, timeout: soon}\n").0,
            "invalid duration `soon`: expected a duration such as `30m`, `1h 30m` or `90s`, or a number of seconds"
        );

        let draft =
            load_draft(Input::Text(&sidecar("        ready: {command: x, timeout: 5s, interval: 10s}\n")), &options());
        let d = draft.diagnostics.errors().next().expect("an error");
        assert_eq!((d.container.as_deref(), d.property.as_deref()), (Some("a/s"), Some("ready.interval")));
        assert_eq!(d.notes.len(), 1, "a note at the timeout");
    }
}
