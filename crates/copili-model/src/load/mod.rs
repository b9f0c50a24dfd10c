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
mod networks;
mod options;
mod pipeline;
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

    /// The message and place (line, column) of every error.
    fn placed_errors(text: &str) -> Vec<(String, u32, u32)> {
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

    #[test]
    fn a_sidecar_anchored_once_is_reused_by_two_containers() {
        let p = ok("p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - &db {name: db, image_repo: redis, tag: '7'}\n  - name: b\n    image_repo: busybox\n    sidecars: [*db]\n");
        let sidecars: Vec<_> = p
            .containers
            .iter()
            .flat_map(|c| c.sidecars.iter().map(|s| (c.name.as_str(), s.name.as_str(), s.image())))
            .collect();
        assert_eq!(sidecars, vec![("a", "db", "redis:7".to_string()), ("b", "db", "redis:7".to_string())]);
        // A sidecar may also be named like another job's container: it lives on its own job's network.
        let p = ok("p:\n  - name: db\n    image_repo: busybox\n  - name: b\n    image_repo: busybox\n    sidecars: [{name: db, image_repo: redis}]\n");
        assert_eq!(p.containers[1].sidecars[0].name, "db");
    }

    #[test]
    fn the_same_sidecar_in_two_containers_of_a_json_pipeline() {
        let p = ok(
            r#"{"p":[{"name":"a","image_repo":"busybox","sidecars":[{"name":"db","image_repo":"redis"}]},{"name":"b","image_repo":"busybox","sidecars":[{"name":"db","image_repo":"redis"}]}]}"#,
        );
        assert_eq!(p.containers[0].sidecars[0].name, "db");
        assert_eq!(p.containers[1].sidecars[0].name, "db");
    }

    #[test]
    fn names_stay_unique_where_they_meet() {
        // Among one container's sidecars.
        assert_eq!(
            error_with_help("p:\n  - name: a\n    image_repo: busybox\n    sidecars: [{name: db, image_repo: redis}, {name: db, image_repo: redis}]\n"),
            (
                "duplicate name `db`: it is already a sidecar of `a`".into(),
                Some("names must be unique among one container's sidecars".into())
            )
        );
        // A sidecar and its own container share a network, where each is reached by its name.
        let (message, help) =
            error_with_help("p:\n  - name: a\n    image_repo: busybox\n    sidecars: [{name: a, image_repo: redis}]\n");
        assert_eq!(message, "duplicate name `a`: it is already the name of its own container");
        assert!(help.is_some_and(|h| h.contains("share a network")));
        // Containers among themselves.
        assert_eq!(
            error_with_help("p:\n  - name: a\n    image_repo: busybox\n  - name: a\n    image_repo: busybox\n"),
            (
                "duplicate name `a`: it is already a container".into(),
                Some("container names must be unique in a pipeline".into())
            )
        );
        // Engine names: `<main>-<sidecar>` against a container and against another sidecar.
        assert_eq!(
            error_with_help("p:\n  - name: load-db\n    image_repo: busybox\n  - name: load\n    image_repo: busybox\n    sidecars: [{name: db, image_repo: redis}]\n").0,
            "the sidecar `db` of `load` and the container `load-db` would have the same name on the engine"
        );
        assert_eq!(
            error_with_help("p:\n  - name: a-b\n    image_repo: busybox\n    sidecars: [{name: c, image_repo: redis}]\n  - name: a\n    image_repo: busybox\n    sidecars: [{name: b-c, image_repo: redis}]\n").0,
            "the sidecars `a/b-c` and `a-b/c` would have the same name on the engine (`a-b-c`)"
        );
    }

    #[test]
    fn an_empty_property_name_is_named_as_such() {
        assert_eq!(error_with_help(&container("    \"\": x\n")).0, "a property name must not be empty");
        assert_eq!(
            error_with_help(&container("    ? [x]\n    : y\n")).0,
            "a property name must be a string, found a list"
        );
        assert_eq!(
            error_with_help(r#"{"p": [{"name": "a", "image_repo": "busybox", "": 1}]}"#).0,
            "a property name must not be empty"
        );
    }

    fn sidecar(props: &str) -> String {
        format!("p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n{props}")
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
        let placement: Vec<String> = a.placement.iter().map(ToString::to_string).collect();
        assert_eq!(placement, vec!["node.labels.disk==ssd", "node.role!=manager"]);
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
