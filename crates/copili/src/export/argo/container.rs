//! One `container` (or sidecar) entry of a template: image, command, env, mounts, resources,
//! and its `securityContext`.

use super::*;

impl Builder<'_> {
    /// A `container` (or sidecar) entry; records the workflow's volumes it uses into `volumes`,
    /// and adds the memory-backed volumes of its tmpfs mounts and `/dev/shm` to `pod_volumes`.
    pub(super) fn container(
        &mut self,
        spec: &ContainerSpec,
        name: &str,
        owner: &str,
        task: &str,
        volumes: &mut Vec<usize>,
        pod_volumes: &mut Vec<Value>,
    ) -> Map<String, Value> {
        let options = spec.options();
        let mut container = Map::new();
        container.insert("name".into(), name.into());
        container.insert("image".into(), spec.image().into());
        if let Some(pull) = spec.pull {
            let policy = match pull {
                PullPolicy::Always => "Always",
                PullPolicy::Missing => "IfNotPresent",
                PullPolicy::Never => "Never",
            };
            container.insert("imagePullPolicy".into(), policy.into());
        }
        // Kubernetes calls the image's ENTRYPOINT `command` and its CMD `args`; a `command` given
        // without `args` runs without the image's CMD, as docker's `--entrypoint` does.
        let (command, args): (&[String], &[String]) = match options.entrypoint.as_deref() {
            None => (&[], &spec.command),
            // An empty entrypoint runs the command itself (refused without one, `Backend::Argo`).
            Some([]) => (&spec.command, &[]),
            Some(entrypoint) => (entrypoint, &spec.command),
        };
        for (field, words) in [("command", command), ("args", args)] {
            if !words.is_empty() {
                let escaped: Vec<String> = words.iter().map(|word| kubernetes_escape(word)).collect();
                container.insert(field.into(), json!(escaped));
            }
        }
        if command.iter().chain(args).any(|word| word.contains("{{")) {
            self.warnings.push(format!(
                "{owner}: Argo reads `{{{{…}}}}` in the command as its own template expression; the workflow may fail \
                 to resolve it"
            ));
        }
        if let Some(dir) = &options.working_dir {
            container.insert("workingDir".into(), dir.clone().into());
        }
        let security = security_context(options);
        if !security.is_empty() {
            container.insert("securityContext".into(), Value::Object(security));
        }
        if !spec.env_vars.is_empty() {
            let env: Vec<Value> = spec
                .env_vars
                .iter()
                .map(|(key, value)| {
                    if self.plain_env {
                        json!({ "name": key, "value": kubernetes_escape(value.expose()) })
                    } else {
                        // Kubernetes expands `$(NAME)` in `value` only: a Secret's value is
                        // passed on as it is, unescaped.
                        let secret_key = self.env_key(key, value, task);
                        json!({ "name": key, "valueFrom": { "secretKeyRef": { "name": self.env_secret, "key": secret_key } } })
                    }
                })
                .collect();
            container.insert("env".into(), Value::Array(env));
        }
        let mut mounts: Vec<Value> = Vec::new();
        if !spec.volumes.is_empty() {
            mounts = spec
                .volumes
                .iter()
                .map(|volume| {
                    let (index, sub_path) = self.volume(&volume.source, owner);
                    if !volumes.contains(&index) {
                        volumes.push(index);
                    }
                    let mut mount = Map::new();
                    let name = self.volumes.get(index).and_then(|v| v.entry.get("name")).cloned();
                    mount.insert("name".into(), name.unwrap_or(Value::Null));
                    mount.insert("mountPath".into(), volume.target.clone().into());
                    if let Some(sub_path) = sub_path {
                        mount.insert("subPath".into(), sub_path.into());
                    }
                    if volume.read_only {
                        mount.insert("readOnly".into(), true.into());
                    }
                    Value::Object(mount)
                })
                .collect();
        }
        let memory_mounts =
            options.shm_size.map(|size| ("dshm".to_string(), "/dev/shm", Some(size))).into_iter().chain(
                options.tmpfs.iter().map(|t| (format!("tmpfs-{}", t.target), t.target.as_str(), t.size_bytes())),
            );
        for (base, target, size) in memory_mounts {
            let base = match dns_label(&base, DNS_LABEL_MAX) {
                label if label == "tmpfs" => "tmpfs-root".to_string(),
                label => label,
            };
            let volume_name = self.volume_names.claim(&base, DNS_LABEL_MAX);
            let mut empty_dir = Map::new();
            empty_dir.insert("medium".into(), "Memory".into());
            if let Some(size) = size {
                empty_dir.insert("sizeLimit".into(), memory_quantity(size).into());
            }
            pod_volumes.push(json!({ "name": volume_name, "emptyDir": empty_dir }));
            mounts.push(json!({ "name": volume_name, "mountPath": target }));
        }
        if !mounts.is_empty() {
            container.insert("volumeMounts".into(), Value::Array(mounts));
        }
        let gpus = match options.gpus {
            // `all` and device ids are refused before the export (`Backend::Argo`).
            Some(Gpus::Count(count)) => Some(count),
            _ => None,
        };
        if spec.resources.is_some() || gpus.is_some() {
            let resources = spec.resources.as_deref().copied().unwrap_or_default();
            let amounts = |a: copili_model::ResourceAmounts| {
                let mut map = Map::new();
                if let Some(cpus) = a.cpus {
                    map.insert("cpu".into(), cpu_quantity(cpus).into());
                }
                if let Some(memory) = a.memory {
                    map.insert("memory".into(), memory_quantity(memory).into());
                }
                map
            };
            let mut map = Map::new();
            for (field, amount) in [("limits", resources.limits), ("requests", resources.reservations)] {
                let mut amount = amounts(amount);
                if let Some(count) = gpus.filter(|_| field == "limits") {
                    // The NVIDIA device plugin's resource; a request defaults to the limit.
                    amount.insert(GPU_RESOURCE.into(), count.to_string().into());
                }
                if !amount.is_empty() {
                    map.insert(field.into(), Value::Object(amount));
                }
            }
            if !map.is_empty() {
                container.insert("resources".into(), Value::Object(map));
            }
        }
        container
    }
}

