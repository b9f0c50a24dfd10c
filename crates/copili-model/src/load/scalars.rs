//! The loader's conversions of scalars, lists and mappings of text: variables expanded, types
//! checked, every problem reported at its place (secret values never quoted).

use super::*;

impl Loader {
    /// A scalar as text, variables expanded (strings only: numbers and booleans as written).
    pub(super) fn text(&mut self, node: &Node, at: At<'_>, secret: bool) -> Option<String> {
        match &node.value {
            Value::Scalar { text, ty: ScalarType::Str } => self.expand(text, node.span, at, secret),
            Value::Scalar { text, .. } => Some(text.clone()),
            _ => {
                self.error(format!("expected a string, found {}", node.kind_name()), node.span, Some(at));
                None
            }
        }
    }

    /// A scalar as [`Self::text`] reads it; anything else is reported as not `expected`.
    pub(super) fn scalar_text(&mut self, node: &Node, at: At<'_>, secret: bool, expected: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { .. } => self.text(node, at, secret),
            _ => {
                self.error(format!("expected {expected}, found {}", node.kind_name()), node.span, Some(at));
                None
            }
        }
    }

    pub(super) fn expand(&mut self, text: &str, span: Span, at: At<'_>, secret: bool) -> Option<String> {
        if !crate::interpolate::has_references(text) {
            return Some(text.to_string());
        }
        match interpolate(text, &self.variables) {
            Ok(expansion) => {
                for var_use in &expansion.uses {
                    let entry = self.uses.entry(var_use.name.clone()).or_insert(var_use.source);
                    *entry = (*entry).max(var_use.source);
                }
                let undefined: Vec<String> = expansion.undefined().map(str::to_string).collect();
                for name in &undefined {
                    let strict = self.strict_env;
                    let message = if strict {
                        format!("variable `{name}` is not set and has no default")
                    } else {
                        format!("variable `{name}` is not set and has no default: using an empty string")
                    };
                    let d = if strict {
                        self.error(message, span, Some(at))
                    } else {
                        self.warning(message, span, Some(at))
                    };
                    d.help = Some(format!(
                        "set `{name}` in the environment or the `.env` file, or give a default: `${{{name}:-default}}`"
                    ));
                }
                if self.strict_env && !undefined.is_empty() {
                    // Reported; checking the value further would only repeat it.
                    return None;
                }
                Some(expansion.value)
            }
            Err(error @ InterpolationError::Required { .. }) => {
                if let InterpolationError::Required { name, empty: false, .. } = &error {
                    self.uses.insert(name.clone(), VarSource::Undefined);
                }
                self.error(error.to_string(), span, Some(at));
                None
            }
            Err(InterpolationError::Syntax { position, message }) => {
                let reference = crate::interpolate::reference_at(text, position);
                // The reference itself is quoted, unless the value is a secret.
                let quoted = if secret { String::new() } else { format!(" `{reference}`") };
                // At its own line and column when the source says exactly where (inside a
                // block or a multi-line string too); else at the value, counting characters.
                let source = Arc::clone(&self.source);
                let lines = |n: u32| source.raw_line(n);
                let exact =
                    crate::document::place_in_value(&lines, span, text, position - 1, reference.chars().count()).map(
                        |place| {
                            // In a secret, only the line is said: the column would tell what
                            // precedes the reference; the snippet points at the line's `****`.
                            if secret {
                                secret_line_start(lines(place.line), span, place.line)
                            } else {
                                place
                            }
                        },
                    );
                match exact {
                    Some(place) => {
                        self.error(format!("invalid variable reference{quoted}: {message}"), place, Some(at));
                    }
                    None => {
                        self.error(
                            format!(
                                "invalid variable reference{quoted} at character {position} of the value: {message}"
                            ),
                            span,
                            Some(at),
                        );
                    }
                }
                None
            }
        }
    }

    pub(super) fn bool_value(&mut self, node: &Node, at: At<'_>) -> Option<bool> {
        let (text, interpolated) = match &node.value {
            Value::Scalar { text, ty: ScalarType::Bool } => (text.clone(), false),
            Value::Scalar { text, ty: ScalarType::Str } if text.contains('$') => {
                (self.expand(text, node.span, at, false)?, true)
            }
            _ => {
                let found = match &node.value {
                    Value::Scalar { text, ty: ScalarType::Str } => format!("the string `{text}`"),
                    _ => node.kind_name().to_string(),
                };
                let d = self.error(format!("expected `true` or `false`, found {found}"), node.span, Some(at));
                if let Value::Scalar { text, .. } = &node.value {
                    if ["yes", "no", "on", "off", "y", "n"].contains(&text.to_ascii_lowercase().as_str()) {
                        d.help = Some(
                            "YAML 1.2 reads `yes`, `no`, `on` and `off` as strings: write `true` or `false`".into(),
                        );
                    }
                }
                return None;
            }
        };
        match text.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                let what = if interpolated { "the variable's value" } else { "the value" };
                self.error(format!("expected `true` or `false`, but {what} is `{text}`"), node.span, Some(at));
                None
            }
        }
    }

    pub(super) fn string_list(&mut self, node: &Node, at: At<'_>) -> Vec<(String, Span)> {
        match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| match &item.value {
                    Value::Scalar { .. } => self.text(item, at, false).map(|t| (t, item.span)),
                    _ => {
                        self.error(
                            format!("expected a string in this list, found {}", item.kind_name()),
                            item.span,
                            Some(at),
                        );
                        None
                    }
                })
                .collect(),
            Value::Scalar { text, .. } => {
                let text = text.clone();
                self.error(format!("expected a list, found {}", node.kind_name()), node.span, Some(at)).help =
                    Some(format!("write a list: `[{text}]`"));
                Vec::new()
            }
            Value::Map(_) => {
                self.error(format!("expected a list, found {}", node.kind_name()), node.span, Some(at));
                Vec::new()
            }
        }
    }

    /// A mapping of strings (`env_vars`, `labels`, `build.args`), in either form: keys and
    /// values expanded, numbers and booleans as written, each name once.
    pub(super) fn string_map(
        &mut self,
        node: &Node,
        property: &str,
        container: &str,
        secret: bool,
    ) -> Vec<(String, String, Span)> {
        let entries = self.string_map_entries(node, property, container, secret);
        self.once_per_name(entries, property, container)
    }

    /// Refuses a name set twice, pointing at the second with a note at the first, as the
    /// parser does for duplicate keys (which catches a mapping's keys as written; this catches
    /// the list form's names and keys that expand alike). Never quotes a value: it may be a
    /// secret. Empty names are left to the caller, which refuses them.
    pub(super) fn once_per_name(
        &mut self,
        entries: Vec<(String, String, Span)>,
        property: &str,
        container: &str,
    ) -> Vec<(String, String, Span)> {
        let mut first: HashMap<String, Span> = HashMap::with_capacity(entries.len());
        let mut out = Vec::with_capacity(entries.len());
        for (name, value, span) in entries {
            if name.is_empty() {
                out.push((name, value, span));
                continue;
            }
            if let Some(&first_span) = first.get(&name) {
                let at = At { container, property };
                let d = self.error(format!("duplicate name `{}`", name.escape_debug()), span, Some(at));
                d.notes.push(crate::diagnostic::Note { message: "first set here".into(), span: first_span });
                d.help = Some(format!("a name may appear once in `{property}`; keep one"));
                continue;
            }
            first.insert(name.clone(), span);
            out.push((name, value, span));
        }
        out
    }

    /// [`Loader::string_map`]'s entries, before duplicate names are refused.
    pub(super) fn string_map_entries(
        &mut self,
        node: &Node,
        property: &str,
        container: &str,
        secret: bool,
    ) -> Vec<(String, String, Span)> {
        let at = At { container, property };
        let entries = match &node.value {
            Value::Null => return Vec::new(),
            Value::Map(entries) => entries,
            // compose's list form: `- NAME=VALUE`.
            Value::Seq(items) => return self.string_list_map(items, property, container, secret),
            _ => {
                self.error(
                    format!("expected a mapping of names to values, found {}", node.kind_name()),
                    node.span,
                    Some(at),
                )
                .help = Some("write one `NAME: value` per line, or a list of `NAME=value`".into());
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(key_text) = self.scalar_text(key, at, false, "a name") else { continue };
            // Messages name the key as written: expanded, it could carry a variable's value.
            let written = key.as_scalar().map_or("", |(k, _)| k);
            let path = format!("{property}.{written}");
            let value_at = At { container, property: &path };
            let value_text = match &value.value {
                Value::Scalar { .. } => self.text(value, value_at, secret),
                Value::Null => {
                    // A missing value has no place of its own: point at its name.
                    let d = self.error("expected a value, found nothing (null)", key.span, Some(value_at));
                    if property == "env_vars" {
                        d.help = Some(format!(
                            "to pass a variable of copili's environment, write `{written}: ${{{written}}}`"
                        ));
                    } else {
                        d.help = Some("write `\"\"` for an empty value".into());
                    }
                    None
                }
                _ => {
                    let found = value.kind_name();
                    self.error(
                        format!("expected a string, number or boolean, found {found}"),
                        value.span,
                        Some(value_at),
                    );
                    None
                }
            };
            if let Some(v) = value_text {
                out.push((key_text, v, key.span));
            }
        }
        out
    }

    /// The list form of `env_vars` and `labels`: `- NAME=VALUE` items.
    pub(super) fn string_list_map(
        &mut self,
        items: &[Node],
        property: &str,
        container: &str,
        secret: bool,
    ) -> Vec<(String, String, Span)> {
        let at = At { container, property };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Some(text) = self.scalar_text(item, at, secret, "`NAME=value`") else { continue };
            match text.split_once('=') {
                Some((name, value)) => out.push((name.to_string(), value.to_string(), item.span)),
                None => {
                    let d = self.error("expected `NAME=value`: this item has no `=`", item.span, Some(at));
                    d.help = Some(if property == "env_vars" {
                        "to pass a variable of copili's environment, write `NAME=${NAME}`".into()
                    } else {
                        "write `NAME=` for an empty value".into()
                    });
                }
            }
        }
        out
    }
}

