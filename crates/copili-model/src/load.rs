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

use regex::Regex;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile};
use crate::document::{self, Node, ScalarType, Span, Syntax, Value};
use crate::dotenv;
use crate::interpolate::{interpolate, InterpolationError, VarSource, Variables};
use crate::properties::{self, OnSidecar};
use crate::secret::Secret;
use crate::spec::{ContainerSpans, ContainerSpec, Pipeline, VariableUse, Volume, VolumeSource};

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
            match std::fs::read_to_string(path) {
                Ok(text) => {
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
                mask_secrets(&item, &source);
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
            if let Some(root) = &parsed.root {
                mask_secrets(root, &source);
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

/// Whether a value is nothing but variable references without defaults (`${DB_PASSWORD}`):
/// the secret is elsewhere, and showing the reference helps.
fn is_reference_only(node: &Node) -> bool {
    static REFERENCES: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}$]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*)+$").expect("valid regex")
    });
    matches!(&node.value, Value::Scalar { text, .. } if REFERENCES.is_match(text))
}

fn mask_value(node: &Node, source: &SourceFile) {
    if !matches!(node.value, Value::Null) && !is_reference_only(node) {
        source.mask(node.span, node.end_line);
    }
}

/// After a syntax error there is no tree to find secrets in: mask by the text's layout instead,
/// generously. On a line naming `image_reg_password` or `env_vars`, everything after that
/// key; below `env_vars`, every line indented deeper than it (block YAML and pretty JSON alike).
fn mask_by_layout(source: &SourceFile) {
    let Some(text) = source.text() else { return };
    let indent = |l: &str| l.chars().take_while(|c| c.is_whitespace()).count();
    let mut env_block: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index as u32 + 1;
        let whole = |from: usize| Span { line: number, column: from as u32 + 1, len: line.chars().count() as u32 };
        if let Some(block) = env_block {
            if line.trim().is_empty() || indent(line) > block {
                source.mask(whole(indent(line)), number);
                continue;
            }
            env_block = None;
        }
        for key in ["image_reg_password", "env_vars"] {
            if let Some(at) = line.find(key) {
                let after_key = at + key.len();
                let mut from = line[after_key..].find(':').map_or(after_key, |c| after_key + c + 1);
                from += line[from..].len() - line[from..].trim_start().len();
                let column = line[..from].chars().count();
                source.mask(whole(column), number);
                if key == "env_vars" {
                    env_block = Some(indent(line));
                }
            }
        }
    }
}

/// Marks the values of `image_reg_password` and `env_vars` — wherever they appear, so that
/// misplaced ones are covered too — so that no snippet shows them.
fn mask_secrets(node: &Node, source: &SourceFile) {
    let mut todo = vec![node];
    while let Some(node) = todo.pop() {
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    match key.as_scalar().map(|(k, _)| k) {
                        Some("image_reg_password") => mask_value(value, source),
                        Some("env_vars") => match &value.value {
                            Value::Map(vars) => {
                                for (_, v) in vars {
                                    mask_value(v, source);
                                }
                            }
                            Value::Seq(items) => {
                                for item in items {
                                    mask_value(item, source);
                                }
                            }
                            _ => mask_value(value, source),
                        },
                        _ => todo.push(value),
                    }
                }
            }
            Value::Seq(items) => todo.extend(items.iter()),
            _ => {}
        }
    }
}

