//! The positioned document tree: YAML and JSON text become [`Node`]s that remember where they
//! were written, so every later error can name a line and a column.
//!
//! This module is the only one that knows a YAML parser exists (`saphyr-parser`, whose event API
//! gives the start and end of every scalar and collection; `serde_yaml` gives positions only for
//! its own syntax errors). JSON text goes through the same parser — YAML 1.2 is a superset of JSON,
//! as docker compose also relies on — after `serde_json` has checked it, so that a broken JSON
//! file gets JSON's own error message.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span as YamlSpan, SpannedEventReceiver, Tag};

use crate::secret::{is_reference_only, Secrecy};

/// Where a node was written: 1-based line and column (in characters), and how many characters
/// to underline. A line of 0 means the position is unknown (input given as a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column in characters.
    pub column: u32,
    /// Number of characters to underline (at least 1 when known).
    pub len: u32,
}

impl Span {
    /// The span of input that has no text (a `serde_json::Value`).
    pub const UNKNOWN: Span = Span { line: 0, column: 0, len: 0 };

    /// Whether this span points into a text.
    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

/// The type a scalar resolved to under the YAML 1.2 core schema (JSON's types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    /// A string (quoted, or plain text that is no other type).
    Str,
    /// An integer such as `3` or `0x1f`.
    Int,
    /// A float such as `1.5` or `.inf`.
    Float,
    /// `true` or `false`.
    Bool,
}

/// A node's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// A scalar: its text as written (for strings, the string's content) and its type.
    Scalar {
        /// The text: a string's content, or a number or bool exactly as written.
        text: String,
        /// The resolved type.
        ty: ScalarType,
    },
    /// A sequence (list).
    Seq(Vec<Node>),
    /// A mapping, in the order written. Keys are nodes so that they keep their positions.
    Map(Vec<(Node, Node)>),
}

/// A value with the place it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The content.
    pub value: Value,
    /// Where it starts.
    pub span: Span,
    /// The 1-based line it ends on (0 when unknown), for masking multi-line secrets.
    pub end_line: u32,
}

impl Node {
    /// A node with no known position.
    pub fn unplaced(value: Value) -> Node {
        Node { value, span: Span::UNKNOWN, end_line: 0 }
    }

    /// A short description of the node's kind for messages: "a mapping", "a string", …
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "nothing (null)",
            Value::Scalar { ty: ScalarType::Str, .. } => "a string",
            Value::Scalar { ty: ScalarType::Int, .. } => "an integer",
            Value::Scalar { ty: ScalarType::Float, .. } => "a number",
            Value::Scalar { ty: ScalarType::Bool, .. } => "a boolean",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The scalar text, if this is a scalar.
    pub fn as_scalar(&self) -> Option<(&str, ScalarType)> {
        match &self.value {
            Value::Scalar { text, ty } => Some((text, *ty)),
            _ => None,
        }
    }

    /// Converts a JSON value (the library's "dict" input) into an unplaced tree.
    pub fn from_json(value: &serde_json::Value) -> Node {
        let value = match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Scalar { text: b.to_string(), ty: ScalarType::Bool },
            serde_json::Value::Number(n) => {
                let ty = if n.is_f64() { ScalarType::Float } else { ScalarType::Int };
                Value::Scalar { text: n.to_string(), ty }
            }
            serde_json::Value::String(s) => Value::Scalar { text: s.clone(), ty: ScalarType::Str },
            serde_json::Value::Array(items) => Value::Seq(items.iter().map(Node::from_json).collect()),
            serde_json::Value::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| {
                        let key = Node::unplaced(Value::Scalar { text: k.clone(), ty: ScalarType::Str });
                        (key, Node::from_json(v))
                    })
                    .collect(),
            ),
        };
        Node::unplaced(value)
    }

    /// Converts the tree into JSON (to check a document against the JSON Schema, as an editor
    /// does). Scalars keep their YAML type where JSON has it: an integer that fits `i64` and a
    /// finite float become numbers, other numbers (`0x1f`, `.inf`) strings. A key that is not a
    /// string becomes its text (`null` for a null key, the JSON text for a collection).
    pub fn to_json(&self) -> serde_json::Value {
        // Recursion is bounded: the parser refuses documents nested deeper than ~256 levels.
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Scalar { text, ty } => match ty {
                ScalarType::Str => serde_json::Value::String(text.clone()),
                ScalarType::Bool => serde_json::Value::Bool(text.eq_ignore_ascii_case("true")),
                ScalarType::Int => match text.parse::<i64>() {
                    Ok(n) => serde_json::Value::from(n),
                    Err(_) => serde_json::Value::String(text.clone()),
                },
                ScalarType::Float => match text.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                    Some(n) => serde_json::Value::Number(n),
                    None => serde_json::Value::String(text.clone()),
                },
            },
            Value::Seq(items) => serde_json::Value::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| {
                        let key = match &key.value {
                            Value::Scalar { text, .. } => text.clone(),
                            Value::Null => "null".to_string(),
                            Value::Seq(_) | Value::Map(_) => key.to_json().to_string(),
                        };
                        (key, value.to_json())
                    })
                    .collect(),
            ),
        }
    }
}

