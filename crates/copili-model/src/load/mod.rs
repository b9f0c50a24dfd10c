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

mod container;
mod flow;
mod matrix;
mod networks;
mod options;
mod pipeline;
mod run_on;
mod scalars;
mod syntax;
mod timing;
mod values;
mod volumes;

pub(crate) use syntax::*;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile};
use crate::document::{self, Node, ScalarType, Span, Syntax, Value};
use crate::dotenv;
use crate::interpolate::{interpolate, InterpolationError, VarSource, Variables};
use crate::placement::Placement;
use crate::properties::{self, OnSidecar, PropertyId, RunOptionId};
use crate::secret::{secrecy_of_key, Secrecy, Secret};
use crate::spec::{
    BuildContext, BuildSpec, ContainerSpans, ContainerSpec, Pipeline, PullPolicy, ReadyCheck, ResourceAmounts,
    Resources, RunOn, VariableUse, Volume, VolumeSource,
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
    /// No `.env` file is read: variables come from the environment only.
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
                let specs = loader.containers_of(&item, index);
                containers.extend(specs);
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

/// Whether written text refers to a variable (`$$` is a literal `$`, and a `$` before anything
/// but a name or `{` is kept as written).
fn uses_variable(text: &str) -> bool {
    crate::interpolate::refers_to_variables(text)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn options() -> LoadOptions {
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

    pub(super) fn ok(text: &str) -> Pipeline {
        match load(Input::Text(text), &options()) {
            Ok(p) => p,
            Err(d) => panic!("{d}"),
        }
    }

    pub(super) fn errors(text: &str) -> Vec<String> {
        let draft = load_draft(Input::Text(text), &options());
        draft.diagnostics.errors().map(|d| d.message.clone()).collect()
    }

    /// The message and place (line, column) of every error.
    pub(super) fn placed_errors(text: &str) -> Vec<(String, u32, u32)> {
        let draft = load_draft(Input::Text(text), &options());
        draft.diagnostics.errors().map(|d| (d.message.clone(), d.span.line, d.span.column)).collect()
    }

    #[test]
    fn an_invalid_reference_in_a_multi_line_string_is_placed_where_it_is_written() {
        let block =
            "p:\n  - name: a\n    image_repo: busybox\n    command:\n      - |\n        one\n        two ${1X}\n";
        let message = "invalid variable reference `${1X}`: a variable name starts with a letter or `_` and holds letters, digits and `_`";
        assert_eq!(placed_errors(block), vec![(message.to_string(), 7, 13)]);
        let quoted = "p:\n  - name: a\n    image_repo: busybox\n    command: [\"one\n      two ${1X}\"]\n";
        assert_eq!(placed_errors(quoted), vec![(message.to_string(), 5, 11)]);
        // An escape: the value's start, counting characters.
        let escaped = "p:\n  - name: a\n    image_repo: busybox\n    command: [\"\\tone\n      two ${1X}\"]\n";
        let errors = placed_errors(escaped);
        assert_eq!((errors[0].1, errors[0].2), (4, 15), "{errors:?}");
        assert!(errors[0].0.contains("at character 10 of the value"), "{errors:?}");
        // A secret: the line only, the reference not quoted.
        let secret =
            "p:\n  - name: a\n    image_repo: busybox\n    env_vars:\n      PW: |\n        hunter2\n        x${1X}\n";
        let errors = placed_errors(secret);
        assert_eq!((errors[0].1, errors[0].2), (7, 9), "{errors:?}");
        assert!(!errors[0].0.contains("1X") && !errors[0].0.contains("hunter2"), "{errors:?}");
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

    /// One error of `text`: its message and help.
    pub(super) fn error_with_help(text: &str) -> (String, Option<String>) {
        let draft = load_draft(Input::Text(text), &options());
        let errors: Vec<_> = draft.diagnostics.errors().collect();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        (errors[0].message.clone(), errors[0].help.clone())
    }

    pub(super) fn warnings(text: &str) -> Vec<String> {
        ok(text).warnings.iter().map(|d| d.message.clone()).collect()
    }

    /// Loads one container with `volumes` set to `volumes`.
    pub(super) fn with_volumes(volumes: serde_json::Value) -> Result<Vec<Volume>, Vec<String>> {
        let doc = serde_json::json!({ "p": [{ "name": "a", "image_repo": "busybox", "volumes": volumes }] });
        match load(Input::Value(&doc), &options()) {
            Ok(p) => Ok(p.containers[0].volumes.clone()),
            Err(d) => Err(d.errors().map(|e| e.message.clone()).collect()),
        }
    }

    pub(super) fn container(props: &str) -> String {
        format!("p:\n  - name: a\n    image_repo: busybox\n{props}")
    }

    pub(super) fn sidecar(props: &str) -> String {
        format!("p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n{props}")
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

    #[test]
    fn all_errors_at_once() {
        let errs = errors("p:\n  - name: a\n  - name: a\n    image_repo: x\n    dependancies: [a]\n  - name: -x\n    image_repo: Upper/Case\n");
        assert_eq!(errs.len(), 5, "{errs:#?}");
    }
}
