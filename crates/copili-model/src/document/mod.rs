//! The positioned document tree: YAML and JSON text become [`Node`]s that remember where they
//! were written, so every later error can name a line and a column.
//!
//! This module is the only one that knows a YAML parser exists (`saphyr-parser`, whose event API
//! gives the start and end of every scalar and collection; `serde_yaml` gives positions only for
//! its own syntax errors). JSON text goes through the same parser — YAML 1.2 is a superset of JSON,
//! as docker compose also relies on — after `serde_json` has checked it, so that a broken JSON
//! file gets JSON's own error message.

mod explain;
mod place;
mod yaml;

use saphyr_parser::Parser;

use crate::secret::{is_reference_only, Secrecy};
use explain::*;
pub(crate) use place::place_in_value;
use yaml::*;

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
    /// The scalar, list or mapping itself, its items `Node`s with places of their own.
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

fn scalar_key(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Scalar { text, .. } => Some(text),
        _ => None,
    }
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