/// Something the parser could not accept, with where.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseProblem {
    /// Lowercase message without trailing period.
    pub message: String,
    /// Where it was found.
    pub span: Span,
    /// A second place the problem refers to (the first of two duplicate keys).
    pub first: Option<Span>,
    /// How to fix it, when that can be said.
    pub help: Option<String>,
}

/// The syntax the text is expected to be in; it decides whose error message a broken text gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// YAML (the default).
    Yaml,
    /// JSON (a `.json` file).
    Json,
    /// Not known (stdin, a string): YAML, with JSON's message for broken text that looks like JSON.
    Detect,
}

/// The result of parsing: the root node (if the document had one) and the problems found.
/// Problems such as duplicate keys do not stop parsing; a syntax error does (root is `None`).
#[derive(Debug, Default)]
pub struct Parsed {
    /// The document's root node, `None` for an empty document or a syntax error.
    pub root: Option<Node>,
    /// Everything that was wrong, in order.
    pub problems: Vec<ParseProblem>,
    /// How many items [`parse_streaming`] handed over.
    pub streamed: usize,
    /// Where values in secret positions are written ([`Secrecy`]), read up to a syntax error:
    /// every occurrence, duplicates and misspelt properties included.
    pub secrets: Vec<SecretSpan>,
}

/// Where a secret value is written: its start and the line it ends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretSpan {
    /// Where the value starts (and, on one line, its length).
    pub span: Span,
    /// The 1-based line it ends on.
    pub end_line: u32,
}

/// The secret span of a node in a secret position, unless it shows nothing secret: nothing
/// (null), or only variable references (`${DB_PASSWORD}`: the secret is elsewhere).
pub(crate) fn secret_span(node: &Node) -> Option<SecretSpan> {
    match &node.value {
        Value::Null => None,
        Value::Scalar { text, .. } if is_reference_only(text) => None,
        _ => node.span.is_known().then_some(SecretSpan { span: node.span, end_line: node.end_line }),
    }
}

/// How many nodes aliases may add by expansion before the document is refused
/// (a "billion laughs" document must not exhaust memory).
const ALIAS_EXPANSION_BUDGET: usize = 1_000_000;

/// Parses YAML or JSON text into a positioned tree.
pub fn parse(text: &str, syntax: Syntax) -> Parsed {
    parse_inner(text, syntax, None)
}

/// Parses like [`parse`], but hands each item of the list under the first top-level key (a
/// pipeline's containers) to `on_item` as soon as it is complete, with its index, instead of
/// keeping it in the tree: a pipeline of 20,000 containers never exists as one tree. That list
/// is empty in the returned root; [`Parsed::streamed`] counts the items handed over. After a
/// syntax error, items handed over before it must be disregarded.
pub fn parse_streaming(text: &str, syntax: Syntax, on_item: &mut dyn FnMut(usize, Node)) -> Parsed {
    parse_inner(text, syntax, Some(on_item))
}

