//! A container's template: its metadata, main container and sidecars, pod-level settings
//! (host aliases, node rules, volumes) and what does not carry over.

use super::*;

impl Builder<'_> {
    pub(super) fn template(&mut self, spec: &ContainerSpec, task: &str) -> Built {
        let mut volumes = Vec::new();
        let mut registry_login = self.registry_login(spec);
        let mut template = Map::new();
        template.insert("name".into(), task.into());

        let mut labels = Map::new();
        for owner in std::iter::once(spec).chain(&spec.sidecars) {
            for (key, value) in &owner.labels {
                self.label(&owner.name, key, value, &mut labels);
            }
        }
        let mut annotations = Map::new();
        annotations.insert(CONTAINER_ANNOTATION.into(), spec.name.clone().into());
        if let Some(desc) = &spec.desc {
            annotations.insert("io.copili/desc".into(), desc.clone().into());
        }
        if let Some(link) = &spec.info_link {
            annotations.insert("io.copili/info-link".into(), link.clone().into());
        }
        let mut metadata = Map::new();
        if !labels.is_empty() {
            metadata.insert("labels".into(), Value::Object(labels));
        }
        metadata.insert("annotations".into(), Value::Object(annotations));
        template.insert("metadata".into(), Value::Object(metadata));

        let owner = format!("`{}`", spec.name);
        // tmpfs and /dev/shm: memory-backed emptyDirs of this pod only.
        let mut pod_volumes = Vec::new();
        let main = self.container(spec, "main", &owner, task, &mut volumes, &mut pod_volumes);
        template.insert("container".into(), Value::Object(main));
        // `/etc/hosts` is the pod's: the sidecars' names and every container's `extra_hosts`.
        let mut host_aliases = HostAliases::default();

        if !spec.sidecars.is_empty() {
            // Argo's own containers are `main`, `wait` and `init`.
            let mut names = UniqueNames::reserving(&["main", "wait", "init"]);
            let mut sidecars = Vec::new();
            for sidecar_spec in &spec.sidecars {
                registry_login |= self.registry_login(sidecar_spec);
                let label = match dns_label(&sidecar_spec.name, DNS_LABEL_MAX) {
                    label if label.is_empty() => "sidecar".to_string(),
                    label => label,
                };
                let name = names.claim(&label, DNS_LABEL_MAX);
                let owner = format!("sidecar `{}` of `{}`", sidecar_spec.name, spec.name);
                let mut sidecar = self.container(sidecar_spec, &name, &owner, task, &mut volumes, &mut pod_volumes);
                if let Some(ready) = &sidecar_spec.ready {
                    sidecar.insert("readinessProbe".into(), readiness_probe(ready));
                    self.warnings.push(format!(
                        "sidecar `{}` of `{}`: its `ready` check becomes a readinessProbe, but Argo starts the main \
                         container without waiting for it",
                        sidecar_spec.name, spec.name
                    ));
                }
                sidecars.push(Value::Object(sidecar));
                // copili's sidecars are reached by their name; in a pod they share the network.
                let lowercase = sidecar_spec.name.to_ascii_lowercase();
                let hostname = if is_dns_subdomain(&lowercase) {
                    lowercase
                } else {
                    self.warnings.push(format!(
                        "sidecar `{}` of `{}` is reached as `{label}` (a host name cannot be `{}`)",
                        sidecar_spec.name, spec.name, sidecar_spec.name
                    ));
                    label
                };
                host_aliases.add("127.0.0.1", hostname);
            }
            template.insert("sidecars".into(), Value::Array(sidecars));
        }
        for owner in std::iter::once(spec).chain(&spec.sidecars) {
            for host in &owner.options().extra_hosts {
                // `host-gateway` is refused before the export (`Backend::Argo`).
                if let HostAddress::Ip(ip) = host.address {
                    host_aliases.add(&ip.to_string(), host.name.clone());
                }
            }
        }
        if !host_aliases.0.is_empty() {
            let entries = host_aliases.0.into_iter().map(|(ip, hostnames)| json!({ "ip": ip, "hostnames": hostnames }));
            template.insert("hostAliases".into(), Value::Array(entries.collect()));
        }
        if !pod_volumes.is_empty() {
            template.insert("volumes".into(), Value::Array(pod_volumes));
        }
        // A template has no `hostNetwork` or `terminationGracePeriodSeconds` of its own: Argo
        // patches the pod's spec with `podSpecPatch`.
        let mut patch = Map::new();
        if spec.options().network_mode == Some(NetworkMode::Host) {
            patch.insert("hostNetwork".into(), true.into());
        }
        if let Some(grace) = spec.options().stop_grace_period {
            patch.insert("terminationGracePeriodSeconds".into(), whole_seconds(grace).into());
        }
        if !patch.is_empty() {
            template.insert("podSpecPatch".into(), Value::Object(patch).to_string().into());
        }

        if spec.retries > 0 {
            let mut retry = Map::new();
            retry.insert("limit".into(), spec.retries.to_string().into());
            retry.insert("retryPolicy".into(), "Always".into());
            if !spec.retry_delay.is_zero() {
                retry.insert("backoff".into(), json!({ "duration": go_duration(spec.retry_delay), "factor": 2 }));
            }
            template.insert("retryStrategy".into(), Value::Object(retry));
        }
        if let Some(timeout) = spec.timeout {
            template.insert("activeDeadlineSeconds".into(), whole_seconds(timeout).into());
        }

        let mut selector = Map::new();
        let mut expressions = Vec::new();
        for owner in std::iter::once(spec).chain(&spec.sidecars) {
            for constraint in &owner.placement {
                match node_rule(constraint) {
                    Ok(NodeRule::Selector(key, value)) => match selector.get(&key) {
                        Some(existing) if existing != &Value::String(value.clone()) => {
                            expressions.push(json!({ "key": key, "operator": "In", "values": [value] }));
                        }
                        _ => {
                            selector.insert(key, value.into());
                        }
                    },
                    Ok(NodeRule::Expression(expression)) => expressions.push(expression),
                    Err(reason) => self
                        .warnings
                        .push(format!("`{}`: placement `{constraint}` does not carry over: {reason}", owner.name)),
                }
            }
        }
        if !selector.is_empty() {
            template.insert("nodeSelector".into(), Value::Object(selector));
        }
        if !expressions.is_empty() {
            template.insert(
                "affinity".into(),
                json!({ "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{ "matchExpressions": expressions }]
                } } }),
            );
        }

        self.not_carried_over(spec);
        Built { template: Value::Object(template), volumes, registry_login }
    }

    /// The properties that have no counterpart, named once per container.
    pub(super) fn not_carried_over(&mut self, spec: &ContainerSpec) {
        for owner in std::iter::once(spec).chain(&spec.sidecars) {
            if owner.build.is_some() {
                self.warnings.push(format!(
                    "`{}` is built by copili: Argo pulls `{}`, so push the image to a registry the cluster can reach",
                    owner.name,
                    owner.image()
                ));
            }
            if !owner.tls_verify {
                self.warnings.push(format!(
                    "`{}`: `tls_verify: false` does not carry over: the nodes' container runtime decides",
                    owner.name
                ));
            }
        }
        if spec.run_once {
            self.warnings.push(format!(
                "`{}`: `run_once` does not carry over: Argo keeps no run state, every workflow runs it",
                spec.name
            ));
        }
    }
}

