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
