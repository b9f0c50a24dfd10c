//! `${{ … }}` expressions: references to what is known only after variables were expanded —
//! a matrix value (`${{ matrix.source }}`, when a `matrix` is expanded) or another step's
//! output (`${{ steps.NAME.outputs.KEY }}`, when that step has ended).
//!
//! The double brace cannot collide with a variable (`${VAR}`): variable expansion keeps every
//! `${{ … }}` as written ([`crate::interpolate`]), and no shell or compose syntax uses it.
//! There is no escape: `${{` always starts an expression.

use std::ops::Range;

/// What an expression refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    /// `${{ matrix.KEY }}`: the value of a `matrix` key for this expansion.
    Matrix {
        /// The matrix key.
        key: String,
    },
    /// `${{ steps.NAME.outputs.KEY }}`: a `KEY=VALUE` line a dependency wrote to
    /// `/copili/out/*.env`.
    StepOutput {
        /// The container (step) that wrote it.
        step: String,
        /// The output's key.
        key: String,
    },
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Matrix { key } => write!(f, "${{{{ matrix.{key} }}}}"),
            Reference::StepOutput { step, key } => write!(f, "${{{{ steps.{step}.outputs.{key} }}}}"),
        }
    }
}

/// One expression found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What it refers to.
    pub reference: Reference,
    /// The byte range of the whole `${{ … }}` in the string.
    pub range: Range<usize>,
    /// The 1-based character position of its `$`, for messages.
    pub position: usize,
}

/// An expression that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    /// `${{` without a `}}` after it.
    #[error("`${{{{` at character {position} is not closed by `}}}}`")]
    Unclosed {
        /// 1-based character position of the `$`.
        position: usize,
    },
    /// Something other than `matrix.KEY` or `steps.NAME.outputs.KEY`.
    #[error(
        "`${{{{ {text} }}}}` at character {position} is not an expression copili knows: write \
         `${{{{ matrix.KEY }}}}` or `${{{{ steps.NAME.outputs.KEY }}}}`"
    )]
    Unknown {
        /// 1-based character position of the `$`.
        position: usize,
        /// What is between the braces, trimmed.
        text: String,
    },
}

impl ExpressionError {
    /// The 1-based character position of the expression's `$`.
    pub fn position(&self) -> usize {
        match self {
            ExpressionError::Unclosed { position } | ExpressionError::Unknown { position, .. } => *position,
        }
    }
}

/// The opening of an expression.
pub const OPEN: &str = "${{";
/// The closing of an expression.
pub const CLOSE: &str = "}}";

/// Whether `input` holds an expression (a fast path for the common case).
pub fn has_expressions(input: &str) -> bool {
    input.contains(OPEN)
}

/// Byte length of the `${{ … }}` starting at byte `start` of `input` (which starts with
/// `${{`), or `None` if it is not closed. Used by variable expansion to keep it as written.
pub fn span_at(input: &str, start: usize) -> Option<usize> {
    let inner = start + OPEN.len();
    input.get(inner..)?.find(CLOSE).map(|close| inner + close + CLOSE.len() - start)
}

/// Every expression in `input`, in order.
pub fn references(input: &str) -> Result<Vec<Found>, ExpressionError> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = input[from..].find(OPEN) {
        let start = from + offset;
        let position = input[..start].chars().count() + 1;
        let len = span_at(input, start).ok_or(ExpressionError::Unclosed { position })?;
        let end = start + len;
        let text = input[start + OPEN.len()..end - CLOSE.len()].trim();
        let reference = parse(text).ok_or_else(|| ExpressionError::Unknown { position, text: text.to_string() })?;
        found.push(Found { reference, range: start..end, position });
        from = end;
    }
    Ok(found)
}

/// `input` with every expression `resolve` gives a value for replaced by that value; the
/// others are kept as written (a matrix expansion leaves step outputs for the run).
pub fn substitute(
    input: &str,
    mut resolve: impl FnMut(&Reference) -> Option<String>,
) -> Result<String, ExpressionError> {
    if !has_expressions(input) {
        return Ok(input.to_string());
    }
    let mut out = String::with_capacity(input.len());
    let mut last = 0;
    for found in references(input)? {
        out.push_str(&input[last..found.range.start]);
        match resolve(&found.reference) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&input[found.range.clone()]),
        }
        last = found.range.end;
    }
    out.push_str(&input[last..]);
    Ok(out)
}

/// Whether `key` is a valid output or matrix key: a letter or `_`, then letters, digits, `_`.
pub fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_step_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn parse(text: &str) -> Option<Reference> {
    if let Some(key) = text.strip_prefix("matrix.") {
        return is_key(key).then(|| Reference::Matrix { key: key.to_string() });
    }
    let rest = text.strip_prefix("steps.")?;
    // A container name may hold dots: the last `.outputs.` separates it from the key.
    let (step, key) = rest.rsplit_once(".outputs.")?;
    (is_step_name(step) && is_key(key)).then(|| Reference::StepOutput { step: step.to_string(), key: key.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: &str, key: &str) -> Reference {
        Reference::StepOutput { step: step.into(), key: key.into() }
    }

    #[test]
    fn finds_both_kinds_with_positions() {
        let found = references("load ${{ matrix.source }} rows=${{steps.db.v2.outputs.ROWS}}!").expect("valid");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].reference, Reference::Matrix { key: "source".into() });
        assert_eq!((found[0].position, found[0].range.clone()), (6, 5..25));
        assert_eq!(found[1].reference, step("db.v2", "ROWS"));
        assert_eq!(found[1].position, 32);
    }

    #[test]
    fn errors_are_located() {
        assert_eq!(references("a ${{ matrix.x").expect_err("an error"), ExpressionError::Unclosed { position: 3 });
        let unknown = references("é ${{ env.HOME }}").expect_err("an error");
        assert_eq!(unknown, ExpressionError::Unknown { position: 3, text: "env.HOME".into() });
        assert!(unknown.to_string().contains("steps.NAME.outputs.KEY"), "{unknown}");
        for bad in ["${{ steps.a.ROWS }}", "${{ matrix. }}", "${{ steps..outputs.K }}", "${{ matrix.a b }}"] {
            assert!(references(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn substitutes_what_it_can_and_keeps_the_rest() {
        let out = substitute("${{ matrix.s }}:${{ steps.p.outputs.K }}", |r| match r {
            Reference::Matrix { key } => Some(format!("<{key}>")),
            _ => None,
        })
        .expect("valid");
        assert_eq!(out, "<s>:${{ steps.p.outputs.K }}");
        assert_eq!(substitute("plain ${VAR} $x", |_| None).expect("valid"), "plain ${VAR} $x");
    }

    #[test]
    fn displays_as_written_canonically() {
        assert_eq!(step("a", "K").to_string(), "${{ steps.a.outputs.K }}");
        assert_eq!(Reference::Matrix { key: "k".into() }.to_string(), "${{ matrix.k }}");
    }

    #[test]
    fn span_of_an_expression() {
        assert_eq!(span_at("x${{ a }}y", 1), Some(8));
        assert_eq!(span_at("${{ a", 0), None);
    }
}
