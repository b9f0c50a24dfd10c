//! Finding what copili created, by its labels.

use crate::engine::{Engine, EngineError};

use super::{args, CliEngine, EngineKind};

impl CliEngine {
    /// The values of label `key` on the containers matching `labels` (for `clean` of all
    /// pipelines: which pipelines have leftovers).
    pub fn container_labels(&self, labels: &[(String, String)], key: &str) -> Result<Vec<String>, EngineError> {
        // The two clients' templates differ here: podman's Labels is a map, docker's a string
        // with a Label function.
        let template = match self.kind {
            EngineKind::Podman => format!("{{{{index .Labels \"{key}\"}}}}"),
            EngineKind::Docker => format!("{{{{.Label \"{key}\"}}}}"),
        };
        let mut argv = args(["ps", "--all", "--format", &template]);
        argv.extend(Self::label_filters(labels));
        Ok(self.run(&argv)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
    }

    /// The values of label `key` on the networks matching `labels` (`network ls` has no
    /// template for labels that both clients understand; `network inspect` has).
    pub fn network_labels(&self, labels: &[(String, String)], key: &str) -> Result<Vec<String>, EngineError> {
        let mut values = Vec::new();
        for network in self.networks_with_labels(labels)? {
            let template = format!("{{{{index .Labels \"{key}\"}}}}");
            let value = self.run(&args(["network", "inspect", "--format", &template, &network]))?;
            values.extend(value.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from));
        }
        Ok(values)
    }

    /// `--filter label=K=V`; an empty value matches any value of the label.
    pub(crate) fn label_filters(labels: &[(String, String)]) -> Vec<String> {
        labels
            .iter()
            .flat_map(|(k, v)| {
                let filter = if v.is_empty() { format!("label={k}") } else { format!("label={k}={v}") };
                ["--filter".to_string(), filter]
            })
            .collect()
    }
}
