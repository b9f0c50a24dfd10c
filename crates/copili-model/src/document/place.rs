//! Where a character of a string's value is written in the source, so that a problem inside a
//! value (an invalid `${…}` on the third line of a `|` block) is shown at its own line and
//! column rather than at the start of the value.
//!
//! The value is rebuilt from the source text in the style found where the scalar starts —
//! literal (`|`) and folded (`>`) blocks, single- and double-quoted strings, plain text — with
//! the place of every character, and used only if the rebuilt text is the parser's value. That
//! is exact for blocks, for single-quoted strings (`''` included) and for double-quoted and plain
//! strings, one line or several. It gives up (the caller then points at the value's start) for a
//! double-quoted string with a `\` escape, whose characters do not map one to one, for a block
//! with an explicit indentation indicator (`|2`), and whenever the rebuilt text differs.

use super::Span;

/// A 1-based line of the source, without its line break.
pub type Lines<'a> = &'a dyn Fn(u32) -> Option<&'a str>;

/// A character of the rebuilt value and where it is written (1-based line and column).
type Placed = (char, u32, u32);

/// Where the `index`-th character (0-based) of `value` is written, and how many of the `len`
/// characters from there are written after it on the same line (at least 1); `None` when the
/// place cannot be said exactly. `span` is where the scalar starts in `source`.
/// `lines` gives a 1-based line of the source without its line break (only the lines around
/// the value are read, so a large file costs nothing more).
pub fn place_in_value<'a>(lines: Lines<'a>, span: Span, value: &str, index: usize, len: usize) -> Option<Span> {
    if !span.is_known() {
        return None;
    }
    let first: Vec<char> = lines(span.line)?.chars().collect();
    let start = span.column as usize - 1;
    let quoted = matches!(first.get(start)?, '\'' | '"');
    // A block scalar starts at its first content line; its header ends an earlier line.
    let header = if quoted { None } else { block_header_before(lines, span.line) };
    let placed = match header {
        Some((header_line, folded)) => block(lines, header_line, folded)?,
        None => flow(lines, span.line, start, value.chars().count())?,
    };
    let rebuilt: String = placed.iter().map(|p| p.0).collect();
    let same = if header.is_some() {
        rebuilt.trim_end_matches('\n') == value.trim_end_matches('\n')
    } else {
        rebuilt == value
    };
    if !same {
        return None;
    }
    let &(_, line, column) = placed.get(index)?;
    let following = placed[index..]
        .iter()
        .take(len.max(1))
        .enumerate()
        .take_while(|(k, p)| {
            // On the same line, one after the other, as written (not a folded break).
            let written = lines(p.1).and_then(|l| l.chars().nth(p.2 as usize - 1));
            p.1 == line && p.2 == column + *k as u32 && written == Some(p.0)
        })
        .count();
    Some(Span { line, column, len: following.max(1) as u32 })
}

/// The block header (`|`, `>-`, `|+ # comment`, …) that ends the nearest non-blank line before
/// `line`: that line's number, and whether the block is folded. A header with an explicit
/// indentation indicator (`|2`) is not taken: the block's indentation is then not its first
/// line's.
fn block_header_before(lines: Lines<'_>, line: u32) -> Option<(u32, bool)> {
    let number = (1..line).rev().find(|&n| lines(n).is_some_and(|l| !l.trim().is_empty()))?;
    let text: Vec<char> = lines(number)?.chars().collect();
    for (k, &c) in text.iter().enumerate().rev() {
        if !matches!(c, '|' | '>') || k > 0 && !text[k - 1].is_whitespace() {
            continue;
        }
        let indicators = text[k + 1..].iter().take_while(|c| matches!(c, '+' | '-' | '0'..='9')).count();
        let rest = &text[k + 1 + indicators..];
        let after = rest.iter().skip_while(|c| c.is_whitespace()).collect::<String>();
        let spaced = rest.first().is_none_or(|c| c.is_whitespace());
        if after.is_empty() || after.starts_with('#') && spaced {
            if text[k + 1..k + 1 + indicators].iter().any(char::is_ascii_digit) {
                return None;
            }
            return Some((number, c == '>'));
        }
    }
    None
}

