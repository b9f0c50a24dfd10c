//! Located errors and warnings, and their rustc-like rendering.
//!
//! A [`Diagnostic`] names the file, line and column, the container and the property it is
//! about; where two places conflict it points at the second and carries a [`Note`] naming the
//! first. Rendering shows the source line with the place underlined; values that are secrets
//! (registry passwords, `env_vars` values) are masked in those lines, so a snippet can never
//! print them.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, PoisonError};

use crate::document::Span;
use crate::escape::{escape_controls, escape_controls_in_lines};
use crate::secret::Secret;

/// The text a pipeline was read from, kept for rendering snippets.
#[derive(Debug)]
pub struct SourceFile {
    /// How the source is named in messages: a path as given, `<stdin>`, `<string>` or `<value>`.
    pub name: String,
    /// The text, when there was one.
    text: Option<String>,
    /// Byte offset of the start of every line, computed once.
    line_starts: Vec<usize>,
    /// Where secret values are; added while the pipeline is converted, read when rendering.
    masks: Mutex<Vec<Mask>>,
}

#[derive(Debug, Clone, Copy)]
struct Mask {
    line: u32,
    column: u32,
    end_line: u32,
    /// Length in characters when the value is on one line.
    len: u32,
}

/// A source line as a snippet shows it: secrets replaced by `****`, characters that would act on
/// a terminal escaped ([`crate::escape`]), and where each character of the line is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedLine {
    /// The line as shown: masked and escaped.
    pub text: String,
    /// Masked ranges of the original line, as 0-based character columns `[start, end)`.
    segments: Vec<(usize, usize)>,
    /// Where each character of the original line starts in `text` (in characters), and one
    /// more entry: the length of `text`.
    starts: Vec<usize>,
}

impl MaskedLine {
    const MASK_LEN: usize = 4;

    fn new(raw: &str, segments: Vec<(usize, usize)>) -> MaskedLine {
        let mut text = String::with_capacity(raw.len());
        let mut starts = Vec::with_capacity(raw.len() + 1);
        let mut shown = 0;
        let mut segment = segments.iter().peekable();
        for (column, c) in raw.chars().enumerate() {
            while segment.next_if(|&&(_, end)| end <= column).is_some() {}
            match segment.peek() {
                Some(&&(start, _)) if start <= column => {
                    if start == column {
                        text.push_str(Secret::MASK);
                        starts.push(shown);
                        shown += Self::MASK_LEN;
                    } else {
                        starts.push(shown - Self::MASK_LEN);
                    }
                }
                _ => {
                    starts.push(shown);
                    crate::escape::shown(c, &mut text);
                    shown += crate::escape::shown_width(c);
                }
            }
        }
        starts.push(shown);
        MaskedLine { text, segments, starts }
    }

    /// Where a 0-based column of the original line is shown, and how many characters an
    /// underline of `len` covers there (a place inside a secret points at its `****`).
    pub fn display(&self, column: usize, len: usize) -> (usize, usize) {
        let last = self.starts.len() - 1;
        let inside = |column: usize| self.segments.iter().find(|&&(start, end)| start < column && column < end);
        let from = match self.segments.iter().find(|&&(start, end)| start <= column && column < end) {
            Some(&(start, _)) => return (self.starts[start], Self::MASK_LEN),
            None => self.starts[column.min(last)],
        };
        let end_column = column.saturating_add(len).min(last);
        let to = match inside(end_column) {
            Some(&(start, _)) => self.starts[start] + Self::MASK_LEN,
            None => self.starts[end_column],
        };
        (from, to.saturating_sub(from).max(1))
    }
}