/// Where a secret value's masked text starts on `line` (whose text is `text`): the value's
/// start on its first line, the line's first non-blank character on the others.
fn secret_line_start(text: Option<&str>, value: Span, line: u32) -> Span {
    if line == value.line {
        return Span { len: 1, ..value };
    }
    let indent = text.map_or(0, |l| l.chars().take_while(|c| c.is_whitespace()).count());
    Span { line, column: indent as u32 + 1, len: 1 }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn interpolation_everywhere_with_sources() {
        let p = ok("p:\n  - name: a\n    image_repo: ${REPO:-busybox}\n    env_vars:\n      ${DB}_PW: $PW\n    image_reg_password: ${PW}\n");
        assert_eq!(p.containers[0].image_repo, "busybox");
        assert_eq!(p.containers[0].env_vars[0].0, "neo4j_PW");
        let vars: Vec<_> = p.variables.iter().map(|v| (v.name.as_str(), v.source)).collect();
        assert_eq!(vars, vec![("DB", VarSource::Env), ("PW", VarSource::Env), ("REPO", VarSource::Default)]);
    }

    #[test]
    fn undefined_variable_warns_or_fails_when_strict() {
        let p = ok("p:\n  - name: a\n    image_repo: busybox\n    env_vars: {X: $NOPE}\n");
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].message.contains("`NOPE`"));
        assert_eq!(p.warnings[0].property.as_deref(), Some("env_vars.X"));
        let mut strict = options();
        strict.strict_env = true;
        assert!(load(Input::Text("p:\n  - name: a\n    image_repo: busybox\n    tag: $NOPE\n"), &strict).is_err());
    }

    #[test]
    fn env_vars_and_labels_take_the_compose_list_form() {
        let p =
            ok("p:\n  - name: a\n    image_repo: busybox\n    env_vars: [A=1, B=x=y, C=]\n    labels: [team=data]\n");
        let env: Vec<_> = p.containers[0].env_vars.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        assert_eq!(env, vec![("A", "1"), ("B", "x=y"), ("C", "")]);
        assert_eq!(p.containers[0].labels, vec![("team".to_string(), "data".to_string())]);
        assert_eq!(errors("p:\n  - name: a\n    image_repo: busybox\n    env_vars: [A]\n").len(), 1);
    }

    #[test]
    fn duplicate_names_are_refused_in_every_string_map() {
        let text = "p:\n  - name: a\n    image_repo: busybox\n    env_vars:\n      - A=hunter2\n      - B=1\n      - A=hunter2\n";
        let draft = load_draft(Input::Text(text), &options());
        let found: Vec<_> = draft.diagnostics.errors().collect();
        assert_eq!(found.len(), 1, "{found:#?}");
        let e = found[0];
        assert_eq!(e.message, "duplicate name `A`");
        assert_eq!((e.span.line, e.property.as_deref()), (7, Some("env_vars")));
        assert_eq!(e.notes.iter().map(|n| n.span.line).collect::<Vec<_>>(), [5]);
        assert_eq!(e.help.as_deref(), Some("a name may appear once in `env_vars`; keep one"));
        // Keys that differ as written but expand alike (DB=neo4j), and build arguments.
        assert_eq!(
            error_with_help(&container("    env_vars: {neo4j_X: 1, \"${DB}_X\": 2}\n")).0,
            "duplicate name `neo4j_X`"
        );
        assert_eq!(error_with_help(&container("    labels: [team=a, team=b]\n")).0, "duplicate name `team`");
        assert_eq!(
            error_with_help(&container("    build: {context: ., args: [V=1, V=2]}\n")),
            ("duplicate name `V`".into(), Some("a name may appear once in `build.args`; keep one".into()))
        );
        // Distinct names, and empty ones (refused as such, not as duplicates), are no duplicates.
        ok(&container("    env_vars: [A=1, AB=1, B=A]\n"));
        assert_eq!(errors(&container("    env_vars: [=1, =2]\n")).len(), 2);
    }
}