fn parse_inner(text: &str, syntax: Syntax, on_item: Option<&mut dyn FnMut(usize, Node)>) -> Parsed {
    // A byte order mark, which editors on Windows write, is allowed before JSON (RFC 8259 §8.1)
    // as before YAML: the JSON readers see a space in its place, so columns stay right.
    let without_bom;
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) if syntax != Syntax::Yaml => {
            without_bom = format!(" {rest}");
            without_bom.as_str()
        }
        _ => text,
    };
    let looks_like_json = matches!(text.trim_start().chars().next(), Some('{') | Some('['));
    let json = match syntax {
        Syntax::Json => match check_json(text) {
            Ok(()) => true,
            Err(problem) => return Parsed { problems: vec![problem], ..Parsed::default() },
        },
        Syntax::Detect => looks_like_json && check_json(text).is_ok(),
        Syntax::Yaml => false,
    };
    if json {
        let mut reader = crate::json_tree::Reader::new(text, on_item);
        return match reader.document() {
            Ok(root) => Parsed {
                root: Some(root),
                problems: reader.problems,
                streamed: reader.streamed,
                secrets: reader.secrets,
            },
            Err(problem) => Parsed { problems: vec![problem], secrets: reader.secrets, ..Parsed::default() },
        };
    }
    let mut builder = Builder { on_item, ..Builder::default() };
    let mut parser = Parser::new_from_str(text);
    match parser.load(&mut builder, true) {
        Ok(()) => {}
        Err(error) => {
            let secrets = std::mem::take(&mut builder.secrets);
            if syntax == Syntax::Detect && looks_like_json {
                if let Err(problem) = check_json(text) {
                    return Parsed { problems: vec![problem], secrets, ..Parsed::default() };
                }
            }
            let span = marker_span(error.marker(), 1);
            let info = error.info().to_string();
            return Parsed { problems: vec![explain_yaml(text, &info, span)], secrets, ..Parsed::default() };
        }
    }
    if let Some(problem) = builder.fatal.take() {
        return Parsed { problems: vec![problem], secrets: builder.secrets, ..Parsed::default() };
    }
    Parsed { root: builder.root, problems: builder.problems, streamed: builder.streamed, secrets: builder.secrets }
}

fn check_json(text: &str) -> Result<(), ParseProblem> {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Ok(()),
        Err(error) => {
            let full = error.to_string();
            let message = match full.rfind(" at line ") {
                Some(at) => &full[..at],
                None => full.as_str(),
            };
            let span = Span { line: error.line().max(1) as u32, column: error.column().max(1) as u32, len: 1 };
            Err(explain_json(text, message, span))
        }
    }
}

/// Turns a YAML parser error into a message that says what to do, pointing where the mistake
/// most likely is (not where the parser gave up).
fn explain_yaml(text: &str, info: &str, span: Span) -> ParseProblem {
    let mut problem =
        ParseProblem { message: format!("invalid YAML: {info}"), span: clamp(text, span), first: None, help: None };
    if info.contains("tab") {
        if let Some((line, column)) = text.lines().enumerate().find_map(|(i, l)| {
            let indent: String = l.chars().take_while(|c| c.is_whitespace()).collect();
            indent.find('\t').map(|at| (i, indent[..at].chars().count()))
        }) {
            problem.message = "invalid YAML: a tab in the indentation".into();
            problem.span = Span { line: line as u32 + 1, column: column as u32 + 1, len: 1 };
        }
        problem.help = Some("YAML does not allow tabs for indentation; indent with spaces".into());
    } else if info.contains("flow sequence") || info.contains("flow mapping") {
        if let Some((open, span)) = unclosed_bracket(text) {
            let close = if open == '[' { ']' } else { '}' };
            problem.message = format!("invalid YAML: this `{open}` is never closed by `{close}`");
            problem.span = span;
            problem.help = Some(format!("add the missing `{close}`, or separate items with `,`"));
        }
    } else if info.contains("unknown anchor") {
        let alias = alias_at(text, span);
        let anchors: Vec<String> = text
            .match_indices('&')
            .map(|(at, _)| {
                text[at + 1..].chars().take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c)).collect::<String>()
            })
            .filter(|a| !a.is_empty())
            .collect();
        problem.message = format!("invalid YAML: unknown alias `*{alias}`: no anchor `&{alias}` is defined before it");
        problem.help = match crate::properties::suggest(&alias, anchors.iter().map(String::as_str)) {
            Some(s) => Some(format!("did you mean `*{s}`?")),
            None => Some("define the anchor (`key: &name value`) before its first use (`*name`)".into()),
        };
    } else if info.contains("mapping values are not allowed") {
        problem.help = Some(
            "check this line's indentation against the lines above it; a value that contains `: ` must be quoted"
                .into(),
        );
    } else if info.contains("did not find expected key") || info.contains("expected <block end>") {
        problem.help = Some("check the indentation: keys of one mapping line up in the same column".into());
    }
    problem
}

