//! The loader's conversions of what a container does after a failure: `allow_failure` (`true`,
//! `false` or a list of exit codes) and the entries of `dependencies` (a name, or
//! `{name, condition: succeeded|completed}`).

use super::*;
use crate::spec::{AllowFailure, DependencyCondition};

impl Loader {
    /// `dependencies`: each entry a name or `{name, condition}`, each name once; the names
    /// with `condition: completed` go to `completed_dependencies`.
    pub(super) fn dependencies(&mut self, spec: &mut ContainerSpec, node: &Node, at: At<'_>) {
        let items: &[Node] = match &node.value {
            Value::Seq(items) => items,
            // The errors of a name instead of a list, and of a mapping.
            _ => {
                for (dep, span) in self.string_list(node, at) {
                    spec.dependencies.push(dep);
                    spec.spans.dependencies.push(span);
                }
                return;
            }
        };
        for item in items {
            let (name, span, condition) = match &item.value {
                Value::Map(entries) => match self.dependency_entry(entries, item.span, at) {
                    Some(entry) => entry,
                    None => continue,
                },
                Value::Scalar { .. } => match self.text(item, at, false) {
                    Some(name) => (name, item.span, DependencyCondition::Succeeded),
                    None => continue,
                },
                _ => {
                    self.error(
                        format!("expected a container name or `{{name, condition}}`, found {}", item.kind_name()),
                        item.span,
                        Some(at),
                    );
                    continue;
                }
            };
            if spec.dependencies.contains(&name) {
                self.warning(format!("dependency `{name}` is listed twice"), span, Some(at));
                continue;
            }
            if condition == DependencyCondition::Completed {
                spec.flow_mut().completed_dependencies.push(name.clone());
            }
            spec.dependencies.push(name);
            spec.spans.dependencies.push(span);
        }
    }

    /// One `{name, condition}` entry: the name, where it is written, and the condition.
    fn dependency_entry(
        &mut self,
        entries: &[(Node, Node)],
        item_span: Span,
        at: At<'_>,
    ) -> Option<(String, Span, DependencyCondition)> {
        let mut name = None;
        let mut condition = DependencyCondition::Succeeded;
        let mut valid = true;
        for (key, value) in entries {
            match key.as_scalar().map(|(k, _)| k) {
                Some("name") => name = self.text(value, at, false).map(|n| (n, value.span)),
                Some("condition") => match self.text(value, at, false) {
                    Some(text) => match DependencyCondition::ALL.iter().find(|(s, _)| *s == text.trim()) {
                        Some(&(_, c)) => condition = c,
                        None => {
                            let help = match properties::suggest(&text, DependencyCondition::ALL.map(|(s, _)| s)) {
                                Some(close) => format!("did you mean `{close}`?"),
                                None => "`succeeded` waits for the dependency to succeed, `completed` for it to end, even failed".into(),
                            };
                            self.error(
                                format!("invalid dependency condition `{text}`: expected `succeeded` or `completed`"),
                                value.span,
                                Some(at),
                            )
                            .help = Some(help);
                            valid = false;
                        }
                    },
                    None => valid = false,
                },
                other => {
                    let option = other.unwrap_or("");
                    let help =
                        properties::suggest(option, ["name", "condition"]).map(|s| format!("did you mean `{s}`?"));
                    self.error(
                        format!("unknown key `{option}` in a dependency: expected `name` and `condition`"),
                        key.span,
                        Some(at),
                    )
                    .help = help;
                    valid = false;
                }
            }
        }
        let Some((name, span)) = name else {
            if valid {
                self.error("this dependency has no `name`", item_span, Some(at)).help =
                    Some("write `{name: CONTAINER, condition: completed}`".into());
            }
            return None;
        };
        valid.then_some((name, span, condition))
    }