impl SourceFile {
    /// A source with text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        SourceFile { name: name.into(), text: Some(text), line_starts, masks: Mutex::new(Vec::new()) }
    }

    /// A source without text (a value given by a library user).
    pub fn without_text(name: impl Into<String>) -> SourceFile {
        SourceFile { name: name.into(), text: None, line_starts: Vec::new(), masks: Mutex::new(Vec::new()) }
    }

    /// The whole text, if there is one.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Marks a secret value written from `span` to line `end_line`: snippets show `****` from
    /// its first character to the end of its first line, and instead of every further line it
    /// spans (block scalars, multi-line quoted strings).
    pub fn mask(&self, span: Span, end_line: u32) {
        if span.is_known() {
            let end_line = end_line.max(span.line);
            let mask = Mask { line: span.line, column: span.column, end_line, len: span.len };
            self.masks.lock().unwrap_or_else(PoisonError::into_inner).push(mask);
        }
    }

    /// The raw text of a 1-based line, secrets included: for finding places, never for showing.
    pub(crate) fn raw_line(&self, line: u32) -> Option<&str> {
        let text = self.text.as_ref()?;
        let index = usize::try_from(line).ok()?.checked_sub(1)?;
        let start = *self.line_starts.get(index)?;
        let end = self.line_starts.get(index + 1).map_or(text.len(), |next| next - 1);
        text.get(start..end).map(|l| l.strip_suffix('\r').unwrap_or(l))
    }

    /// A 1-based line with every secret on it replaced by `****`, if the line is known.
    pub fn line(&self, line: u32) -> Option<MaskedLine> {
        let raw = self.raw_line(line)?;
        let chars: Vec<char> = raw.chars().collect();
        let indent = chars.iter().take_while(|c| c.is_whitespace()).count();
        let mut segments: Vec<(usize, usize)> = self
            .masks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|m| m.line <= line && line <= m.end_line)
            .map(|m| {
                if m.line < line {
                    (indent, chars.len())
                } else {
                    let start = (m.column.saturating_sub(1) as usize).min(chars.len());
                    let end = if m.end_line == line { start + m.len.max(1) as usize } else { chars.len() };
                    (start, end.min(chars.len()).max(start))
                }
            })
            .filter(|(start, end)| end > start)
            .collect();
        segments.sort_unstable();
        // Merge overlapping ranges.
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(segments.len());
        for (start, end) in segments {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Some(MaskedLine::new(raw, merged))
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The pipeline cannot be used.
    Error,
    /// The pipeline can be used, but something is probably not what was meant.
    Warning,
}

/// A secondary place a diagnostic refers to, such as the first of two duplicates.
#[derive(Debug, Clone)]
pub struct Note {
    /// What the place is, e.g. "first defined here".
    pub message: String,
    /// The place the note points at, shown with its own excerpt.
    pub span: Span,
}