/// Turns serde_json's message into one that says what to do.
fn explain_json(text: &str, message: &str, span: Span) -> ParseProblem {
    let span = clamp(text, span);
    let mut problem = ParseProblem { message: format!("invalid JSON: {message}"), span, first: None, help: None };
    let offset = byte_offset(text, span);
    let before = offset.map(|at| text[..at].trim_end());
    let here = offset.map_or("", |at| &text[at..]);
    if here.starts_with("//") || here.starts_with("/*") {
        problem.message = "invalid JSON: a comment: JSON has no comments".into();
        problem.span = Span { len: 2, ..span };
        problem.help =
            Some("remove it, or write the pipeline in YAML (a `.yaml` file), where `#` starts a comment".into());
    } else if here.starts_with(']') && before.is_some_and(|b| b.ends_with(',')) {
        if let Some(comma) = before.map(str::len) {
            problem.message = "invalid JSON: a trailing comma: JSON allows no `,` before `]`".into();
            problem.span = span_at(text, comma - 1);
            problem.help = Some("remove this `,`".into());
        }
    } else if message.starts_with("key must be a string") && before.is_some_and(|b| b.ends_with(',')) {
        if let Some(comma) = before.map(str::len) {
            problem.message = "invalid JSON: a trailing comma: JSON allows no `,` before `}`".into();
            problem.span = span_at(text, comma - 1);
            problem.help = Some("remove this `,`".into());
        }
    } else if message.starts_with("trailing comma") {
        problem.message = "invalid JSON: a trailing comma: JSON allows no `,` before `]` or `}`".into();
        problem.help = Some("remove the last `,`".into());
    } else if message.starts_with("control character") {
        problem.message = "invalid JSON: a line break inside a string".into();
        problem.help = Some("is a closing `\"` missing on this line?".into());
    } else if message.starts_with("EOF while parsing") {
        if let Some((open, at)) = unclosed_bracket(text) {
            problem.message = format!("invalid JSON: the file ends before this `{open}` is closed");
            problem.span = at;
        }
    }
    problem
}

/// Keeps a position inside the text: parsers report the end of input one line past the last.
fn clamp(text: &str, span: Span) -> Span {
    let lines: Vec<&str> = text.lines().collect();
    if (span.line as usize) <= lines.len() && span.line > 0 {
        return span;
    }
    match lines.iter().rposition(|l| !l.trim().is_empty()) {
        Some(last) => Span { line: last as u32 + 1, column: lines[last].chars().count() as u32 + 1, len: 1 },
        None => span,
    }
}

fn byte_offset(text: &str, span: Span) -> Option<usize> {
    let line_start: usize = text.split_inclusive('\n').take(span.line.checked_sub(1)? as usize).map(str::len).sum();
    let line = text[line_start..].lines().next().unwrap_or("");
    let column: usize = line.chars().take(span.column.saturating_sub(1) as usize).map(char::len_utf8).sum();
    Some(line_start + column)
}

fn span_at(text: &str, offset: usize) -> Span {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    Span { line, column, len: 1 }
}

/// The last `[` or `{` that is never closed, outside quotes and comments.
fn unclosed_bracket(text: &str) -> Option<(char, Span)> {
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        if comment {
            comment = c != '\n';
            continue;
        }
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' => comment = true,
                '[' | '{' => stack.push((c, at)),
                ']' | '}' => {
                    stack.pop();
                }
                _ => {}
            },
        }
    }
    stack.last().map(|&(c, at)| (c, span_at(text, at)))
}

/// The alias name written at a position (`*name`).
fn alias_at(text: &str, span: Span) -> String {
    let Some(at) = byte_offset(text, span) else { return String::new() };
    let rest = &text[at..];
    let rest = rest.strip_prefix('*').unwrap_or(rest);
    rest.chars().take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c)).collect()
}

fn marker_span(marker: &Marker, len: usize) -> Span {
    Span { line: marker.line().max(1) as u32, column: marker.col() as u32 + 1, len: len.max(1) as u32 }
}

