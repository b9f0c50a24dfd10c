//! `$VAR` and `${VAR}` in pipeline descriptions, with compose's forms: `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+alternative}`,
//! `${VAR+alternative}`, and `$$` for a literal `$`. Defaults and alternatives may themselves
//! contain variables. As in compose-go, a `$` followed by anything but a name, `{` or `$` is
//! kept as written (`sh -c 'n=$(wc -l < f)'`, `a $ b`, `grep '^id$'`, `$1`), while a malformed
//! `${…}` (`${`, `${}`, `${1X}`, `${HOST:x}`) is an error, so a typo in a reference is never
//! silently kept.

use std::collections::HashMap;

/// Where a variable's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VarSource {
    /// The process environment.
    Env,
    /// The `.env` file.
    DotEnv,
    /// Not set; the default written in the description was used.
    Default,
    /// Not set and no default: replaced by the empty string.
    Undefined,
}

impl VarSource {
    /// The spelling used in `plan --format json`: `env`, `.env`, `default`, `undefined`.
    pub fn as_str(self) -> &'static str {
        match self {
            VarSource::Env => "env",
            VarSource::DotEnv => ".env",
            VarSource::Default => "default",
            VarSource::Undefined => "undefined",
        }
    }
}

/// The variables a description can use: the process environment first, then the `.env` file.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    process: HashMap<String, String>,
    dotenv: HashMap<String, String>,
}

impl Variables {
    /// Variables from the process environment and a `.env` file's entries.
    pub fn new(process: HashMap<String, String>, dotenv: HashMap<String, String>) -> Variables {
        Variables { process, dotenv }
    }

    /// A variable's value and where it came from; the process environment wins.
    pub fn get(&self, name: &str) -> Option<(&str, VarSource)> {
        if let Some(value) = self.process.get(name) {
            return Some((value, VarSource::Env));
        }
        self.dotenv.get(name).map(|v| (v.as_str(), VarSource::DotEnv))
    }
}

/// One use of a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarUse {
    /// The variable's name.
    pub name: String,
    /// Where its value came from.
    pub source: VarSource,
}

/// The result of expanding one string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    /// The expanded text.
    pub value: String,
    /// Every variable looked at, in order.
    pub uses: Vec<VarUse>,
}

impl Expansion {
    /// Names of the variables that were not set and had no default.
    pub fn undefined(&self) -> impl Iterator<Item = &str> {
        self.uses.iter().filter(|u| u.source == VarSource::Undefined).map(|u| u.name.as_str())
    }
}

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    /// `${VAR:?message}` or `${VAR?message}` with the variable missing (or, with `:?`, empty).
    #[error("required variable `{name}` is {}: {message}", if *empty { "set but empty" } else { "not set" })]
    Required {
        /// The name of the required variable.
        name: String,
        /// Whether the variable is set, to an empty value (which `:?` refuses too).
        empty: bool,
        /// The message written in the description (or a default one).
        message: String,
    },
    /// The text is not a valid template.
    #[error("invalid variable reference at character {position}: {message}")]
    Syntax {
        /// 1-based character position in the string.
        position: usize,
        /// What is wrong with the reference, e.g. an unclosed `${`.
        message: String,
    },
}

/// Whether a string contains anything to expand (a fast path for the common case).
pub fn has_references(input: &str) -> bool {
    input.contains('$')
}

/// Whether written text refers to a variable: a `$NAME` or a `${…}` (valid or not) that is not
/// escaped by `$$`. A `$` kept as written (`a $ b`, `$(…)`, `$1`) refers to none.
pub fn refers_to_variables(input: &str) -> bool {
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            match (chars.get(i + 1), chars.get(i + 2)) {
                (Some('$'), _) => i += 1,
                // A `${{ … }}` expression is not a variable.
                (Some('{'), Some('{')) => i += 2,
                (Some(&n), _) if n == '{' || is_name_start(n) => return true,
                _ => {}
            }
        }
        i += 1;
    }
    false
}

