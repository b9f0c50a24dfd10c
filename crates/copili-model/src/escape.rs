//! Text from a pipeline file, the environment or the command line, made safe to print.
//!
//! A pipeline file can hold characters that act on a terminal when printed: ESC starts the
//! sequences that move the cursor, recolour or retitle the window (and, in some terminals, write
//! to the clipboard), BEL rings, a carriage return overwrites the line, bidirectional overrides
//! reorder what is shown. Everything copili itself writes for people — messages, plans,
//! summaries, dry-run lines — shows such characters escaped (`\x1b`, `\r`, `\u{202e}`), so that a
//! file cannot disguise or rewrite what copili says about it. Tabs are kept. What containers
//! print is theirs and is passed through.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a character acts on a terminal instead of showing as itself: control characters
/// (C0, DEL, C1) but the tab, and the bidirectional formatting characters.
pub fn acts_on_terminal(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// How a character is shown: itself, or its escape.
pub fn shown(c: char, out: &mut String) {
    if !acts_on_terminal(c) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// How many characters [`shown`] writes for `c`.
pub fn shown_width(c: char) -> usize {
    if !acts_on_terminal(c) {
        return 1;
    }
    match c {
        '\n' | '\r' => 2,
        c if (c as u32) < 0x80 => 4,
        c => format!("{:x}", c as u32).len() + 4,
    }
}

/// `text` with every character that acts on a terminal escaped, line breaks included: for a
/// value shown on one line.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        shown(c, &mut out);
    }
    Cow::Owned(out)
}

/// `text` with every character that acts on a terminal escaped but line breaks: for a whole
/// rendered text (a plan, a message) whose lines are copili's.
pub fn escape_controls_in_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && acts_on_terminal(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\n' {
            out.push(c);
        } else {
            shown(c, &mut out);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_acts_on_a_terminal() {
        assert_eq!(escape_controls("plain\ttab"), "plain\ttab");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("a\u{1b}[2Jb\u{7}c\rd\ne\u{7f}"), "a\\x1b[2Jb\\x07c\\rd\\ne\\x7f");
        assert_eq!(escape_controls("\u{9b}x\u{202e}y"), "\\u{9b}x\\u{202e}y");
        assert_eq!(escape_controls_in_lines("a\u{1b}\nb\r\n"), "a\\x1b\nb\\r\n");
        for c in ['a', '\t', '\u{1b}', '\n', '\u{85}', '\u{202e}', '\u{2069}', 'é'] {
            let mut out = String::new();
            shown(c, &mut out);
            assert_eq!(out.chars().count(), shown_width(c), "{c:?}");
            assert!(!out.chars().any(acts_on_terminal), "{c:?}");
        }
    }
}
