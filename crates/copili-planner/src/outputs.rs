//! Outputs between steps: `${{ steps.NAME.outputs.KEY }}` in a container's `command` and
//! `env_vars`. The step must be a container this one depends on, directly or through others:
//! only then has it ended (and succeeded) when this one starts. Whether it writes the key is
//! known only once it has run (a run-time failure of the dependent then).

use std::collections::HashMap;

use copili_model::expression::{self, Reference};
use copili_model::{ContainerSpec, Diagnostic, Pipeline, Span};

use crate::check::Edge;
use crate::Backend;

/// One string of a container that may hold expressions: its property, where it was written,
/// and the text.
struct Text<'p> {
    property: &'static str,
    span: Span,
    text: &'p str,
}

/// The strings of `spec` outputs are substituted in: each `command` word and `env_vars` value.
fn texts(spec: &ContainerSpec) -> Vec<Text<'_>> {
    let spans = spec.spans.expressions.as_deref();
    let command_span = spans.and_then(|s| s.command).unwrap_or(spec.spans.item);
    let mut texts: Vec<Text<'_>> =
        spec.command.iter().map(|word| Text { property: "command", span: command_span, text: word }).collect();
    for (name, value) in &spec.env_vars {
        let span = spans.and_then(|s| s.env_vars.iter().find(|(n, _)| n == name)).map_or(spec.spans.item, |(_, s)| *s);
        texts.push(Text { property: "env_vars", span, text: value.expose() });
    }
    texts
}

/// The steps `spec` refers to, with where: `(property, span, step, key)`; expressions that
/// cannot be read are left to the planner's check ([`crate::check`]).
pub fn step_references(spec: &ContainerSpec) -> Vec<(&'static str, Span, String, String)> {
    let mut found = Vec::new();
    for text in texts(spec) {
        for f in expression::references(text.text).unwrap_or_default() {
            if let Reference::StepOutput { step, key } = f.reference {
                found.push((text.property, text.span, step, key));
            }
        }
    }
    found
}

/// Whether a container's `command` or `env_vars` use another step's outputs (it cannot be
/// created before its dependencies ended: the values are known only then).
pub fn uses_outputs(spec: &ContainerSpec) -> bool {
    !step_references(spec).is_empty()
}

/// Located errors for expressions in `command` and `env_vars` that cannot be read, and for
/// step references to a container that is not one this container depends on (directly or
/// through others); sidecars cannot use outputs.
pub(crate) fn references(pipeline: &Pipeline, edges: &[Edge]) -> Vec<Diagnostic> {
    let n = pipeline.containers.len();
    let index: HashMap<&str, usize> =
        pipeline.containers.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
    let mut depends_on: Vec<Vec<usize>> = vec![Vec::new(); n];
    for edge in edges {
        depends_on[edge.dependent].push(edge.dependency);
    }
    let mut diagnostics = Vec::new();
    for (c, container) in pipeline.containers.iter().enumerate() {
        let mut upstream: Option<Vec<bool>> = None;
        let located = |message: String, text: &Text<'_>, label: &str| {
            Diagnostic::error(message).at(&pipeline.source, text.span).container(label).property(text.property)
        };
        for text in texts(container) {
            let found = match expression::references(text.text) {
                Ok(found) => found,
                Err(e) => {
                    diagnostics.push(located(e.to_string(), &text, &container.name));
                    continue;
                }
            };
            for f in found {
                let Reference::StepOutput { step, .. } = &f.reference else { continue };
                let message = match index.get(step.as_str()) {
                    None => format!("`{}`: there is no container `{step}`", f.reference),
                    Some(&d) => {
                        let upstream = upstream.get_or_insert_with(|| ancestors(c, &depends_on));
                        if upstream[d] {
                            continue;
                        }
                        format!("`{}`: `{}` does not depend on `{step}`", f.reference, container.name)
                    }
                };
                let help = match index.get(step.as_str()) {
                    Some(_) => format!(
                        "add `{step}` to the `dependencies` of `{}`: its outputs are known once it has succeeded",
                        container.name
                    ),
                    None => format!("the containers are: {}", crate::check::name_list(pipeline)),
                };
                diagnostics.push(located(message, &text, &container.name).help(help));
            }
        }
        for sidecar in &container.sidecars {
            let label = format!("{}/{}", container.name, sidecar.name);
            for text in texts(sidecar) {
                let Ok(found) = expression::references(text.text) else { continue };
                if let Some(f) = found.iter().find(|f| matches!(f.reference, Reference::StepOutput { .. })) {
                    let message = format!("`{}`: a sidecar cannot use outputs of steps", f.reference);
                    let help = "use the outputs in the container's own `command` or `env_vars`";
                    diagnostics.push(located(message, &text, &label).help(help));
                }
            }
        }
    }
    diagnostics
}

