//! The argv of `docker service create` and `docker network create` for a swarm run, and the
//! command lines `plan --engine swarm` shows from them.

use super::*;

impl SwarmEngine {
    /// The command lines a swarm run makes for `spec`, in order, shell-quoted (`plan --engine
    /// swarm`): its overlay network when it has sidecars, then a `service create` per sidecar
    /// and one for the job. The same argv as a run's, from the same functions, rendered as a dry run renders them.
    pub fn planned_command_lines(
        &self,
        spec: &copili_model::ContainerSpec,
        config: &crate::runner::RunConfig,
    ) -> Vec<String> {
        // Rendered as a dry run renders the commands it does not run.
        let line = |argv: &[String]| self.docker.render_quoted(argv);
        let mut lines = Vec::new();
        if !spec.sidecars.is_empty() {
            let network = config.engine_name(&[&spec.name, "net"]);
            let labels = crate::runner::copili_labels(&config.identity, &config.run_id, &spec.name, "network");
            lines.push(line(&network_create_args(&network, &labels)));
        }
        for (sidecar, request) in crate::runner::planned_requests(spec, config) {
            if let Ok(command) = self.service_command(&request, sidecar.is_none()) {
                lines.push(line(&command.args));
            }
        }
        lines
    }

    /// The `docker service create` command for a request: a job for a pipeline's container
    /// (`job`), a service of one replica for a sidecar. Public for `plan --engine swarm`.
    pub fn service_command(&self, request: &CreateRequest, job: bool) -> Result<ServiceCommand, EngineError> {
        let mut argv = args(["service", "create", "--detach", "--quiet", "--name"]);
        argv.push(request.name.clone());
        if job {
            argv.extend(args(["--mode", "replicated-job", "--restart-condition", "none"]));
            // Others reach a job by its aliases on a network it joins (`networks: {N: {aliases}}`)
            // at its task's address too, for the reason below.
            if request.options.networks.iter().any(|n| !n.aliases.is_empty()) {
                argv.extend(args(["--endpoint-mode", "dnsrr"]));
            }
        } else {
            // A sidecar is reached at its task's own address (DNS round robin), not through a
            // virtual IP: the virtual IP needs IPVS in the kernel, which not every host has.
            argv.extend(args(["--replicas", "1", "--endpoint-mode", "dnsrr"]));
        }
        // The image was checked (or pulled, or built) by copili: the manager does not ask a
        // registry for its digest, so that air-gapped swarms and local images work.
        argv.push("--no-resolve-image".into());
        argv.push("--hostname".into());
        argv.push(request.hostname.clone());
        // A sidecar is killed when its container is done with it, as the local engines remove
        // it (`rm --force`): no grace period, also on a node copili must wait for, unless it
        // has a `stop_grace_period`.
        // A sidecar with its own `stop_grace_period` gets it, as on the local engines.
        let graceful = job || request.options.stop_grace_period.is_some();
        let grace = if graceful { whole_seconds(request.stop_timeout) } else { 0 };
        argv.push(format!("--stop-grace-period={grace}s"));
        if let Some(check) = &request.ready {
            // A sidecar's ready check becomes its health check: swarm keeps the task `starting`
            // until it passes, wherever the task runs (see `exec`). One probe may take the
            // check's whole time; it is never declared unhealthy, since copili's own timeout
            // decides when to give up.
            let command: Vec<String> = check.command.iter().map(|arg| shell_quote(arg)).collect();
            argv.push("--health-cmd".into());
            argv.push(command.join(" "));
            argv.push(format!("--health-interval={}ms", check.interval.as_millis().max(1)));
            argv.push(format!("--health-timeout={}s", check.timeout.as_secs().max(1)));
            argv.push(format!("--health-retries={}", i32::MAX));
        }
        // On the service (found by `copili clean`) and on its task's container.
        argv.extend(label_args(&["--label", "--container-label"], &request.labels));
        let env_args = self.docker.env_args(&request.env)?;
        argv.extend(env_args.args);
        let mut env: Vec<(String, String)> =
            env_args.client_env.iter().map(|(name, value)| (name.clone(), value.expose().to_string())).collect();
        let env_dir = env_args.dir;
        for mount in &request.mounts {
            let kind = match &mount.source {
                MountSource::Volume(_) => "volume",
                MountSource::Host(_) => "bind",
            };
            let source = mount_source(&mount.source);
            let readonly = if mount.read_only { ",readonly" } else { "" };
            argv.push("--mount".into());
            argv.push(format!("type={kind},source={source},target={}{readonly}", mount.target));
        }
        if let Some(network) = &request.network {
            argv.push("--network".into());
            let mut spec = format!("name={network}");
            for alias in &request.network_aliases {
                spec.push_str(&format!(",alias={alias}"));
            }
            argv.push(spec);
        }
        service_option_args(&request.options, &mut argv);
        if let Some(resources) = &request.resources {
            argv.extend(resource_args(resources, &SWARM_RESOURCES));
        }
        for constraint in &request.placement {
            argv.push("--constraint".into());
            argv.push(constraint.clone());
        }
        let auth = match &request.registry_auth {
            Some(auth) => {
                let dir = self.docker.login(auth, true)?;
                argv.push("--with-registry-auth".into());
                env.extend(dir.env().into_iter().map(|(k, v)| (k.to_string(), v)));
                Some(dir)
            }
            None => None,
        };
        argv.push(request.image.clone());
        // `--entrypoint` takes the first word; the others go before the command.
        if let Some([_, rest @ ..]) = request.options.entrypoint.as_deref() {
            argv.extend(rest.iter().cloned());
        }
        argv.extend(request.command.iter().cloned());
        Ok(ServiceCommand { args: argv, env, _env_dir: env_dir, _auth: auth })
    }
}

