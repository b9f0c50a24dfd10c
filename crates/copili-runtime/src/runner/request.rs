//! What the runner asks the engine to create for a container and its sidecars: names,
//! labels, environment, mounts and limits as a [`CreateRequest`].

use copili_model::{ContainerSpec, Secret, VolumeSource};

use crate::engine::{CreateRequest, Mount, MountSource};

use super::naming::{copili_labels, sidecar_key};
use super::RunConfig;

/// What a run asks the engine to create for a container, in order: its sidecars (each with
/// its name) on the container's network, then the container itself (`None`). For `plan`.
pub fn planned_requests(spec: &ContainerSpec, config: &RunConfig) -> Vec<(Option<String>, CreateRequest)> {
    let identity = config.identity.as_str();
    let network = (!spec.sidecars.is_empty()).then(|| config.engine_name(&[&spec.name, "net"]));
    let mut requests = Vec::new();
    for sidecar in &spec.sidecars {
        let name = config.engine_name(&[&spec.name, &sidecar.name]);
        let labels = copili_labels(identity, &config.run_id, &sidecar_key(spec, sidecar), "sidecar");
        let request = request_for(sidecar, name, labels, config, network.as_deref(), Some(&sidecar.name));
        requests.push((Some(sidecar.name.clone()), request));
    }
    requests.push((None, main_request(spec, config, network.as_deref())));
    requests
}

/// The request for a container's main container, on its sidecars' network if it has one:
/// the same whether it is created when it starts or ahead of it.
pub(super) fn main_request(spec: &ContainerSpec, config: &RunConfig, network: Option<&str>) -> CreateRequest {
    let labels = copili_labels(&config.identity, &config.run_id, &spec.name, "main");
    let mut request = request_for(spec, config.engine_name(&[&spec.name]), labels, config, network, None);
    request.mounts.extend(super::outputs::mounts(spec, config));
    request
}

pub(super) fn request_for(
    spec: &ContainerSpec,
    engine_name: String,
    labels: Vec<(String, String)>,
    config: &RunConfig,
    network: Option<&str>,
    alias: Option<&str>,
) -> CreateRequest {
    let mut env: Vec<(String, Secret)> =
        config.global_env.iter().filter(|(k, _)| !spec.env_vars.iter().any(|(own, _)| own == k)).cloned().collect();
    env.extend(spec.env_vars.iter().cloned());
    let mut all_labels = labels;
    all_labels
        .extend(config.global_labels.iter().filter(|(k, _)| !spec.labels.iter().any(|(own, _)| own == k)).cloned());
    all_labels.extend(spec.labels.iter().cloned());
    CreateRequest {
        name: engine_name,
        // `--locked`: the image by its locked id, whatever the tag names now.
        image: config.images.pinned.get(&spec.image()).cloned().unwrap_or_else(|| spec.image()),
        hostname: spec.name.clone(),
        labels: all_labels,
        env,
        mounts: spec
            .volumes
            .iter()
            .map(|v| Mount {
                source: match &v.source {
                    VolumeSource::Named(name) => MountSource::Volume(name.clone()),
                    VolumeSource::HostPath { resolved, .. } => MountSource::Host(resolved.clone()),
                },
                target: v.target.clone(),
                read_only: v.read_only,
            })
            .collect(),
        command: spec.command.clone(),
        network: network.map(String::from),
        network_aliases: alias.map(String::from).into_iter().collect(),
        resources: spec.resources.as_deref().copied(),
        placement: spec.placement.iter().map(ToString::to_string).collect(),
        registry_auth: match (&spec.image_reg_username, &spec.image_reg_password) {
            (Some(username), Some(password)) if !username.is_empty() => Some(crate::engine::RegistryAuth {
                registry: spec.registry().to_string(),
                username: username.clone(),
                password: password.clone(),
            }),
            _ => None,
        },
        stop_timeout: spec.options().stop_grace_period.unwrap_or(config.stop_timeout),
        ready: spec.ready.as_deref().cloned(),
        options: spec.options().clone(),
    }
}