/// Every container `c` depends on, directly or through others.
fn ancestors(c: usize, depends_on: &[Vec<usize>]) -> Vec<bool> {
    let mut seen = vec![false; depends_on.len()];
    let mut stack = depends_on[c].clone();
    while let Some(d) = stack.pop() {
        if !std::mem::replace(&mut seen[d], true) {
            stack.extend(depends_on[d].iter().copied());
        }
    }
    seen
}

/// `backend` refuses outputs between steps: one located error per string that uses them.
pub(crate) fn refused(pipeline: &Pipeline, spec: &ContainerSpec, backend: Backend) -> Vec<Diagnostic> {
    let why = match backend {
        Backend::Swarm => "a swarm service's task has no `/copili/out` directory copili reads",
        Backend::Argo => "the export does not map copili's output files to Argo parameters",
    };
    step_references(spec)
        .into_iter()
        .map(|(property, span, step, key)| {
            let reference = Reference::StepOutput { step, key };
            Diagnostic::error(format!("`{reference}` {}: {why}", backend.cannot()))
                .at(&pipeline.source, span)
                .container(spec.name.clone())
                .property(property)
                .help("run the pipeline on a local engine (`--engine docker` or `--engine podman`)")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::test_pipeline::pipeline;

    fn errors(text: &str) -> Vec<String> {
        let p = match copili_model::load(
            copili_model::Input::Text(text),
            &copili_model::LoadOptions { env_file: copili_model::EnvFile::Disabled, ..Default::default() },
        ) {
            Ok(p) => p,
            Err(d) => panic!("{d}"),
        };
        crate::check(&p).iter().map(|d| format!("{}:{} {}", d.span.line, d.span.column, d.message)).collect()
    }

    const HEAD: &str =
        "p:\n  - name: producer\n    image_repo: x\n  - name: mid\n    image_repo: x\n    dependencies: [producer]\n";

    #[test]
    fn a_transitive_dependency_s_outputs_may_be_used() {
        let text = format!(
            "{HEAD}  - name: consumer\n    image_repo: x\n    dependencies: [mid]\n    command: [sh, -c, 'echo ${{{{ steps.producer.outputs.ROWS }}}}']\n    env_vars: {{R: '${{{{ steps.mid.outputs.K }}}}'}}\n"
        );
        assert_eq!(errors(&text), Vec::<String>::new());
        let p = pipeline(&text);
        assert!(super::uses_outputs(&p.containers[2]));
        assert!(!super::uses_outputs(&p.containers[1]));
    }

    #[test]
    fn swarm_and_argo_refuse_outputs_located() {
        let text = format!(
            "{HEAD}  - name: consumer\n    image_repo: x\n    dependencies: [mid]\n    env_vars: {{R: '${{{{ steps.producer.outputs.ROWS }}}}'}}\n"
        );
        let p = pipeline(&text);
        for backend in [crate::Backend::Swarm, crate::Backend::Argo] {
            let refused = crate::unsupported(&p, backend);
            assert_eq!(refused.len(), 1, "{refused:?}");
            let d = &refused[0];
            assert!(d.message.starts_with("`${{ steps.producer.outputs.ROWS }}` cannot be"), "{}", d.message);
            assert!(d.message.contains(backend.name()), "{}", d.message);
            assert_eq!((d.span.line, d.property.as_deref()), (10, Some("env_vars")));
        }
    }

    #[test]
    fn unknown_and_unrelated_steps_are_located() {
        let text = format!(
            "{HEAD}  - name: consumer\n    image_repo: x\n    command: 'echo ${{{{steps.nope.outputs.K}}}}'\n    env_vars:\n      R: '${{{{ steps.producer.outputs.K }}}}'\n      S: '${{{{ steps.x }}}}'\n"
        );
        let found = errors(&text);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("9:14 `${{ steps.nope.outputs.K }}`: there is no container `nope`"), "{found:?}");
        assert!(
            found[1].starts_with("11:7 `${{ steps.producer.outputs.K }}`: `consumer` does not depend on `producer`"),
            "{found:?}"
        );
        assert!(found[2].starts_with("12:7 `${{ steps.x }}` at character 1 is not an expression"), "{found:?}");
    }
}
