//! Engine-side names and the `io.copili.*` labels copili puts on everything it creates.

use copili_model::ContainerSpec;

/// The label naming the pipeline (its identity) a container, network or service belongs to.
pub const PIPELINE_LABEL: &str = "io.copili.pipeline";
/// The label holding the run's id.
pub const RUN_ID_LABEL: &str = "io.copili.run-id";
/// The label naming the container of the pipeline (`main/sidecar` for a sidecar).
pub const CONTAINER_LABEL: &str = "io.copili.container";
/// The label saying what it is: `main`, `sidecar` or `network`.
pub const ROLE_LABEL: &str = "io.copili.role";

/// Makes a name acceptable to engines: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, other characters become `-`.
pub fn engine_name(parts: &[&str]) -> String {
    let joined = parts.join("-");
    let mut name: String =
        joined.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '-' }).collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'c');
    }
    name
}

/// The labels copili puts on everything it creates (documented in docs/ARCHITECTURE.md).
pub fn copili_labels(identity: &str, run_id: &str, container: &str, role: &str) -> Vec<(String, String)> {
    vec![
        (PIPELINE_LABEL.into(), identity.into()),
        (RUN_ID_LABEL.into(), run_id.into()),
        (CONTAINER_LABEL.into(), container.into()),
        (ROLE_LABEL.into(), role.into()),
    ]
}

/// A sidecar's key where it must be told from other containers' sidecars of the same name
/// (its `io.copili.container` label, as in the console prefixes and the report): `main/sidecar`.
pub(super) fn sidecar_key(spec: &ContainerSpec, sidecar: &ContainerSpec) -> String {
    format!("{}/{}", spec.name, sidecar.name)
}