/// A literal or folded block whose header ends line `header_line`.
fn block(lines: Lines<'_>, header_line: u32, folded: bool) -> Option<Vec<Placed>> {
    let body = (header_line + 1..).map_while(|n| Some((n, lines(n)?)));
    let indent =
        body.clone().find(|(_, l)| !l.trim().is_empty()).map(|(_, l)| l.chars().take_while(|&c| c == ' ').count())?;
    let mut content: Vec<(u32, Vec<char>)> = Vec::new();
    for (number, line) in body {
        let leading = line.chars().take_while(|&c| c == ' ').count();
        if !line.trim().is_empty() && leading < indent {
            break;
        }
        content.push((number, line.chars().skip(indent).collect()));
    }
    let at = |line: u32, k: usize| (line, (indent + k + 1) as u32);
    let mut out: Vec<Placed> = Vec::new();
    if !folded {
        for (line, chars) in &content {
            out.extend(chars.iter().enumerate().map(|(k, &c)| (c, line.to_owned(), at(*line, k).1)));
            out.push(('\n', *line, at(*line, chars.len()).1));
        }
        return Some(out);
    }
    // Folded: a break between two lines that are neither empty nor more indented is a space;
    // with empty lines between them, each empty line is a break.
    let mut previous: Option<(bool, u32, usize)> = None;
    let mut empties: Vec<u32> = Vec::new();
    for (line, chars) in &content {
        if chars.is_empty() {
            empties.push(*line);
            continue;
        }
        let normal = !matches!(chars[0], ' ' | '\t');
        match previous {
            Some((was_normal, pline, plen)) if was_normal && normal && empties.is_empty() => {
                out.push((' ', pline, at(pline, plen).1));
            }
            Some((was_normal, pline, plen)) if !(was_normal && normal) => out.push(('\n', pline, at(pline, plen).1)),
            _ => {}
        }
        out.extend(empties.drain(..).map(|l| ('\n', l, 1)));
        out.extend(chars.iter().enumerate().map(|(k, &c)| (c, *line, at(*line, k).1)));
        previous = Some((normal, *line, chars.len()));
    }
    Some(out)
}

