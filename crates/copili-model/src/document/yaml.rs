//! The YAML reader: saphyr-parser's events become the positioned tree, with anchors, aliases
//! (bounded), merge keys, duplicate keys reported, secrets marked where they are written, and
//! the pipeline's containers handed over as each is complete.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, ScalarStyle, Span as YamlSpan, SpannedEventReceiver, Tag};

use super::*;

pub(super) fn marker_span(marker: &Marker, len: usize) -> Span {
    Span { line: marker.line().max(1) as u32, column: marker.col() as u32 + 1, len: len.max(1) as u32 }
}

/// The start of a parser span, underlining up to its end when it ends on the same line.
pub(super) fn span_of(span: &YamlSpan) -> Span {
    let len = if span.end.line() == span.start.line() { span.end.col().saturating_sub(span.start.col()) } else { 1 };
    marker_span(&span.start, len)
}

/// A flow collection written on one line (`[a, b]`) is underlined whole.
pub(super) fn underline_to(start: Span, end: &YamlSpan) -> Span {
    if end.end.line() as u32 == start.line && end.end.col() as u32 >= start.column {
        Span { len: (end.end.col() as u32 + 1 - start.column).max(1), ..start }
    } else {
        start
    }
}

/// A collection under construction.
/// `secrecy` is the collection's own, from the key it stands under.
pub(super) enum Frame {
    Seq { span: Span, anchor: usize, items: Vec<Node>, secrecy: Secrecy },
    Map { span: Span, anchor: usize, entries: Vec<(Node, Node)>, key: Option<Node>, secrecy: Secrecy },
}

#[derive(Default)]
pub(super) struct Builder<'hook> {
    pub(super) on_item: Option<&'hook mut dyn FnMut(usize, Node)>,
    pub(super) streamed: usize,
    pub(super) stack: Vec<Frame>,
    pub(super) root: Option<Node>,
    pub(super) documents: usize,
    pub(super) anchors: HashMap<usize, Node>,
    pub(super) expanded: usize,
    pub(super) problems: Vec<ParseProblem>,
    pub(super) fatal: Option<ParseProblem>,
    pub(super) secrets: Vec<SecretSpan>,
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

pub(super) fn is_merge_key(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar { text, ty: ScalarType::Str } if text == "<<")
}

pub(super) fn count_nodes(node: &Node) -> usize {
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

pub(super) fn scalar_node(text: String, style: ScalarStyle, tag: Option<&Tag>, span: &YamlSpan) -> Node {
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
pub(super) fn resolve_plain(text: String) -> Value {
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

pub(super) fn is_int(text: &str) -> bool {
    if let Some(hex) = text.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return !oct.is_empty() && oct.chars().all(|c| ('0'..='7').contains(&c));
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

pub(super) fn is_float(text: &str) -> bool {
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
