//! `.env` files as docker compose reads them: `KEY=VALUE` lines, `export KEY=VALUE`, `#`
//! comments, single-quoted values taken literally, double-quoted values with `\n`, `\t`, `\"`
//! and `\\` escapes (both may span lines), unquoted values trimmed and ended by ` #`.
//! Values are not interpolated.

/// A line the parser could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotEnvError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong with the line, e.g. ``expected `KEY=VALUE` ``.
    pub message: String,
}

/// One entry of a `.env` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotEnvEntry {
    /// The variable's name.
    pub key: String,
    /// Its value.
    pub value: String,
    /// The 1-based line it starts on.
    pub line: u32,
}

/// Parses a `.env` file; every bad line is reported, good lines are kept.
pub fn parse(text: &str) -> (Vec<DotEnvEntry>, Vec<DotEnvError>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line_no = index as u32 + 1;
        let raw = lines[index];
        index += 1;
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = (raw.len() - trimmed.len()) as u32;
        let body = trimmed.strip_prefix("export ").map(str::trim_start).unwrap_or(trimmed);
        let key_len = body.chars().take_while(|&c| c.is_ascii_alphanumeric() || "_.-".contains(c)).count();
        let key = &body[..key_len];
        let after_key = body[key_len..].trim_start();
        let Some(after_eq) = after_key.strip_prefix('=') else {
            errors.push(DotEnvError { line: line_no, column: indent + 1, message: "expected `KEY=VALUE`".into() });
            continue;
        };
        if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
            errors.push(DotEnvError {
                line: line_no,
                column: indent + 1,
                message: "a variable name starts with a letter or `_`".into(),
            });
            continue;
        }
        let value_start = after_eq.trim_start();
        let column = (raw.len() - value_start.len()) as u32 + 1;
        let quote = value_start.chars().next().filter(|&c| c == '"' || c == '\'');
        match quote {
            None => {
                let value = match value_start.find(" #").or_else(|| value_start.find("\t#")) {
                    Some(at) => &value_start[..at],
                    None => value_start,
                };
                let value = if value.starts_with('#') { "" } else { value };
                entries.push(DotEnvEntry { key: key.to_string(), value: value.trim_end().to_string(), line: line_no });
            }
            Some(q) => {
                let mut value = String::new();
                let mut rest: String = value_start[1..].to_string();
                let mut closed = false;
                loop {
                    let mut chars = rest.chars().peekable();
                    let mut consumed = 0;
                    while let Some(c) = chars.next() {
                        consumed += c.len_utf8();
                        if c == q {
                            closed = true;
                            break;
                        }
                        if q == '"' && c == '\\' {
                            if let Some(&next) = chars.peek() {
                                chars.next();
                                consumed += next.len_utf8();
                                match next {
                                    'n' => value.push('\n'),
                                    't' => value.push('\t'),
                                    'r' => value.push('\r'),
                                    '"' | '\\' | '$' => value.push(next),
                                    other => {
                                        value.push('\\');
                                        value.push(other);
                                    }
                                }
                                continue;
                            }
                        }
                        value.push(c);
                    }
                    if closed {
                        let tail = rest[consumed..].trim();
                        if !tail.is_empty() && !tail.starts_with('#') {
                            errors.push(DotEnvError {
                                line: line_no,
                                column,
                                message: "unexpected text after the closing quote".into(),
                            });
                        } else {
                            entries.push(DotEnvEntry { key: key.to_string(), value, line: line_no });
                        }
                        break;
                    }
                    // The quoted value goes on on the next line.
                    if index >= lines.len() {
                        errors.push(DotEnvError {
                            line: line_no,
                            column,
                            message: format!("the {q} quote is not closed"),
                        });
                        break;
                    }
                    value.push('\n');
                    rest = lines[index].to_string();
                    index += 1;
                }
            }
        }
    }
    (entries, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compose_style_files() {
        let text = "# comment\n\nA=1\nexport B = two words # comment\nC='lit $X \\n'\nD=\"a\\nb \\\"q\\\"\"\nE=\nF=\"multi\nline\"\nG=x#y\n";
        let (entries, errors) = parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        let pairs: Vec<_> = entries.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect();
        assert_eq!(
            pairs,
            vec![
                ("A", "1"),
                ("B", "two words"),
                ("C", "lit $X \\n"),
                ("D", "a\nb \"q\""),
                ("E", ""),
                ("F", "multi\nline"),
                ("G", "x#y")
            ]
        );
    }

    #[test]
    fn reports_bad_lines_with_positions() {
        let (entries, errors) = parse("A=1\njust words\n1X=2\nB=\"open\n");
        assert_eq!(entries.len(), 1);
        let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
    }
}
