//! The arguments of `create` and `run` for a request (resources, labels, mounts, networks,
//! options), with the environment in a private file, and `host-gateway` resolved.

use std::io::Write;
use std::path::PathBuf;

use crate::engine::{CreateRequest, EngineError};
use crate::shared_argv::{label_args, mount_source, resource_args, LOCAL_RESOURCES};

use super::auth::private_dir;
use super::{args, CliEngine, EngineKind};

impl CliEngine {
    /// The arguments of `create` or `run` for a request, with the environment file they name.
    pub(super) fn prepare(&self, verb: &str, request: &CreateRequest) -> Result<Prepared, EngineError> {
        let mut argv = args([verb, "--name"]);
        argv.push(request.name.clone());
        if verb == "run" {
            // A signal to copili must not reach the container through the client.
            argv.push("--sig-proxy=false".into());
        }
        // copili pulls (or builds) images itself, with the container's policy and credentials:
        // the engine must not pull on its own, with the host's credentials.
        argv.push("--pull=never".into());
        argv.push("--hostname".into());
        argv.push(request.hostname.clone());
        argv.extend(label_args(&["--label"], &request.labels));
        let EnvArgs { args: env_args, client_env: in_client_env, dir: env_dir } = self.env_args(&request.env)?;
        argv.extend(env_args);
        if let Some(resources) = &request.resources {
            // Local engines have no CPU reservation; memory's is a soft limit.
            argv.extend(resource_args(resources, &LOCAL_RESOURCES));
        }
        for mount in &request.mounts {
            let source = mount_source(&mount.source);
            argv.push("--volume".into());
            argv.push(format!("{source}:{}:{}", mount.target, if mount.read_only { "ro" } else { "rw" }));
        }
        // The job's own network first (its sidecars meet there), then the ones the container
        // joins besides (`networks`).
        let mut networks: Vec<(&str, &[String])> = Vec::new();
        if let Some(network) = &request.network {
            networks.push((network, &request.network_aliases));
        }
        networks.extend(request.options.networks.iter().map(|n| (n.name.as_str(), n.aliases.as_slice())));
        let mut connect = Vec::new();
        match (self.kind, networks.as_slice()) {
            (_, []) => {}
            (_, [(network, aliases)]) => {
                argv.push("--network".into());
                argv.push(network.to_string());
                for alias in *aliases {
                    argv.push("--network-alias".into());
                    argv.push(alias.clone());
                }
            }
            // podman joins several at once, each with its own aliases.
            (EngineKind::Podman, several) => {
                for (network, aliases) in several {
                    let aliases: Vec<String> = aliases.iter().map(|alias| format!("alias={alias}")).collect();
                    let settings = if aliases.is_empty() { String::new() } else { format!(":{}", aliases.join(",")) };
                    argv.push(format!("--network={network}{settings}"));
                }
            }
            // docker 20.10 creates a container on one network; the others are connected before
            // it starts.
            (EngineKind::Docker, [(first, aliases), rest @ ..]) => {
                argv.push("--network".into());
                argv.push(first.to_string());
                for alias in *aliases {
                    argv.push("--network-alias".into());
                    argv.push(alias.clone());
                }
                connect = rest.iter().map(|(n, aliases)| (n.to_string(), aliases.to_vec())).collect();
            }
        }
        let host_gateway = self.host_gateway(request, networks.first().map(|(n, _)| *n))?;
        argv.extend(crate::run_args::option_args(self.kind, &request.options, host_gateway.as_deref()));
        argv.push(request.image.clone());
        argv.extend(crate::run_args::command_prefix(&request.options).iter().cloned());
        argv.extend(request.command.iter().cloned());
        Ok(Prepared { args: argv, client_env: in_client_env, _env_dir: env_dir, connect })
    }

