//! From input (a file, stdin, a string or a `serde_json::Value`) to a [`Pipeline`]: parse,
//! expand variables, convert to types and validate, collecting every problem with its place
//! instead of stopping at the first.
//!
//! Checks that need the dependency graph (unknown dependencies, cycles) are the planner's; the
//! loader therefore also returns the best pipeline it could read when it found errors
//! ([`Draft`]), so that one `copili validate` can report everything at once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use regex::Regex;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile};
use crate::document::{self, Node, ScalarType, Span, Syntax, Value};
use crate::dotenv;
use crate::interpolate::{interpolate, InterpolationError, VarSource, Variables};
use crate::properties::{self, OnSidecar};
use crate::secret::{secrecy_of_key, Secrecy, Secret};
use crate::spec::{
    BuildContext, BuildSpec, ContainerSpans, ContainerSpec, Pipeline, PullPolicy, ReadyCheck, ResourceAmounts,
    Resources, VariableUse, Volume, VolumeSource,
};

/// Where a pipeline description comes from.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A YAML or JSON file (`.json` files get JSON's syntax messages).
    File(&'a Path),
    /// Text read from standard input, YAML or JSON.
    Stdin(&'a str),
    /// A YAML or JSON string given by a library user.
    Text(&'a str),
    /// A value given by a library user (the seed's "dict").
    Value(&'a serde_json::Value),
}

/// Which `.env` file to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EnvFile {
    /// `.env` beside the pipeline file (in the working directory for other input), if present.
    #[default]
    Default,
    /// This file, which must exist (`--env-file`).
    Path(PathBuf),
    /// None.
    Disabled,
}

/// How to load a pipeline.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The process environment (variables from it win over `.env`).
    pub process_env: HashMap<String, String>,
    /// Which `.env` file to read.
    pub env_file: EnvFile,
    /// Make an undefined variable without default an error instead of a warning.
    pub strict_env: bool,
    /// The working directory: base for relative paths of input that is not a file.
    pub working_dir: PathBuf,
}

impl LoadOptions {
    /// Options taking the environment and working directory of this process.
    pub fn from_process() -> LoadOptions {
        LoadOptions {
            process_env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            env_file: EnvFile::Default,
            strict_env: false,
            working_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }
}

/// What loading found: the pipeline as far as it could be read, and every diagnostic.
/// `pipeline` is `None` when the document itself is unusable (a syntax error, no pipeline).
#[derive(Debug)]
pub struct Draft {
    /// The pipeline as read; check `diagnostics.has_errors()` before using it.
    pub pipeline: Option<Pipeline>,
    /// Errors and warnings, in order.
    pub diagnostics: Diagnostics,
}

/// Loads a pipeline: `Ok` when there is no error (warnings are in `Pipeline::warnings`).
/// This does not check the dependency graph; `copili_planner` does.
pub fn load(input: Input<'_>, options: &LoadOptions) -> Result<Pipeline, Diagnostics> {
    let draft = load_draft(input, options);
    match draft.pipeline {
        Some(pipeline) if !draft.diagnostics.has_errors() => Ok(pipeline),
        _ => Err(draft.diagnostics),
    }
}

/// Loads a pipeline as far as possible, collecting every problem.
pub fn load_draft(input: Input<'_>, options: &LoadOptions) -> Draft {
    let mut diagnostics = Vec::new();
    let (name, text, syntax, base_dir) = match input {
        Input::File(path) => {
            let name = path.display().to_string();
            match std::fs::read(path).map(|bytes| decode_utf8(&name, bytes)) {
                Ok(Err(d)) => return Draft { pipeline: None, diagnostics: Diagnostics { items: vec![*d] } },
                Ok(Ok(text)) => {
                    let syntax = match path.extension().and_then(|e| e.to_str()) {
                        Some(ext) if ext.eq_ignore_ascii_case("json") => Syntax::Json,
                        _ => Syntax::Yaml,
                    };
                    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                    (name, Some(text), syntax, absolute(dir, &options.working_dir))
                }
                Err(error) => {
                    let d = Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&error)));
                    return Draft { pipeline: None, diagnostics: Diagnostics { items: vec![d] } };
                }
            }
        }
        Input::Stdin(text) => {
            ("<stdin>".to_string(), Some(text.to_string()), Syntax::Detect, options.working_dir.clone())
        }
        Input::Text(text) => {
            ("<string>".to_string(), Some(text.to_string()), Syntax::Detect, options.working_dir.clone())
        }
        Input::Value(_) => ("<value>".to_string(), None, Syntax::Detect, options.working_dir.clone()),
    };

    // Variables: the process environment, then `.env`.
    // Paths are shown as the user wrote them, and opened relative to the working directory.
    let dotenv_path = match (&options.env_file, input) {
        (EnvFile::Default, Input::File(path)) => {
            let shown =
                path.parent().filter(|p| !p.as_os_str().is_empty()).map_or(PathBuf::from(".env"), |p| p.join(".env"));
            Some((base_dir.join(".env"), shown, false))
        }
        (EnvFile::Default, _) => Some((base_dir.join(".env"), PathBuf::from(".env"), false)),
        (EnvFile::Path(path), _) => Some((absolute(path, &options.working_dir), path.clone(), true)),
        (EnvFile::Disabled, _) => None,
    };
    let mut dotenv_values = HashMap::new();
    if let Some((path, shown, required)) = dotenv_path {
        read_dotenv(&path, &shown.display().to_string(), required, &mut dotenv_values, &mut diagnostics);
    }
    let dotenv_environment = dotenv_values.get("ENV").cloned();
    let variables = Variables::new(options.process_env.clone(), dotenv_values);

    let source = Arc::new(match text {
        Some(text) => SourceFile::new(name, text),
        None => SourceFile::without_text(name),
    });
    let mut loader = Loader {
        source: Arc::clone(&source),
        variables,
        strict_env: options.strict_env,
        home: options.process_env.get("HOME").cloned(),
        base_dir: base_dir.clone(),
        diagnostics: Vec::new(),
        uses: BTreeMap::new(),
    };

    // The document. Containers are converted as the parser completes them, so that the tree
    // of a large pipeline never exists as a whole.
    let mut containers = Vec::new();
    // Lines each container spans, to name the container in the parser's messages.
    let mut item_lines: Vec<(u32, u32, String)> = Vec::new();
    let (root, streamed) = match (input, source.text()) {
        (Input::Value(value), _) => (Some(Node::from_json(value)), 0),
        (_, Some(text)) => {
            let parsed = document::parse_streaming(text, syntax, &mut |index, item| {
                let label = match &item.value {
                    Value::Map(entries) => entries
                        .iter()
                        .find(|(k, _)| k.as_scalar().is_some_and(|(k, _)| k == "name"))
                        .and_then(|(_, v)| v.as_scalar())
                        .map(|(name, _)| name.to_string()),
                    _ => None,
                };
                item_lines.push((item.span.line, item.end_line, label.unwrap_or_else(|| format!("#{}", index + 1))));
                if let Some(spec) = loader.container(&item, index, None) {
                    containers.push(spec);
                }
            });
            // Every value in a secret position, as the parser found them: duplicates and
            // misspelt properties included, which the tree does not hold or know.
            for secret in &parsed.secrets {
                source.mask(secret.span, secret.end_line);
            }
            let syntax_failed = parsed.root.is_none() && !parsed.problems.is_empty();
            for problem in parsed.problems {
                let mut d = Diagnostic::error(problem.message).at(&source, problem.span);
                if let Some(first) = problem.first {
                    d = d.note("first defined here", first).help("a key may appear once in a mapping; keep one");
                }
                if let Some(help) = problem.help {
                    d = d.help(help);
                }
                let line = problem.span.line;
                let in_item = item_lines.iter().find(|(start, end, _)| *start <= line && line <= *end);
                if let (Some(_), Some((_, _, label))) = (problem.first, in_item) {
                    d = d.container(label.clone());
                }
                diagnostics.push(d);
            }
            if syntax_failed {
                // Without a tree, secrets are found by the layout of the text.
                mask_by_layout(&source);
                // What was converted before a syntax error is not reported: the error is.
                return Draft { pipeline: None, diagnostics: Diagnostics { items: diagnostics } };
            }
            (parsed.root, parsed.streamed)
        }
        (_, None) => (None, 0),
    };

    let pipeline = match root {
        Some(root) => loader.pipeline(root, containers, streamed),
        None => {
            loader.error(
                "empty pipeline file: expected a mapping with one key, the pipeline's name, holding a list of containers",
                Span::UNKNOWN,
                None,
            );
            None
        }
    };
    diagnostics.append(&mut loader.diagnostics);
    let pipeline = pipeline.map(|(name, name_span, containers)| Pipeline {
        name,
        containers,
        source,
        base_dir,
        variables: loader.uses.into_iter().map(|(name, source)| VariableUse { name, source }).collect(),
        warnings: diagnostics.iter().filter(|d| !d.is_error()).cloned().collect(),
        dotenv_environment,
        name_span,
    });
    Draft { pipeline, diagnostics: Diagnostics { items: diagnostics } }
}

/// A pipeline's bytes as text, or an error at the first byte that is not UTF-8, shown in its
/// line (bad bytes as `�`).
pub fn decode_utf8(name: &str, bytes: Vec<u8>) -> Result<String, Box<Diagnostic>> {
    let error = match String::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(error) => error,
    };
    let bytes = error.as_bytes();
    let at = error.utf8_error().valid_up_to();
    let before = String::from_utf8_lossy(&bytes[..at]);
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    let byte = bytes.get(at).copied().unwrap_or_default();
    let source = Arc::new(SourceFile::new(name, String::from_utf8_lossy(bytes)));
    // Not parsed: secrets are found by the layout of the text, as after a syntax error.
    mask_by_layout(&source);
    let d = Diagnostic::error(format!("not UTF-8 text: byte 0x{byte:02x} at line {line}, column {column}"))
        .at(&source, Span { line, column, len: 1 })
        .help("save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 FILE`)");
    Err(Box::new(d))
}

fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string(),
    }
}

fn read_dotenv(
    path: &Path,
    shown: &str,
    required: bool,
    values: &mut HashMap<String, String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            if required || error.kind() != std::io::ErrorKind::NotFound {
                diagnostics
                    .push(Diagnostic::error(format!("cannot read the env file `{shown}`: {}", io_reason(&error))));
            }
            return;
        }
    };
    let (entries, errors) = dotenv::parse(&text);
    // No snippets: a broken line of a `.env` file may well hold a secret.
    let source = Arc::new(SourceFile::without_text(shown));
    for error in errors {
        diagnostics.push(
            Diagnostic::error(format!("invalid env file line: {}", error.message))
                .at(&source, Span { line: error.line, column: error.column, len: 1 }),
        );
    }
    for entry in entries {
        values.insert(entry.key, entry.value);
    }
}