/// Expands every variable reference in `input`.
pub fn interpolate(input: &str, vars: &Variables) -> Result<Expansion, InterpolationError> {
    let mut out = Expansion::default();
    expand_into(input, 0, vars, &mut out, 0)?;
    Ok(out)
}

const MAX_NESTING: usize = 16;

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands `input`, which starts at character `base` (0-based) of the whole string: error
/// positions are the whole string's.
fn expand_into(
    input: &str,
    base: usize,
    vars: &Variables,
    out: &mut Expansion,
    depth: usize,
) -> Result<(), InterpolationError> {
    if depth > MAX_NESTING {
        return Err(InterpolationError::Syntax { position: base + 1, message: "defaults nested too deeply".into() });
    }
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.value.push(c);
            i += 1;
            continue;
        }
        let position = base + i + 1;
        match chars.get(i + 1) {
            Some('$') => {
                out.value.push('$');
                i += 2;
            }
            Some('{') if chars.get(i + 2) == Some(&'{') => {
                // A `${{ … }}` expression (`crate::expression`) is kept as written: it is
                // resolved later, at a matrix expansion or when a step's outputs are known.
                let rest: String = chars[i..].iter().collect();
                let len = crate::expression::span_at(&rest, 0).ok_or_else(|| InterpolationError::Syntax {
                    position,
                    message: "`${{` is not closed by `}}`".into(),
                })?;
                let kept = rest[..len].chars().count();
                out.value.extend(&chars[i..i + kept]);
                i += kept;
            }
            Some('{') => {
                let close = matching_brace(&chars, i + 1).ok_or_else(|| InterpolationError::Syntax {
                    position,
                    message: "`${` is not closed by `}`".into(),
                })?;
                let inner: String = chars[i + 2..close].iter().collect();
                expand_braced(&inner, position, vars, out, depth)?;
                i = close + 1;
            }
            Some(&n) if is_name_start(n) => {
                let mut end = i + 1;
                while end < chars.len() && is_name_char(chars[end]) {
                    end += 1;
                }
                let name: String = chars[i + 1..end].iter().collect();
                substitute_plain(&name, vars, out);
                i = end;
            }
            _ => {
                // Neither a name, `{` nor `$`: kept as written, as compose-go does.
                out.value.push('$');
                i += 1;
            }
        }
    }
    Ok(())
}

/// The reference an error at 1-based `position` of `input` is about, as written: a `${…}` up to
/// its closing `}`, else up to the next white space (at most 40 characters).
pub fn reference_at(input: &str, position: usize) -> String {
    let chars: Vec<char> = input.chars().skip(position.saturating_sub(1)).collect();
    let end = match chars.get(1) {
        Some('{') => matching_brace(&chars, 1).map(|close| close + 1),
        _ => None,
    };
    let end = end.unwrap_or_else(|| chars.iter().take_while(|c| !c.is_whitespace()).count());
    chars[..end.min(40)].iter().collect()
}