    /// What `host-gateway` stands for where the engine does not know the word: podman 4
    /// refuses it (`invalid IP address in add-host`), so copili gives the address podman itself
    /// gives `host.containers.internal`: the gateway of the container's first network when
    /// rootful, the host's own address when rootless (reached through slirp4netns), loopback
    /// on the host's network. `None`: docker, or no `host-gateway` entry.
    pub(super) fn host_gateway(
        &self,
        request: &CreateRequest,
        first_network: Option<&str>,
    ) -> Result<Option<String>, EngineError> {
        let wanted = request.options.extra_hosts.iter().any(|h| h.address == copili_model::HostAddress::HostGateway);
        if self.kind != EngineKind::Podman || !wanted {
            return Ok(None);
        }
        if request.options.network_mode == Some(copili_model::NetworkMode::Host) {
            return Ok(Some("127.0.0.1".into()));
        }
        let unresolved = |reason: String| EngineError::NotFound {
            binary: self.display.clone(),
            reason: format!("cannot resolve `host-gateway` for `{}`: {reason}", request.hostname),
        };
        if crate::run_args::running_rootless() {
            return crate::run_args::host_address()
                .map(Some)
                .ok_or_else(|| unresolved("the host has no network address but loopback".into()));
        }
        let network = first_network.unwrap_or("podman");
        if self.dry_run.is_some() {
            return Ok(Some(format!("<gateway of {network}>")));
        }
        let argv = args(["network", "inspect", "--format", "{{range .Subnets}}{{.Gateway}} {{end}}", network]);
        let out = self.run(&argv)?;
        out.split_whitespace()
            .find(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
            .or_else(|| out.split_whitespace().next())
            .map(|ip| Some(ip.to_string()))
            .ok_or_else(|| unresolved(format!("the network `{network}` has no gateway")))
    }

    /// Connects a created container to the networks it could not be created on (docker).
    pub(super) fn connect(&self, id: &str, prepared: &Prepared) -> Result<(), EngineError> {
        for (network, aliases) in &prepared.connect {
            let mut argv = args(["network", "connect"]);
            for alias in aliases {
                argv.push("--alias".into());
                argv.push(alias.clone());
            }
            argv.push(network.clone());
            argv.push(id.to_string());
            self.run(&argv)?;
        }
        Ok(())
    }

    /// How environment values reach a container without ever being on a command line: the
    /// one-line values in a 0600 file in a private directory (`--env-file`, removed when the
    /// returned guard is dropped), the others in the client's own environment with only their
    /// names as arguments (`--env NAME`). A dry run shows names only and writes no file.
    pub(crate) fn env_args(&self, env: &[(String, copili_model::Secret)]) -> Result<EnvArgs, EngineError> {
        let dry = self.dry_run.is_some();
        let (in_file, client_env): (Vec<_>, Vec<_>) =
            env.iter().cloned().partition(|(_, value)| !dry && !value.expose().contains('\n'));
        let mut args = Vec::new();
        let dir = if in_file.is_empty() {
            None
        } else {
            let (dir, path) = env_file(&in_file).map_err(|e| EngineError::NotFound {
                binary: self.display.clone(),
                reason: format!("cannot write the environment file: {e}"),
            })?;
            args.push("--env-file".into());
            args.push(path.display().to_string());
            Some(dir)
        };
        for (name, _) in &client_env {
            args.push("--env".into());
            args.push(name.clone());
        }
        Ok(EnvArgs { args, client_env, dir })
    }
}

/// Arguments of `create`/`run` with the private directory of their environment file, removed
/// when this is dropped.
pub(super) struct Prepared {
    pub(super) args: Vec<String>,
    pub(super) client_env: Vec<(String, copili_model::Secret)>,
    pub(super) _env_dir: Option<tempfile::TempDir>,
    /// Networks (with aliases) to connect the created container to before it starts.
    pub(super) connect: Vec<(String, Vec<String>)>,
}

impl Prepared {
    pub(super) fn client_env(&self) -> Vec<(&str, &str)> {
        self.client_env.iter().map(|(k, v)| (k.as_str(), v.expose())).collect()
    }
}

/// Writes the environment into a file only this user can read, in a private directory that
/// is removed when the returned guard is dropped.
pub(crate) fn env_file(env: &[(String, copili_model::Secret)]) -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    let dir = private_dir("copili-env-")?;
    let path = dir.path().join("env");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    for (name, value) in env {
        writeln!(file, "{name}={}", value.expose())?;
    }
    file.sync_all()?;
    Ok((dir, path))
}

/// The arguments that pass a container's environment, the values for the client's own
/// environment, and the private directory of the env file.
pub(crate) struct EnvArgs {
    pub(crate) args: Vec<String>,
    pub(crate) client_env: Vec<(String, copili_model::Secret)>,
    pub(crate) dir: Option<tempfile::TempDir>,
}