/// Makes `path` absolute against `base` and removes `.` and `..` lexically (no file system
/// access: the path need not exist yet).
fn absolute(path: &Path, base: &Path) -> PathBuf {
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

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

/// Whether written text refers to a variable (`$$` is a literal `$`).
fn uses_variable(text: &str) -> bool {
    text.replace("$$", "").contains('$')
}

/// The names (as written) of the `env_vars` entries whose value refers to a variable: they
/// become references to a Kubernetes Secret when exported.
fn env_names_using_variables(node: &Node) -> Vec<String> {
    let mut names = Vec::new();
    match &node.value {
        Value::Map(entries) => {
            for (key, value) in entries {
                if let (Some((name, _)), Some((text, _))) = (key.as_scalar(), value.as_scalar()) {
                    if uses_variable(text) {
                        names.push(name.to_string());
                    }
                }
            }
        }
        Value::Seq(items) => {
            for item in items {
                if let Some((name, value)) = item.as_scalar().and_then(|(text, _)| text.split_once('=')) {
                    if uses_variable(value) {
                        names.push(name.to_string());
                    }
                }
            }
        }
        _ => {}
    }
    names
}

/// `localhost/copili-<pipeline>-<name>` for a built image without `image_repo`: lowercase,
/// other characters than letters and digits as `-`.
fn default_build_repo(spec: &mut ContainerSpec, pipeline: &str) {
    if spec.build.is_none() || !spec.image_repo.is_empty() {
        return;
    }
    let mut path = String::from("copili");
    for part in [pipeline, spec.name.as_str()] {
        let cleaned: String =
            part.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        for piece in cleaned.split('-').filter(|p| !p.is_empty()) {
            path.push('-');
            path.push_str(piece);
        }
    }
    spec.image_repo = format!("localhost/{path}");
}

/// After a syntax error the parser's secrets end where it stopped: mask by the text's layout
/// too, generously. On a line with a key whose value is or may be a secret ([`secrecy_of_key`]:
/// `image_reg_password`, `env_vars`, `args`, their near misses), everything after that key; below
/// it, every line indented deeper than it (block YAML and pretty JSON alike).
fn mask_by_layout(source: &SourceFile) {
    static KEY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?:^|[\s{,\[])["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?\s*:(?:\s|$)"#).expect("valid regex")
    });
    let Some(text) = source.text() else { return };
    let indent = |l: &str| l.chars().take_while(|c| c.is_whitespace()).count();
    let mut block: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index as u32 + 1;
        let whole = |from: usize| Span { line: number, column: from as u32 + 1, len: line.chars().count() as u32 };
        if let Some(block_indent) = block {
            if line.trim().is_empty() || indent(line) > block_indent {
                source.mask(whole(indent(line)), number);
                continue;
            }
            block = None;
        }
        let secret_key = KEY.captures_iter(line).find_map(|captures| {
            let (key, whole_match) = (captures.get(1)?, captures.get(0)?);
            (secrecy_of_key(key.as_str()) != Secrecy::Open).then_some(whole_match.end())
        });
        if let Some(after_colon) = secret_key {
            let from = after_colon + (line[after_colon..].len() - line[after_colon..].trim_start().len());
            source.mask(whole(line[..from].chars().count()), number);
            block = Some(indent(line));
        }
    }
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

static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{NAME_SYNTAX}$")).expect("valid regex"));
static REPOSITORY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{}{}?$", repository_syntax(), digest_syntax())).expect("valid regex"));
static PLACEMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{PLACEMENT_SYNTAX}$")).expect("valid regex"));
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{TAG_SYNTAX}$")).expect("valid regex"));

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
fn char_class(chars: &[char]) -> String {
    let literal = |c: &char| c.is_ascii_graphic() && !r"\]^-[".contains(*c);
    chars.iter().map(|c| if literal(c) { c.to_string() } else { format!(r"\u{:04X}", u32::from(*c)) }).collect()
}

/// What forbidden character a path holds, in words.
fn forbidden_in_path(path: &str) -> Option<&'static str> {
    path.chars()
        .find(|c| PATH_FORBIDDEN.contains(c))
        .map(|c| if c == '\0' { "a NUL character" } else { "a line break" })
}

/// The most `retries` a container may have.
const MAX_RETRIES: u32 = 100;

/// The units of a duration, as humantime reads them, without its `M` (months), too easily
/// taken for minutes.
pub(crate) const DURATION_UNITS: &[&str] = &[
    "nanos", "nsec", "ns", "usec", "us", "µs", "millis", "msec", "ms", "seconds", "second", "secs", "sec", "s",
    "minutes", "minute", "mins", "min", "m", "hours", "hour", "hrs", "hr", "h", "days", "day", "d", "weeks", "week",
    "wks", "wk", "w", "months", "month", "years", "year", "yrs", "yr", "y",
];

const DURATION_UNITS_HELP: &str =
    "units are `ms`, `s`, `m`, `h`, `d` and `w` (also `sec`, `min`, `hours`, `days`, …); combine them as in `1h 30m`";

/// A duration: a number of seconds, or humantime's `1h 30m` with the units of
/// [`DURATION_UNITS`] (the schema's pattern is built from it too).
pub(crate) fn duration_pattern() -> String {
    let units = DURATION_UNITS.join("|");
    format!(r"^\s*[0-9]+(\.[0-9]+)?\s*$|^\s*([0-9]+(\.[0-9]+)?\s*({units})\s*)+$")
}

static DURATION: LazyLock<Regex> = LazyLock::new(|| Regex::new(&duration_pattern()).expect("valid regex"));

/// The longest duration: far beyond any sensible wait, and far from where adding it to the
/// clock would overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DurationError {
    /// It starts with `-`.
    Negative,
    /// Longer than [`MAX_DURATION`].
    TooLong,
    /// humantime's `M`, months.
    Months,
    /// A unit humantime does not know.
    UnknownUnit(String),
    /// Anything else.
    Invalid,
}

/// A duration written as text: a number of seconds (`600`, `1.5`) or humantime's form
/// (`1h 30m`, `90s`, `30 minutes`).
fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    parse_duration_unlimited(text).and_then(at_most_max)
}