/// The start of a parser span, underlining up to its end when it ends on the same line.
fn span_of(span: &YamlSpan) -> Span {
    let len = if span.end.line() == span.start.line() { span.end.col().saturating_sub(span.start.col()) } else { 1 };
    marker_span(&span.start, len)
}

/// A flow collection written on one line (`[a, b]`) is underlined whole.
fn underline_to(start: Span, end: &YamlSpan) -> Span {
    if end.end.line() as u32 == start.line && end.end.col() as u32 >= start.column {
        Span { len: (end.end.col() as u32 + 1 - start.column).max(1), ..start }
    } else {
        start
    }
}

/// A collection under construction.
/// `secrecy` is the collection's own, from the key it stands under.
enum Frame {
    Seq { span: Span, anchor: usize, items: Vec<Node>, secrecy: Secrecy },
    Map { span: Span, anchor: usize, entries: Vec<(Node, Node)>, key: Option<Node>, secrecy: Secrecy },
}

#[derive(Default)]
struct Builder<'hook> {
    on_item: Option<&'hook mut dyn FnMut(usize, Node)>,
    streamed: usize,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    anchors: HashMap<usize, Node>,
    expanded: usize,
    problems: Vec<ParseProblem>,
    fatal: Option<ParseProblem>,
    secrets: Vec<SecretSpan>,
}

impl<'input> SpannedEventReceiver<'input> for Builder<'_> {
    fn on_event(&mut self, event: Event<'input>, span: YamlSpan) {
        let marker = span.start;
        if self.fatal.is_some() {
            return;
        }
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 && self.root.is_some() {
                    self.fatal = Some(ParseProblem {
                        message: "more than one YAML document: a pipeline file holds one document".into(),
                        span: marker_span(&marker, 3),
                        first: None,
                        help: None,
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let node = scalar_node(text.into_owned(), style, tag.as_deref(), &span);
                self.mark_if_secret(&node, self.secrecy_here());
                self.finish(node, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                let secrecy = self.secrecy_here();
                let items = Vec::with_capacity(4);
                self.stack.push(Frame::Seq { span: marker_span(&marker, 1), anchor, items, secrecy })
            }
            Event::MappingStart(anchor, _) => {
                let secrecy = self.secrecy_here();
                let entries = Vec::with_capacity(8);
                self.stack.push(Frame::Map { span: marker_span(&marker, 1), anchor, entries, key: None, secrecy })
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { span: start, anchor, items, secrecy }) = self.stack.pop() {
                    let end_line = span.end.line() as u32;
                    let start = underline_to(start, &span);
                    let node = Node { value: Value::Seq(items), span: start, end_line };
                    self.mark_if_secret(&node, secrecy);
                    self.finish(node, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { span: start, anchor, entries, secrecy, .. }) = self.stack.pop() {
                    let end_line = span.end.line() as u32;
                    let start = underline_to(start, &span);
                    let entries = self.merge_keys(entries);
                    let node = Node { value: Value::Map(entries), span: start, end_line };
                    self.mark_if_secret(&node, secrecy);
                    self.finish(node, anchor);
                }
            }
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some(node) => {
                    let node = node.clone();
                    // An alias in a secret position: the secret is written at the anchor.
                    self.mark_if_secret(&node, self.secrecy_here());
                    self.expanded += count_nodes(&node);
                    if self.expanded > ALIAS_EXPANSION_BUDGET {
                        self.fatal = Some(ParseProblem {
                            message: format!("aliases expand to more than {ALIAS_EXPANSION_BUDGET} nodes"),
                            span: marker_span(&marker, 1),
                            first: None,
                            help: None,
                        });
                        return;
                    }
                    self.finish(node, 0);
                }
                None => {
                    self.fatal = Some(ParseProblem {
                        message: "alias to an unknown anchor".into(),
                        span: marker_span(&marker, 1),
                        first: None,
                        help: None,
                    })
                }
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

impl Builder<'_> {
    /// The secrecy of the node that completes next, from the collection it goes into.
    fn secrecy_here(&self) -> Secrecy {
        match self.stack.last() {
            None => Secrecy::Open,
            Some(Frame::Seq { secrecy, .. }) => secrecy.of_item(),
            Some(Frame::Map { secrecy, key: None, .. }) => secrecy.of_key(),
            Some(Frame::Map { secrecy, key: Some(key), .. }) => match scalar_key(key) {
                Some(key) => secrecy.of_value(key),
                None => secrecy.of_value(""),
            },
        }
    }

    /// Remembers where a node in a secret position is written.
    fn mark_if_secret(&mut self, node: &Node, secrecy: Secrecy) {
        if secrecy.masks(node) {
            self.secrets.extend(secret_span(node));
        }
    }

    /// Puts a completed node where it belongs: the root, a sequence item, a key or a value,
    /// or hands it over when it is an item of the first top-level key's list.
    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let is_pipeline_item = matches!(
            self.stack.as_slice(),
            [Frame::Map { entries, key: Some(_), .. }, Frame::Seq { .. }] if entries.is_empty()
        );
        if is_pipeline_item {
            if let Some(hook) = self.on_item.as_mut() {
                hook(self.streamed, node);
                self.streamed += 1;
                return;
            }
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let Some(problem) = duplicate_key(entries, &k) {
                        self.problems.push(problem);
                        return;
                    }
                    entries.push((k, node));
                }
            },
        }
    }

    /// Applies YAML merge keys (`<<: *defaults`): entries of the merged mappings that the
    /// mapping does not set itself are added, the mapping's own entries win.
    fn merge_keys(&mut self, entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
        if !entries.iter().any(|(k, _)| is_merge_key(k)) {
            return entries;
        }
        let mut own = Vec::with_capacity(entries.len());
        let mut merged_sources = Vec::new();
        for (key, value) in entries {
            if is_merge_key(&key) {
                match value.value {
                    Value::Map(map) => merged_sources.push(map),
                    Value::Seq(items) => {
                        for item in items {
                            match item.value {
                                Value::Map(map) => merged_sources.push(map),
                                _ => self.problems.push(ParseProblem {
                                    message: "a merge key (`<<`) takes a mapping or a list of mappings".into(),
                                    span: item.span,
                                    first: None,
                                    help: None,
                                }),
                            }
                        }
                    }
                    _ => self.problems.push(ParseProblem {
                        message: "a merge key (`<<`) takes a mapping or a list of mappings".into(),
                        span: value.span,
                        first: None,
                        help: None,
                    }),
                }
            } else {
                own.push((key, value));
            }
        }
        for source in merged_sources {
            for (key, value) in source {
                let present = own.iter().any(|(k, _)| scalar_key(k).is_some() && scalar_key(k) == scalar_key(&key));
                if !present {
                    own.push((key, value));
                }
            }
        }
        own
    }
}

