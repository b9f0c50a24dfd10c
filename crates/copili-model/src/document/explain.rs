//! What went wrong, said so that it can be fixed: a YAML or JSON parser's error turned into a
//! message that names the mistake (a tab, an unclosed bracket, a trailing comma, a comment in
//! JSON) and points where it most likely is, not where the parser gave up.

use super::*;

pub(super) fn check_json(text: &str) -> Result<(), ParseProblem> {
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
pub(super) fn explain_yaml(text: &str, info: &str, span: Span) -> ParseProblem {
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
pub(super) fn explain_json(text: &str, message: &str, span: Span) -> ParseProblem {
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
pub(super) fn clamp(text: &str, span: Span) -> Span {
    let lines: Vec<&str> = text.lines().collect();
    if (span.line as usize) <= lines.len() && span.line > 0 {
        return span;
    }
    match lines.iter().rposition(|l| !l.trim().is_empty()) {
        Some(last) => Span { line: last as u32 + 1, column: lines[last].chars().count() as u32 + 1, len: 1 },
        None => span,
    }
}

pub(super) fn byte_offset(text: &str, span: Span) -> Option<usize> {
    let line_start: usize = text.split_inclusive('\n').take(span.line.checked_sub(1)? as usize).map(str::len).sum();
    let line = text[line_start..].lines().next().unwrap_or("");
    let column: usize = line.chars().take(span.column.saturating_sub(1) as usize).map(char::len_utf8).sum();
    Some(line_start + column)
}

pub(super) fn span_at(text: &str, offset: usize) -> Span {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    Span { line, column, len: 1 }
}

/// The last `[` or `{` that is never closed, outside quotes and comments.
pub(super) fn unclosed_bracket(text: &str) -> Option<(char, Span)> {
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
pub(super) fn alias_at(text: &str, span: Span) -> String {
    let Some(at) = byte_offset(text, span) else { return String::new() };
    let rest = &text[at..];
    let rest = rest.strip_prefix('*').unwrap_or(rest);
    rest.chars().take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c)).collect()
}
