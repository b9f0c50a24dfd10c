//! A JSON reader that builds the same positioned tree as the YAML one, for `.json` pipelines.
//!
//! The YAML parser reads JSON too, but a document that starts with `{` could be the key of a
//! mapping, so it holds every token until the document ends (over 100 MB for a 2 MB file).
//! This reader hands each container over as soon as it is read, like the YAML path. It runs
//! only on text `serde_json` has accepted, so its own error handling is minimal; messages come
//! from `serde_json`.

use super::document::{secret_span, Node, ParseProblem, ScalarType, SecretSpan, Span, Value};
use crate::secret::Secrecy;

/// Nesting deeper than this is refused, as by the YAML parser.
const MAX_DEPTH: usize = 256;

pub(crate) struct Reader<'t, 'h> {
    chars: std::iter::Peekable<std::str::Chars<'t>>,
    line: u32,
    column: u32,
    on_item: Option<&'h mut dyn FnMut(usize, Node)>,
    pub(crate) streamed: usize,
    pub(crate) problems: Vec<ParseProblem>,
    /// Where values in secret positions are written (see [`Secrecy`]).
    pub(crate) secrets: Vec<SecretSpan>,
}

impl<'t, 'h> Reader<'t, 'h> {
    pub(crate) fn new(text: &'t str, on_item: Option<&'h mut dyn FnMut(usize, Node)>) -> Self {
        Reader {
            chars: text.chars().peekable(),
            line: 1,
            column: 1,
            on_item,
            streamed: 0,
            problems: Vec::new(),
            secrets: Vec::new(),
        }
    }

