//! Names and text for Kubernetes: task names, labels made valid, `$` escaped for `args`, and
//! lists of names in messages.

use super::*;

/// A container's task and template name: a DNS label that starts with a letter (Argo refuses
/// task names starting with a digit when tasks have dependencies).
pub(super) fn task_name(name: &str) -> String {
    let label = dns_label(name, DNS_LABEL_MAX);
    if label.is_empty() {
        "container".into()
    } else if label.starts_with(|c: char| c.is_ascii_digit()) {
        dns_label(&format!("c-{label}"), DNS_LABEL_MAX)
    } else {
        label
    }
}

/// `CronWorkflow a`, `CronWorkflows a, b`.
pub(super) fn plural_list(word: &str, names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    if names.len() == 1 {
        format!("{word} {}", quoted.join(", "))
    } else {
        format!("{word}s {}", quoted.join(", "))
    }
}

/// `text` as Kubernetes must be given it in `args` and env values to pass it on unchanged: it
/// expands `$(NAME)` there and reads `$$` as `$`, so a `$` followed by `(` or `$` is doubled.
pub(super) fn kubernetes_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' && matches!(chars.peek(), Some('(' | '$')) {
            out.push('$');
        }
    }
    out
}

impl Builder<'_> {
    /// Adds a label, made valid for Kubernetes (with a warning when it changed or is dropped).
    pub(super) fn label(&mut self, owner: &str, key: &str, value: &str, into: &mut Map<String, Value>) {
        let Some(k8s_key) = label_key(key) else {
            self.warnings.push(format!("`{owner}`: the label `{key}` is left out: no valid Kubernetes label key"));
            return;
        };
        let k8s_value = label_value(value);
        if k8s_value.is_empty() && !value.is_empty() {
            self.warnings.push(format!(
                "`{owner}`: the label `{key}` is left out: its value is no valid Kubernetes label value"
            ));
            return;
        }
        if k8s_key != key || k8s_value != value {
            self.warnings.push(format!(
                "`{owner}`: the label `{key}={value}` becomes `{k8s_key}={k8s_value}` (Kubernetes label rules)"
            ));
        }
        into.entry(k8s_key).or_insert(Value::String(k8s_value));
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use crate::Selection;

    #[test]
    fn names_become_dns_labels_and_the_dag_uses_them() {
        let export = check(
            "Kg_Pipeline:\n  - {name: dataloader_01, image_repo: x}\n  - {name: dataloader-01, image_repo: x}\n  - {name: \
             01-link, image_repo: x, dependencies: [dataloader_01, dataloader-01]}\n  - {name: pipeline, image_repo: x, \
             dependencies: [01-link]}\n",
        );
        let workflow = &export.documents[0];
        assert_eq!(workflow["metadata"]["generateName"], "kg-pipeline-");
        assert_eq!(
            workflow["metadata"]["labels"],
            json!({"app.kubernetes.io/managed-by": "copili", "io.copili/pipeline": "Kg_Pipeline"})
        );
        assert_eq!(workflow["spec"]["entrypoint"], "pipeline");
        assert_eq!(workflow["spec"]["templates"][0]["dag"]["failFast"], false);
        assert_eq!(
            tasks(workflow),
            vec![
                ("dataloader-01".to_string(), vec![]),
                ("dataloader-01-2".to_string(), vec![]),
                ("c-01-link".to_string(), vec!["dataloader-01".to_string(), "dataloader-01-2".to_string()]),
                ("pipeline-2".to_string(), vec!["c-01-link".to_string()]),
            ]
        );
        let t = template(workflow, "dataloader-01-2");
        assert_eq!(t["metadata"]["annotations"]["io.copili/container"], "dataloader-01");
        assert_eq!(t["container"]["name"], "main");
        assert_eq!(t["container"]["image"], "x:latest");
        assert_eq!(export.documents.len(), 1, "no service containers, no CronWorkflow");
        assert!(export.secrets.is_empty());
    }

    #[test]
    fn labels_are_made_valid_or_left_out() {
        let export = check(
            "p:\n  - name: a\n    image_repo: x\n    desc: Loads things\n    labels: {team: data, 'cost center': 'kg / \
             nightly', '%%': x, ok: '%%'}\n    sidecars: [{name: s, image_repo: y, labels: {team: other, tier: cache}}]\n",
        );
        let a = template(&export.documents[0], "a");
        assert_eq!(
            a["metadata"],
            json!({
                "labels": {"team": "data", "cost-center": "kg-nightly", "tier": "cache"},
                "annotations": {"io.copili/container": "a", "io.copili/desc": "Loads things"},
            })
        );
        assert_eq!(
            export.warnings,
            vec![
                "`a`: the label `cost center=kg / nightly` becomes `cost-center=kg-nightly` (Kubernetes label rules)",
                "`a`: the label `%%` is left out: no valid Kubernetes label key",
                "`a`: the label `ok` is left out: its value is no valid Kubernetes label value",
            ]
        );
    }

    #[test]
    fn dollar_references_reach_the_container_unchanged() {
        assert_eq!(kubernetes_escape("echo $HOSTNAME ${X:-0}"), "echo $HOSTNAME ${X:-0}");
        assert_eq!(kubernetes_escape("echo $(date) $$ $"), "echo $$(date) $$$ $");
        assert_eq!(kubernetes_escape("$$("), "$$$$(");
        let yaml =
            "p:\n  - {name: a, image_repo: x, command: ['sh', '-c', 'echo $$(date) {{x}}'], env_vars: {A: 'x$$(B)'}}\n";
        let export = check(yaml);
        let a = template(&export.documents[0], "a");
        assert_eq!(a["container"]["args"], json!(["sh", "-c", "echo $$(date) {{x}}"]));
        // A Secret's value is not expanded: kept as the container gets it.
        assert_eq!(export.secrets_manifest()[0]["stringData"], json!({"A": "x$(B)"}));
        let options = ArgoOptions { plain_env: true, ..ArgoOptions::default() };
        let plain = export_with(yaml, &Selection::default(), &options).expect("exports");
        assert_eq!(template(&plain.documents[0], "a")["container"]["env"], json!([{"name": "A", "value": "x$$(B)"}]));
        assert_eq!(
            export.warnings,
            vec!["`a`: Argo reads `{{…}}` in the command as its own template expression; the workflow may fail to resolve it"]
        );
    }
}
