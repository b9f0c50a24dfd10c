//! The grammar of values: names, tags, image references, paths, memory, durations. The loader
//! checks values with these, and the JSON Schema ([`crate::schema`]) builds its patterns from
//! the same constants, so that the two cannot read a value differently.

use std::sync::LazyLock;

use regex::Regex;

pub(crate) use copili_schedule::duration::{
    duration_pattern, parse_duration, parse_seconds, DurationError, DURATION_UNITS, MAX_DURATION,
};

/// The units of an amount of memory, lowercase, with their power of 2 (powers of 1024, as
/// docker's); any case is accepted.
pub(crate) const MEMORY_UNITS: &[(&str, u32)] = &[
    ("", 0),
    ("b", 0),
    ("k", 10),
    ("kb", 10),
    ("ki", 10),
    ("kib", 10),
    ("m", 20),
    ("mb", 20),
    ("mi", 20),
    ("mib", 20),
    ("g", 30),
    ("gb", 30),
    ("gi", 30),
    ("gib", 30),
    ("t", 40),
    ("tb", 40),
    ("ti", 40),
    ("tib", 40),
];

/// The most CPUs a container may be given.
pub(crate) const MAX_CPUS: f64 = 4096.0;

/// The least memory engines accept, 4 MiB.
pub(crate) const MIN_MEMORY: u64 = 4 * 1024 * 1024;

/// Bytes from `512m`, `1g`, `1.5G`, `256Mi`, `1024` (units are powers of 1024, as docker's).
pub(crate) fn parse_memory(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let (_, power) = MEMORY_UNITS.iter().find(|(name, _)| *name == unit)?;
    let bytes = number * (1u64 << power) as f64;
    (0.0..1e18).contains(&bytes).then_some(bytes as u64)
}

/// A container or named volume's name, unanchored (the schema builds its patterns from it).
pub(crate) const NAME_SYNTAX: &str = r"[a-zA-Z0-9][a-zA-Z0-9_.-]*";
/// The longest container name: a hostname's label.
pub(crate) const MAX_NAME_LEN: usize = 63;
/// An image tag, unanchored.
pub(crate) const TAG_SYNTAX: &str = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
/// A placement constraint, unanchored.
pub(crate) const PLACEMENT_SYNTAX: &str = r"\s*[A-Za-z0-9_.\-/]+\s*(==|!=)\s*\S+\s*";

/// An image repository, without tag and digest (docker's reference grammar), unanchored.
pub(crate) fn repository_syntax() -> String {
    let domain_component = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)";
    let domain = format!(r"(?:{domain_component}(?:\.{domain_component})*(?::[0-9]+)?)");
    let path_component = r"(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)";
    format!(r"(?:{domain}/)?{path_component}(?:/{path_component})*")
}

/// An image digest, `@algorithm:hex`, unanchored.
pub(crate) fn digest_syntax() -> &'static str {
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})"
}

pub(super) static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{NAME_SYNTAX}$")).expect("valid regex"));
pub(super) static REPOSITORY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{}{}?$", repository_syntax(), digest_syntax())).expect("valid regex"));
pub(super) static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{TAG_SYNTAX}$")).expect("valid regex"));

/// Characters no path of the pipeline file may hold (volumes, build context, Dockerfile): the
/// engine CLIs and their config files read a line break or a NUL differently, or not at all.
pub(crate) const PATH_FORBIDDEN: [char; 3] = ['\n', '\r', '\0'];

/// [`PATH_FORBIDDEN`] as the inside of a regex character class (`\u000A…`), for the schema.
pub(crate) fn path_forbidden_class() -> String {
    char_class(&PATH_FORBIDDEN)
}

/// Characters an environment variable's or build argument's name cannot hold.
pub(crate) const ENV_NAME_FORBIDDEN: [char; 2] = ['=', '\0'];

/// [`ENV_NAME_FORBIDDEN`] as the inside of a regex character class, for the schema.
pub(crate) fn env_name_forbidden_class() -> String {
    char_class(&ENV_NAME_FORBIDDEN)
}

/// The prefix of the labels copili sets itself.
pub(crate) const RESERVED_LABEL_PREFIX: &str = "io.copili.";

/// Characters as the inside of a regex character class: visible ASCII as itself, others as
/// `\uXXXX` (the same in Rust's regex crate and in ECMA 262, JSON Schema's dialect).
pub(super) fn char_class(chars: &[char]) -> String {
    let literal = |c: &char| c.is_ascii_graphic() && !r"\]^-[".contains(*c);
    chars.iter().map(|c| if literal(c) { c.to_string() } else { format!(r"\u{:04X}", u32::from(*c)) }).collect()
}

/// What forbidden character a path holds, in words.
pub(super) fn forbidden_in_path(path: &str) -> Option<&'static str> {
    path.chars()
        .find(|c| PATH_FORBIDDEN.contains(c))
        .map(|c| if c == '\0' { "a NUL character" } else { "a line break" })
}

/// The most `retries` a container may have.
pub(super) const MAX_RETRIES: u32 = 100;

pub(super) const DURATION_UNITS_HELP: &str =
    "units are `ms`, `s`, `m`, `h`, `d` and `w` (also `sec`, `min`, `hours`, `days`, …); combine them as in `1h 30m`";