/// A quoted or plain string from `start` (a 0-based column of `first_line`), folded as YAML
/// folds flow scalars: a line's surrounding white space dropped, a break between two lines a
/// space, each empty line between them a break. A plain string ends once `count` characters
/// are rebuilt (the rest of its last line, a comment or a flow collection's `,`, is cut).
fn flow(lines: Lines<'_>, first_line: u32, start: usize, count: usize) -> Option<Vec<Placed>> {
    let first: Vec<char> = lines(first_line)?.chars().collect();
    let quote = match first[start] {
        q @ ('\'' | '"') => Some(q),
        _ => None,
    };
    let mut out: Vec<Placed> = Vec::new();
    let mut empties: Vec<u32> = Vec::new();
    let mut number = first_line;
    let mut from = start + usize::from(quote.is_some());
    loop {
        let chars: Vec<char> = lines(number)?.chars().collect();
        // This line's piece: (char, 0-based column), and whether the string ends on it.
        let mut piece: Vec<(char, usize)> = Vec::new();
        let mut closed = false;
        let mut k = from;
        while k < chars.len() {
            let c = chars[k];
            match quote {
                Some('\'') if c == '\'' => {
                    if chars.get(k + 1) == Some(&'\'') {
                        piece.push(('\'', k));
                        k += 2;
                        continue;
                    }
                    closed = true;
                    break;
                }
                Some('"') if c == '\\' => return None,
                Some('"') if c == '"' => {
                    closed = true;
                    break;
                }
                _ => piece.push((c, k)),
            }
            k += 1;
        }
        let is_first = number == first_line;
        if !closed {
            while piece.last().is_some_and(|(c, _)| matches!(c, ' ' | '\t')) {
                piece.pop();
            }
        }
        if !is_first {
            let lead = piece.iter().take_while(|(c, _)| matches!(c, ' ' | '\t')).count();
            piece.drain(..lead);
        }
        if !is_first && piece.is_empty() && !closed {
            empties.push(number);
        } else {
            if !is_first {
                if empties.is_empty() {
                    let (line, column) = out.last().map_or((first_line, from as u32), |p| (p.1, p.2 + 1));
                    out.push((' ', line, column));
                }
                out.extend(empties.drain(..).map(|l| ('\n', l, 1)));
            }
            out.extend(piece.iter().map(|&(c, k)| (c, number, k as u32 + 1)));
        }
        if closed {
            return Some(out);
        }
        if quote.is_none() && out.len() >= count {
            // A plain string's last line may go on (` # comment`, `, next]`): the value is
            // what the rebuilt text starts with, compared by the caller.
            out.truncate(count);
            return Some(out);
        }
        number += 1;
        from = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{parse, Syntax, Value};

    /// The place of `needle` in the value of the key `v` of `source`, by the parser's span.
    fn place(source: &str, needle: &str) -> Option<(u32, u32, u32)> {
        let parsed = parse(source, Syntax::Yaml);
        let root = parsed.root.expect("a document");
        let Value::Map(entries) = &root.value else { panic!("not a mapping") };
        let node = &entries.iter().find(|(k, _)| k.as_scalar().map(|s| s.0) == Some("v")).expect("key v").1;
        let (value, _) = node.as_scalar().expect("a scalar");
        let byte = value.find(needle).expect("needle in the value");
        let index = value[..byte].chars().count();
        let all: Vec<&str> = source.split('\n').collect();
        let lines = |n: u32| all.get((n as usize).checked_sub(1)?).copied();
        place_in_value(&lines, node.span, value, index, needle.chars().count()).map(|s| (s.line, s.column, s.len))
    }

    #[test]
    fn literal_block() {
        let source = "a: 1\nv: |\n  echo one\n  echo ${1X} two\n\n  tail\nb: 2\n";
        assert_eq!(place(source, "${1X}"), Some((4, 8, 5)));
        assert_eq!(place(source, "tail"), Some((6, 3, 4)));
        let keep = "v: |+\n    x\n      ${1X}\n";
        assert_eq!(place(keep, "${1X}"), Some((3, 7, 5)));
        let strip = "v: |- # comment\n  a\n  b ${1X}\n";
        assert_eq!(place(strip, "${1X}"), Some((3, 5, 5)));
    }

    #[test]
    fn folded_block() {
        let source = "v: >\n  one\n  two ${1X}\n\n  three\n    more ${Y}\n  end\n";
        assert_eq!(place(source, "${1X}"), Some((3, 7, 5)));
        assert_eq!(place(source, "three"), Some((5, 3, 5)));
        assert_eq!(place(source, "${Y}"), Some((6, 10, 4)));
        assert_eq!(place(source, "end"), Some((7, 3, 3)));
    }

    #[test]
    fn double_quoted() {
        let source = "v: \"one\n   two ${1X}\n\n   three\"\n";
        assert_eq!(place(source, "${1X}"), Some((2, 8, 5)));
        assert_eq!(place(source, "three"), Some((4, 4, 5)));
        assert_eq!(place("v: \"a ${1X}\"\n", "${1X}"), Some((1, 7, 5)));
        // An escape changes the offsets: no exact place.
        assert_eq!(place("v: \"a\\tb\n  ${1X}\"\n", "${1X}"), None);
    }

    #[test]
    fn single_quoted() {
        let source = "v: 'it''s\n  a ${1X}'\n";
        assert_eq!(place(source, "${1X}"), Some((2, 5, 5)));
        assert_eq!(place(source, "s"), Some((1, 9, 1)));
    }

    #[test]
    fn plain() {
        let source = "v: one\n  two ${1X}\n\n  three\nw: 1\n";
        assert_eq!(place(source, "${1X}"), Some((2, 7, 5)));
        assert_eq!(place(source, "three"), Some((4, 3, 5)));
        assert_eq!(place("v: a ${1X} b\n", "${1X}"), Some((1, 6, 5)));
        assert_eq!(place("v: a ${1X} # note\n", "${1X}"), Some((1, 6, 5)));
        assert_eq!(place("v: one\n  two ${1X} # note\n", "${1X}"), Some((2, 7, 5)));
    }

    #[test]
    fn an_underline_stays_on_its_line() {
        let source = "v: >\n  a ${X\n  }\n";
        assert_eq!(place(source, "${X }"), Some((2, 5, 3)));
    }

    #[test]
    fn an_explicit_indentation_indicator_gives_up() {
        assert_eq!(place("v: |2\n   ${1X}\n", "${1X}"), None);
    }
}