/// `network create` of a container's attachable overlay network (the job and its sidecars
/// meet on it).
pub(super) fn network_create_args(name: &str, labels: &[(String, String)]) -> Vec<String> {
    let mut argv = args(["network", "create", "--driver", "overlay", "--attachable"]);
    for (key, value) in labels {
        argv.push("--label".into());
        argv.push(format!("{key}={value}"));
    }
    argv.push(name.to_string());
    argv
}

/// The container options as `docker service create` takes them. What a service cannot have
/// (`devices`, `gpus`, `ulimits`, `network_mode: bridge`, `host-gateway`, tmpfs options but
/// size and mode) is refused before the run (`copili_planner::backend`).
pub(super) fn service_option_args(o: &copili_model::RunOptions, argv: &mut Vec<String>) {
    for network in &o.networks {
        let mut spec = format!("name={}", network.name);
        for alias in &network.aliases {
            spec.push_str(&format!(",alias={alias}"));
        }
        argv.push("--network".into());
        argv.push(spec);
    }
    match o.network_mode {
        Some(copili_model::NetworkMode::Host) => argv.push("--network=host".into()),
        Some(copili_model::NetworkMode::None) => argv.push("--network=none".into()),
        Some(copili_model::NetworkMode::Bridge) | None => {}
    }
    for host in &o.extra_hosts {
        if let copili_model::HostAddress::Ip(ip) = host.address {
            argv.push(format!("--host={}:{ip}", host.name));
        }
    }
    if let Some(user) = &o.user {
        argv.push(format!("--user={user}"));
    }
    if let Some(dir) = &o.working_dir {
        argv.push(format!("--workdir={dir}"));
    }
    if let Some(entrypoint) = &o.entrypoint {
        // The service's `--entrypoint` is split shell-style: one quoted word.
        argv.push(format!("--entrypoint={}", entrypoint.first().map(|w| shell_quote(w)).unwrap_or_default()));
    }
    if let Some(bytes) = o.shm_size {
        argv.push("--mount".into());
        argv.push(format!("type=tmpfs,destination=/dev/shm,tmpfs-size={bytes}"));
    }
    for tmpfs in &o.tmpfs {
        let mut spec = format!("type=tmpfs,destination={}", tmpfs.target);
        for option in tmpfs.options.iter().flat_map(|o| o.split(',')) {
            if let Some(size) = option.strip_prefix("size=") {
                spec.push_str(&format!(",tmpfs-size={size}"));
            } else if let Some(mode) = option.strip_prefix("mode=") {
                spec.push_str(&format!(",tmpfs-mode={mode}"));
            }
        }
        argv.push("--mount".into());
        argv.push(spec);
    }
    argv.extend(crate::shared_argv::root_and_capability_args(o));
    if let Some(signal) = &o.stop_signal {
        argv.push(format!("--stop-signal={signal}"));
    }
}
