//! [`Engine`] for the `docker` and `podman` command line clients, run through `duct`.
//!
//! Every call is one client invocation with its output captured, its exit status read with
//! `unchecked()` and turned into an [`EngineError`] carrying the command (secrets never on it)
//! and the end of its error output. The two clients differ in a few places only, kept here.

mod classify;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::engine::{
    BuildRequest, ContainerStatus, CreateRequest, Engine, EngineError, ExitStatus, LogLine, LogStream, MountSource,
    PullRequest, RegistryAuth,
};
use crate::reason::{BuildError, PullError};

/// Which client a binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// The docker client, talking to a daemon (`DOCKER_HOST`).
    Docker,
    /// The podman client, daemonless (rootful or rootless).
    Podman,
}

/// A container engine driven through its command line client.
#[derive(Debug, Clone)]
pub struct CliEngine {
    binary: PathBuf,
    display: String,
    kind: EngineKind,
    /// `--dry-run`: commands are shown, not run.
    dry_run: Option<DryRunSink>,
}

/// Where a dry run's commands go, one shell-quoted line each.
#[derive(Clone)]
pub struct DryRunSink(std::sync::Arc<dyn Fn(String) + Send + Sync>);

impl std::fmt::Debug for DryRunSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DryRunSink")
    }
}

/// How many lines of a failing command's error output an error keeps.
const STDERR_TAIL_LINES: usize = 8;

impl CliEngine {
    /// An engine for `binary` (a name looked up on `PATH`, or a path), of the given kind.
    pub fn new(binary: impl Into<PathBuf>, kind: EngineKind) -> CliEngine {
        let binary = binary.into();
        let display = binary.display().to_string();
        CliEngine { binary, display, kind, dry_run: None }
    }

    /// This engine in dry-run mode: every command is handed to `sink` as one shell-quoted line
    /// instead of being run, and answers as if it had succeeded (containers exit 0). Needs no
    /// reachable engine.
    pub fn dry_run(mut self, sink: impl Fn(String) + Send + Sync + 'static) -> CliEngine {
        self.dry_run = Some(DryRunSink(std::sync::Arc::new(sink)));
        self
    }

    /// Finds `docker` or `podman` on `PATH`.
    pub fn find(kind: EngineKind) -> Result<CliEngine, EngineError> {
        let name = match kind {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        };
        let path = which::which(name)
            .map_err(|e| EngineError::NotFound { binary: name.into(), reason: format!("not found on PATH ({e})") })?;
        Ok(CliEngine { binary: path, display: name.into(), kind, dry_run: None })
    }

    /// The engine named by `--engine` / `COPILI_ENGINE`: `auto` (podman when `PATH` has it,
    /// else docker), `docker`, `podman`, or the path of a client binary (its kind read from
    /// its name, else from its `--version`).
    pub fn select(choice: &str) -> Result<CliEngine, EngineError> {
        match choice {
            "" | "auto" => CliEngine::find(EngineKind::Podman)
                .or_else(|_| CliEngine::find(EngineKind::Docker))
                .map_err(|_| EngineError::NoClientOnPath),
            "docker" => CliEngine::find(EngineKind::Docker),
            "podman" => CliEngine::find(EngineKind::Podman),
            path => {
                let binary = PathBuf::from(path);
                if !binary.is_file() {
                    return Err(EngineError::NotFound { binary: path.into(), reason: "no such file".into() });
                }
                let name = binary.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
                let kind = if name.contains("podman") {
                    EngineKind::Podman
                } else if name.contains("docker") {
                    EngineKind::Docker
                } else {
                    let probe = CliEngine::new(&binary, EngineKind::Docker);
                    let version = probe.run(&args(["--version"]))?;
                    if version.to_lowercase().contains("podman") {
                        EngineKind::Podman
                    } else {
                        EngineKind::Docker
                    }
                };
                Ok(CliEngine::new(binary, kind))
            }
        }
    }

    /// The kind of client.
    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    /// Runs the client with `args`; the captured standard output on success.
    pub(crate) fn run(&self, args: &[String]) -> Result<String, EngineError> {
        self.run_with_env(args, &[])
    }

    pub(crate) fn run_with_env(&self, args: &[String], env: &[(&str, &str)]) -> Result<String, EngineError> {
        if let Some(DryRunSink(sink)) = &self.dry_run {
            sink(self.render_dry(args, env));
            return Ok(dry_run_answer(args));
        }
        self.checked(args, self.spawn_captured(args, env, None)?)
    }

    /// Runs the client (never in a dry run) with its outputs captured, `env` added to its
    /// environment and `input` (or nothing) on its standard input, in its own process group.
    fn spawn_captured(
        &self,
        args: &[String],
        env: &[(&str, &str)],
        input: Option<&[u8]>,
    ) -> Result<std::process::Output, EngineError> {
        let mut expression = duct::cmd(&self.binary, args).stdout_capture().stderr_capture().unchecked();
        expression = match input {
            Some(bytes) => expression.stdin_bytes(bytes.to_vec()),
            None => expression.stdin_null(),
        };
        for (name, value) in env {
            expression = expression.env(name, value);
        }
        own_process_group(expression)
            .run()
            .map_err(|e| EngineError::NotFound { binary: self.display.clone(), reason: e.to_string() })
    }

    /// The standard output of a client that exited 0; otherwise its failure.
    fn checked(&self, args: &[String], output: std::process::Output) -> Result<String, EngineError> {
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(EngineError::Failed {
            command: self.render(args),
            code: output.status.code(),
            stderr: tail(&output.stderr),
        })
    }