/// A pod's `hostAliases`: host names by address, in the order first given.
#[derive(Debug, Default)]
pub(super) struct HostAliases(Vec<(String, Vec<String>)>);

impl HostAliases {
    pub(super) fn add(&mut self, ip: &str, hostname: String) {
        match self.0.iter_mut().find(|(known, _)| known == ip) {
            Some((_, hostnames)) => {
                if !hostnames.contains(&hostname) {
                    hostnames.push(hostname);
                }
            }
            None => self.0.push((ip.to_string(), vec![hostname])),
        }
    }
}

/// A readiness probe running the `ready` command every `interval` until `timeout`.
pub(super) fn readiness_probe(ready: &ReadyCheck) -> Value {
    let period = whole_seconds(ready.interval).max(1);
    let failures = whole_seconds(ready.timeout).div_ceil(period).max(1);
    json!({ "exec": { "command": ready.command }, "periodSeconds": period, "failureThreshold": failures })
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn a_sidecar_name_is_unique_per_template_only() {
        let yaml = "p:\n  - name: a\n    image_repo: x\n    sidecars: [&db {name: db, image_repo: redis}]\n  - name: b\n    image_repo: x\n    sidecars: [*db]\n  - name: db\n    image_repo: x\n";
        let export = check(yaml);
        let workflow = &export.documents[0];
        for task in ["a", "b"] {
            let t = template(workflow, task);
            assert_eq!(t["sidecars"].as_array().map(Vec::len), Some(1), "{t:#}");
            assert_eq!(t["sidecars"][0]["name"], "db", "{t:#}");
            assert_eq!(t["hostAliases"], json!([{"ip": "127.0.0.1", "hostnames": ["db"]}]));
        }
        assert_eq!(template(workflow, "db")["container"]["name"], "main");
    }

    #[test]
    fn sidecars_with_ready_checks_host_aliases_and_pull_policy() {
        let export = check(
            "p:\n  - name: a\n    image_repo: x\n    pull: always\n    command: [run, --fast]\n    sidecars:\n      - \
             {name: cache_01, image_repo: redis, tag: '7', ready: {command: redis-cli ping, timeout: 30s, interval: 4s}, \
             pull: never}\n      - {name: main, image_repo: y, command: serve}\n",
        );
        let a = template(&export.documents[0], "a");
        assert_eq!(
            a["container"],
            json!({"name": "main", "image": "x:latest", "imagePullPolicy": "Always", "args": ["run", "--fast"]})
        );
        assert_eq!(
            a["sidecars"],
            json!([
                {"name": "cache-01", "image": "redis:7", "imagePullPolicy": "Never",
                 "readinessProbe": {"exec": {"command": ["redis-cli", "ping"]}, "periodSeconds": 4, "failureThreshold": 8}},
                {"name": "main-2", "image": "y:latest", "args": ["serve"]},
            ])
        );
        assert_eq!(a["hostAliases"], json!([{"ip": "127.0.0.1", "hostnames": ["cache-01", "main"]}]));
        assert!(export
            .warnings
            .iter()
            .any(|w| w == "sidecar `cache_01` of `a` is reached as `cache-01` (a host name cannot be `cache_01`)"));
        assert!(export
            .warnings
            .iter()
            .any(|w| w.starts_with("sidecar `cache_01` of `a`: its `ready` check becomes a readinessProbe")));
    }

    #[test]
    fn sidecar_options_stay_with_the_sidecar_and_extra_hosts_join_the_pods() {
        let export = check(
            "p:\n  - name: a\n    image_repo: x\n    stop_grace_period: 10s\n    extra_hosts: ['graph:10.1.0.2']\n    \
             sidecars:\n      - {name: db, image_repo: y, user: '999', read_only: true, tmpfs: /var/run/postgresql, \
             shm_size: 1g, extra_hosts: ['ext:192.168.1.9', 'graph:10.1.0.2', 'self:127.0.0.1']}\n  - {name: b, \
             image_repo: x, tmpfs: '/tmp:size=1m', volumes: ['dshm:/data']}\n",
        );
        let workflow = &export.documents[0];
        let a = template(workflow, "a");
        assert!(a["container"].get("securityContext").is_none(), "{a:#}");
        assert!(a["container"].get("volumeMounts").is_none(), "{a:#}");
        assert_eq!(
            a["sidecars"][0],
            json!({
                "name": "db",
                "image": "y:latest",
                "securityContext": {"runAsUser": 999, "readOnlyRootFilesystem": true},
                "volumeMounts": [
                    {"name": "dshm", "mountPath": "/dev/shm"},
                    {"name": "tmpfs-var-run-postgresql", "mountPath": "/var/run/postgresql"},
                ],
            })
        );
        assert_eq!(
            a["volumes"],
            json!([
                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
                {"name": "tmpfs-var-run-postgresql", "emptyDir": {"medium": "Memory"}},
            ])
        );
        assert_eq!(
            a["hostAliases"],
            json!([
                {"ip": "127.0.0.1", "hostnames": ["db", "self"]},
                {"ip": "10.1.0.2", "hostnames": ["graph"]},
                {"ip": "192.168.1.9", "hostnames": ["ext"]},
            ])
        );
        assert_eq!(a["podSpecPatch"], r#"{"terminationGracePeriodSeconds":10}"#);
        // Volume names are unique in the workflow: the named volume `dshm` is not `a`'s /dev/shm.
        let b = template(workflow, "b");
        assert_eq!(
            b["container"]["volumeMounts"],
            json!([{"name": "dshm-2", "mountPath": "/data"}, {"name": "tmpfs-tmp", "mountPath": "/tmp"}])
        );
        assert_eq!(
            workflow["spec"]["volumes"],
            json!([{"name": "dshm-2", "persistentVolumeClaim": {"claimName": "dshm"}}])
        );
        assert!(b.get("podSpecPatch").is_none());
    }

    #[test]
    fn copili_only_properties_are_named() {
        let export =
            check("p:\n  - {name: a, image_repo: x, run_once: true, tls_verify: false}\n  - {name: b, build: ./b}\n");
        assert_eq!(
            export.warnings,
            vec![
                "`a`: `tls_verify: false` does not carry over: the nodes' container runtime decides",
                "`a`: `run_once` does not carry over: Argo keeps no run state, every workflow runs it",
                "`b` is built by copili: Argo pulls `localhost/copili-p-b:latest`, so push the image to a registry the \
                 cluster can reach",
            ]
        );
    }
}
