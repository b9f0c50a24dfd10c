//! The schema's patterns: the loader's syntax anchored, or any value holding a variable (which
//! the loader checks once expanded).

use super::*;

/// `^(syntax)$`, or a value with a variable (checked by the loader once expanded).
pub(super) fn anchored_or_variable(syntax: &str) -> String {
    format!(r"^(?:{syntax})$|\$")
}

/// A container or volume name as the loader reads it, or a value with a variable.
pub(super) fn name_pattern() -> String {
    anchored_or_variable(NAME_SYNTAX)
}

/// The host side of a mount as the loader reads it: a named volume, or a host path (it starts
/// with `.` or `~`, or holds a `/`); no `:`, line break or NUL.
pub(super) fn mount_host_syntax() -> String {
    let path_char = format!("[^:{}]", path_forbidden_class());
    format!(r"{NAME_SYNTAX}|[.~]{path_char}*|{path_char}*/{path_char}*")
}

/// The path inside the container: absolute, no `:`, line break or NUL.
pub(super) fn mount_target_syntax() -> String {
    format!("/[^:{}]*", path_forbidden_class())
}

/// A path the loader takes (build context, Dockerfile): not blank, no line break or NUL.
pub(super) fn path_pattern() -> String {
    let forbidden = path_forbidden_class();
    anchored_or_variable(&format!(r"[^{forbidden}]*[^\s{forbidden}][^{forbidden}]*"))
}

/// A duration as the loader reads it (`30m`, `1h 30m`, `600` as a string), or a value with a
/// variable. Numbers are seconds and need no pattern.
pub(super) fn duration_string_pattern() -> String {
    format!(r"{}|\$", duration_pattern())
}

/// A duration of zero (`0`, `0s`, `0h 0m`), which `timeout` and the ready check refuse.
pub(super) fn zero_duration_pattern() -> String {
    format!(r"^\s*(0+(\.0+)?\s*({})?\s*)+$", DURATION_UNITS.join("|"))
}

/// The shape of a duration; `positive` refuses zero, `default` is shown by editors.
pub(super) fn duration_shape(positive: bool, default: Option<&str>) -> Value {
    let mut shape = json!({
        "type": ["string", "number"],
        "pattern": duration_string_pattern(),
        "patternErrorMessage": "a duration such as `30m`, `1h 30m` or `90s`, or a number of seconds",
        "maximum": MAX_DURATION.as_secs()
    });
    if let Value::Object(map) = &mut shape {
        if positive {
            map.insert("exclusiveMinimum".into(), json!(0));
            map.insert("not".into(), json!({ "type": "string", "pattern": zero_duration_pattern() }));
        } else {
            map.insert("minimum".into(), json!(0));
        }
        if let Some(default) = default {
            map.insert("default".into(), json!(default));
        }
    }
    shape
}

/// A size in bytes, as the loader reads memory amounts.
pub(super) fn size_pattern() -> String {
    let any_case = |unit: &str| -> String {
        unit.chars().map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())).collect()
    };
    let units: Vec<String> = MEMORY_UNITS.iter().filter(|(u, _)| !u.is_empty()).map(|(u, _)| any_case(u)).collect();
    format!(r"^\s*(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?:{})?\s*$|\$", units.join("|"))
}

/// `text` as a regex matching it literally.
pub(super) fn regex_escape(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}