/// The resource the NVIDIA device plugin offers GPUs as.
pub(super) const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// A container's `securityContext`: its user and group, a read-only root, capabilities.
pub(super) fn security_context(options: &RunOptions) -> Map<String, Value> {
    let mut context = Map::new();
    if let Some(user) = &options.user {
        // Numbers only: a named user is refused before the export (`Backend::Argo`).
        let (uid, gid) = match user.split_once(':') {
            Some((uid, gid)) => (uid, Some(gid)),
            None => (user.as_str(), None),
        };
        if let Ok(uid) = uid.parse::<u64>() {
            context.insert("runAsUser".into(), uid.into());
        }
        if let Some(Ok(gid)) = gid.map(str::parse::<u64>) {
            context.insert("runAsGroup".into(), gid.into());
        }
    }
    if options.read_only {
        context.insert("readOnlyRootFilesystem".into(), true.into());
    }
    let mut capabilities = Map::new();
    for (field, list) in [("add", &options.cap_add), ("drop", &options.cap_drop)] {
        if !list.is_empty() {
            capabilities.insert(field.into(), json!(list));
        }
    }
    if !capabilities.is_empty() {
        context.insert("capabilities".into(), Value::Object(capabilities));
    }
    context
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn retries_timeout_and_resources() {
        let export = check(
            "p:\n  - name: a\n    image_repo: x\n    retries: 3\n    retry_delay: 1.5\n    timeout: 90.5s\n    \
             resources: {cpus: 1.5, memory: 512m, reservations: {cpus: 0.25, memory: 4194305}}\n  - {name: b, image_repo: x, \
             retries: 1, retry_delay: 0, resources: {memory: 1g}}\n  - {name: c, image_repo: x, retry_delay: 5s}\n",
        );
        let workflow = &export.documents[0];
        let a = template(workflow, "a");
        assert_eq!(
            a["retryStrategy"],
            json!({"limit": "3", "retryPolicy": "Always", "backoff": {"duration": "1500ms", "factor": 2}})
        );
        assert_eq!(a["activeDeadlineSeconds"], 91);
        assert_eq!(
            a["container"]["resources"],
            json!({"limits": {"cpu": "1.5", "memory": "512Mi"}, "requests": {"cpu": "0.25", "memory": "4194305"}})
        );
        let b = template(workflow, "b");
        assert_eq!(b["retryStrategy"], json!({"limit": "1", "retryPolicy": "Always"}));
        assert_eq!(b["container"]["resources"], json!({"limits": {"memory": "1Gi"}}));
        let c = template(workflow, "c");
        assert!(c.get("retryStrategy").is_none() && c.get("activeDeadlineSeconds").is_none());
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(cpu_quantity(2.0), "2");
        assert_eq!(memory_quantity(3 << 29), "1536Mi");
    }

    #[test]
    fn container_options_map_to_the_container_and_its_pod() {
        let export = check(
            "p:\n  - name: load\n    image_repo: x\n    command: [sh, -c, 'echo $$(id -u)']\n    user: '1000:1001'\n    \
             working_dir: /app\n    entrypoint: [tini, --]\n    read_only: true\n    cap_add: [net_admin]\n    \
             cap_drop: [ALL]\n    network_mode: host\n    extra_hosts: ['db:10.0.0.5', 'cache=10.0.0.5', 'v6:[::1]']\n    \
             shm_size: 256m\n    tmpfs: [/run, '/tmp:size=64m']\n    gpus: 2\n    stop_grace_period: 1m30s\n    \
             resources: {memory: 1g}\n",
        );
        let load = template(&export.documents[0], "load");
        assert_eq!(
            load["container"],
            json!({
                "name": "main",
                "image": "x:latest",
                "command": ["tini", "--"],
                "args": ["sh", "-c", "echo $$(id -u)"],
                "workingDir": "/app",
                "securityContext": {
                    "runAsUser": 1000,
                    "runAsGroup": 1001,
                    "readOnlyRootFilesystem": true,
                    "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                },
                "volumeMounts": [
                    {"name": "dshm", "mountPath": "/dev/shm"},
                    {"name": "tmpfs-run", "mountPath": "/run"},
                    {"name": "tmpfs-tmp", "mountPath": "/tmp"},
                ],
                "resources": {"limits": {"memory": "1Gi", "nvidia.com/gpu": "2"}},
            })
        );
        assert_eq!(
            load["volumes"],
            json!([
                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
                {"name": "tmpfs-run", "emptyDir": {"medium": "Memory"}},
                {"name": "tmpfs-tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            ])
        );
        assert_eq!(
            load["hostAliases"],
            json!([{"ip": "10.0.0.5", "hostnames": ["db", "cache"]}, {"ip": "::1", "hostnames": ["v6"]}])
        );
        let patch: Value = serde_json::from_str(load["podSpecPatch"].as_str().expect("a string")).expect("JSON");
        assert_eq!(patch, json!({"hostNetwork": true, "terminationGracePeriodSeconds": 90}));
        assert!(export.warnings.is_empty(), "{:?}", export.warnings);
        // Pod volumes are not the workflow's.
        assert!(export.documents[0]["spec"].get("volumes").is_none());
    }

    #[test]
    fn an_entrypoint_becomes_the_command_and_an_empty_one_runs_the_command_itself() {
        let export = check(
            "p:\n  - {name: a, image_repo: x, entrypoint: /bin/sh}\n  - {name: b, image_repo: x, entrypoint: '', \
             command: 'report --all'}\n  - {name: c, image_repo: x, entrypoint: [], command: [serve]}\n  - {name: d, \
             image_repo: x, command: [serve]}\n",
        );
        let workflow = &export.documents[0];
        let fields = |name: &str| {
            let container = &template(workflow, name)["container"];
            (container.get("command").cloned(), container.get("args").cloned())
        };
        // Without args, Kubernetes runs the command without the image's CMD, as docker does.
        assert_eq!(fields("a"), (Some(json!(["/bin/sh"])), None));
        assert_eq!(fields("b"), (Some(json!(["report", "--all"])), None));
        assert_eq!(fields("c"), (Some(json!(["serve"])), None));
        assert_eq!(fields("d"), (None, Some(json!(["serve"]))));
        let braces = check("p:\n  - {name: a, image_repo: x, entrypoint: ['{{x}}']}\n");
        assert_eq!(
            braces.warnings,
            vec!["`a`: Argo reads `{{…}}` in the command as its own template expression; the workflow may fail to resolve it"]
        );
    }
}