/// One error or warning about a pipeline description.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The message: lowercase, no trailing period, never a secret value.
    pub message: String,
    /// The file it is about (absent for problems with command-line arguments).
    pub source: Option<Arc<SourceFile>>,
    /// Where in the file.
    pub span: Span,
    /// The container it is about (`main/sidecar` for a sidecar).
    pub container: Option<String>,
    /// The property it is about, such as `dependencies` or `env_vars.DB_HOST`.
    pub property: Option<String>,
    /// Other places involved.
    pub notes: Vec<Note>,
    /// A suggestion, such as "did you mean `dependencies`?".
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new error.
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, message)
    }

    /// A new warning.
    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, message)
    }

    fn new(severity: Severity, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            message: message.into(),
            source: None,
            span: Span::UNKNOWN,
            container: None,
            property: None,
            notes: Vec::new(),
            help: None,
        }
    }

    /// Sets the file and place.
    pub fn at(mut self, source: &Arc<SourceFile>, span: Span) -> Diagnostic {
        self.source = Some(Arc::clone(source));
        self.span = span;
        self
    }

    /// Names the container the problem is in (`load`, or `load/db` for a sidecar).
    pub fn container(mut self, container: impl Into<String>) -> Diagnostic {
        self.container = Some(container.into());
        self
    }

    /// Sets the property.
    pub fn property(mut self, property: impl Into<String>) -> Diagnostic {
        self.property = Some(property.into());
        self
    }

    /// Adds a note about another place in the same file.
    pub fn note(mut self, message: impl Into<String>, span: Span) -> Diagnostic {
        self.notes.push(Note { message: message.into(), span });
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:column`, or just the file when the place is unknown.
    pub fn location(&self) -> Option<String> {
        let source = self.source.as_ref()?;
        Some(location(&source.name, self.span))
    }
}

fn location(name: &str, span: Span) -> String {
    if span.is_known() {
        format!("{name}:{}:{}", span.line, span.column)
    } else {
        name.to_string()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        // Everything here may quote the file: what would act on a terminal is escaped.
        writeln!(f, "{label}: {}", escape_controls(&self.message))?;
        let context = match (&self.container, &self.property) {
            (Some(c), Some(p)) => format!(" (container `{c}`, property `{p}`)"),
            (Some(c), None) => format!(" (container `{c}`)"),
            (None, Some(p)) => format!(" (property `{p}`)"),
            (None, None) => String::new(),
        };
        let context = escape_controls(&context);
        if let Some(source) = &self.source {
            let gutter =
                self.notes.iter().map(|n| n.span.line).chain([self.span.line]).max().unwrap_or(0).to_string().len();
            let pad = " ".repeat(gutter);
            writeln!(f, "{pad}--> {}{context}", escape_controls(&location(&source.name, self.span)))?;
            snippet(f, source, self.span, &pad)?;
            for note in &self.notes {
                writeln!(f, "note: {}", escape_controls(&note.message))?;
                writeln!(f, "{pad}--> {}", escape_controls(&location(&source.name, note.span)))?;
                snippet(f, source, note.span, &pad)?;
            }
        } else if !context.is_empty() {
            writeln!(f, "  -->{context}")?;
        }
        if let Some(help) = &self.help {
            let pad = match &self.source {
                Some(_) => " ".repeat(
                    self.notes.iter().map(|n| n.span.line).chain([self.span.line]).max().unwrap_or(0).to_string().len(),
                ),
                None => " ".to_string(),
            };
            writeln!(f, "{pad} = help: {}", escape_controls_in_lines(help))?;
        }
        Ok(())
    }
}

/// How many characters of a source line a snippet shows at most: long lines (a one-line JSON
/// file) are cut around the place, as rustc does, so that a message fits a terminal.
const SNIPPET_WIDTH: usize = 100;

/// How many characters a cut snippet keeps before the place it underlines.
const SNIPPET_CONTEXT: usize = 30;

const ELLIPSIS: &str = "...";

fn snippet(f: &mut fmt::Formatter<'_>, source: &SourceFile, span: Span, pad: &str) -> fmt::Result {
    if !span.is_known() {
        return Ok(());
    }
    let Some(masked) = source.line(span.line) else { return Ok(()) };
    let chars: Vec<char> = masked.text.chars().collect();
    let (start, len) = masked.display(span.column.saturating_sub(1) as usize, span.len.max(1) as usize);
    let start = start.min(chars.len());
    let len = len.min(chars.len().saturating_sub(start).max(1));
    // The window of the shown line that fits: all of it, or the place with some context.
    let (from, to) = if chars.len() <= SNIPPET_WIDTH {
        (0, chars.len())
    } else {
        // As much of the line as fits, the place with some context before it.
        let from = start.saturating_sub(SNIPPET_CONTEXT).min(chars.len() - SNIPPET_WIDTH);
        (from, from + SNIPPET_WIDTH)
    };
    let mut line: String = chars[from..to].iter().collect();
    let mut underline = String::new();
    if from > 0 {
        line.insert_str(0, ELLIPSIS);
        underline.push_str(&" ".repeat(ELLIPSIS.len()));
    }
    if to < chars.len() {
        line.push_str(ELLIPSIS);
    }
    for &c in &chars[from..start.max(from)] {
        underline.push(if c == '\t' { '\t' } else { ' ' });
    }
    let len = len.min(to.saturating_sub(start)).max(1);
    let _ = write!(underline, "{}", "^".repeat(len));
    let width = pad.len();
    let line_no = format!("{:>width$}", span.line);
    writeln!(f, "{pad} |")?;
    writeln!(f, "{line_no} | {line}")?;
    writeln!(f, "{pad} | {underline}")
}

/// All diagnostics of one attempt to load a pipeline; the `Err` of loading.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    /// Errors and warnings in the order they were found.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// The number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Whether any item is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| !d.is_error())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_snippet_note_and_help() {
        let source = Arc::new(SourceFile::new("p.yaml", "p:\n  - name: a\n  - name: a\n"));
        let d = Diagnostic::error("duplicate container name `a`")
            .at(&source, Span { line: 3, column: 11, len: 1 })
            .container("a")
            .property("name")
            .note("`a` is first defined here", Span { line: 2, column: 11, len: 1 })
            .help("give every container a unique name");
        insta::assert_snapshot!(d.to_string(), @r"
        error: duplicate container name `a`
         --> p.yaml:3:11 (container `a`, property `name`)
          |
        3 |   - name: a
          |           ^
        note: `a` is first defined here
         --> p.yaml:2:11
          |
        2 |   - name: a
          |           ^
          = help: give every container a unique name
        ");
    }

    #[test]
    fn masks_secret_values_in_snippets() {
        let text = "env_vars: {PW: hunter2, X: 1}\nnext: hunter2\nblock:\n  K: |\n    line1\n    line2\n  Q: \"multi\n    line\"\n  N: shown\n";
        let source = SourceFile::new("p.yaml", text);
        source.mask(Span { line: 1, column: 16, len: 7 }, 1);
        let first = source.line(1).expect("line 1");
        assert_eq!(first.text, "env_vars: {PW: ****, X: 1}");
        // `X` (column 25 before masking) is shown at column 22.
        assert_eq!(first.display(24, 1), (21, 1));
        assert_eq!(first.display(17, 3), (15, 4));
        source.mask(Span { line: 2, column: 7, len: 7 }, 2);
        source.mask(Span { line: 5, column: 5, len: 1 }, 6);
        source.mask(Span { line: 7, column: 6, len: 1 }, 8);
        let shown: Vec<String> = (1..=9).filter_map(|l| source.line(l)).map(|l| l.text).collect();
        assert_eq!(
            shown,
            vec![
                "env_vars: {PW: ****, X: 1}",
                "next: ****",
                "block:",
                "  K: |",
                "    ****",
                "    ****",
                "  Q: ****",
                "    ****",
                "  N: shown"
            ]
        );
    }
}
