//! Swarm placement constraints as Kubernetes node rules: `nodeSelector` entries and node
//! affinity expressions.

use super::*;

/// What a placement constraint becomes.
#[derive(Debug, PartialEq)]
pub(super) enum NodeRule {
    /// A `nodeSelector` entry.
    Selector(String, String),
    /// A node affinity `matchExpressions` entry.
    Expression(Value),
}

/// The node label rule of a swarm placement constraint, or why there is none.
pub(super) fn node_rule(constraint: &Placement) -> Result<NodeRule, String> {
    let (attribute, equal, value) =
        (constraint.attribute.as_str(), constraint.op == PlacementOp::Eq, constraint.value.as_str());
    let (key, value) = if let Some(label) = attribute.strip_prefix("node.labels.") {
        (label.to_string(), value.to_string())
    } else {
        match attribute {
            "node.hostname" => ("kubernetes.io/hostname".to_string(), value.to_string()),
            "node.platform.os" => ("kubernetes.io/os".to_string(), value.to_ascii_lowercase()),
            "node.platform.arch" => {
                let arch = match value.to_ascii_lowercase().as_str() {
                    "x86_64" | "amd64" => "amd64",
                    "aarch64" | "arm64" => "arm64",
                    "armv7l" | "arm" => "arm",
                    other => return Err(format!("unknown architecture `{other}`")),
                };
                ("kubernetes.io/arch".to_string(), arch.to_string())
            }
            "node.role" => {
                // Kubernetes marks control-plane nodes with a label whose value is empty.
                let on_manager = match value.to_ascii_lowercase().as_str() {
                    "manager" => equal,
                    "worker" => !equal,
                    other => return Err(format!("unknown node role `{other}`")),
                };
                let operator = if on_manager { "Exists" } else { "DoesNotExist" };
                return Ok(NodeRule::Expression(
                    json!({ "key": "node-role.kubernetes.io/control-plane", "operator": operator }),
                ));
            }
            _ => {
                return Err("only node.labels.*, node.hostname, node.role and node.platform.* map to node labels".into())
            }
        }
    };
    if label_key(&key).as_deref() != Some(key.as_str()) || label_value(&value) != value {
        return Err(format!("`{key}={value}` is no valid Kubernetes node label"));
    }
    if equal {
        Ok(NodeRule::Selector(key, value))
    } else {
        Ok(NodeRule::Expression(json!({ "key": key, "operator": "NotIn", "values": [value] })))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn placement_becomes_node_selectors_and_affinity() {
        let export = check(
            "p:\n  - name: a\n    image_repo: x\n    placement: [node.labels.disk==ssd, node.hostname==n1, 'node.role != \
             manager', node.labels.zone!=eu-1, node.platform.arch==x86_64, node.id==abc, node.labels.disk==nvme]\n",
        );
        let a = template(&export.documents[0], "a");
        assert_eq!(
            a["nodeSelector"],
            json!({"disk": "ssd", "kubernetes.io/hostname": "n1", "kubernetes.io/arch": "amd64"})
        );
        assert_eq!(
            a["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"],
            json!([{"matchExpressions": [
                {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["eu-1"]},
                {"key": "disk", "operator": "In", "values": ["nvme"]},
            ]}])
        );
        assert_eq!(
            export.warnings,
            vec![
                "`a`: placement `node.id==abc` does not carry over: only node.labels.*, node.hostname, node.role and \
                 node.platform.* map to node labels"
                    .to_string()
            ]
        );
        let parse = |text: &str| text.parse::<Placement>().expect("a placement");
        assert_eq!(
            node_rule(&parse("node.role==manager")),
            Ok(NodeRule::Expression(json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"})))
        );
        let spaced = Placement { attribute: "node.labels.a b".into(), op: PlacementOp::Eq, value: "c".into() };
        assert_eq!(node_rule(&spaced), Err("`a b=c` is no valid Kubernetes node label".to_string()));
    }
}