/// The problem of a key already present in a mapping, pointing at it with a note at the first
/// (shared by the YAML and the JSON reader).
pub(crate) fn duplicate_key(entries: &[(Node, Node)], key: &Node) -> Option<ParseProblem> {
    let text = scalar_key(key)?;
    let (first, _) = entries.iter().find(|(existing, _)| scalar_key(existing) == Some(text))?;
    Some(ParseProblem {
        message: format!("duplicate key `{text}`"),
        span: key.span,
        first: Some(first.span),
        help: None,
    })
}

fn is_merge_key(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar { text, ty: ScalarType::Str } if text == "<<")
}

fn scalar_key(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

fn count_nodes(node: &Node) -> usize {
    // Iterative, so that a deep tree cannot overflow the stack.
    let mut count = 0;
    let mut todo = vec![node];
    while let Some(node) = todo.pop() {
        count += 1;
        match &node.value {
            Value::Seq(items) => todo.extend(items.iter()),
            Value::Map(entries) => {
                for (k, v) in entries {
                    todo.push(k);
                    todo.push(v);
                }
            }
            _ => {}
        }
    }
    count
}

fn scalar_node(text: String, style: ScalarStyle, tag: Option<&Tag>, span: &YamlSpan) -> Node {
    let end_line = span.end.line() as u32;
    let span = span_of(span);
    let is_str_tag = tag.is_some_and(|t| t.suffix == "str");
    let value = if style != ScalarStyle::Plain || is_str_tag {
        Value::Scalar { text, ty: ScalarType::Str }
    } else {
        resolve_plain(text)
    };
    Node { value, span, end_line }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn resolve_plain(text: String) -> Value {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => {
            return Value::Scalar { text, ty: ScalarType::Bool };
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN"
        | ".NAN" => return Value::Scalar { text, ty: ScalarType::Float },
        _ => {}
    }
    let ty = if is_int(&text) {
        ScalarType::Int
    } else if is_float(&text) {
        ScalarType::Float
    } else {
        ScalarType::Str
    };
    Value::Scalar { text, ty }
}

fn is_int(text: &str) -> bool {
    if let Some(hex) = text.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return !oct.is_empty() && oct.chars().all(|c| ('0'..='7').contains(&c));
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

fn is_float(text: &str) -> bool {
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.chars().all(|c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit()))
                && (!int.is_empty() || !frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.chars().all(|c| c.is_ascii_digit()),
    };
    let exponent_ok = match exponent {
        Some(e) => {
            let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        }
        None => true,
    };
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        let parsed = parse(text, Syntax::Detect);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        parsed.root.expect("a root")
    }

    #[test]
    fn positions_are_one_based() {
        let node = root("p:\n  - name: a\n");
        let Value::Map(entries) = &node.value else { panic!("not a map") };
        assert_eq!(entries[0].0.span, Span { line: 1, column: 1, len: 1 });
        let Value::Seq(items) = &entries[0].1.value else { panic!("not a seq") };
        let Value::Map(container) = &items[0].value else { panic!("not a map") };
        assert_eq!(container[0].1.span, Span { line: 2, column: 11, len: 1 });
    }

    #[test]
    fn scalars_resolve_by_core_schema_and_keep_text() {
        let node = root("[1, 1.10, true, yes, '3', ~, 0x1F, .5, 1e3, abc]");
        let Value::Seq(items) = node.value else { panic!("not a seq") };
        let kinds: Vec<_> = items.iter().map(|n| n.value.clone()).collect();
        let s = |t: &str, ty| Value::Scalar { text: t.into(), ty };
        assert_eq!(
            kinds,
            vec![
                s("1", ScalarType::Int),
                s("1.10", ScalarType::Float),
                s("true", ScalarType::Bool),
                s("yes", ScalarType::Str),
                s("3", ScalarType::Str),
                Value::Null,
                s("0x1F", ScalarType::Int),
                s(".5", ScalarType::Float),
                s("1e3", ScalarType::Float),
                s("abc", ScalarType::Str),
            ]
        );
    }

    #[test]
    fn duplicate_keys_point_at_the_second_and_name_the_first() {
        let parsed = parse("a: 1\nb: 2\na: 3\n", Syntax::Yaml);
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].span.line, 3);
        assert_eq!(parsed.problems[0].first.map(|s| s.line), Some(1));
    }

    #[test]
    fn json_errors_use_json_messages() {
        let parsed = parse("{\"a\": [1, 2}", Syntax::Json);
        assert!(parsed.root.is_none());
        assert!(parsed.problems[0].message.starts_with("invalid JSON"), "{:?}", parsed.problems);
        assert_eq!(parsed.problems[0].span.line, 1);
    }

    #[test]
    fn merge_keys_and_aliases() {
        let node = root("d: &d {a: 1, b: 2}\ne: {<<: *d, b: 3}\n");
        let Value::Map(entries) = node.value else { panic!() };
        let Value::Map(e) = &entries[1].1.value else { panic!() };
        let pairs: Vec<_> = e
            .iter()
            .map(|(k, v)| (k.as_scalar().expect("scalar key").0, v.as_scalar().expect("scalar value").0))
            .collect();
        assert_eq!(pairs, vec![("b", "3"), ("a", "1")]);
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused_without_panicking() {
        let parsed = parse(&"[".repeat(100_000), Syntax::Detect);
        assert!(parsed.root.is_none() && !parsed.problems.is_empty());
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 { "a".to_string() } else { format!("l{}", i - 1) };
            bomb.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let parsed = parse(&bomb, Syntax::Yaml);
        assert!(parsed.root.is_none());
        assert!(parsed.problems[0].message.contains("aliases expand"), "{:?}", parsed.problems);
    }

    #[test]
    fn second_document_is_refused() {
        let parsed = parse("a: 1\n---\nb: 2\n", Syntax::Yaml);
        assert!(parsed.root.is_none());
        assert_eq!(parsed.problems[0].span.line, 2);
    }
}