/// Index of the `}` closing the `${` whose `{` is at `open`. As in compose-go, only a nested
/// `${` opens another level (`$${` is an escaped `$` and a `{`), so a default may hold a lone
/// `{` (`${X:-{}`).
fn matching_brace(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = open + 1;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('$', Some('$')) => i += 1,
            ('$', Some('{')) => {
                depth += 1;
                i += 1;
            }
            ('}', _) => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn substitute_plain(name: &str, vars: &Variables, out: &mut Expansion) {
    match vars.get(name) {
        Some((value, source)) => {
            out.value.push_str(value);
            out.uses.push(VarUse { name: name.to_string(), source });
        }
        None => out.uses.push(VarUse { name: name.to_string(), source: VarSource::Undefined }),
    }
}

fn expand_braced(
    inner: &str,
    position: usize,
    vars: &Variables,
    out: &mut Expansion,
    depth: usize,
) -> Result<(), InterpolationError> {
    let name_len = inner.chars().take_while(|&c| is_name_char(c)).count();
    let name: String = inner.chars().take(name_len).collect();
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(InterpolationError::Syntax {
            position,
            message: if inner.is_empty() {
                "`${}` names no variable".into()
            } else {
                "a variable name starts with a letter or `_` and holds letters, digits and `_`".into()
            },
        });
    }
    let rest: String = inner.chars().skip(name_len).collect();
    if rest.is_empty() {
        substitute_plain(&name, vars, out);
        return Ok(());
    }
    // Where the operator's argument starts in the whole string (0-based): after `${`, the
    // name, the colon if any and the operator.
    let arg_base = position + 1 + name_len + usize::from(rest.starts_with(':')) + 1;
    let (colon, op, arg) = match rest.strip_prefix(':') {
        Some(r) => (true, r.chars().next(), r.get(1..).unwrap_or("")),
        None => (false, rest.chars().next(), rest.get(1..).unwrap_or("")),
    };
    let current = vars.get(&name);
    // With a colon, an empty value counts as unset.
    let set = match current {
        Some((value, _)) => !(colon && value.is_empty()),
        None => false,
    };
    match op {
        Some('-') => {
            if let (true, Some((value, source))) = (set, current) {
                out.value.push_str(value);
                out.uses.push(VarUse { name, source });
            } else {
                let source = match current {
                    Some((_, source)) => source,
                    None => VarSource::Default,
                };
                out.uses.push(VarUse { name, source });
                expand_into(arg, arg_base, vars, out, depth + 1)?;
            }
        }
        Some('?') => match (set, current) {
            (true, Some((value, source))) => {
                out.value.push_str(value);
                out.uses.push(VarUse { name, source });
            }
            _ => {
                let mut message = Expansion::default();
                expand_into(arg, arg_base, vars, &mut message, depth + 1)?;
                let message = if message.value.is_empty() {
                    if colon {
                        "it must be set and not empty".to_string()
                    } else {
                        "it must be set".to_string()
                    }
                } else {
                    message.value
                };
                return Err(InterpolationError::Required { name, empty: current.is_some(), message });
            }
        },
        Some('+') => {
            let source = current.map_or(VarSource::Undefined, |(_, s)| s);
            out.uses.push(VarUse { name, source: if set { source } else { VarSource::Default } });
            if set {
                expand_into(arg, arg_base, vars, out, depth + 1)?;
            }
        }
        _ => {
            return Err(InterpolationError::Syntax {
                position,
                message: format!(
                    "unexpected `{rest}` after `{name}`: use `${{{name}}}`, `${{{name}:-default}}`, `${{{name}-default}}`, `${{{name}:?message}}` or `${{{name}:+alternative}}`"
                ),
            })
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        let process = [("HOST", "db"), ("EMPTY", ""), ("PORT", "5432")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let dotenv = [("HOST", "from-dotenv"), ("USER", "neo4j")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Variables::new(process, dotenv)
    }

    fn check(input: &str, expected: &str) {
        let got = interpolate(input, &vars()).map(|e| e.value);
        assert_eq!(got.as_deref(), Ok(expected), "input {input:?}");
    }

    #[test]
    fn forms() {
        check("plain", "plain");
        check("$HOST:$PORT", "db:5432");
        check("${HOST}x", "dbx");
        check("${USER}", "neo4j");
        check("${NOPE}", "");
        check("${NOPE:-dflt}", "dflt");
        check("${EMPTY:-dflt}", "dflt");
        check("${EMPTY-dflt}", "");
        check("${NOPE-dflt}", "dflt");
        check("${NOPE:-${HOST}-${PORT}}", "db-5432");
        check("${HOST:+yes}", "yes");
        check("${EMPTY:+yes}", "");
        check("${EMPTY+yes}", "yes");
        check("${NOPE+yes}", "");
        check("$$HOST costs $$5", "$HOST costs $5");
        check("${HOST:?need it}", "db");
    }

    #[test]
    fn process_environment_wins_over_dotenv() {
        let e = interpolate("$HOST $USER", &vars()).expect("valid");
        assert_eq!(e.value, "db neo4j");
        assert_eq!(e.uses[0].source, VarSource::Env);
        assert_eq!(e.uses[1].source, VarSource::DotEnv);
    }

    #[test]
    fn sources_are_recorded() {
        let e = interpolate("${NOPE:-x}${GONE}", &vars()).expect("valid");
        let sources: Vec<_> = e.uses.iter().map(|u| (u.name.as_str(), u.source)).collect();
        assert_eq!(sources, vec![("NOPE", VarSource::Default), ("GONE", VarSource::Undefined)]);
        assert_eq!(e.undefined().collect::<Vec<_>>(), vec!["GONE"]);
    }

    #[test]
    fn errors() {
        let err = |s: &str| interpolate(s, &vars()).expect_err(s);
        assert_eq!(
            err("${NOPE:?set NOPE to the database URL}"),
            InterpolationError::Required {
                name: "NOPE".into(),
                empty: false,
                message: "set NOPE to the database URL".into()
            }
        );
        assert!(matches!(err("${EMPTY:?}"), InterpolationError::Required { empty: true, .. }));
        assert_eq!(
            err("${EMPTY:?give it a value}").to_string(),
            "required variable `EMPTY` is set but empty: give it a value"
        );
        assert!(matches!(err("a ${1X} b"), InterpolationError::Syntax { position: 3, .. }));
        assert!(matches!(err("${HOST"), InterpolationError::Syntax { .. }));
        assert!(matches!(err("${}"), InterpolationError::Syntax { .. }));
        assert!(matches!(err("${1X}"), InterpolationError::Syntax { .. }));
        assert!(matches!(err("${HOST:x}"), InterpolationError::Syntax { .. }));
        assert!(matches!(err("${X:-${}"), InterpolationError::Syntax { .. }));
        // Positions inside defaults are the whole string's.
        assert!(matches!(err("ab ${X:-${1X}}"), InterpolationError::Syntax { position: 9, .. }));
        assert!(matches!(err("${X:?m ${}}"), InterpolationError::Syntax { position: 8, .. }));
    }

    #[test]
    fn expressions_are_kept_as_written() {
        check("a ${{ matrix.source }} ${HOST}", "a ${{ matrix.source }} db");
        check("${{steps.p.outputs.ROWS}}", "${{steps.p.outputs.ROWS}}");
        assert!(!refers_to_variables("x ${{ steps.p.outputs.K }}"));
        assert!(refers_to_variables("x ${{ steps.p.outputs.K }} $A"));
        assert!(matches!(interpolate("${{ matrix.x", &vars()), Err(InterpolationError::Syntax { position: 1, .. })));
    }

    #[test]
    fn a_dollar_before_anything_else_is_kept() {
        for kept in ["a $ b", "sh -c 'n=$(wc -l < f)'", "grep '^id$'", "$1", "trailing $", "$}", "${X:-a $ b}"] {
            let expected = kept.replace("${X:-a $ b}", "a $ b");
            check(kept, &expected);
        }
        check("$$(date) $HOST$", "$(date) db$");
        check("${NOPE:-{}", "{");
        check("${NOPE:-$${}}", "${}");
    }

    #[test]
    fn the_reference_of_an_error() {
        assert_eq!(reference_at("echo \"${1X}\" done", 7), "${1X}");
        assert_eq!(reference_at("a ${X:-${1X}} b", 3), "${X:-${1X}}");
        assert_eq!(reference_at("${NAME rest", 1), "${NAME");
        assert_eq!(reference_at("", 1), "");
    }

    #[test]
    fn what_refers_to_variables() {
        for yes in ["$HOST", "${HOST}", "a${", "x $_y", "$$$A"] {
            assert!(refers_to_variables(yes), "{yes:?}");
        }
        for no in ["plain", "a $ b", "$(date)", "$1", "$$HOST", "^id$", "$$$$"] {
            assert!(!refers_to_variables(no), "{no:?}");
        }
    }
}