    /// The command as a shell line, each argument quoted where needed.
    pub(crate) fn render_quoted(&self, args: &[String]) -> String {
        std::iter::once(self.display.as_str())
            .chain(args.iter().map(String::as_str))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A dry run's line: the settings that change where the client keeps credentials
    /// (`DOCKER_CONFIG`) before the command, so that a copied line does not log in to the
    /// user's own store; other environment values (secrets) are never shown.
    pub(crate) fn render_dry(&self, args: &[String], env: &[(&str, &str)]) -> String {
        let mut line = String::new();
        for (name, value) in env.iter().filter(|(name, _)| *name == "DOCKER_CONFIG") {
            line.push_str(&format!("{name}={} ", shell_quote(value)));
        }
        line.push_str(&self.render_quoted(args));
        line
    }

    /// The command for messages. Arguments never hold secret values (see [`CliEngine::create`]).
    pub(crate) fn render(&self, args: &[String]) -> String {
        std::iter::once(self.display.as_str()).chain(args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    }

    /// The arguments of `create` or `run` for a request, with the environment file they name.
    fn prepare(&self, verb: &str, request: &CreateRequest) -> Result<Prepared, EngineError> {
        let mut a = args([verb, "--name"]);
        a.push(request.name.clone());
        if verb == "run" {
            // A signal to copili must not reach the container through the client.
            a.push("--sig-proxy=false".into());
        }
        // copili pulls (or builds) images itself, with the container's policy and credentials:
        // the engine must not pull on its own, with the host's credentials.
        a.push("--pull=never".into());
        a.push("--hostname".into());
        a.push(request.hostname.clone());
        for (key, value) in &request.labels {
            a.push("--label".into());
            a.push(format!("{key}={value}"));
        }
        let EnvArgs { args: env_args, client_env: in_client_env, dir: env_dir } = self.env_args(&request.env)?;
        a.extend(env_args);
        if let Some(resources) = &request.resources {
            if let Some(cpus) = resources.limits.cpus {
                a.push(format!("--cpus={cpus}"));
            }
            if let Some(memory) = resources.limits.memory {
                a.push(format!("--memory={memory}b"));
            }
            // Local engines have no CPU reservation; memory's is a soft limit.
            if let Some(memory) = resources.reservations.memory {
                a.push(format!("--memory-reservation={memory}b"));
            }
        }
        for mount in &request.mounts {
            let source = match &mount.source {
                MountSource::Volume(name) => name.clone(),
                MountSource::Host(path) => path.display().to_string(),
            };
            a.push("--volume".into());
            a.push(format!("{source}:{}:{}", mount.target, if mount.read_only { "ro" } else { "rw" }));
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
                a.push("--network".into());
                a.push(network.to_string());
                for alias in *aliases {
                    a.push("--network-alias".into());
                    a.push(alias.clone());
                }
            }
            // podman joins several at once, each with its own aliases.
            (EngineKind::Podman, several) => {
                for (network, aliases) in several {
                    let aliases: Vec<String> = aliases.iter().map(|alias| format!("alias={alias}")).collect();
                    let settings = if aliases.is_empty() { String::new() } else { format!(":{}", aliases.join(",")) };
                    a.push(format!("--network={network}{settings}"));
                }
            }
            // docker 20.10 creates a container on one network; the others are connected before
            // it starts.
            (EngineKind::Docker, [(first, aliases), rest @ ..]) => {
                a.push("--network".into());
                a.push(first.to_string());
                for alias in *aliases {
                    a.push("--network-alias".into());
                    a.push(alias.clone());
                }
                connect = rest.iter().map(|(n, aliases)| (n.to_string(), aliases.to_vec())).collect();
            }
        }
        let host_gateway = self.host_gateway(request, networks.first().map(|(n, _)| *n))?;
        a.extend(crate::run_args::option_args(self.kind, &request.options, host_gateway.as_deref()));
        a.push(request.image.clone());
        a.extend(crate::run_args::command_prefix(&request.options).iter().cloned());
        a.extend(request.command.iter().cloned());
        Ok(Prepared { args: a, client_env: in_client_env, _env_dir: env_dir, connect })
    }

    /// What `host-gateway` stands for where the engine does not know the word: podman 4
    /// refuses it (`invalid IP address in add-host`), so copili gives the address podman itself
    /// gives `host.containers.internal`: the gateway of the container's first network when
    /// rootful, the host's own address when rootless (reached through slirp4netns), loopback
    /// on the host's network. `None`: docker, or no `host-gateway` entry.
    fn host_gateway(
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
        let a = args(["network", "inspect", "--format", "{{range .Subnets}}{{.Gateway}} {{end}}", network]);
        let out = self.run(&a)?;
        out.split_whitespace()
            .find(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
            .or_else(|| out.split_whitespace().next())
            .map(|ip| Some(ip.to_string()))
            .ok_or_else(|| unresolved(format!("the network `{network}` has no gateway")))
    }

    /// Connects a created container to the networks it could not be created on (docker).
    fn connect(&self, id: &str, prepared: &Prepared) -> Result<(), EngineError> {
        for (network, aliases) in &prepared.connect {
            let mut a = args(["network", "connect"]);
            for alias in aliases {
                a.push("--alias".into());
                a.push(alias.clone());
            }
            a.push(network.clone());
            a.push(id.to_string());
            self.run(&a)?;
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

    /// Runs the client, calling `on_line` for every line of its stdout and stderr as soon as it
    /// is read, in the order read (each pipe has a reader of its own, so that neither can fill
    /// up and stall, nor hold back the other's lines); its exit code (`None` if killed) and the
    /// last lines of its stderr.
    fn stream(
        &self,
        a: &[String],
        env: &[(&str, &str)],
        on_line: &mut dyn FnMut(LogLine),
    ) -> Result<(Option<i32>, String), EngineError> {
        self.stream_cancellable(a, env, on_line, None)
    }

    /// [`CliEngine::stream`], killing the client when `cancelled` turns true.
    pub(crate) fn stream_cancellable(
        &self,
        a: &[String],
        env: &[(&str, &str)],
        on_line: &mut dyn FnMut(LogLine),
        cancelled: Option<&(dyn Fn() -> bool + Sync)>,
    ) -> Result<(Option<i32>, String), EngineError> {
        if self.dry_run.is_some() {
            self.run_with_env(a, env)?;
            return Ok((Some(0), String::new()));
        }
        let spawn_error =
            |e: std::io::Error| EngineError::NotFound { binary: self.display.clone(), reason: e.to_string() };
        let (err_reader, err_writer) = std::io::pipe().map_err(spawn_error)?;
        let mut expression = duct::cmd(&self.binary, a).stderr_file(err_writer).stdin_null().unchecked();
        for (name, value) in env {
            expression = expression.env(name, value);
        }
        let handle = own_process_group(expression).reader().map_err(spawn_error)?;
        let mut stderr_tail: Vec<String> = Vec::new();
        let finished = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            // Both readers send to one channel; the lines are handed on here, on the caller's
            // thread, as they arrive. A container that writes to stderr only (PostgreSQL does)
            // is followed as live as one that writes to stdout.
            let (tx, rx) = std::sync::mpsc::channel::<LogLine>();
            let (handle, finished) = (&handle, &finished);
            let stdout_tx = tx.clone();
            scope.spawn(move || send_lines(handle, LogStream::Stdout, &stdout_tx));
            scope.spawn(move || send_lines(err_reader, LogStream::Stderr, &tx));
            if let Some(cancelled) = cancelled {
                scope.spawn(move || {
                    while !finished.load(std::sync::atomic::Ordering::SeqCst) {
                        if cancelled() {
                            let _ = handle.kill();
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                });
            }
            // Ends when both pipes have ended.
            for line in rx {
                if line.stream == LogStream::Stderr {
                    stderr_tail.push(line.text.clone());
                    if stderr_tail.len() > STDERR_TAIL_LINES {
                        stderr_tail.remove(0);
                    }
                }
                on_line(line);
            }
            finished.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let status = match handle.try_wait() {
            Ok(Some(output)) => output.status.code(),
            _ => None,
        };
        Ok((status, stderr_tail.join("\n")))
    }

    /// Logs in to `auth.registry` with `--password-stdin`, into a new private directory that
    /// holds the credentials for one pull or build: podman's `--authfile`, docker's
    /// `DOCKER_CONFIG`. The user's own credential store is neither read nor changed.
    pub(crate) fn login(&self, auth: &RegistryAuth, tls_verify: bool) -> Result<AuthDir, EngineError> {
        let dir = if self.dry_run.is_some() {
            None
        } else {
            Some(private_dir("copili-auth-").map_err(|e| EngineError::NotFound {
                binary: self.display.clone(),
                reason: format!("cannot create a private directory for the registry credentials: {e}"),
            })?)
        };
        let path = dir.as_ref().map_or_else(|| PathBuf::from("<private temporary directory>"), |d| d.path().into());
        let auth_dir = AuthDir { path, _dir: dir, kind: self.kind };
        let mut a = args(["login"]);
        if self.kind == EngineKind::Podman {
            a.push("--authfile".into());
            a.push(auth_dir.auth_file().display().to_string());
            if !tls_verify {
                a.push("--tls-verify=false".into());
            }
        } else if auth_dir._dir.is_some() {
            // A config naming the registry already is a file store: docker then keeps the
            // credentials in it instead of looking for a system credential helper.
            let seed = serde_json_like_auths(&auth.registry);
            std::fs::write(auth_dir.path.join("config.json"), seed).map_err(|e| EngineError::NotFound {
                binary: self.display.clone(),
                reason: format!("cannot write the temporary docker config: {e}"),
            })?;
        }
        a.extend(["--username".to_string(), auth.username.clone(), "--password-stdin".to_string()]);
        a.push(auth.registry.clone());
        let env = auth_dir.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.run_with_input(&a, &env, auth.password.expose().as_bytes())?;
        Ok(auth_dir)
    }

    /// Runs the client; its standard output and error, whatever its exit status.
    pub(crate) fn run_capturing_both(&self, args: &[String]) -> Result<(bool, String, String), EngineError> {
        if let Some(DryRunSink(sink)) = &self.dry_run {
            sink(self.render_quoted(args));
            return Ok((true, String::new(), String::new()));
        }
        let output = self.spawn_captured(args, &[], None)?;
        Ok((
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }

    /// Runs the client with `input` on its standard input.
    pub(crate) fn run_with_input(
        &self,
        args: &[String],
        env: &[(&str, &str)],
        input: &[u8],
    ) -> Result<String, EngineError> {
        if let Some(DryRunSink(sink)) = &self.dry_run {
            sink(self.render_dry(args, env));
            return Ok(String::new());
        }
        self.checked(args, self.spawn_captured(args, env, Some(input))?)
    }

    /// Streams a pull or build: `Ok` when the client exits 0.
    pub(crate) fn stream_to_end(
        &self,
        a: &[String],
        env: &[(&str, &str)],
        on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), EngineError> {
        if self.dry_run.is_some() {
            return self.run_with_env(a, env).map(|_| ());
        }
        let (status, stderr) = self.stream_cancellable(a, env, on_line, Some(cancelled))?;
        match status {
            Some(0) => Ok(()),
            code => Err(EngineError::Failed {
                command: self.render(a),
                code,
                stderr: if code.is_none() && cancelled() { "interrupted".into() } else { stderr },
            }),
        }
    }

    /// The values of label `key` on the containers matching `labels` (for `clean` of all
    /// pipelines: which pipelines have leftovers).
    pub fn container_labels(&self, labels: &[(String, String)], key: &str) -> Result<Vec<String>, EngineError> {
        // The two clients' templates differ here: podman's Labels is a map, docker's a string
        // with a Label function.
        let template = match self.kind {
            EngineKind::Podman => format!("{{{{index .Labels \"{key}\"}}}}"),
            EngineKind::Docker => format!("{{{{.Label \"{key}\"}}}}"),
        };
        let mut a = args(["ps", "--all", "--format", &template]);
        a.extend(Self::label_filters(labels));
        Ok(self.run(&a)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
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

/// The private directory holding a login's credentials, removed when this is dropped.
pub(crate) struct AuthDir {
    path: PathBuf,
    _dir: Option<tempfile::TempDir>,
    kind: EngineKind,
}

impl AuthDir {
    pub(crate) fn auth_file(&self) -> PathBuf {
        self.path.join("auth.json")
    }

    /// The arguments that make a podman command use it.
    pub(crate) fn args(&self) -> Vec<String> {
        match self.kind {
            EngineKind::Podman => vec!["--authfile".into(), self.auth_file().display().to_string()],
            EngineKind::Docker => Vec::new(),
        }
    }

    /// The environment that makes a docker command use it.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        match self.kind {
            EngineKind::Docker => vec![("DOCKER_CONFIG", self.path.display().to_string())],
            EngineKind::Podman => Vec::new(),
        }
    }
}

/// `{"auths": {"REGISTRY": {}}}`, the registry's name escaped as JSON.
fn serde_json_like_auths(registry: &str) -> String {
    let escaped: String = registry
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c if c.is_control() => Vec::new(),
            c => vec![c],
        })
        .collect();
    format!("{{\"auths\": {{\"{escaped}\": {{}}}}}}\n")
}

/// A new directory only this user can enter, removed when the guard is dropped.
pub(crate) fn private_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir()
}

/// The arguments that pass a container's environment, the values for the client's own
/// environment, and the private directory of the env file.
pub(crate) struct EnvArgs {
    pub(crate) args: Vec<String>,
    pub(crate) client_env: Vec<(String, copili_model::Secret)>,
    pub(crate) dir: Option<tempfile::TempDir>,
}

/// Sends every line read from `source` as a line of `stream`, as soon as it is read, until the
/// source ends or nobody listens. Bytes that are not UTF-8 are replaced, never the end of the
/// stream.
fn send_lines(source: impl std::io::Read, stream: LogStream, tx: &std::sync::mpsc::Sender<LogLine>) {
    let mut reader = BufReader::new(source);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer) {
            Ok(0) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buffer).trim_end_matches(['\n', '\r']).to_string();
                if tx.send(LogLine { stream, text }).is_err() {
                    return;
                }
            }
            // A pipe that fails ends like one that ended; the client's status is read from its
            // handle afterwards.
            Err(_) => return,
        }
    }
}

/// Arguments of `create`/`run` with the private directory of their environment file, removed
/// when this is dropped.
struct Prepared {
    args: Vec<String>,
    client_env: Vec<(String, copili_model::Secret)>,
    _env_dir: Option<tempfile::TempDir>,
    /// Networks (with aliases) to connect the created container to before it starts.
    connect: Vec<(String, Vec<String>)>,
}

impl Prepared {
    fn client_env(&self) -> Vec<(&str, &str)> {
        self.client_env.iter().map(|(k, v)| (k.as_str(), v.expose())).collect()
    }
}

/// Each client in its own process group: a Ctrl-C at the terminal reaches copili only, which
/// then stops the containers itself, with the grace period.
pub(crate) fn own_process_group(expression: duct::Expression) -> duct::Expression {
    #[cfg(unix)]
    {
        expression.before_spawn(|command| {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
            Ok(())
        })
    }
    #[cfg(not(unix))]
    {
        expression
    }
}

/// An argument as a POSIX shell would need it: bare when it holds only safe characters,
/// else in single quotes.
///
/// An argument with characters that would act on a terminal (ESC, a line break, other control
/// characters) is written in bash's `$'…'` quoting with those characters escaped, so that a
/// dry-run line neither rewrites the terminal nor spans lines, and still pastes as the same
/// argument.
pub fn shell_quote(arg: &str) -> String {
    use std::fmt::Write as _;
    let safe = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if safe {
        return arg.to_string();
    }
    if !arg.chars().any(|c| c != '\t' && copili_model::escape::acts_on_terminal(c)) {
        return format!("'{}'", arg.replace('\'', r"'\''"));
    }
    let mut quoted = String::from("$'");
    for c in arg.chars() {
        let _ = match c {
            '\\' => write!(quoted, "\\\\"),
            '\'' => write!(quoted, "\\'"),
            '\n' => write!(quoted, "\\n"),
            '\t' => write!(quoted, "\\t"),
            c if copili_model::escape::acts_on_terminal(c) && (c as u32) < 0x80 => {
                write!(quoted, "\\x{:02x}", c as u32)
            }
            c if copili_model::escape::acts_on_terminal(c) => write!(quoted, "\\U{:08x}", c as u32),
            c => write!(quoted, "{c}"),
        };
    }
    quoted.push('\'');
    quoted
}

/// What a dry run answers: the output a successful command would give.
fn dry_run_answer(args: &[String]) -> String {
    match args.first().map(String::as_str) {
        Some("create") => {
            args.iter().position(|a| a == "--name").and_then(|i| args.get(i + 1)).cloned().unwrap_or_default()
        }
        Some("wait") => "0".into(),
        Some("inspect") => "exited 0 false".into(),
        Some("version") => "dry-run".into(),
        _ => String::new(),
    }
}

/// Whether an error output says that an image does not exist (docker: "No such image",
/// podman: "image not known").
/// docker: `network X not found`, `No such network: X`; podman: `unable to find network with
/// name or ID X: network not found`.
pub(crate) fn is_no_such_network(stderr: &str) -> bool {
    let lower = stderr.to_lowercase();
    lower.contains("not found") || lower.contains("no such network")
}

pub(crate) fn is_no_such_image(stderr: &str) -> bool {
    let lower = stderr.to_lowercase();
    lower.contains("no such image") || lower.contains("image not known") || lower.contains("no such object")
}

/// The last lines of an error output, trimmed.
pub(crate) fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n")
}

pub(crate) fn args<const N: usize>(items: [&str; N]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
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

impl Engine for CliEngine {
    fn name(&self) -> &str {
        &self.display
    }

    fn ping(&self) -> Result<String, EngineError> {
        let format = match self.kind {
            EngineKind::Docker => "{{.Server.Version}}",
            EngineKind::Podman => "{{.Client.Version}}",
        };
        let out = self.run(&args(["version", "--format", format]))?;
        Ok(out.trim().to_string())
    }

    /// Environment values go into a 0600 file in a private temporary directory
    /// (`--env-file`), removed as soon as the container is created; a value with a line break,
    /// which env files cannot hold, goes into the client's own environment with only its name
    /// on the command line (`--env NAME`). Either way no value is ever in `ps`.
    fn create(&self, request: &CreateRequest) -> Result<String, EngineError> {
        let prepared = self.prepare("create", request)?;
        let client_env = prepared.client_env();
        let out = self.run_with_env(&prepared.args, &client_env)?;
        let id = out.lines().last().unwrap_or("").trim().to_string();
        if id.is_empty() {
            return Err(EngineError::UnexpectedOutput { command: self.render(&prepared.args), output: out });
        }
        self.connect(&id, &prepared)?;
        Ok(id)
    }

    /// `run` attached: one client process creates, starts and streams the container, as
    /// `ENGINE run --rm` would, so a chain of containers costs about what the engine itself
    /// costs. The client's exit code is the container's, except where it can be the client's
    /// own (125–127): then, and for 137, the status is read from `inspect`.
    fn run_attached(
        &self,
        request: &CreateRequest,
        on_line: &mut dyn FnMut(LogLine),
    ) -> Result<ExitStatus, EngineError> {
        let mut prepared = self.prepare("run", request)?;
        if !prepared.connect.is_empty() {
            // Created, connected, then started attached: `start --attach` streams the output
            // and exits with the container's code, as `run` does.
            prepared = self.prepare("create", request)?;
            let client_env = prepared.client_env();
            self.run_with_env(&prepared.args, &client_env)?;
            self.connect(&request.name, &prepared)?;
            prepared.args = args(["start", "--attach", &request.name]);
        }
        let client_env = prepared.client_env();
        let (status, stderr) = self.stream(&prepared.args, &client_env, on_line)?;
        // docker and podman document `run`'s exit code as the container's own, except 125,
        // 126 and 127, which are also theirs for their own failures: only those (and a
        // client killed by a signal, and 137 for the OOM flag) need the engine's record.
        if let Some(code) = status.filter(|c| !(125..=127).contains(c) && *c != 137) {
            return Ok(ExitStatus { code, oom_killed: false });
        }
        match self.inspect(&request.name) {
            Ok(ContainerStatus { exit: Some(exit), .. }) => Ok(exit),
            // Never ran (bad mount, no such image, name taken…): the client said why.
            Ok(_) | Err(_) => Err(EngineError::Failed {
                command: self.render(&prepared.args),
                code: status,
                stderr: if stderr.is_empty() { "the container did not run".into() } else { stderr },
            }),
        }
    }

    fn start(&self, id: &str) -> Result<(), EngineError> {
        self.run(&args(["start", id])).map(|_| ())
    }

    fn follow_logs(&self, id: &str, on_line: &mut dyn FnMut(LogLine)) -> Result<(), EngineError> {
        let a = args(["logs", "--follow", id]);
        let (status, stderr) = self.stream(&a, &[], on_line)?;
        match status {
            Some(0) => Ok(()),
            code => Err(EngineError::Failed { command: self.render(&a), code, stderr }),
        }
    }

    fn wait(&self, id: &str) -> Result<ExitStatus, EngineError> {
        // podman polls the container's state, every 250 ms unless told otherwise: a quarter of
        // a second lost per container of a chain.
        let a = match self.kind {
            EngineKind::Podman => args(["wait", "--interval", "20ms", id]),
            EngineKind::Docker => args(["wait", id]),
        };
        let out = self.run(&a)?;
        let code = out
            .lines()
            .rev()
            .find_map(|l| l.trim().parse::<i32>().ok())
            .ok_or_else(|| EngineError::UnexpectedOutput { command: self.render(&a), output: out.clone() })?;
        // Only a killed container can have been killed by the OOM killer: ask only then.
        let oom_killed = code == 137 && self.inspect(id).ok().and_then(|s| s.exit).is_some_and(|e| e.oom_killed);
        Ok(ExitStatus { code, oom_killed })
    }

    fn inspect(&self, id: &str) -> Result<ContainerStatus, EngineError> {
        let a = args(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", id]);
        let out = self.run(&a)?;
        let fields: Vec<&str> = out.split_whitespace().collect();
        let [state, code, oom] = fields.as_slice() else {
            return Err(EngineError::UnexpectedOutput { command: self.render(&a), output: out.clone() });
        };
        let state = state.to_string();
        let exit = if state == "exited" || state == "stopped" {
            let code = code
                .parse::<i32>()
                .map_err(|_| EngineError::UnexpectedOutput { command: self.render(&a), output: out.clone() })?;
            Some(ExitStatus { code, oom_killed: *oom == "true" })
        } else {
            None
        };
        Ok(ContainerStatus { state, exit })
    }

    fn stop(&self, id: &str, grace: Duration) -> Result<(), EngineError> {
        // Whole seconds only: a fraction rounds up, so a grace period is never cut to nothing.
        let seconds = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
        self.run(&args(["stop", "--time", &seconds.to_string(), id])).map(|_| ())
    }

    fn removal_contends_with_start(&self) -> bool {
        self.kind == EngineKind::Podman
    }

    fn remove_all(&self, ids: &[String]) -> Result<(), EngineError> {
        if ids.is_empty() {
            return Ok(());
        }
        // podman 4.3's `rm --force` removes none of the containers named, and still exits 0,
        // when one of them is already gone; `--ignore` makes it remove the others.
        let mut a = match self.kind {
            EngineKind::Podman => args(["rm", "--force", "--ignore", "--time", "0", "--volumes"]),
            EngineKind::Docker => args(["rm", "--force", "--volumes"]),
        };
        a.extend(ids.iter().cloned());
        self.run(&a).map(|_| ())
    }

    fn remove(&self, id: &str) -> Result<(), EngineError> {
        // `--volumes`: anonymous volumes of the image go with the container. podman's
        // `rm --force` would first wait out the stop timeout of a PID 1 that ignores SIGTERM
        // (a shell, httpd); the stop with its grace period comes before this when wanted.
        let a = match self.kind {
            EngineKind::Podman => args(["rm", "--force", "--ignore", "--time", "0", "--volumes", id]),
            EngineKind::Docker => args(["rm", "--force", "--volumes", id]),
        };
        self.run(&a).map(|_| ())
    }

    fn exec(&self, id: &str, command: &[String]) -> Result<i32, EngineError> {
        let mut a = args(["exec", id]);
        a.extend(command.iter().cloned());
        if self.dry_run.is_some() {
            return self.run(&a).map(|_| 0);
        }
        let output = self.spawn_captured(&a, &[], None)?;
        output.status.code().ok_or_else(|| EngineError::Failed {
            command: self.render(&a),
            code: None,
            stderr: tail(&output.stderr),
        })
    }

    fn network_create(&self, name: &str, labels: &[(String, String)]) -> Result<(), EngineError> {
        let mut a = args(["network", "create"]);
        for (key, value) in labels {
            a.push("--label".into());
            a.push(format!("{key}={value}"));
        }
        a.push(name.to_string());
        self.run(&a).map(|_| ())
    }

    fn network_exists(&self, name: &str) -> Result<bool, EngineError> {
        match self.run(&args(["network", "inspect", "--format", "{{.Name}}", name])) {
            Ok(_) => Ok(true),
            Err(EngineError::Failed { stderr, .. }) if is_no_such_network(&stderr) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn network_remove(&self, name: &str) -> Result<(), EngineError> {
        self.run(&args(["network", "rm", name])).map(|_| ())
    }

    fn containers_with_labels(&self, labels: &[(String, String)]) -> Result<Vec<String>, EngineError> {
        let mut a = args(["ps", "--all", "--format", "{{.Names}}"]);
        a.extend(Self::label_filters(labels));
        Ok(self.run(&a)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
    }

    fn networks_with_labels(&self, labels: &[(String, String)]) -> Result<Vec<String>, EngineError> {
        let mut a = args(["network", "ls", "--format", "{{.Name}}"]);
        a.extend(Self::label_filters(labels));
        Ok(self.run(&a)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
    }

    fn pull(
        &self,
        request: &PullRequest,
        on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), PullError> {
        let had_credentials = request.auth.is_some();
        let classified = |error: EngineError| PullError { kind: classify::classify(&error, had_credentials), error };
        let auth =
            request.auth.as_ref().map(|auth| self.login(auth, request.tls_verify)).transpose().map_err(classified)?;
        let mut a = args(["pull"]);
        if let Some(auth) = &auth {
            a.extend(auth.args());
        }
        if self.kind == EngineKind::Podman && !request.tls_verify {
            a.push("--tls-verify=false".into());
        }
        a.push(request.image.clone());
        let env = auth.as_ref().map(AuthDir::env).unwrap_or_default();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.stream_to_end(&a, &env, on_line, cancelled).map_err(classified)
    }

    /// Build arguments go by name (`--build-arg NAME`): the client reads their values from its
    /// environment, so they are never on a command line.
    fn build(
        &self,
        request: &BuildRequest,
        on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), BuildError> {
        let auth = request
            .auth
            .as_ref()
            .map(|auth| self.login(auth, request.tls_verify))
            .transpose()
            .map_err(|error| BuildError::Login(PullError { kind: classify::classify(&error, true), error }))?;
        let mut a = args(["build", "--tag", &request.image]);
        if let Some(file) = &request.dockerfile {
            a.push("--file".into());
            a.push(file.display().to_string());
        }
        if let Some(target) = &request.target {
            a.push("--target".into());
            a.push(target.clone());
        }
        for (name, _) in &request.args {
            a.push("--build-arg".into());
            a.push(name.clone());
        }
        for (key, value) in &request.labels {
            a.push("--label".into());
            a.push(format!("{key}={value}"));
        }
        if request.pull {
            a.push(if self.kind == EngineKind::Podman { "--pull=always" } else { "--pull" }.into());
        }
        if let Some(auth) = &auth {
            a.extend(auth.args());
        }
        if self.kind == EngineKind::Podman && !request.tls_verify {
            a.push("--tls-verify=false".into());
        }
        a.push(request.context.display().to_string());
        let mut env: Vec<(String, String)> =
            auth.as_ref().map(AuthDir::env).unwrap_or_default().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        env.extend(request.args.iter().map(|(k, v)| (k.clone(), v.expose().to_string())));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Ok(self.stream_to_end(&a, &env, on_line, cancelled)?)
    }

    fn image_label(&self, image: &str, key: &str) -> Result<Option<String>, EngineError> {
        let template = format!("{{{{index .Config.Labels \"{key}\"}}}}");
        let a = args(["image", "inspect", "--format", &template, image]);
        if self.dry_run.is_some() {
            self.run(&a)?;
            return Ok(None);
        }
        match self.run(&a) {
            Ok(out) => {
                let value = out.trim();
                Ok((!value.is_empty() && value != "<no value>").then(|| value.to_string()))
            }
            Err(EngineError::Failed { code: Some(_), stderr, .. }) if is_no_such_image(&stderr) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        if self.dry_run.is_some() {
            return Ok(None);
        }
        match self.run(&args(["image", "inspect", "--format", "{{.Id}}", image])) {
            Ok(out) => Ok(out.lines().next().map(str::trim).filter(|l| !l.is_empty()).map(String::from)),
            Err(EngineError::Failed { code: Some(_), stderr, .. }) if is_no_such_image(&stderr) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn is_dry_run(&self) -> bool {
        self.dry_run.is_some()
    }

    fn pipeline_identities(&self) -> Result<Vec<String>, EngineError> {
        let any = vec![(crate::runner::PIPELINE_LABEL.to_string(), String::new())];
        let mut identities = self.container_labels(&any, crate::runner::PIPELINE_LABEL)?;
        identities.extend(self.network_labels(&any, crate::runner::PIPELINE_LABEL)?);
        identities.sort();
        identities.dedup();
        Ok(identities)
    }

    fn show_instead_of_running(&self, command_line: &str) -> bool {
        match &self.dry_run {
            Some(DryRunSink(sink)) => {
                sink(command_line.to_string());
                true
            }
            None => false,
        }
    }

    /// podman 4 fails the whole listing when an image disappears while it lists (another
    /// process removing one): tried up to three times.
    fn local_images(&self) -> Result<Vec<String>, EngineError> {
        let a = args(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        let mut attempt = 0;
        let out = loop {
            attempt += 1;
            match self.run(&a) {
                Ok(out) => break out,
                Err(EngineError::Failed { stderr, .. }) if attempt < 3 && is_no_such_image(&stderr) => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        };
        Ok(out.lines().map(str::trim).filter(|l| !l.is_empty() && !l.contains("<none>")).map(String::from).collect())
    }

    fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        let a = match self.kind {
            EngineKind::Podman => args(["image", "exists", image]),
            EngineKind::Docker => args(["image", "inspect", "--format", "{{.Id}}", image]),
        };
        // A dry run shows the check and goes on as if the image were absent, so that the pull
        // (or build) it would need is shown too.
        if self.dry_run.is_some() {
            self.run(&a)?;
            return Ok(false);
        }
        match self.run(&a) {
            Ok(_) => Ok(true),
            // podman: exit 1 means absent; docker: "No such image".
            Err(EngineError::Failed { code: Some(1), stderr, .. })
                if self.kind == EngineKind::Podman || stderr.contains("No such image") =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copili_model::Secret;

    /// A quoted argument pastes back as itself (bash reads it), on one line and with nothing
    /// that acts on a terminal.
    #[test]
    fn shell_quote_round_trips_through_bash() {
        let args = [
            "plain",
            "with space",
            "it's",
            "",
            "a\nb",
            "\u{1b}[31mred\u{7}",
            "tab\there",
            "back\\slash'\n",
            "\u{202e}x",
        ];
        for arg in args {
            let quoted = shell_quote(arg);
            assert!(!quoted.chars().any(|c| c != '\t' && copili_model::escape::acts_on_terminal(c)), "{quoted:?}");
            let output = std::process::Command::new("bash")
                .args(["-c", &format!("printf %s {quoted}")])
                .output()
                .expect("bash runs");
            assert_eq!(String::from_utf8_lossy(&output.stdout), arg, "{quoted}");
        }
    }

    /// A script that waits, after each line, until the test's `on_line` has seen it (a marker
    /// file it creates), then writes the next line to the other stream: each line must be
    /// handed on as soon as it is written, whichever stream it is on. Before, stderr lines
    /// waited for the next stdout line (a sidecar that logs to stderr only showed its start-up
    /// lines when it was removed), and this script gave up waiting.
    #[test]
    fn lines_of_both_streams_are_handed_on_as_soon_as_they_are_read() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let marker = |n: u32| dir.path().join(format!("seen-{n}"));
        let script = r#"
            wait_for() { i=0; while [ ! -e "$DIR/seen-$1" ]; do
                i=$((i + 1)); if [ $i -gt 1200 ]; then echo "line $1 was not handed on"; exit 3; fi
                sleep 0.05; done; }
            echo err-1 >&2; wait_for 1
            echo out-2; wait_for 2
            echo err-3 >&2; wait_for 3
            printf 'not-utf8-\377\n' >&2
            echo out-4"#;
        let engine = CliEngine::new("/bin/sh", EngineKind::Docker);
        let dir_value = dir.path().display().to_string();
        let mut lines = Vec::new();
        let (status, stderr_tail) = engine
            .stream(&args(["-c", script]), &[("DIR", &dir_value)], &mut |line| {
                if let Some(n) = line.text.split('-').nth(1).and_then(|n| n.parse::<u32>().ok()) {
                    std::fs::write(marker(n), "").expect("write a marker");
                }
                lines.push((line.stream, line.text));
            })
            .expect("sh runs");
        let expected = [
            (LogStream::Stderr, "err-1"),
            (LogStream::Stdout, "out-2"),
            (LogStream::Stderr, "err-3"),
            (LogStream::Stderr, "not-utf8-\u{fffd}"),
            (LogStream::Stdout, "out-4"),
        ];
        let expected: Vec<(LogStream, String)> = expected.iter().map(|(s, t)| (*s, t.to_string())).collect();
        assert_eq!(lines, expected);
        assert_eq!(status, Some(0));
        assert_eq!(stderr_tail, "err-1\nerr-3\nnot-utf8-\u{fffd}");
    }

    fn request() -> CreateRequest {
        CreateRequest {
            name: "p-a".into(),
            image: "localhost/x:latest".into(),
            hostname: "a".into(),
            labels: vec![("io.copili.pipeline".into(), "p".into())],
            env: vec![("PW".into(), Secret::new("hunter2")), ("CERT".into(), Secret::new("line1\nline2"))],
            command: vec!["sh".into(), "-c".into(), "echo hi".into()],
            ..CreateRequest::default()
        }
    }

    #[test]
    fn environment_values_never_reach_the_command_line() {
        let engine = CliEngine::new("podman", EngineKind::Podman);
        let prepared = engine.prepare("run", &request()).expect("prepared");
        let line = prepared.args.join(" ");
        assert!(!line.contains("hunter2") && !line.contains("line1"), "{line}");
        // The one-line value is in a private 0600 file, the multi-line one in the client's
        // environment with only its name on the command line.
        let at = prepared.args.iter().position(|a| a == "--env-file").expect("an env file");
        let path = PathBuf::from(&prepared.args[at + 1]);
        assert_eq!(std::fs::read_to_string(&path).expect("readable"), "PW=hunter2\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = std::fs::metadata(path.parent().expect("a dir")).expect("exists").permissions().mode();
            assert_eq!(dir_mode & 0o077, 0, "the directory is private");
        }
        assert!(prepared.args.windows(2).any(|w| w[0] == "--env" && w[1] == "CERT"));
        assert_eq!(prepared.client_env(), vec![("CERT", "line1\nline2")]);
        assert!(prepared.args.contains(&"--sig-proxy=false".to_string()));
        drop(prepared);
        assert!(!path.exists(), "the file is removed with its directory");
    }

    #[test]
    fn dry_run_shows_names_only_and_quotes_arguments() {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        let engine = CliEngine::new("docker", EngineKind::Docker)
            .dry_run(move |line| sink.lock().expect("not poisoned").push(line));
        let status = engine.run_attached(&request(), &mut |_| {}).expect("a dry run succeeds");
        assert_eq!(status.code, 0);
        let lines = lines.lock().expect("not poisoned").clone();
        assert!(lines[0].starts_with("docker run --name p-a --sig-proxy=false --pull=never --hostname a"), "{lines:?}");
        assert!(lines[0].contains("--env PW --env CERT"), "{lines:?}");
        assert!(lines[0].ends_with("localhost/x:latest sh -c 'echo hi'"), "{lines:?}");
        assert!(lines.iter().all(|l| !l.contains("hunter2")));
    }

    #[test]
    fn label_filters_match_any_value_when_empty() {
        let filters = CliEngine::label_filters(&[("io.copili.pipeline".into(), String::new())]);
        assert_eq!(filters, vec!["--filter", "label=io.copili.pipeline"]);
    }
}