    fn here(&self) -> Span {
        Span { line: self.line, column: self.column, len: 1 }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.chars.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn fail(&self, message: &str) -> ParseProblem {
        ParseProblem { message: format!("invalid JSON: {message}"), span: self.here(), first: None, help: None }
    }

    /// Reads the whole document.
    pub(crate) fn document(&mut self) -> Result<Node, ParseProblem> {
        self.skip_whitespace();
        let root = self.value(0, false, Secrecy::Open)?;
        self.skip_whitespace();
        match self.chars.peek() {
            None => Ok(root),
            Some(_) => Err(self.fail("trailing characters")),
        }
    }

    /// Reads a value; `stream` hands the items of this array over instead of keeping them;
    /// `secrecy` is the value's, from the key it stands under.
    fn value(&mut self, depth: usize, stream: bool, secrecy: Secrecy) -> Result<Node, ParseProblem> {
        let node = self.unmarked_value(depth, stream, secrecy)?;
        if secrecy.masks(&node) {
            self.secrets.extend(secret_span(&node));
        }
        Ok(node)
    }

    fn unmarked_value(&mut self, depth: usize, stream: bool, secrecy: Secrecy) -> Result<Node, ParseProblem> {
        if depth > MAX_DEPTH {
            return Err(self.fail("nested too deeply"));
        }
        let start = self.here();
        match self.chars.peek().copied() {
            Some('{') => self.object(start, depth, secrecy),
            Some('[') => self.array(start, depth, stream, secrecy),
            Some('"') => {
                let text = self.string()?;
                let len = if self.line == start.line { self.column - start.column } else { 1 };
                let end_line = self.line;
                Ok(Node { value: Value::Scalar { text, ty: ScalarType::Str }, span: Span { len, ..start }, end_line })
            }
            Some(_) => {
                let mut word = String::new();
                while let Some(&c) = self.chars.peek() {
                    if c.is_ascii_alphanumeric() || "+-.".contains(c) {
                        word.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                let span = Span { len: word.chars().count().max(1) as u32, ..start };
                let value = match word.as_str() {
                    "null" => Value::Null,
                    "true" | "false" => Value::Scalar { text: word, ty: ScalarType::Bool },
                    "" => return Err(self.fail("expected a value")),
                    _ if word.contains(['.', 'e', 'E']) => Value::Scalar { text: word, ty: ScalarType::Float },
                    _ => Value::Scalar { text: word, ty: ScalarType::Int },
                };
                Ok(Node { value, span, end_line: start.line })
            }
            None => Err(self.fail("unexpected end of file")),
        }
    }

    fn close(&self, start: Span) -> (Span, u32) {
        let span = if self.line == start.line { Span { len: self.column - start.column, ..start } } else { start };
        (span, self.line)
    }

    fn object(&mut self, start: Span, depth: usize, secrecy: Secrecy) -> Result<Node, ParseProblem> {
        self.bump(); // {
        let mut entries: Vec<(Node, Node)> = Vec::with_capacity(8);
        loop {
            self.skip_whitespace();
            match self.chars.peek() {
                Some('}') => {
                    self.bump();
                    break;
                }
                Some(',') => {
                    self.bump();
                    continue;
                }
                Some('"') => {}
                _ => return Err(self.fail("expected a key")),
            }
            let key = self.value(depth + 1, false, secrecy.of_key())?;
            self.skip_whitespace();
            if self.bump() != Some(':') {
                return Err(self.fail("expected `:`"));
            }
            self.skip_whitespace();
            // The containers: the value of the first key of the document's object.
            let stream = depth == 0 && entries.is_empty() && self.on_item.is_some();
            let value_secrecy = match key.as_scalar() {
                Some((key, _)) => secrecy.of_value(key),
                None => secrecy.of_value(""),
            };
            let value = self.value(depth + 1, stream, value_secrecy)?;
            if let Some(problem) = super::document::duplicate_key(&entries, &key) {
                self.problems.push(problem);
                continue;
            }
            entries.push((key, value));
        }
        let (span, end_line) = self.close(start);
        Ok(Node { value: Value::Map(entries), span, end_line })
    }

    fn array(&mut self, start: Span, depth: usize, stream: bool, secrecy: Secrecy) -> Result<Node, ParseProblem> {
        self.bump(); // [
        let mut items = Vec::new();
        loop {
            self.skip_whitespace();
            match self.chars.peek() {
                Some(']') => {
                    self.bump();
                    break;
                }
                Some(',') => {
                    self.bump();
                    continue;
                }
                None => return Err(self.fail("unexpected end of file")),
                _ => {}
            }
            let item = self.value(depth + 1, false, secrecy.of_item())?;
            match (stream, self.on_item.as_mut()) {
                (true, Some(hook)) => {
                    hook(self.streamed, item);
                    self.streamed += 1;
                }
                _ => items.push(item),
            }
        }
        let (span, end_line) = self.close(start);
        Ok(Node { value: Value::Seq(items), span, end_line })
    }

    fn string(&mut self) -> Result<String, ParseProblem> {
        self.bump(); // "
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.fail("unterminated string")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('u') => {
                        let high = self.hex4()?;
                        let c = if (0xD800..0xDC00).contains(&high) {
                            // A surrogate pair: `\uD83D\uDE00`.
                            if self.bump() != Some('\\') || self.bump() != Some('u') {
                                return Err(self.fail("unpaired surrogate"));
                            }
                            let low = self.hex4()?;
                            char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF))
                        } else {
                            char::from_u32(high)
                        };
                        out.push(c.unwrap_or('\u{FFFD}'));
                    }
                    Some(c) => out.push(c),
                    None => return Err(self.fail("unterminated string")),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseProblem> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self.bump().and_then(|c| c.to_digit(16)).ok_or_else(|| self.fail("invalid `\\u` escape"))?;
            value = value * 16 + digit;
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use crate::document::{parse, parse_streaming, Span, Syntax, Value};

    #[test]
    fn positions_escapes_and_duplicates() {
        let text = "{\"p\": [\n  {\"name\": \"a\\u00e9\\ud83d\\ude00\", \"n\": 1.5},\n  {\"name\": \"b\", \"name\": \"c\"}\n]}";
        let mut items = Vec::new();
        let parsed = parse_streaming(text, Syntax::Json, &mut |i, node| items.push((i, node)));
        assert_eq!(parsed.streamed, 2);
        assert_eq!(items[1].1.span, Span { line: 3, column: 3, len: 26 });
        let Value::Map(first) = &items[0].1.value else { panic!("not a map") };
        assert_eq!(first[0].1.as_scalar().map(|(t, _)| t), Some("aé😀"));
        assert_eq!(first[1].1.span, Span { line: 2, column: 40, len: 3 });
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].span.line, 3);
        assert!(parse(&"[".repeat(1000), Syntax::Json).root.is_none());
    }
}