    /// `allow_failure`: `true`, `false`, or a list of exit codes from 1 to 255.
    pub(super) fn allow_failure(&mut self, node: &Node, at: At<'_>) -> Option<AllowFailure> {
        let items = match &node.value {
            Value::Null => return Some(AllowFailure::No),
            Value::Seq(items) => items,
            Value::Scalar { ty: ScalarType::Bool, .. } | Value::Scalar { ty: ScalarType::Str, .. } => {
                let allowed = self.bool_value(node, at)?;
                return Some(if allowed { AllowFailure::Any } else { AllowFailure::No });
            }
            _ => {
                let found = match &node.value {
                    Value::Scalar { text, .. } => format!("`{text}`"),
                    _ => node.kind_name().to_string(),
                };
                self.error(
                    format!("expected `true`, `false` or a list of exit codes, found {found}"),
                    node.span,
                    Some(at),
                )
                .help =
                    Some("write `allow_failure: true` for any failure, or `allow_failure: [3]` for exit code 3".into());
                return None;
            }
        };
        let mut codes = Vec::with_capacity(items.len());
        for item in items {
            let text = match &item.value {
                Value::Scalar { text, ty: ScalarType::Int } => Some(text.clone()),
                Value::Scalar { text, ty: ScalarType::Str } if text.contains('$') => {
                    self.expand(text, item.span, at, false)
                }
                _ => {
                    let found = match &item.value {
                        Value::Scalar { text, .. } => format!("`{text}`"),
                        _ => item.kind_name().to_string(),
                    };
                    self.error(format!("expected an exit code (a whole number), found {found}"), item.span, Some(at));
                    None
                }
            };
            let Some(text) = text else { continue };
            match text.trim().parse::<i32>() {
                Ok(code) if (1..=255).contains(&code) => {
                    if !codes.contains(&code) {
                        codes.push(code);
                    }
                }
                _ => {
                    let d = self.error(
                        format!("an allowed exit code is from 1 to 255, found `{text}`"),
                        item.span,
                        Some(at),
                    );
                    d.help = Some(if text.trim() == "0" {
                        "exit code 0 is a success: list the failing codes to allow".into()
                    } else {
                        "an exit status is a number from 0 to 255; 0 is a success".into()
                    });
                }
            }
        }
        if codes.is_empty() && items.is_empty() {
            self.error("the list of allowed exit codes is empty", node.span, Some(at)).help =
                Some("write `allow_failure: false` (the default) to allow no failure".into());
            return None;
        }
        Some(AllowFailure::ExitCodes(codes))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    fn pipeline(props: &str) -> String {
        format!("p:\n  - name: a\n    image_repo: busybox\n  - name: b\n    image_repo: busybox\n{props}")
    }

    #[test]
    fn allow_failure_is_true_false_or_exit_codes() {
        assert_eq!(ok(&pipeline("")).containers[1].allow_failure(), &AllowFailure::No);
        assert_eq!(ok(&pipeline("    allow_failure: true\n")).containers[1].allow_failure(), &AllowFailure::Any);
        assert_eq!(ok(&pipeline("    allow_failure: false\n")).containers[1].allow_failure(), &AllowFailure::No);
        assert_eq!(
            ok(&pipeline("    allow_failure: [3, 4, 3]\n")).containers[1].allow_failure(),
            &AllowFailure::ExitCodes(vec![3, 4])
        );
        let allowed = AllowFailure::ExitCodes(vec![3]);
        assert!(allowed.allows(Some(3)) && !allowed.allows(Some(1)) && !allowed.allows(None));
        assert!(AllowFailure::Any.allows(None) && !AllowFailure::No.allows(Some(1)));
    }

    #[test]
    fn a_bad_allow_failure_is_a_located_error() {
        assert_eq!(
            placed_errors(&pipeline("    allow_failure: [0, 300]\n")),
            vec![
                ("an allowed exit code is from 1 to 255, found `0`".to_string(), 6, 21),
                ("an allowed exit code is from 1 to 255, found `300`".to_string(), 6, 24),
            ]
        );
        assert_eq!(
            errors(&pipeline("    allow_failure: 3\n")),
            ["expected `true`, `false` or a list of exit codes, found `3`"]
        );
        assert_eq!(
            errors(&pipeline("    allow_failure: yes\n")),
            ["expected `true` or `false`, found the string `yes`"]
        );
        assert_eq!(errors(&pipeline("    allow_failure: []\n")), ["the list of allowed exit codes is empty"]);
    }

    #[test]
    fn a_dependency_may_say_its_condition() {
        let p = ok(&pipeline("    dependencies: [{name: a, condition: completed}]\n"));
        assert_eq!(p.containers[1].dependencies, ["a"]);
        assert_eq!(p.containers[1].condition_of("a"), DependencyCondition::Completed);
        let p = ok(&pipeline("    dependencies:\n      - name: a\n"));
        assert_eq!(p.containers[1].condition_of("a"), DependencyCondition::Succeeded);
        let p = ok(&pipeline("    dependencies: [{name: a, condition: succeeded}]\n"));
        assert!(p.containers[1].flow.is_none());
        let p = ok(&pipeline("    dependencies: [a]\n"));
        assert_eq!(p.containers[1].condition_of("a"), DependencyCondition::Succeeded);
    }

    #[test]
    fn a_bad_dependency_entry_is_a_located_error() {
        assert_eq!(
            placed_errors(&pipeline("    dependencies: [{name: a, condition: finished}]\n")),
            vec![("invalid dependency condition `finished`: expected `succeeded` or `completed`".to_string(), 6, 41)]
        );
        assert_eq!(
            errors(&pipeline("    dependencies: [{condition: completed}]\n")),
            ["this dependency has no `name`"]
        );
        assert_eq!(
            errors(&pipeline("    dependencies: [{name: a, when: completed}]\n")),
            ["unknown key `when` in a dependency: expected `name` and `condition`"]
        );
        assert_eq!(
            errors(&pipeline("    dependencies: [[a]]\n")),
            ["expected a container name or `{name, condition}`, found a list"]
        );
    }
}