fn parse_duration_unlimited(text: &str) -> Result<Duration, DurationError> {
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
fn parse_seconds(text: &str) -> Result<Duration, DurationError> {
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

fn at_most_max(duration: Duration) -> Result<Duration, DurationError> {
    if duration > MAX_DURATION {
        Err(DurationError::TooLong)
    } else {
        Ok(duration)
    }
}

/// The help for `ready` on a container of the pipeline: which sidecar to put it on.
fn ready_help(sidecars: Option<&Node>) -> String {
    let names: Vec<&str> = match sidecars.map(|s| &s.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|item| match &item.value {
                Value::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.as_scalar().is_some_and(|(k, _)| k == "name"))
                    .and_then(|(_, v)| v.as_scalar())
                    .map(|(name, _)| name),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let target = match names.as_slice() {
        [] => "put it on a sidecar, under `sidecars`".to_string(),
        [one] => format!("put it on the sidecar `{one}`"),
        _ => "put it on the sidecar it checks".to_string(),
    };
    format!("`ready` checks a sidecar before its container starts; {target}")
}

/// Converts the document tree, collecting diagnostics.
struct Loader {
    source: Arc<SourceFile>,
    variables: Variables,
    strict_env: bool,
    home: Option<String>,
    base_dir: PathBuf,
    diagnostics: Vec<Diagnostic>,
    uses: BTreeMap<String, VarSource>,
}

/// What a diagnostic is about inside a container.
#[derive(Clone, Copy)]
struct At<'a> {
    container: &'a str,
    property: &'a str,
}

impl Loader {
    fn error(&mut self, message: impl Into<String>, span: Span, at: Option<At<'_>>) -> &mut Diagnostic {
        self.push(Diagnostic::error(message), span, at)
    }

    fn warning(&mut self, message: impl Into<String>, span: Span, at: Option<At<'_>>) -> &mut Diagnostic {
        self.push(Diagnostic::warning(message), span, at)
    }

    fn push(&mut self, mut d: Diagnostic, span: Span, at: Option<At<'_>>) -> &mut Diagnostic {
        d = d.at(&self.source, span);
        if let Some(at) = at {
            if !at.container.is_empty() {
                d = d.container(at.container);
            }
            if !at.property.is_empty() {
                d = d.property(at.property);
            }
        }
        self.diagnostics.push(d);
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// Converts the whole document; takes the tree by value so that each container's nodes
    /// are freed as soon as it is converted (peak memory for large pipelines).
    fn pipeline(
        &mut self,
        root: Node,
        mut containers: Vec<ContainerSpec>,
        streamed: usize,
    ) -> Option<(String, Span, Vec<ContainerSpec>)> {
        let Value::Map(top) = &root.value else {
            let help = matches!(root.value, Value::Seq(_))
                .then_some("put the list under the pipeline's name, e.g. `my-pipeline:` on the first line");
            let d = self.error(
                format!(
                    "expected a mapping with one key, the pipeline's name, holding a list of containers; found {}",
                    root.kind_name()
                ),
                root.span,
                None,
            );
            if let Some(help) = help {
                d.help = Some(help.into());
            }
            return None;
        };
        let Some((key, value)) = top.first() else {
            self.error("empty pipeline file: expected a mapping with one key, the pipeline's name", root.span, None);
            return None;
        };
        for (other, _) in top.iter().skip(1) {
            let first = key.as_scalar().map(|(k, _)| k.to_string()).unwrap_or_default();
            let shown = other.as_scalar().map(|(k, _)| k.to_string()).unwrap_or_default();
            self.error(
                format!("more than one top-level key (`{shown}`): a pipeline file holds one pipeline"),
                other.span,
                None,
            )
            .notes
            .push(crate::diagnostic::Note {
                message: format!("the pipeline `{first}` is defined here"),
                span: key.span,
            });
        }
        let at = At { container: "", property: "" };
        let name = match self.text(key, at, false) {
            Some(name) if !name.trim().is_empty() => name,
            Some(_) => {
                self.error("the pipeline's name (the top-level key) is empty", key.span, None);
                String::new()
            }
            None => String::new(),
        };
        let (key_span, value_kind, value_span) = (key.span, value.kind_name(), value.span);
        let Value::Map(top) = root.value else { return None };
        let (_, value) = top.into_iter().next()?;
        let items: Vec<Node> = match value.value {
            Value::Seq(items) => items,
            Value::Null => Vec::new(),
            _ => {
                self.error(
                    format!("expected the list of containers of pipeline `{name}`, found {value_kind}"),
                    value_span,
                    None,
                );
                return None;
            }
        };
        if items.is_empty() && streamed == 0 {
            self.error(format!("empty pipeline `{name}`: it names no containers"), key_span, None);
        }
        containers.reserve(items.len());
        for (index, item) in items.into_iter().enumerate() {
            if let Some(spec) = self.container(&item, streamed + index, None) {
                containers.push(spec);
            }
        }
        self.check_unique_names(&containers);
        // A built image without `image_repo` is named after the pipeline and the container.
        for container in &mut containers {
            default_build_repo(container, &name);
            for sidecar in &mut container.sidecars {
                default_build_repo(sidecar, &name);
            }
        }
        Some((name, key_span, containers))
    }

    fn check_unique_names(&mut self, containers: &[ContainerSpec]) {
        let mut seen: HashMap<&str, (Span, Option<&str>)> = HashMap::with_capacity(containers.len());
        for container in containers {
            let all = std::iter::once((container, None))
                .chain(container.sidecars.iter().map(|s| (s, Some(container.name.as_str()))));
            for (spec, parent) in all {
                if spec.name.is_empty() {
                    continue;
                }
                match seen.get(spec.name.as_str()) {
                    Some(&(first, first_parent)) => {
                        let what = |p: Option<&str>| match p {
                            Some(main) => format!("a sidecar of `{main}`"),
                            None => "a container".to_string(),
                        };
                        let label = parent.map_or(spec.name.clone(), |p| format!("{p}/{}", spec.name));
                        let message = format!("duplicate name `{}`: it is already {}", spec.name, what(first_parent));
                        self.error(message, spec.spans.name, Some(At { container: &label, property: "name" }))
                            .notes
                            .push(crate::diagnostic::Note { message: "first defined here".into(), span: first });
                        if let Some(d) = self.diagnostics.last_mut() {
                            d.help = Some("names must be unique in a pipeline, sidecars included".into());
                        }
                    }
                    None => {
                        seen.insert(&spec.name, (spec.spans.name, parent));
                    }
                }
            }
        }
        // Engine-side names are `<pipeline>-<name>` and, for sidecars, `<pipeline>-<main>-<sidecar>`:
        // a sidecar `db` of `load` and a container `load-db` would be the same container.
        for container in containers {
            for sidecar in &container.sidecars {
                let joined = format!("{}-{}", container.name, sidecar.name);
                if let Some(&(span, _)) = seen.get(joined.as_str()) {
                    let label = format!("{}/{}", container.name, sidecar.name);
                    let message = format!(
                        "the sidecar `{}` of `{}` and the container `{joined}` would have the same name on the engine",
                        sidecar.name, container.name
                    );
                    self.error(message, sidecar.spans.name, Some(At { container: &label, property: "name" }))
                        .notes
                        .push(crate::diagnostic::Note { message: format!("`{joined}` is defined here"), span });
                    if let Some(d) = self.diagnostics.last_mut() {
                        d.help = Some("rename the sidecar or the container".into());
                    }
                }
            }
        }
    }

    /// A scalar as text, variables expanded (strings only: numbers and booleans as written).
    fn text(&mut self, node: &Node, at: At<'_>, secret: bool) -> Option<String> {
        match &node.value {
            Value::Scalar { text, ty: ScalarType::Str } => self.expand(text, node.span, at, secret),
            Value::Scalar { text, .. } => Some(text.clone()),
            _ => {
                self.error(format!("expected a string, found {}", node.kind_name()), node.span, Some(at));
                None
            }
        }
    }

    fn expand(&mut self, text: &str, span: Span, at: At<'_>, secret: bool) -> Option<String> {
        if !crate::interpolate::has_references(text) {
            return Some(text.to_string());
        }
        match interpolate(text, &self.variables) {
            Ok(expansion) => {
                for var_use in &expansion.uses {
                    let entry = self.uses.entry(var_use.name.clone()).or_insert(var_use.source);
                    *entry = (*entry).max(var_use.source);
                }
                let undefined: Vec<String> = expansion.undefined().map(str::to_string).collect();
                for name in &undefined {
                    let strict = self.strict_env;
                    let message = if strict {
                        format!("variable `{name}` is not set and has no default")
                    } else {
                        format!("variable `{name}` is not set and has no default: using an empty string")
                    };
                    let d = if strict {
                        self.error(message, span, Some(at))
                    } else {
                        self.warning(message, span, Some(at))
                    };
                    d.help = Some(format!(
                        "set `{name}` in the environment or the `.env` file, or give a default: `${{{name}:-default}}`"
                    ));
                }
                if self.strict_env && !undefined.is_empty() {
                    // Reported; checking the value further would only repeat it.
                    return None;
                }
                Some(expansion.value)
            }
            Err(error @ InterpolationError::Required { .. }) => {
                if let InterpolationError::Required { name, empty: false, .. } = &error {
                    self.uses.insert(name.clone(), VarSource::Undefined);
                }
                self.error(error.to_string(), span, Some(at));
                None
            }
            Err(InterpolationError::Syntax { position, message }) => {
                // The reference itself is quoted, unless the value is a secret.
                let quoted = if secret {
                    String::new()
                } else {
                    let reference: String =
                        text.chars().skip(position - 1).take_while(|c| !c.is_whitespace()).take(40).collect();
                    format!(" `{reference}`")
                };
                self.error(
                    format!("invalid variable reference{quoted} at character {position} of the value: {message}"),
                    span,
                    Some(at),
                );
                None
            }
        }
    }

    fn bool_value(&mut self, node: &Node, at: At<'_>) -> Option<bool> {
        let (text, interpolated) = match &node.value {
            Value::Scalar { text, ty: ScalarType::Bool } => (text.clone(), false),
            Value::Scalar { text, ty: ScalarType::Str } if text.contains('$') => {
                (self.expand(text, node.span, at, false)?, true)
            }
            _ => {
                let found = match &node.value {
                    Value::Scalar { text, ty: ScalarType::Str } => format!("the string `{text}`"),
                    _ => node.kind_name().to_string(),
                };
                let d = self.error(format!("expected `true` or `false`, found {found}"), node.span, Some(at));
                if let Value::Scalar { text, .. } = &node.value {
                    if ["yes", "no", "on", "off", "y", "n"].contains(&text.to_ascii_lowercase().as_str()) {
                        d.help = Some(
                            "YAML 1.2 reads `yes`, `no`, `on` and `off` as strings: write `true` or `false`".into(),
                        );
                    }
                }
                return None;
            }
        };
        match text.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                let what = if interpolated { "the variable's value" } else { "the value" };
                self.error(format!("expected `true` or `false`, but {what} is `{text}`"), node.span, Some(at));
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, at: At<'_>) -> Vec<(String, Span)> {
        match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| match &item.value {
                    Value::Scalar { .. } => self.text(item, at, false).map(|t| (t, item.span)),
                    _ => {
                        self.error(
                            format!("expected a string in this list, found {}", item.kind_name()),
                            item.span,
                            Some(at),
                        );
                        None
                    }
                })
                .collect(),
            Value::Scalar { text, .. } => {
                let text = text.clone();
                self.error(format!("expected a list, found {}", node.kind_name()), node.span, Some(at)).help =
                    Some(format!("write a list: `[{text}]`"));
                Vec::new()
            }
            Value::Map(_) => {
                self.error(format!("expected a list, found {}", node.kind_name()), node.span, Some(at));
                Vec::new()
            }
        }
    }

    /// A mapping of strings (`env_vars`, `labels`, `build.args`), in either form: keys and
    /// values expanded, numbers and booleans as written, each name once.
    fn string_map(
        &mut self,
        node: &Node,
        property: &str,
        container: &str,
        secret: bool,
    ) -> Vec<(String, String, Span)> {
        let entries = self.string_map_entries(node, property, container, secret);
        self.once_per_name(entries, property, container)
    }

    /// Refuses a name set twice, pointing at the second with a note at the first, as the
    /// parser does for duplicate keys (which catches a mapping's keys as written; this catches
    /// the list form's names and keys that expand alike). Never quotes a value: it may be a
    /// secret. Empty names are left to the caller, which refuses them.
    fn once_per_name(
        &mut self,
        entries: Vec<(String, String, Span)>,
        property: &str,
        container: &str,
    ) -> Vec<(String, String, Span)> {
        let mut first: HashMap<String, Span> = HashMap::with_capacity(entries.len());
        let mut out = Vec::with_capacity(entries.len());
        for (name, value, span) in entries {
            if name.is_empty() {
                out.push((name, value, span));
                continue;
            }
            if let Some(&first_span) = first.get(&name) {
                let at = At { container, property };
                let d = self.error(format!("duplicate name `{}`", name.escape_debug()), span, Some(at));
                d.notes.push(crate::diagnostic::Note { message: "first set here".into(), span: first_span });
                d.help = Some(format!("a name may appear once in `{property}`; keep one"));
                continue;
            }
            first.insert(name.clone(), span);
            out.push((name, value, span));
        }
        out
    }

    /// [`Loader::string_map`]'s entries, before duplicate names are refused.
    fn string_map_entries(
        &mut self,
        node: &Node,
        property: &str,
        container: &str,
        secret: bool,
    ) -> Vec<(String, String, Span)> {
        let at = At { container, property };
        let entries = match &node.value {
            Value::Null => return Vec::new(),
            Value::Map(entries) => entries,
            // compose's list form: `- NAME=VALUE`.
            Value::Seq(items) => return self.string_list_map(items, property, container, secret),
            _ => {
                self.error(
                    format!("expected a mapping of names to values, found {}", node.kind_name()),
                    node.span,
                    Some(at),
                )
                .help = Some("write one `NAME: value` per line, or a list of `NAME=value`".into());
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(key_text) = (match &key.value {
                Value::Scalar { .. } => self.text(key, at, false),
                _ => {
                    self.error(format!("expected a name, found {}", key.kind_name()), key.span, Some(at));
                    None
                }
            }) else {
                continue;
            };
            // Messages name the key as written: expanded, it could carry a variable's value.
            let written = key.as_scalar().map_or("", |(k, _)| k);
            let path = format!("{property}.{written}");
            let value_at = At { container, property: &path };
            let value_text = match &value.value {
                Value::Scalar { .. } => self.text(value, value_at, secret),
                Value::Null => {
                    // A missing value has no place of its own: point at its name.
                    let d = self.error("expected a value, found nothing (null)", key.span, Some(value_at));
                    if property == "env_vars" {
                        d.help = Some(format!(
                            "to pass a variable of copili's environment, write `{written}: ${{{written}}}`"
                        ));
                    } else {
                        d.help = Some("write `\"\"` for an empty value".into());
                    }
                    None
                }
                _ => {
                    let found = value.kind_name();
                    self.error(
                        format!("expected a string, number or boolean, found {found}"),
                        value.span,
                        Some(value_at),
                    );
                    None
                }
            };
            if let Some(v) = value_text {
                out.push((key_text, v, key.span));
            }
        }
        out
    }

    /// The list form of `env_vars` and `labels`: `- NAME=VALUE` items.
    fn string_list_map(
        &mut self,
        items: &[Node],
        property: &str,
        container: &str,
        secret: bool,
    ) -> Vec<(String, String, Span)> {
        let at = At { container, property };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Some(text) = (match &item.value {
                Value::Scalar { .. } => self.text(item, at, secret),
                _ => {
                    self.error(format!("expected `NAME=value`, found {}", item.kind_name()), item.span, Some(at));
                    None
                }
            }) else {
                continue;
            };
            match text.split_once('=') {
                Some((name, value)) => out.push((name.to_string(), value.to_string(), item.span)),
                None => {
                    let d = self.error("expected `NAME=value`: this item has no `=`", item.span, Some(at));
                    d.help = Some(if property == "env_vars" {
                        "to pass a variable of copili's environment, write `NAME=${NAME}`".into()
                    } else {
                        "write `NAME=` for an empty value".into()
                    });
                }
            }
        }
        out
    }

    fn container(&mut self, node: &Node, index: usize, parent: Option<&str>) -> Option<ContainerSpec> {
        let ordinal = format!("#{}", index + 1);
        let provisional = match parent {
            Some(p) => format!("{p}/{ordinal}"),
            None => ordinal.clone(),
        };
        let Value::Map(entries) = &node.value else {
            let what = if parent.is_some() { "a sidecar" } else { "a container" };
            self.error(
                format!(
                    "expected {what} description (a mapping with at least `name` and `image_repo`), found {}",
                    node.kind_name()
                ),
                node.span,
                Some(At { container: if parent.is_some() { &provisional } else { "" }, property: "" }),
            );
            return None;
        };

        // Resolve keys to properties first, so that the name is known for every message.
        let mut fields: Vec<(&'static properties::Property, &Node, &Node)> = Vec::with_capacity(entries.len());
        let mut unknown: Vec<(&Node, String)> = Vec::new();
        let mut twice: Vec<(&Node, &Node, &'static str)> = Vec::new();
        for (key, value) in entries {
            let Some((key_text, _)) = key.as_scalar() else {
                unknown.push((key, String::new()));
                continue;
            };
            match properties::lookup(key_text) {
                Some(property) => {
                    if let Some((_, first, _)) = fields.iter().find(|(p, _, _)| p.name == property.name) {
                        twice.push((key, first, property.name));
                        continue;
                    }
                    fields.push((property, key, value));
                }
                None => unknown.push((key, key_text.to_string())),
            }
        }
        let name_field = fields.iter().find(|(p, _, _)| p.name == "name").map(|(_, _, v)| *v);
        let mut name_valid = true;
        let (name, name_span) = match name_field {
            Some(value) => {
                let at = At { container: &provisional, property: "name" };
                let name = match self.text(value, at, false) {
                    Some(name) => {
                        name_valid = self.check_name(&name, value.span, &provisional);
                        name
                    }
                    None => {
                        name_valid = false;
                        String::new()
                    }
                };
                (name, value.span)
            }
            None => {
                self.error(
                    "missing required property `name`",
                    node.span,
                    Some(At { container: &provisional, property: "" }),
                );
                (String::new(), node.span)
            }
        };
        // An invalid name would only confuse the messages that follow: use the position.
        let label = match (parent, name.is_empty() || !name_valid) {
            (Some(p), false) => format!("{p}/{name}"),
            (None, false) => name.clone(),
            _ => provisional.clone(),
        };
        for (key, first, property) in twice {
            let key_text = key.as_scalar().map(|(k, _)| k).unwrap_or_default();
            let first_text = first.as_scalar().map(|(k, _)| k).unwrap_or_default();
            let (message, help) = if first_text == key_text {
                (format!("`{key_text}` is set twice"), "keep one of them".to_string())
            } else {
                (
                    format!("`{key_text}` and `{first_text}` both set `{property}`"),
                    format!("`{key_text}` is another spelling of `{first_text}`; keep one"),
                )
            };
            let d = self.error(message, key.span, Some(At { container: &label, property }));
            d.notes.push(crate::diagnostic::Note { message: "first set here".into(), span: first.span });
            d.help = Some(help);
        }
        let mut suggested: Vec<&'static str> = Vec::new();
        for (key, text) in unknown {
            let message = if text.is_empty() {
                format!("a property name must be a string, found {}", key.kind_name())
            } else {
                format!("unknown property `{text}`")
            };
            let suggestion = properties::suggest(&text, properties::all_spellings());
            if let Some(property) = suggestion.and_then(properties::lookup) {
                suggested.push(property.name);
            }
            let help = suggestion.map(|s| format!("did you mean `{s}`?"));
            let d = self.error(message, key.span, Some(At { container: &label, property: "" }));
            d.help =
                help.or_else(|| Some("see `copili schema` or the format reference for the known properties".into()));
        }

        let mut spec = ContainerSpec {
            name,
            image_repo: String::new(),
            tag: "latest".into(),
            info_link: None,
            desc: None,
            image_reg_username: None,
            image_reg_password: None,
            is_service_container: false,
            env_vars: Vec::new(),
            dependencies: Vec::new(),
            exclude_in_env: Vec::new(),
            volumes: Vec::new(),
            command: Vec::new(),
            sidecars: Vec::new(),
            labels: Vec::new(),
            force_rerun: false,
            timeout: None,
            retries: 0,
            retry_delay: crate::spec::DEFAULT_RETRY_DELAY,
            ready: None,
            pull: None,
            tls_verify: true,
            build: None,
            schedule: None,
            timezone: None,
            catch_up: false,
            run_once: false,
            env_from_variables: Vec::new(),
            placement: Vec::new(),
            resources: None,
            spans: ContainerSpans { item: node.span, name: name_span, dependencies: Vec::new() },
        };
        let mut explicit_tag: Option<Span> = None;
        let mut image_span = None;
        // `retries` as written, and the `retry_delay` key: a delay without retries does nothing.
        let mut retries_node: Option<&Node> = None;
        // Keys that only matter for a service container.
        let mut service_only_keys: Vec<(Span, &'static str)> = Vec::new();
        let mut retry_delay_key: Option<Span> = None;
        for &(property, key, value) in &fields {
            let at = At { container: &label, property: property.name };
            if parent.is_some() {
                match property.on_sidecar {
                    OnSidecar::Allowed => {}
                    OnSidecar::NoEffect => {
                        self.warning(format!("`{}` has no effect on a sidecar", property.name), key.span, Some(at))
                            .help = Some("a sidecar starts and stops with its container".into());
                        continue;
                    }
                    OnSidecar::Refused => {
                        let message = format!(
                            "a sidecar cannot have `{}`: it starts with its container and is removed when that ends",
                            property.name
                        );
                        self.error(message, key.span, Some(at)).help = Some(format!(
                            "set `{}` on the container `{}` instead",
                            property.name,
                            parent.unwrap_or("")
                        ));
                        continue;
                    }
                }
            }
            match property.name {
                "name" => {}
                "image_repo" => {
                    if let Some(repo) = self.text(value, at, false) {
                        spec.image_repo = repo;
                        image_span = Some(value.span);
                    }
                }
                "tag" => {
                    if let Some(tag) = self.text(value, at, false) {
                        if !TAG.is_match(&tag) {
                            let message = if tag.is_empty() {
                                "the tag is empty".to_string()
                            } else {
                                format!("invalid image tag `{tag}`: a tag holds up to 128 letters, digits, `_`, `.` and `-`, and does not start with `.` or `-`")
                            };
                            self.error(message, value.span, Some(at));
                        }
                        spec.tag = tag;
                        explicit_tag = Some(value.span);
                    }
                }
                "info_link" => spec.info_link = self.text(value, at, false),
                "desc" => spec.desc = self.text(value, at, false),
                "image_reg_username" => spec.image_reg_username = self.text(value, at, false),
                "image_reg_password" => spec.image_reg_password = self.text(value, at, true).map(Secret::new),
                "is_service_container" => spec.is_service_container = self.bool_value(value, at).unwrap_or(false),
                "force_rerun" => spec.force_rerun = self.bool_value(value, at).unwrap_or(false),
                "env_vars" => {
                    for (key_text, v, key_span) in self.string_map(value, "env_vars", &label, true) {
                        if key_text.is_empty() || key_text.contains(ENV_NAME_FORBIDDEN) {
                            self.error(
                                "invalid environment variable name: it must be non-empty and hold no `=`",
                                key_span,
                                Some(at),
                            );
                            continue;
                        }
                        spec.env_vars.push((key_text, Secret::new(v)));
                    }
                    spec.env_from_variables = env_names_using_variables(value);
                }
                "labels" => {
                    for (key_text, v, key_span) in self.string_map(value, "labels", &label, false) {
                        if key_text.is_empty() {
                            self.error("a label name must not be empty", key_span, Some(at));
                        } else if key_text.starts_with(RESERVED_LABEL_PREFIX) {
                            self.error(
                                format!("the label `{key_text}` is reserved: copili sets `io.copili.*` labels itself"),
                                key_span,
                                Some(at),
                            );
                        } else {
                            spec.labels.push((key_text, v));
                        }
                    }
                }
                "dependencies" => {
                    let mut seen: Vec<&str> = Vec::new();
                    let list = self.string_list(value, at);
                    for (dep, span) in &list {
                        if seen.contains(&dep.as_str()) {
                            self.warning(format!("dependency `{dep}` is listed twice"), *span, Some(at));
                            continue;
                        }
                        seen.push(dep);
                        spec.dependencies.push(dep.clone());
                        spec.spans.dependencies.push(*span);
                    }
                }
                "exlude_in_env" => {
                    spec.exclude_in_env = self.string_list(value, at).into_iter().map(|(t, _)| t).collect();
                }
                "volumes" => spec.volumes = self.volumes(value, &label),
                "command" => spec.command = self.command(value, at),
                "sidecars" => {
                    let items: &[Node] = match &value.value {
                        Value::Seq(items) => items,
                        Value::Null => &[],
                        _ => {
                            self.error(
                                format!("expected a list of sidecar descriptions, found {}", value.kind_name()),
                                value.span,
                                Some(at),
                            )
                            .help = Some("write each sidecar as a list item: `- name: redis01`".into());
                            &[]
                        }
                    };
                    let main = spec.name.clone();
                    let parent_label = if main.is_empty() { provisional.clone() } else { main };
                    for (i, item) in items.iter().enumerate() {
                        if let Some(sidecar) = self.container(item, i, Some(&parent_label)) {
                            spec.sidecars.push(sidecar);
                        }
                    }
                }
                "timeout" => {
                    if let Some((timeout, written)) = self.duration(value, at) {
                        if timeout.is_zero() {
                            self.error(
                                format!("the timeout must be longer than zero, found `{written}`"),
                                value.span,
                                Some(at),
                            )
                            .help = Some("remove `timeout` for no time limit".into());
                        } else {
                            spec.timeout = Some(timeout);
                        }
                    }
                }
                "retries" => {
                    retries_node = Some(value);
                    spec.retries = self.retries(value, at).unwrap_or(0);
                }
                "retry_delay" => {
                    retry_delay_key = Some(key.span);
                    if let Some((delay, _)) = self.duration(value, at) {
                        spec.retry_delay = delay;
                    }
                }
                "ready" => {
                    if parent.is_none() {
                        let sidecars = fields.iter().find(|(p, _, _)| p.name == "sidecars").map(|(_, _, v)| *v);
                        let help = ready_help(sidecars);
                        self.error("`ready` applies to sidecars only", key.span, Some(at)).help = Some(help);
                        continue;
                    }
                    spec.ready = self.ready(value, key.span, &label).map(Box::new);
                }
                "pull" => {
                    if let Some(text) = self.text(value, at, false) {
                        match PullPolicy::parse(&text) {
                            Some(policy) => spec.pull = Some(policy),
                            None => {
                                let known = PullPolicy::ALL.map(|(name, _)| name);
                                let help = match properties::suggest(&text, known) {
                                    Some(close) => format!("did you mean `{close}`?"),
                                    None => "`missing` pulls only an absent image, `always` before every run, `never` not at all".into(),
                                };
                                self.error(
                                    format!("invalid pull policy `{text}`: expected `always`, `missing` or `never`"),
                                    value.span,
                                    Some(at),
                                )
                                .help = Some(help);
                            }
                        }
                    }
                }
                "tls_verify" => spec.tls_verify = self.bool_value(value, at).unwrap_or(true),
                "run_once" => spec.run_once = self.bool_value(value, at).unwrap_or(false),
                "placement" => {
                    for (constraint, span) in self.string_list(value, at) {
                        if PLACEMENT.is_match(&constraint) {
                            spec.placement.push(constraint.trim().to_string());
                        } else {
                            self.error(format!("invalid placement constraint `{constraint}`"), span, Some(at)).help =
                                Some("write `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE`, e.g. `node.labels.disk==ssd` or `node.role==worker`".into());
                        }
                    }
                }
                "resources" => spec.resources = self.resources(value, at, &label).map(Box::new),
                "catch_up" => {
                    spec.catch_up = self.bool_value(value, at).unwrap_or(false);
                    service_only_keys.push((key.span, "catch_up"));
                }
                "schedule" => {
                    service_only_keys.push((key.span, "schedule"));
                    if let Some(text) = self.text(value, at, false) {
                        match copili_schedule::Schedule::parse(&text) {
                            Ok(schedule) => spec.schedule = Some(Box::new(schedule)),
                            Err(error) => {
                                let message = error.to_string();
                                let (message, help) = match message.split_once("; ") {
                                    Some((message, help)) => (message.to_string(), Some(help.to_string())),
                                    None => (message, None),
                                };
                                self.error(message, value.span, Some(at)).help = help;
                            }
                        }
                    }
                }
                "timezone" => {
                    service_only_keys.push((key.span, "timezone"));
                    if let Some(name) = self.text(value, at, false) {
                        match copili_schedule::parse_time_zone(&name) {
                            Ok(_) => spec.timezone = Some(name.trim().to_string()),
                            Err(_) => {
                                let known: Vec<String> = copili_schedule::jiff::tz::db()
                                    .available()
                                    .map(|n| n.as_str().to_string())
                                    .collect();
                                let help = properties::suggest(name.trim(), known.iter().map(String::as_str))
                                    .map(|close| format!("did you mean `{close}`?"))
                                    .unwrap_or_else(|| {
                                        "an IANA name such as `Europe/Berlin`, `UTC`, or `local`".into()
                                    });
                                self.error(format!("unknown time zone `{}`", name.trim()), value.span, Some(at)).help =
                                    Some(help);
                            }
                        }
                    }
                }
                "build" => spec.build = self.build(value, at, &label).map(Box::new),
                other => unreachable!("property `{other}` is in the table but not handled"),
            }
        }

        if parent.is_none() && !spec.is_service_container {
            for (span, property) in service_only_keys {
                let at = Some(At { container: &label, property });
                self.warning(format!("`{property}` has no effect: `{label}` is not a service container"), span, at)
                    .help = Some("set `is_service_container: true` to rerun it on a schedule in service mode".into());
            }
        }
        // On a sidecar, `retry_delay` was reported as having no effect already.
        if let (Some(delay_span), None) = (retry_delay_key, parent) {
            let at = Some(At { container: &label, property: "retry_delay" });
            match retries_node {
                None => {
                    self.warning("`retry_delay` has no effect without `retries`", delay_span, at).help =
                        Some("set `retries`, the number of attempts after the first, e.g. `retries: 2`".into());
                }
                // Only when written so: a variable may well be 0 in one environment only.
                Some(node) if node.as_scalar().is_some_and(|(t, ty)| ty == ScalarType::Int && t.trim() == "0") => {
                    self.warning("`retry_delay` has no effect with `retries: 0`", delay_span, at).help =
                        Some("set `retries`, the number of attempts after the first, e.g. `retries: 2`".into());
                }
                Some(_) => {}
            }
        }

        match image_span {
            // Built images are named after the pipeline and the container (see `Loader::pipeline`).
            None if spec.build.is_some() || fields.iter().any(|(p, _, _)| p.name == "build") => {}
            None => {
                // A misspelt `image_repo` was reported as such already.
                if !fields.iter().any(|(p, _, _)| p.name == "image_repo") && !suggested.contains(&"image_repo") {
                    self.error(
                        "missing required property `image_repo`",
                        node.span,
                        Some(At { container: &label, property: "" }),
                    )
                    .help = Some("name the image, e.g. `image_repo: registry.example.com/team/loader`".into());
                }
            }
            Some(span) => self.check_image(&mut spec, span, explicit_tag, &label),
        }
        Some(spec)
    }

    /// Reports an invalid name; whether the name is valid.
    fn check_name(&mut self, name: &str, span: Span, container: &str) -> bool {
        let at = Some(At { container, property: "name" });
        let message = if name.is_empty() {
            "the name is empty".to_string()
        } else if name.starts_with('-') {
            format!("invalid name `{name}`: a name starting with `-` would be read as an option by the engine CLI")
        } else if !NAME.is_match(name) {
            format!("invalid name `{name}`: docker and podman accept letters, digits, `_`, `.` and `-`, starting with a letter or digit")
        } else if name.len() > MAX_NAME_LEN {
            format!("the name `{name}` is longer than {MAX_NAME_LEN} characters, the limit of the hostname it becomes")
        } else {
            return true;
        };
        self.error(message, span, at);
        false
    }

    fn check_image(&mut self, spec: &mut ContainerSpec, span: Span, explicit_tag: Option<Span>, label: &str) {
        let at = Some(At { container: label, property: "image_repo" });
        if spec.image_repo.is_empty() {
            self.error("the image repository is empty", span, at);
            return;
        }
        if spec.image_repo.contains('@') {
            if let Some(tag_span) = explicit_tag {
                let message = format!("the image repository `{}` pins a digest, and `tag` sets a tag", spec.image_repo);
                let d = self.error(message, span, at);
                d.notes.push(crate::diagnostic::Note { message: "`tag` is set here".into(), span: tag_span });
                d.help = Some("a digest names exactly one image: remove `tag`".into());
                return;
            }
        }
        // A tag written into the repository (`redis:7`) is taken as the tag.
        let last_slash = spec.image_repo.rfind('/').map_or(0, |i| i + 1);
        let (repo_part, digest_part) = match spec.image_repo.find('@') {
            Some(at) => spec.image_repo.split_at(at),
            None => (spec.image_repo.as_str(), ""),
        };
        if let Some(colon) = repo_part[last_slash.min(repo_part.len())..].find(':') {
            let colon = last_slash + colon;
            let (repo, tag) = (repo_part[..colon].to_string(), repo_part[colon + 1..].to_string());
            if let Some(tag_span) = explicit_tag {
                self.error(
                    format!("the image repository `{}` carries a tag, and `tag` sets another", spec.image_repo),
                    span,
                    at,
                )
                .notes
                .push(crate::diagnostic::Note { message: "`tag` is set here".into(), span: tag_span });
                return;
            }
            if !TAG.is_match(&tag) {
                self.error(format!("invalid image tag `{tag}` in `{}`", spec.image_repo), span, at);
                return;
            }
            spec.image_repo = format!("{repo}{digest_part}");
            spec.tag = tag;
        }
        if !REPOSITORY.is_match(&spec.image_repo) {
            let help = if spec.image_repo.chars().any(|c| c.is_ascii_uppercase()) {
                "repository names are lowercase (a registry host may have capitals)"
            } else {
                "expected `[registry[:port]/]path/name`, path components of lowercase letters, digits and separators `.`, `_`, `-`"
            };
            self.error(format!("invalid image repository `{}`", spec.image_repo), span, at).help = Some(help.into());
        }
    }

    /// `build`: a context as a string, or `{context, dockerfile, args, target}`.
    fn build(&mut self, node: &Node, at: At<'_>, container: &str) -> Option<BuildSpec> {
        const KEYS: [&str; 4] = ["context", "dockerfile", "args", "target"];
        let context_node = match &node.value {
            Value::Scalar { .. } => node,
            Value::Map(entries) => {
                let mut context = None;
                for (key, _) in entries {
                    let key_text = key.as_scalar().map_or("", |(k, _)| k);
                    if !KEYS.contains(&key_text) {
                        let help = match properties::suggest(key_text, KEYS) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None => "`build` takes `context`, `dockerfile`, `args` and `target`".into(),
                        };
                        self.error(format!("unknown build option `{key_text}`"), key.span, Some(at)).help = Some(help);
                    }
                }
                for (key, value) in entries {
                    if key.as_scalar().is_some_and(|(k, _)| k == "context") {
                        context = Some(value);
                    }
                }
                match context {
                    Some(context) => context,
                    None => {
                        self.error("`build` needs a `context`", node.span, Some(at)).help = Some(
                            "a directory (`context: ./loader`) or a git repository (`context: https://git.example.com/team/loader.git#v1.2`)".into(),
                        );
                        return None;
                    }
                }
            }
            _ => {
                self.error(
                    format!(
                        "expected a build context or `{{context, dockerfile, args, target}}`, found {}",
                        node.kind_name()
                    ),
                    node.span,
                    Some(at),
                )
                .help = Some(
                    "write e.g. `build: ./loader` or `build: {context: ./loader, dockerfile: Dockerfile.prod}`".into(),
                );
                return None;
            }
        };
        let context_at = At { container, property: "build.context" };
        let written = self.text(context_node, context_at, false)?;
        if written.trim().is_empty() {
            self.error("the build context is empty", context_node.span, Some(context_at));
            return None;
        }
        if let Some(found) = forbidden_in_path(&written) {
            self.path_error("the build context", found, context_node.span, context_at);
            return None;
        }
        let context = match BuildContext::parse(written.trim(), &self.base_dir) {
            BuildContext::Dir { written, resolved } => {
                let resolved = absolute(&resolved, &self.base_dir);
                BuildContext::Dir { written, resolved }
            }
            git => git,
        };
        let mut spec = BuildSpec { context, dockerfile: None, args: Vec::new(), target: None };
        let Value::Map(entries) = &node.value else { return Some(spec) };
        for (key, value) in entries {
            match key.as_scalar().map_or("", |(k, _)| k) {
                "dockerfile" => {
                    let at = At { container, property: "build.dockerfile" };
                    if let Some(file) = self.text(value, at, false) {
                        if file.trim().is_empty() {
                            self.error("the Dockerfile's name is empty", value.span, Some(at));
                        } else if let Some(found) = forbidden_in_path(&file) {
                            self.path_error("the Dockerfile's name", found, value.span, at);
                        } else {
                            spec.dockerfile = Some(file);
                        }
                    }
                }
                "target" => {
                    let at = At { container, property: "build.target" };
                    if let Some(target) = self.text(value, at, false) {
                        if target.trim().is_empty() || target.starts_with('-') {
                            self.error(format!("invalid build target `{target}`"), value.span, Some(at));
                        } else {
                            spec.target = Some(target);
                        }
                    }
                }
                "args" => {
                    for (name, v, span) in self.string_map(value, "build.args", container, true) {
                        if name.is_empty() || name.contains(ENV_NAME_FORBIDDEN) {
                            self.error(
                                "invalid build argument name: it must be non-empty and hold no `=`",
                                span,
                                Some(At { container, property: "build.args" }),
                            );
                            continue;
                        }
                        spec.args.push((name, Secret::new(v)));
                    }
                }
                _ => {}
            }
        }
        Some(spec)
    }

    /// `resources`: `{cpus, memory, reservations: {cpus, memory}}`, or compose's
    /// `{limits: {cpus, memory}, reservations: {cpus, memory}}`.
    fn resources(&mut self, node: &Node, at: At<'_>, container: &str) -> Option<Resources> {
        let Value::Map(entries) = &node.value else {
            self.error(
                format!("expected `{{cpus, memory, reservations}}`, found {}", node.kind_name()),
                node.span,
                Some(at),
            )
            .help = Some("write e.g. `resources: {cpus: 2, memory: 1g, reservations: {memory: 512m}}`".into());
            return None;
        };
        let mut resources = Resources::default();
        for (key, value) in entries {
            let key_text = key.as_scalar().map_or("", |(k, _)| k);
            match key_text {
                "cpus" | "memory" => {
                    let amounts = &mut resources.limits;
                    self.amount(key_text, value, container, "resources", amounts);
                }
                "limits" | "reservations" => {
                    let path = format!("resources.{key_text}");
                    let Value::Map(inner) = &value.value else {
                        self.error(
                            format!("expected `{{cpus, memory}}`, found {}", value.kind_name()),
                            value.span,
                            Some(At { container, property: &path }),
                        );
                        continue;
                    };
                    let mut amounts = ResourceAmounts::default();
                    for (inner_key, inner_value) in inner {
                        let inner_text = inner_key.as_scalar().map_or("", |(k, _)| k);
                        if inner_text == "cpus" || inner_text == "memory" {
                            self.amount(inner_text, inner_value, container, &path, &mut amounts);
                        } else {
                            let help = properties::suggest(inner_text, ["cpus", "memory"])
                                .map(|s| format!("did you mean `{s}`?"));
                            self.error(
                                format!("unknown resource `{inner_text}`"),
                                inner_key.span,
                                Some(At { container, property: &path }),
                            )
                            .help = help.or_else(|| Some("resources are `cpus` and `memory`".into()));
                        }
                    }
                    if key_text == "limits" {
                        resources.limits.cpus = amounts.cpus.or(resources.limits.cpus);
                        resources.limits.memory = amounts.memory.or(resources.limits.memory);
                    } else {
                        resources.reservations = amounts;
                    }
                }
                other => {
                    let help = properties::suggest(other, ["cpus", "memory", "limits", "reservations"])
                        .map(|s| format!("did you mean `{s}`?"));
                    self.error(format!("unknown resource `{other}`"), key.span, Some(at)).help = help
                        .or_else(|| Some("`resources` takes `cpus`, `memory` and `reservations` (or `limits`)".into()));
                }
            }
        }
        let over = |reserved: Option<f64>, limit: Option<f64>| matches!((reserved, limit), (Some(r), Some(l)) if r > l);
        if over(resources.reservations.cpus, resources.limits.cpus)
            || over(resources.reservations.memory.map(|m| m as f64), resources.limits.memory.map(|m| m as f64))
        {
            self.error("a reservation is larger than its limit", node.span, Some(at)).help =
                Some("the reservation is what the container is guaranteed, the limit what it may use: keep reservation ≤ limit".into());
        }
        Some(resources)
    }

    /// One `cpus` or `memory` amount.
    fn amount(&mut self, key: &str, node: &Node, container: &str, path: &str, into: &mut ResourceAmounts) {
        let property = format!("{path}.{key}");
        let at = At { container, property: &property };
        let Some(text) = self.text(node, at, false) else { return };
        if key == "cpus" {
            match text.trim().parse::<f64>() {
                Ok(cpus) if cpus > 0.0 && cpus.is_finite() && cpus <= MAX_CPUS => into.cpus = Some(cpus),
                _ => {
                    self.error(
                        format!("invalid number of CPUs `{text}`: expected a number above 0, e.g. `0.5` or `2`"),
                        node.span,
                        Some(at),
                    );
                }
            }
        } else {
            match parse_memory(&text) {
                Some(bytes) if bytes >= MIN_MEMORY => into.memory = Some(bytes),
                Some(_) => {
                    self.error(format!("memory `{text}` is below the 4 MiB engines accept"), node.span, Some(at));
                }
                None => {
                    self.error(format!("invalid amount of memory `{text}`"), node.span, Some(at)).help = Some(
                        "a number of bytes with a unit: `512m`, `1g`, `1.5g`, `256Mi` (k, m, g, t are powers of 1024)"
                            .into(),
                    );
                }
            }
        }
    }

    fn command(&mut self, node: &Node, at: At<'_>) -> Vec<String> {
        match &node.value {
            Value::Null => Vec::new(),
            Value::Scalar { .. } => {
                let Some(text) = self.text(node, at, false) else { return Vec::new() };
                match shlex::split(&text) {
                    Some(words) => words,
                    None => {
                        self.error("the command has an unclosed quote or a trailing backslash", node.span, Some(at))
                            .help =
                            Some("write the command as a list of strings to avoid shell-style splitting".into());
                        Vec::new()
                    }
                }
            }
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| match &item.value {
                    Value::Scalar { .. } => self.text(item, at, false),
                    _ => {
                        self.error(
                            format!("expected a string in the command, found {}", item.kind_name()),
                            item.span,
                            Some(at),
                        );
                        None
                    }
                })
                .collect(),
            Value::Map(_) => {
                self.error("expected a list of strings or one string, found a mapping", node.span, Some(at)).help =
                    Some("write a list, e.g. `command: [python, load.py, --full]`".into());
                Vec::new()
            }
        }
    }

    /// A duration (`timeout`, `retry_delay`, the ready check's): a humantime string such as
    /// `1h 30m`, or a number of seconds. Returns it with the text it was read from, for messages.
    fn duration(&mut self, node: &Node, at: At<'_>) -> Option<(Duration, String)> {
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
    fn retries(&mut self, node: &Node, at: At<'_>) -> Option<u32> {
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
    fn ready(&mut self, node: &Node, key_span: Span, container: &str) -> Option<ReadyCheck> {
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
    fn ready_command(&mut self, node: &Node, at: At<'_>) -> Option<Vec<String>> {
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

    fn volumes(&mut self, node: &Node, container: &str) -> Vec<Volume> {
        let at = At { container, property: "volumes" };
        let mut volumes: Vec<(Volume, Span)> = Vec::new();
        match &node.value {
            Value::Null => {}
            // docker-py: {HOST: {bind: PATH, mode: rw|ro}}
            Value::Map(entries) => {
                for (key, value) in entries {
                    let Some(host) = self.text(key, at, false) else { continue };
                    // Debug-quoted: a line break in the host would otherwise end the line.
                    let path = format!("volumes[{host:?}]");
                    let shown = host.escape_debug().to_string();
                    let at = At { container, property: &path };
                    let Value::Map(options) = &value.value else {
                        self.error(
                            format!("expected `{{bind: PATH, mode: rw|ro}}`, found {}", value.kind_name()),
                            value.span,
                            Some(at),
                        )
                        .help = Some(format!("or use the list form: `- {shown}:/path/in/container:ro`"));
                        continue;
                    };
                    let mut bind: Option<(String, Span)> = None;
                    let mut mode: Option<(String, Span)> = None;
                    for (option_key, option_value) in options {
                        match option_key.as_scalar().map(|(k, _)| k) {
                            Some("bind") => bind = self.text(option_value, at, false).map(|t| (t, option_value.span)),
                            Some("mode") => mode = self.text(option_value, at, false).map(|t| (t, option_value.span)),
                            other => {
                                let text = other.unwrap_or("");
                                let help =
                                    properties::suggest(text, ["bind", "mode"]).map(|s| format!("did you mean `{s}`?"));
                                let d = self.error(
                                    format!("unknown volume option `{text}`: expected `bind` and `mode`"),
                                    option_key.span,
                                    Some(at),
                                );
                                d.help = help;
                            }
                        }
                    }
                    let Some((target, target_span)) = bind else {
                        self.error("missing `bind`: the path inside the container", key.span, Some(at)).help =
                            Some(format!("write `{shown}: {{bind: /path/in/container, mode: rw}}`"));
                        continue;
                    };
                    let mode = mode.as_ref().map(|(m, span)| (m.as_str(), *span));
                    if let Some(volume) = self.mount(&host, key.span, &target, target_span, mode, at) {
                        volumes.push((volume, target_span));
                    }
                }
            }
            // compose short syntax: HOST:PATH[:ro|:rw]
            Value::Seq(items) => {
                for item in items {
                    let Some(text) = (match &item.value {
                        Value::Scalar { .. } => self.text(item, at, false),
                        _ => {
                            self.error(
                                format!("expected `HOST:PATH[:ro|:rw]`, found {}", item.kind_name()),
                                item.span,
                                Some(at),
                            );
                            None
                        }
                    }) else {
                        continue;
                    };
                    // Checked before the split: the line would be quoted in the message.
                    if let Some(found) = forbidden_in_path(&text) {
                        self.path_error("the volume", found, item.span, at);
                        continue;
                    }
                    let (host, target, mode) = match text.split(':').collect::<Vec<_>>().as_slice() {
                        [host, target] => (*host, *target, None),
                        // `./a:b:/c`: a `:` inside a path, not a mode.
                        [host, target, mode] if !mode.starts_with('/') => (*host, *target, Some((*mode, item.span))),
                        _ => {
                            self.error(
                                format!("invalid volume `{text}`: expected `HOST:PATH[:ro|:rw]`"),
                                item.span,
                                Some(at),
                            )
                            .help =
                                Some("neither the host path nor the path inside the container may hold a `:`".into());
                            continue;
                        }
                    };
                    if let Some(volume) = self.mount(host, item.span, target, item.span, mode, at) {
                        volumes.push((volume, item.span));
                    }
                }
            }
            Value::Scalar { .. } => {
                self.error("expected a list of `HOST:PATH[:ro|:rw]` or a mapping `{HOST: {bind: PATH, mode: rw}}`, found a string", node.span, Some(at))
                    .help = Some("write a list: `- ./data:/data:ro`".into());
            }
        }
        // Engines refuse two mounts on one path.
        let mut out: Vec<Volume> = Vec::with_capacity(volumes.len());
        let mut targets: HashMap<String, Span> = HashMap::new();
        for (volume, span) in volumes {
            let normalized = volume.target.trim_end_matches('/').to_string();
            if let Some(first) = targets.get(&normalized) {
                let first = *first;
                self.error(format!("two volumes are mounted on `{}`", volume.target), span, Some(at))
                    .notes
                    .push(crate::diagnostic::Note { message: "first mounted here".into(), span: first });
                continue;
            }
            targets.insert(normalized, span);
            out.push(volume);
        }
        out
    }

    /// Reports a path holding a character of [`PATH_FORBIDDEN`] (the path is not quoted: it
    /// would break the message's line).
    fn path_error(&mut self, what: &str, found: &str, span: Span, at: At<'_>) {
        self.error(format!("{what} holds {found}"), span, Some(at)).help = Some(
            "docker and podman would read such a path differently: paths hold no line breaks or NUL characters".into(),
        );
    }

    /// Checks one mount, `(host, target, mode)`, by the same rules for both forms of `volumes`:
    /// what the list form cannot say (a `:` inside a path) the mapping form may not say either,
    /// as the engine would split it differently; no path holds a line break or a NUL.
    fn mount(
        &mut self,
        host: &str,
        host_span: Span,
        target: &str,
        target_span: Span,
        mode: Option<(&str, Span)>,
        at: At<'_>,
    ) -> Option<Volume> {
        if host.is_empty() {
            self.error("the volume's host side is empty", host_span, Some(at));
            return None;
        }
        if let Some(found) = forbidden_in_path(host) {
            self.path_error("the volume's host side", found, host_span, at);
            return None;
        }
        if let Some(found) = forbidden_in_path(target) {
            self.path_error("the path inside the container", found, target_span, at);
            return None;
        }
        for (what, path, span) in
            [("the volume's host side", host, host_span), ("the path inside the container", target, target_span)]
        {
            if path.contains(':') {
                self.error(
                    format!("{what} `{path}` holds a `:`, which docker and podman read as a separator"),
                    span,
                    Some(at),
                )
                .help = Some("mount a path without `:` (a parent directory, or a symbolic link to it)".into());
                return None;
            }
        }
        if !target.starts_with('/') {
            self.error(
                format!("the path inside the container must be absolute, found `{target}`"),
                target_span,
                Some(at),
            );
            return None;
        }
        let read_only = match mode {
            None | Some(("rw", _)) => false,
            Some(("ro", _)) => true,
            Some((other, span)) => {
                self.error(format!("invalid volume mode `{other}`: expected `rw` or `ro`"), span, Some(at));
                return None;
            }
        };
        // As in compose: a bare name is a named volume, anything with `/` or a leading `.` or
        // `~` a host path.
        let source = if !host.contains('/') && !host.starts_with('.') && !host.starts_with('~') {
            if !NAME.is_match(host) {
                self.error(
                    format!("invalid volume name `{host}`: a named volume holds letters, digits, `_`, `.` and `-`; write `./{host}` for a host path"),
                    host_span,
                    Some(at),
                );
                return None;
            }
            VolumeSource::Named(host.to_string())
        } else {
            let expanded = match (host.strip_prefix("~/"), host == "~", &self.home) {
                (Some(rest), _, Some(home)) => PathBuf::from(home).join(rest),
                (_, true, Some(home)) => PathBuf::from(home),
                (Some(_), _, None) | (_, true, None) => {
                    self.error("`~` in a volume path, but `HOME` is not set", host_span, Some(at));
                    return None;
                }
                _ => PathBuf::from(host),
            };
            VolumeSource::HostPath { written: host.to_string(), resolved: absolute(&expanded, &self.base_dir) }
        };
        Some(Volume { source, target: target.to_string(), read_only })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> LoadOptions {
        LoadOptions {
            process_env: [("HOME", "/home/u"), ("DB", "neo4j"), ("PW", "hunter2")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            env_file: EnvFile::Disabled,
            strict_env: false,
            working_dir: PathBuf::from("/work"),
        }
    }

    fn ok(text: &str) -> Pipeline {
        match load(Input::Text(text), &options()) {
            Ok(p) => p,
            Err(d) => panic!("{d}"),
        }
    }

    fn errors(text: &str) -> Vec<String> {
        let draft = load_draft(Input::Text(text), &options());
        draft.diagnostics.errors().map(|d| d.message.clone()).collect()
    }

    #[test]
    fn seed_quick_example() {
        let p = ok("ExmaplePipeline:\n  - name: dataloader_02\n    image_repo: stakater/exit-container\n    dependencies:\n      - dataloader_01\n    env_vars:\n      EXIT_CODE: 0\n  - name: dataloader_01\n    image_repo: stakater/exit-container\n");
        assert_eq!(p.name, "ExmaplePipeline");
        assert_eq!(p.containers[0].dependencies, vec!["dataloader_01"]);
        assert_eq!(p.containers[0].env_vars[0].1.expose(), "0");
        assert_eq!(p.containers[0].image(), "stakater/exit-container:latest");
    }

    #[test]
    fn seed_json_aliases() {
        let p = ok(
            r#"{"p":[{"name":"a","repo":"hello-world"},{"name":"b","repo":"x/y","dependency":["a"],"sidecars":[{"name":"redis01","repo":"redis"}]}]}"#,
        );
        assert_eq!(p.containers[1].image_repo, "x/y");
        assert_eq!(p.containers[1].dependencies, vec!["a"]);
        assert_eq!(p.containers[1].sidecars[0].name, "redis01");
    }

    #[test]
    fn value_input() {
        let value = serde_json::json!({"p": [{"name": "a", "image_repo": "busybox", "env_vars": {"N": 3, "B": true}}]});
        let p = load(Input::Value(&value), &options()).expect("valid");
        let env: Vec<_> = p.containers[0].env_vars.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        assert_eq!(env, vec![("N", "3"), ("B", "true")]);
    }

    #[test]
    fn interpolation_everywhere_with_sources() {
        let p = ok("p:\n  - name: a\n    image_repo: ${REPO:-busybox}\n    env_vars:\n      ${DB}_PW: $PW\n    image_reg_password: ${PW}\n");
        assert_eq!(p.containers[0].image_repo, "busybox");
        assert_eq!(p.containers[0].env_vars[0].0, "neo4j_PW");
        let vars: Vec<_> = p.variables.iter().map(|v| (v.name.as_str(), v.source)).collect();
        assert_eq!(vars, vec![("DB", VarSource::Env), ("PW", VarSource::Env), ("REPO", VarSource::Default)]);
    }

    #[test]
    fn undefined_variable_warns_or_fails_when_strict() {
        let p = ok("p:\n  - name: a\n    image_repo: busybox\n    env_vars: {X: $NOPE}\n");
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].message.contains("`NOPE`"));
        assert_eq!(p.warnings[0].property.as_deref(), Some("env_vars.X"));
        let mut strict = options();
        strict.strict_env = true;
        assert!(load(Input::Text("p:\n  - name: a\n    image_repo: busybox\n    tag: $NOPE\n"), &strict).is_err());
    }

    #[test]
    fn volumes_both_forms() {
        let p = ok("p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./data: {bind: /data, mode: ro}\n      cache: {bind: /cache}\n      ~/x: {bind: /x}\n");
        let v = &p.containers[0].volumes;
        assert_eq!(v[0].short_form(), "/work/data:/data:ro");
        assert_eq!(v[1].source, VolumeSource::Named("cache".into()));
        assert_eq!(v[2].short_form(), "/home/u/x:/x:rw");
        let p = ok(
            "p:\n  - name: a\n    image_repo: busybox\n    volumes: [\"../up:/up:ro\", \"vol:/v\", \"/abs:/abs:rw\"]\n",
        );
        let forms: Vec<_> = p.containers[0].volumes.iter().map(Volume::short_form).collect();
        assert_eq!(forms, vec!["/up:/up:ro", "vol:/v:rw", "/abs:/abs:rw"]);
    }

    #[test]
    fn env_vars_and_labels_take_the_compose_list_form() {
        let p =
            ok("p:\n  - name: a\n    image_repo: busybox\n    env_vars: [A=1, B=x=y, C=]\n    labels: [team=data]\n");
        let env: Vec<_> = p.containers[0].env_vars.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        assert_eq!(env, vec![("A", "1"), ("B", "x=y"), ("C", "")]);
        assert_eq!(p.containers[0].labels, vec![("team".to_string(), "data".to_string())]);
        assert_eq!(errors("p:\n  - name: a\n    image_repo: busybox\n    env_vars: [A]\n").len(), 1);
    }

    #[test]
    fn command_forms() {
        let p = ok("p:\n  - name: a\n    image_repo: busybox\n    command: sh -c 'echo \"hi there\"'\n  - name: b\n    image_repo: busybox\n    command: [-p, 3000]\n");
        assert_eq!(p.containers[0].command, vec!["sh", "-c", "echo \"hi there\""]);
        assert_eq!(p.containers[1].command, vec!["-p", "3000"]);
    }

    #[test]
    fn tag_in_repository() {
        let p = ok("p:\n  - name: a\n    image_repo: localhost:5000/team/redis:7.2\n");
        assert_eq!(
            (p.containers[0].image_repo.as_str(), p.containers[0].tag.as_str()),
            ("localhost:5000/team/redis", "7.2")
        );
        assert_eq!(errors("p:\n  - name: a\n    image_repo: redis:7\n    tag: '8'\n").len(), 1);
    }

    /// One error of `text`: its message and help.
    fn error_with_help(text: &str) -> (String, Option<String>) {
        let draft = load_draft(Input::Text(text), &options());
        let errors: Vec<_> = draft.diagnostics.errors().collect();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        (errors[0].message.clone(), errors[0].help.clone())
    }

    fn warnings(text: &str) -> Vec<String> {
        ok(text).warnings.iter().map(|d| d.message.clone()).collect()
    }

    fn container(props: &str) -> String {
        format!("p:\n  - name: a\n    image_repo: busybox\n{props}")
    }

    fn sidecar(props: &str) -> String {
        format!("p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n{props}")
    }

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
    fn retry_delay_without_retries_warns() {
        assert_eq!(
            warnings(&container("    retry_delay: 30s\n")),
            vec!["`retry_delay` has no effect without `retries`"]
        );
        assert_eq!(
            warnings(&container("    retries: 0\n    retry_delay: 30s\n")),
            vec!["`retry_delay` has no effect with `retries: 0`"]
        );
        // A variable may be 0 in one environment and more in another.
        assert!(warnings(&container("    retries: ${RETRIES:-0}\n    retry_delay: 30s\n")).is_empty());
        let p = ok(&container("    retry_delay: 30s\n"));
        assert_eq!(p.warnings[0].property.as_deref(), Some("retry_delay"));
        assert_eq!(
            p.warnings[0].help.as_deref(),
            Some("set `retries`, the number of attempts after the first, e.g. `retries: 2`")
        );
    }

    #[test]
    fn timeout_and_retries_have_no_effect_on_a_sidecar() {
        let p = ok(&sidecar("        timeout: 5m\n        retries: 2\n        retry_delay: 1s\n"));
        let messages: Vec<_> = p.warnings.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "`timeout` has no effect on a sidecar",
                "`retries` has no effect on a sidecar",
                "`retry_delay` has no effect on a sidecar"
            ]
        );
        let s = &p.containers[0].sidecars[0];
        assert_eq!((s.timeout, s.retries), (None, 0));
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

    #[test]
    fn ready_only_on_sidecars() {
        let (message, help) = error_with_help(&container("    ready: redis-cli ping\n"));
        assert_eq!(message, "`ready` applies to sidecars only");
        assert_eq!(
            help.as_deref(),
            Some("`ready` checks a sidecar before its container starts; put it on a sidecar, under `sidecars`")
        );
        let text = "p:\n  - name: a\n    image_repo: busybox\n    ready: redis-cli ping\n    sidecars:\n      - name: cache\n        image_repo: redis\n";
        assert_eq!(
            error_with_help(text).1.as_deref(),
            Some("`ready` checks a sidecar before its container starts; put it on the sidecar `cache`")
        );
        // Not parsed further: one error, not two.
        assert_eq!(errors(&container("    ready: {comand: x}\n")).len(), 1);
    }

    #[test]
    fn pull_policy_and_tls_verify() {
        let p = ok("p:\n  - {name: a, image_repo: x, pull: never, tls_verify: false}\n  - {name: b, image_repo: x, pull: Always}\n  - {name: c, image_repo: x}\n");
        assert_eq!(p.containers[0].pull, Some(PullPolicy::Never));
        assert!(!p.containers[0].tls_verify);
        assert_eq!(p.containers[1].pull, Some(PullPolicy::Always));
        assert_eq!((p.containers[2].pull, p.containers[2].tls_verify), (None, true));
        let (message, help) = error_with_help(&container("    pull: misssing\n"));
        assert_eq!(message, "invalid pull policy `misssing`: expected `always`, `missing` or `never`");
        assert_eq!(help.as_deref(), Some("did you mean `missing`?"));
        assert_eq!(errors(&container("    tls_verify: maybe\n")).len(), 1);
    }

    #[test]
    fn build_forms() {
        let p = ok("My Pipe:\n  - name: Load_1\n    build: ./loader\n    sidecars:\n      - {name: s, build: {context: ../x, dockerfile: D, target: t, args: {A: 1}}}\n  - name: b\n    image_repo: reg.example.com:5000/t/b\n    tag: v1\n    build:\n      context: https://git.example.com/t/b.git#v1.2:sub/dir\n");
        let a = &p.containers[0];
        assert_eq!(a.image(), "localhost/copili-my-pipe-load-1:latest");
        assert_eq!(
            a.build.as_ref().map(|b| b.context.clone()),
            Some(BuildContext::Dir { written: "./loader".into(), resolved: PathBuf::from("/work/loader") })
        );
        let s = &a.sidecars[0];
        assert_eq!(s.image_repo, "localhost/copili-my-pipe-s");
        let build = s.build.as_ref().expect("a build");
        assert_eq!(
            (build.dockerfile.as_deref(), build.target.as_deref(), build.args[0].0.as_str(), build.args[0].1.expose()),
            (Some("D"), Some("t"), "A", "1")
        );
        assert!(matches!(&build.context, BuildContext::Dir { resolved, .. } if resolved == &PathBuf::from("/x")));
        let b = &p.containers[1];
        assert_eq!(b.image(), "reg.example.com:5000/t/b:v1");
        assert_eq!(
            b.build.as_ref().map(|b| b.context.clone()),
            Some(BuildContext::Git {
                url: "https://git.example.com/t/b.git".into(),
                reference: Some("v1.2".into()),
                subdir: Some("sub/dir".into())
            })
        );
    }

    #[test]
    fn git_contexts_are_recognised() {
        let base = Path::new("/base");
        let git = |url: &str, reference: Option<&str>, subdir: Option<&str>| BuildContext::Git {
            url: url.into(),
            reference: reference.map(String::from),
            subdir: subdir.map(String::from),
        };
        assert_eq!(BuildContext::parse("file:///srv/repo#main", base), git("file:///srv/repo", Some("main"), None));
        assert_eq!(BuildContext::parse("git@host:team/x.git", base), git("git@host:team/x.git", None, None));
        assert_eq!(BuildContext::parse("repo.git", base), git("/base/repo.git", None, None));
        assert_eq!(BuildContext::parse("./repo#:docker", base), git("/base/./repo", None, Some("docker")));
        assert_eq!(
            BuildContext::parse("ctx", base),
            BuildContext::Dir { written: "ctx".into(), resolved: PathBuf::from("/base/ctx") }
        );
    }

    #[test]
    fn build_errors() {
        assert_eq!(error_with_help("p:\n  - {name: a, build: {dockerfile: D}}\n").0, "`build` needs a `context`");
        let (message, help) = error_with_help("p:\n  - {name: a, build: {context: ., targt: x}}\n");
        assert_eq!(
            (message.as_str(), help.as_deref()),
            ("unknown build option `targt`", Some("did you mean `target`?"))
        );
        assert_eq!(
            error_with_help("p:\n  - {name: a, build: [x]}\n").0,
            "expected a build context or `{context, dockerfile, args, target}`, found a list"
        );
        assert_eq!(error_with_help("p:\n  - {name: a}\n").0, "missing required property `image_repo`");
    }

    #[test]
    fn build_args_are_secret() {
        let text = "p:\n  - name: a\n    build:\n      context: .\n      args: {TOKEN: hunter2, A=B: x}\n";
        let draft = load_draft(Input::Text(text), &options());
        let rendered: String = draft.diagnostics.items.iter().map(|d| d.to_string()).collect();
        assert!(rendered.contains("invalid build argument name"), "{rendered}");
        assert!(rendered.contains("args: {"), "the snippet is shown: {rendered}");
        assert!(!rendered.contains("hunter2"), "{rendered}");
    }

    #[test]
    fn service_properties() {
        let p = ok("p:\n  - {name: a, image_repo: x, is_service_container: true, schedule: every 10m, timezone: Europe/Berlin, catch_up: true, run_once: true}\n");
        let a = &p.containers[0];
        assert_eq!(a.schedule.as_ref().map(ToString::to_string).as_deref(), Some("every 10m"));
        assert_eq!((a.timezone.as_deref(), a.catch_up, a.run_once), (Some("Europe/Berlin"), true, true));
        let (message, help) =
            error_with_help("p:\n  - {name: a, image_repo: x, is_service_container: true, timezone: Europe/Berlinn}\n");
        assert_eq!(
            (message.as_str(), help.as_deref()),
            ("unknown time zone `Europe/Berlinn`", Some("did you mean `Europe/Berlin`?"))
        );
        let (message, help) =
            error_with_help("p:\n  - {name: a, image_repo: x, is_service_container: true, schedule: every 0s}\n");
        assert!(message.starts_with("invalid interval in schedule `every 0s`"), "{message}");
        assert!(help.is_some_and(|h| h.contains("daily")));
        assert_eq!(
            warnings("p:\n  - {name: a, image_repo: x, schedule: daily 03:30}\n"),
            vec!["`schedule` has no effect: `a` is not a service container"]
        );
    }

    #[test]
    fn placement_resources_and_env_from_variables() {
        let p = ok("p:\n  - name: a\n    image_repo: x\n    placement: [node.labels.disk==ssd, 'node.role != manager']\n    resources: {cpus: 1.5, memory: 512m, reservations: {cpus: 0.5, memory: 256Mi}}\n    env_vars: {A: literal, B: $PW, C: 'cost $$5', D: '${DB}x'}\n");
        let a = &p.containers[0];
        assert_eq!(a.placement, vec!["node.labels.disk==ssd", "node.role != manager"]);
        let r = a.resources.as_deref().expect("resources");
        assert_eq!((r.limits.cpus, r.limits.memory), (Some(1.5), Some(512 << 20)));
        assert_eq!((r.reservations.cpus, r.reservations.memory), (Some(0.5), Some(256 << 20)));
        assert_eq!(a.env_from_variables, vec!["B", "D"]);
        let p = ok("p:\n  - {name: a, image_repo: x, resources: {limits: {memory: 1g}}, env_vars: [X=$PW, Y=1]}\n");
        assert_eq!(p.containers[0].resources.as_ref().and_then(|r| r.limits.memory), Some(1 << 30));
        assert_eq!(p.containers[0].env_from_variables, vec!["X"]);
        assert_eq!(error_with_help(&container("    placement: [ssd]\n")).0, "invalid placement constraint `ssd`");
        assert_eq!(error_with_help(&container("    resources: {memory: lots}\n")).0, "invalid amount of memory `lots`");
        assert_eq!(
            error_with_help(&container("    resources: {cpus: 0}\n")).0,
            "invalid number of CPUs `0`: expected a number above 0, e.g. `0.5` or `2`"
        );
        assert_eq!(
            error_with_help(&container("    resources: {cpu: 1}\n")),
            ("unknown resource `cpu`".into(), Some("did you mean `cpus`?".into()))
        );
        assert_eq!(
            error_with_help(&container("    resources: {memory: 1g, reservations: {memory: 2g}}\n")).0,
            "a reservation is larger than its limit"
        );
        assert_eq!(parse_memory("1.5g"), Some(3 << 29));
        assert_eq!(parse_memory("10 MB"), Some(10 << 20));
        assert_eq!(parse_memory("x"), None);
    }

    /// Loads one container with `volumes` set to `volumes`.
    fn with_volumes(volumes: serde_json::Value) -> Result<Vec<Volume>, Vec<String>> {
        let doc = serde_json::json!({ "p": [{ "name": "a", "image_repo": "busybox", "volumes": volumes }] });
        match load(Input::Value(&doc), &options()) {
            Ok(p) => Ok(p.containers[0].volumes.clone()),
            Err(d) => Err(d.errors().map(|e| e.message.clone()).collect()),
        }
    }

    #[test]
    fn a_colon_in_a_mapping_volume_is_refused_as_the_list_form_cannot_say_it() {
        let host = with_volumes(serde_json::json!({ "./a:b": { "bind": "/x" } }));
        assert_eq!(
            host,
            Err(vec!["the volume's host side `./a:b` holds a `:`, which docker and podman read as a separator".into()])
        );
        let target = with_volumes(serde_json::json!({ "./a": { "bind": "/x:ro" } }));
        assert_eq!(
            target,
            Err(vec![
                "the path inside the container `/x:ro` holds a `:`, which docker and podman read as a separator".into()
            ])
        );
        let list = with_volumes(serde_json::json!(["./a:b:/x"]));
        assert_eq!(list, Err(vec!["invalid volume `./a:b:/x`: expected `HOST:PATH[:ro|:rw]`".into()]));
    }

    #[test]
    fn a_line_break_or_nul_in_any_path_is_refused_and_located() {
        let cases = [
            (serde_json::json!({ "./a\nb": { "bind": "/x" } }), "the volume's host side holds a line break"),
            (serde_json::json!({ "./a": { "bind": "/x\r" } }), "the path inside the container holds a line break"),
            (serde_json::json!({ "./a\u{0}": { "bind": "/x" } }), "the volume's host side holds a NUL character"),
            (serde_json::json!(["./a\nb:/x"]), "the volume holds a line break"),
            (serde_json::json!(["./a:/x\u{0}:ro"]), "the volume holds a NUL character"),
        ];
        for (volumes, expected) in cases {
            assert_eq!(with_volumes(volumes.clone()), Err(vec![expected.to_string()]), "{volumes}");
        }
        // In a file, the error points at the value (its key in the mapping form), and the
        // message header does not break the line.
        let text = "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      \"./a\\nb\": {bind: /x}\n      ./c: {bind: \"/y\\u0000\"}\n    build: {context: \"./ctx\\n\", dockerfile: \"Docker\\u0000file\"}\n";
        let draft = load_draft(Input::Text(text), &options());
        let errors: Vec<_> = draft.diagnostics.errors().collect();
        let found: Vec<_> = errors.iter().map(|e| (e.message.as_str(), e.span.line, e.span.column)).collect();
        assert_eq!(
            found,
            [
                ("the volume's host side holds a line break", 5, 7),
                ("the path inside the container holds a NUL character", 6, 19),
                ("the build context holds a line break", 7, 22),
            ],
            "{errors:#?}"
        );
        assert_eq!(errors[0].property.as_deref(), Some(r#"volumes["./a\nb"]"#));
        let dockerfile = container("    build: {context: ., dockerfile: \"Docker\\u0000file\"}\n");
        assert_eq!(error_with_help(&dockerfile).0, "the Dockerfile's name holds a NUL character");
        let git = container("    build: \"https://git.example.com/x.git\\n#main\"\n");
        assert_eq!(error_with_help(&git).0, "the build context holds a line break");
    }

    proptest::proptest! {
        /// Both forms of `volumes` read a `(host, target, mode)` triple by the same rules: where
        /// the list form can say it, both accept the same mount or both refuse; what only the
        /// mapping form can say (a `:` inside a path) it refuses.
        #[test]
        fn both_volume_forms_follow_the_same_rules(
            host in "[a-z./~: \n\u{0}-]{0,5}",
            target in "[a-z/: \n\r\u{0}]{0,5}",
            mode in proptest::option::of("ro|rw|rx|"),
        ) {
            let mut binding = serde_json::json!({ "bind": target });
            if let Some(mode) = &mode {
                binding["mode"] = serde_json::json!(mode);
            }
            let mapping = with_volumes(serde_json::json!({ host.clone(): binding }));
            let joined = match &mode {
                Some(mode) => format!("{host}:{target}:{mode}"),
                None => format!("{host}:{target}"),
            };
            let list = with_volumes(serde_json::json!([joined]));
            if host.contains(':') || target.contains(':') {
                proptest::prop_assert!(mapping.is_err(), "{host:?} {target:?}: {mapping:?}");
            } else {
                proptest::prop_assert_eq!(mapping.is_ok(), list.is_ok(), "{:?}: {:?} / {:?}", joined, mapping, list);
                if let (Ok(a), Ok(b)) = (&mapping, &list) {
                    proptest::prop_assert_eq!(a, b);
                }
            }
            if host.contains(PATH_FORBIDDEN) || target.contains(PATH_FORBIDDEN) {
                proptest::prop_assert!(mapping.is_err() && list.is_err());
            }
        }

        /// A name set twice in the list form is an error at the second, with a note at the
        /// first, naming the name and never the value.
        #[test]
        fn duplicate_names_in_the_list_form_are_refused(names in proptest::collection::vec("[A-C]", 1..6)) {
            for property in ["env_vars", "labels"] {
                let items: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{n}=hunter2-{i}")).collect();
                let doc = serde_json::json!({ "p": [{ "name": "a", "image_repo": "busybox", property: items }] });
                let draft = load_draft(Input::Value(&doc), &options());
                let errors: Vec<_> = draft.diagnostics.errors().collect();
                let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
                proptest::prop_assert_eq!(errors.len(), names.len() - distinct.len(), "{:#?}", errors);
                for e in &errors {
                    proptest::prop_assert!(e.message.starts_with("duplicate name `"), "{}", e.message);
                    proptest::prop_assert_eq!(e.notes.len(), 1);
                    let all = format!("{} {:?} {:?}", e.message, e.help, e.notes);
                    proptest::prop_assert!(!all.contains("hunter2"), "{}", all);
                }
                let pipeline = draft.pipeline.as_ref();
                let kept = pipeline.map_or(0, |p| match property {
                    "env_vars" => p.containers[0].env_vars.len(),
                    _ => p.containers[0].labels.len(),
                });
                proptest::prop_assert_eq!(kept, distinct.len());
            }
        }
    }

    #[test]
    fn duplicate_names_are_refused_in_every_string_map() {
        let text = "p:\n  - name: a\n    image_repo: busybox\n    env_vars:\n      - A=hunter2\n      - B=1\n      - A=hunter2\n";
        let draft = load_draft(Input::Text(text), &options());
        let found: Vec<_> = draft.diagnostics.errors().collect();
        assert_eq!(found.len(), 1, "{found:#?}");
        let e = found[0];
        assert_eq!(e.message, "duplicate name `A`");
        assert_eq!((e.span.line, e.property.as_deref()), (7, Some("env_vars")));
        assert_eq!(e.notes.iter().map(|n| n.span.line).collect::<Vec<_>>(), [5]);
        assert_eq!(e.help.as_deref(), Some("a name may appear once in `env_vars`; keep one"));
        // Keys that differ as written but expand alike (DB=neo4j), and build arguments.
        assert_eq!(
            error_with_help(&container("    env_vars: {neo4j_X: 1, \"${DB}_X\": 2}\n")).0,
            "duplicate name `neo4j_X`"
        );
        assert_eq!(error_with_help(&container("    labels: [team=a, team=b]\n")).0, "duplicate name `team`");
        assert_eq!(
            error_with_help(&container("    build: {context: ., args: [V=1, V=2]}\n")),
            ("duplicate name `V`".into(), Some("a name may appear once in `build.args`; keep one".into()))
        );
        // Distinct names, and empty ones (refused as such, not as duplicates), are no duplicates.
        ok(&container("    env_vars: [A=1, AB=1, B=A]\n"));
        assert_eq!(errors(&container("    env_vars: [=1, =2]\n")).len(), 2);
    }

    #[test]
    fn all_errors_at_once() {
        let errs = errors("p:\n  - name: a\n  - name: a\n    image_repo: x\n    dependancies: [a]\n  - name: -x\n    image_repo: Upper/Case\n");
        assert_eq!(errs.len(), 5, "{errs:#?}");
    }
}