static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$").expect("valid regex"));
static REPOSITORY: LazyLock<Regex> = LazyLock::new(|| {
    let domain_component = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)";
    let domain = format!(r"(?:{domain_component}(?:\.{domain_component})*(?::[0-9]+)?)");
    let path_component = r"(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)";
    let digest = r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})";
    Regex::new(&format!(r"^(?:{domain}/)?{path_component}(?:/{path_component})*{digest}?$")).expect("valid regex")
});
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").expect("valid regex"));

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
            Err(InterpolationError::Required { name, message }) => {
                self.uses.insert(name.clone(), VarSource::Undefined);
                self.error(format!("required variable `{name}` is not set: {message}"), span, Some(at));
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

    /// A mapping of strings (`env_vars`, `labels`): keys and values expanded, numbers and
    /// booleans as written.
    fn string_map(
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
            spans: ContainerSpans { item: node.span, name: name_span, dependencies: Vec::new() },
        };
        let mut explicit_tag: Option<Span> = None;
        let mut image_span = None;
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
                        if key_text.is_empty() || key_text.contains(['=', '\0']) {
                            self.error(
                                "invalid environment variable name: it must be non-empty and hold no `=`",
                                key_span,
                                Some(at),
                            );
                            continue;
                        }
                        spec.env_vars.push((key_text, Secret::new(v)));
                    }
                }
                "labels" => {
                    for (key_text, v, key_span) in self.string_map(value, "labels", &label, false) {
                        if key_text.is_empty() {
                            self.error("a label name must not be empty", key_span, Some(at));
                        } else if key_text.starts_with("io.copili.") {
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
                other => unreachable!("property `{other}` is in the table but not handled"),
            }
        }

        match image_span {
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
        } else if name.len() > 63 {
            format!("the name `{name}` is longer than 63 characters, the limit of the hostname it becomes")
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

    fn volumes(&mut self, node: &Node, container: &str) -> Vec<Volume> {
        let at = At { container, property: "volumes" };
        let mut volumes: Vec<(Volume, Span)> = Vec::new();
        match &node.value {
            Value::Null => {}
            // docker-py: {HOST: {bind: PATH, mode: rw|ro}}
            Value::Map(entries) => {
                for (key, value) in entries {
                    let Some(host) = self.text(key, at, false) else { continue };
                    let path = format!("volumes[\"{host}\"]");
                    let at = At { container, property: &path };
                    let Value::Map(options) = &value.value else {
                        self.error(
                            format!("expected `{{bind: PATH, mode: rw|ro}}`, found {}", value.kind_name()),
                            value.span,
                            Some(at),
                        )
                        .help = Some(format!("or use the list form: `- {host}:/path/in/container:ro`"));
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
                            Some(format!("write `{host}: {{bind: /path/in/container, mode: rw}}`"));
                        continue;
                    };
                    let read_only = match mode {
                        None => false,
                        Some((m, span)) => match m.as_str() {
                            "rw" => false,
                            "ro" => true,
                            other => {
                                self.error(
                                    format!("invalid volume mode `{other}`: expected `rw` or `ro`"),
                                    span,
                                    Some(at),
                                );
                                continue;
                            }
                        },
                    };
                    if let Some(volume) = self.volume(&host, key.span, &target, target_span, read_only, at) {
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
                    let parts: Vec<&str> = text.split(':').collect();
                    let (host, target, read_only) = match parts.as_slice() {
                        [host, target] => (*host, *target, false),
                        [host, target, "rw"] => (*host, *target, false),
                        [host, target, "ro"] => (*host, *target, true),
                        [_, _, mode] => {
                            self.error(
                                format!("invalid volume mode `{mode}` in `{text}`: expected `rw` or `ro`"),
                                item.span,
                                Some(at),
                            );
                            continue;
                        }
                        _ => {
                            self.error(
                                format!("invalid volume `{text}`: expected `HOST:PATH[:ro|:rw]`"),
                                item.span,
                                Some(at),
                            );
                            continue;
                        }
                    };
                    if let Some(volume) = self.volume(host, item.span, target, item.span, read_only, at) {
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

    fn volume(
        &mut self,
        host: &str,
        host_span: Span,
        target: &str,
        target_span: Span,
        read_only: bool,
        at: At<'_>,
    ) -> Option<Volume> {
        if host.is_empty() {
            self.error("the volume's host side is empty", host_span, Some(at));
            return None;
        }
        if !target.starts_with('/') {
            self.error(
                format!("the path inside the container must be absolute, found `{target}`"),
                target_span,
                Some(at),
            );
            return None;
        }
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

    #[test]
    fn all_errors_at_once() {
        let errs = errors("p:\n  - name: a\n  - name: a\n    image_repo: x\n    dependancies: [a]\n  - name: -x\n    image_repo: Upper/Case\n");
        assert_eq!(errs.len(), 5, "{errs:#?}");
    }
}
