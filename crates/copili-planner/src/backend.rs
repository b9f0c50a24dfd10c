//! What a backend cannot carry of the container options ([`RunOptions`]): the local engines
//! take them all, Docker Swarm (docker 20.10's `service create`) and the Argo export
//! (Kubernetes pods) do not. [`unsupported`] refuses each such option at validation, located
//! at the key that set it and naming the backend, so that nothing starts (or is written) that
//! would silently run differently.

use copili_model::properties::RunOptionId;
use copili_model::{ContainerSpec, Diagnostic, Gpus, HostAddress, NetworkMode, Pipeline, RunOptions};

/// Where a pipeline runs besides the local engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Docker Swarm mode (`--engine swarm`): a container is a service.
    Swarm,
    /// `copili export argo`: a container is a template, run as a Kubernetes pod.
    Argo,
}

impl Backend {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Swarm => "Docker Swarm",
            Backend::Argo => "Argo Workflows",
        }
    }

    /// `cannot be used on Docker Swarm`, `cannot be exported to Argo Workflows`.
    pub(crate) fn cannot(self) -> String {
        match self {
            Backend::Swarm => format!("cannot be used on {}", self.name()),
            Backend::Argo => format!("cannot be exported to {}", self.name()),
        }
    }
}

/// One option (or one value of it) a backend refuses.
struct Refusal {
    /// What is refused, as written in the message: `` `devices` ``, `` `network_mode: none` ``.
    what: String,
    /// Why the backend cannot carry it.
    reason: String,
    /// What to do instead.
    help: String,
}

impl Refusal {
    fn new(what: impl Into<String>, reason: impl Into<String>, help: impl Into<String>) -> Refusal {
        Refusal { what: what.into(), reason: reason.into(), help: help.into() }
    }
}

/// Every container option of `pipeline` (containers and sidecars) that `backend` cannot
/// carry: one located error each, at the option's key, labelled `main/sidecar` for a sidecar,
/// in file order. Empty when the backend takes everything.
pub fn unsupported(pipeline: &Pipeline, backend: Backend) -> Vec<Diagnostic> {
    unsupported_among(pipeline, 0..pipeline.containers.len(), backend)
}

/// [`unsupported`] for some containers only (indexes into `pipeline.containers`, with their
/// sidecars), in the order given: what a selection leaves out does not reach the backend, and
/// cannot be wrong there. Indexes out of range are ignored.
pub fn unsupported_among(
    pipeline: &Pipeline,
    containers: impl IntoIterator<Item = usize>,
    backend: Backend,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for container in containers.into_iter().filter_map(|i| pipeline.containers.get(i)) {
        check(pipeline, container, None, backend, &mut diagnostics);
        diagnostics.extend(crate::outputs::refused(pipeline, container, backend));
        for sidecar in &container.sidecars {
            check(pipeline, sidecar, Some(container), backend, &mut diagnostics);
        }
    }
    diagnostics
}

fn check(
    pipeline: &Pipeline,
    spec: &ContainerSpec,
    main: Option<&ContainerSpec>,
    backend: Backend,
    out: &mut Vec<Diagnostic>,
) {
    let options = spec.options();
    let label = match main {
        Some(main) => format!("{}/{}", main.name, spec.name),
        None => spec.name.clone(),
    };
    // The Argo export maps handlers to its exit handler (`onExit` with `when`); swarm has none.
    if let (Some(run_on), None, Backend::Swarm) = (spec.run_on, main, backend) {
        out.push(
            Diagnostic::error(format!(
                "handler `run_on: {run_on}` {}: copili runs handlers after the run on a local engine only, where the \
                 report they read is",
                backend.cannot()
            ))
            .at(&pipeline.source, spec.spans.run_on.unwrap_or(spec.spans.item))
            .container(label.clone())
            .property("run_on")
            .help("run the pipeline on a local engine (`--engine docker` or `--engine podman`), or remove the handler"),
        );
    }
    if let (Backend::Argo, None, Some(flow)) = (backend, main, spec.flow.as_deref()) {
        if let copili_model::AllowFailure::ExitCodes(codes) = &flow.allow_failure {
            let codes: Vec<String> = codes.iter().map(i32::to_string).collect();
            out.push(
                Diagnostic::error(format!(
                    "`allow_failure: [{}]` {}: Argo's `continueOn` allows every failure or none, not some exit codes",
                    codes.join(", "),
                    backend.cannot()
                ))
                .at(&pipeline.source, flow.allow_failure_span)
                .container(label.clone())
                .property("allow_failure")
                .help("write `allow_failure: true` to allow any failure (exported as `continueOn: {failed: true}`)"),
            );
        }
    }
    // In the order written: the messages follow the file.
    for &(option, span) in &options.written {
        let refusals = match backend {
            Backend::Swarm => swarm(option, options),
            Backend::Argo => argo(option, spec, main.is_some()),
        };
        for refusal in refusals {
            out.push(
                Diagnostic::error(format!("{} {}: {}", refusal.what, backend.cannot(), refusal.reason))
                    .at(&pipeline.source, span)
                    .container(label.clone())
                    .property(option.name())
                    .help(refusal.help),
            );
        }
    }
}

/// What a local engine is asked for in the help lines of swarm's refusals.
const LOCAL: &str = "run the pipeline on a local engine (`--engine docker` or `--engine podman`)";

/// Docker 20.10's `docker service create` has no `--device`, `--gpus` or `--ulimit`, no default
/// bridge, no single host behind `host-gateway`, and a tmpfs mount of only a size and a mode.
fn swarm(option: RunOptionId, options: &RunOptions) -> Vec<Refusal> {
    let backtick = |option: RunOptionId| format!("`{}`", option.name());
    match option {
        RunOptionId::Devices => vec![Refusal::new(
            backtick(option),
            "swarm services have no devices",
            format!("{LOCAL}, or remove `devices`"),
        )],
        RunOptionId::Gpus => vec![Refusal::new(
            backtick(option),
            "swarm services take no `--gpus`",
            format!("{LOCAL}, or advertise the GPUs as generic resources of the nodes and remove `gpus`"),
        )],
        RunOptionId::Ulimits => vec![Refusal::new(
            backtick(option),
            "docker 20.10's `service create` has no `--ulimit` (it came with docker 23)",
            format!("{LOCAL}, or set the limits in the daemon's `default-ulimits` and remove `ulimits`"),
        )],
        RunOptionId::NetworkMode if options.network_mode == Some(NetworkMode::Bridge) => vec![Refusal::new(
            "`network_mode: bridge`",
            "a service cannot join the engine's default bridge network",
            "leave `network_mode` out (a service is on the swarm's networks), or use `host` or `none`",
        )],
        RunOptionId::ExtraHosts if options.extra_hosts.iter().any(|h| h.address == HostAddress::HostGateway) => {
            host_gateway(options, "a service's task may run on any node, with no one host to point at")
        }
        RunOptionId::Tmpfs => {
            tmpfs_options(options, &["size", "mode"], "a service's tmpfs mount takes only `size=` and `mode=`")
        }
        _ => Vec::new(),
    }
}

/// Kubernetes pods: no engine networks or device lists, users by number, one grace period
/// and one network per pod, GPUs by count, memory-backed emptyDirs of a size.
fn argo(option: RunOptionId, spec: &ContainerSpec, sidecar: bool) -> Vec<Refusal> {
    let options = spec.options();
    let backtick = |option: RunOptionId| format!("`{}`", option.name());
    match option {
        RunOptionId::Networks => vec![Refusal::new(
            backtick(option),
            "pods have no engine networks",
            "use Kubernetes Services to reach servers by name (a sidecar is reached by its name already), and remove \
             `networks`",
        )],
        RunOptionId::NetworkMode => match options.network_mode {
            Some(mode @ (NetworkMode::Bridge | NetworkMode::None)) => vec![Refusal::new(
                format!("`network_mode: {}`", mode.as_str()),
                if mode == NetworkMode::None {
                    "a pod always has its network"
                } else {
                    "a pod has a network of its own, not the engine's bridge"
                },
                "leave `network_mode` out (the pod's own network), or use `host` for the node's (hostNetwork)",
            )],
            _ => Vec::new(),
        },
        RunOptionId::ExtraHosts if options.extra_hosts.iter().any(|h| h.address == HostAddress::HostGateway) => {
            host_gateway(options, "the node a pod runs on is not known in advance")
        }
        RunOptionId::User => match options.user.as_deref() {
            Some(user) if !is_numeric_user(user) => vec![Refusal::new(
                format!("`user: {user}`"),
                "Kubernetes sets the user and group by number (runAsUser, runAsGroup)",
                "write the numeric `UID` or `UID:GID` (`id -u NAME` and `id -g NAME` in the image print them)",
            )],
            _ => Vec::new(),
        },
        RunOptionId::Entrypoint
            if options.entrypoint.as_ref().is_some_and(Vec::is_empty) && spec.command.is_empty() =>
        {
            vec![Refusal::new(
                "an empty `entrypoint` without a `command`",
                "Kubernetes cannot run the image's CMD without its ENTRYPOINT",
                "give the `command` to run: with an empty `entrypoint`, it becomes the pod's `command`",
            )]
        }
        RunOptionId::Devices => vec![Refusal::new(
            backtick(option),
            "pods have no device lists",
            "request the device as a resource of the cluster's device plugin, or remove `devices`",
        )],
        RunOptionId::Init if options.init => vec![Refusal::new(
            backtick(option),
            "Kubernetes starts no init process in a container",
            "make an init such as `tini` the image's entrypoint, or remove `init`",
        )],
        RunOptionId::Ulimits => vec![Refusal::new(
            backtick(option),
            "Kubernetes has no limits per container (the nodes' container runtime sets them)",
            "remove `ulimits`, or raise the limits in the image's entrypoint (`ulimit -n` before the command)",
        )],
        RunOptionId::StopSignal => vec![Refusal::new(
            backtick(option),
            "Kubernetes stops a container with the image's STOPSIGNAL",
            "set `STOPSIGNAL` in the image's Dockerfile, and remove `stop_signal`",
        )],
        RunOptionId::Gpus => match &options.gpus {
            Some(Gpus::All) => vec![Refusal::new(
                "`gpus: all`",
                "Kubernetes requests GPUs by count",
                "write the number of GPUs, e.g. `gpus: 1` (the `nvidia.com/gpu` limit)",
            )],
            Some(Gpus::Ids(_)) => vec![Refusal::new(
                "`gpus` by device id",
                "Kubernetes requests GPUs by count, the device plugin picks them",
                "write the number of GPUs, e.g. `gpus: 1` (the `nvidia.com/gpu` limit)",
            )],
            _ => Vec::new(),
        },
        RunOptionId::Tmpfs => {
            let mut refusals =
                tmpfs_options(options, &["size"], "a memory-backed emptyDir takes only a size (`size=`)");
            for tmpfs in &options.tmpfs {
                let size = tmpfs.option_list().find_map(|(name, value)| (name == "size").then_some(value));
                if let Some(size) = size.filter(|_| tmpfs.size_bytes().is_none()) {
                    refusals.push(Refusal::new(
                        format!("`size={}` (in `{}`)", size.unwrap_or_default(), tmpfs.short_form()),
                        "an emptyDir's sizeLimit is an amount of bytes",
                        "write the size with a unit, e.g. `size=64m`",
                    ));
                }
            }
            refusals
        }
        RunOptionId::StopGracePeriod if sidecar => vec![Refusal::new(
            "`stop_grace_period` of a sidecar",
            "a pod has one grace period, for all its containers",
            "set `stop_grace_period` on the main container (the pod's terminationGracePeriodSeconds), and remove it \
             here",
        )],
        _ => Vec::new(),
    }
}

/// `UID` or `UID:GID`, numbers.
fn is_numeric_user(user: &str) -> bool {
    let number = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    match user.split_once(':') {
        Some((uid, gid)) => number(uid) && number(gid),
        None => number(user),
    }
}

/// The refusal of the `host-gateway` entries of `extra_hosts`.
fn host_gateway(options: &RunOptions, reason: &str) -> Vec<Refusal> {
    let names: Vec<String> = options
        .extra_hosts
        .iter()
        .filter(|h| h.address == HostAddress::HostGateway)
        .map(|h| format!("`{}:host-gateway`", h.name))
        .collect();
    vec![Refusal::new(
        names.join(", "),
        reason,
        "write the IP address of the host to reach instead, e.g. `db:10.0.0.5`",
    )]
}

/// One refusal per tmpfs option whose name is not in `allowed`.
fn tmpfs_options(options: &RunOptions, allowed: &[&str], reason: &str) -> Vec<Refusal> {
    let keep = allowed.iter().map(|a| format!("`{a}=`")).collect::<Vec<_>>().join(" and ");
    let keep = keep.as_str();
    options
        .tmpfs
        .iter()
        .flat_map(|tmpfs| {
            tmpfs.option_list().filter(|(name, _)| !allowed.contains(name)).map(move |(name, value)| {
                let option = match value {
                    Some(value) => format!("{name}={value}"),
                    None => name.to_string(),
                };
                Refusal::new(
                    format!("the tmpfs option `{option}` (in `{}`)", tmpfs.short_form()),
                    reason,
                    format!("remove `{option}`, keeping {keep}"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_pipeline::pipeline;

    /// The refusals of one container `a` with `options` (YAML mapping entries, one a line).
    fn refused(backend: Backend, options: &str) -> Vec<String> {
        let text = format!("p:\n  - name: a\n    image_repo: x\n    command: run\n{}", indent(options, 4));
        messages(&pipeline(&text), backend)
    }

    fn indent(text: &str, by: usize) -> String {
        text.lines().map(|l| format!("{}{l}\n", " ".repeat(by))).collect()
    }

    fn messages(p: &Pipeline, backend: Backend) -> Vec<String> {
        unsupported(p, backend).iter().map(|d| d.message.clone()).collect()
    }

    /// Asserts that `backend` takes every option of `options`.
    fn taken_by(backend: Backend, options: &str) {
        assert_eq!(refused(backend, options), Vec::<String>::new(), "{options}");
    }

    #[test]
    fn a_refusal_is_located_at_its_key_and_names_container_property_and_backend() {
        let p = pipeline(
            "p:\n  - name: a\n    image_repo: x\n    user: \"1000\"\n    devices: [/dev/fuse]\n    sidecars:\n      - \
             name: db\n        image_repo: y\n        ulimits: {nofile: 1024}\n",
        );
        let swarm = unsupported(&p, Backend::Swarm);
        assert_eq!(swarm.len(), 2, "{swarm:#?}");
        assert_eq!(swarm[0].message, "`devices` cannot be used on Docker Swarm: swarm services have no devices");
        assert_eq!((swarm[0].span.line, swarm[0].span.column), (5, 5));
        assert_eq!(swarm[0].container.as_deref(), Some("a"));
        assert_eq!(swarm[0].property.as_deref(), Some("devices"));
        assert!(swarm[0].is_error());
        assert!(swarm[0].source.is_some());
        assert_eq!(
            swarm[0].help.as_deref(),
            Some("run the pipeline on a local engine (`--engine docker` or `--engine podman`), or remove `devices`")
        );
        assert_eq!(swarm[1].container.as_deref(), Some("a/db"), "a sidecar is main/sidecar");
        assert_eq!(swarm[1].property.as_deref(), Some("ulimits"));
        assert_eq!(swarm[1].span.line, 9);
        let argo = unsupported(&p, Backend::Argo);
        assert_eq!(
            argo.iter().map(|d| d.message.as_str()).collect::<Vec<_>>(),
            [
                "`devices` cannot be exported to Argo Workflows: pods have no device lists",
                "`ulimits` cannot be exported to Argo Workflows: Kubernetes has no limits per container (the nodes' \
                 container runtime sets them)",
            ]
        );
        let shown = argo[0].to_string();
        assert!(shown.contains("(container `a`, property `devices`)"), "{shown}");
        assert!(shown.contains("= help: request the device as a resource of the cluster's device plugin"), "{shown}");
    }

    #[test]
    fn among_some_containers_only_theirs_are_refused() {
        let p = pipeline(
            "p:\n  - {name: a, image_repo: x, devices: [/dev/fuse]}\n  - {name: b, image_repo: x, sidecars: [{name: \
             s, image_repo: y, init: true}]}\n  - {name: c, image_repo: x, gpus: all}\n",
        );
        let containers = |diagnostics: Vec<Diagnostic>| -> Vec<String> {
            diagnostics.into_iter().filter_map(|d| d.container).collect()
        };
        assert_eq!(containers(unsupported(&p, Backend::Argo)), ["a", "b/s", "c"]);
        assert_eq!(containers(unsupported_among(&p, [2, 1], Backend::Argo)), ["c", "b/s"]);
        assert_eq!(containers(unsupported_among(&p, [1, 7], Backend::Swarm)), Vec::<String>::new());
        assert_eq!(containers(unsupported_among(&p, [0], Backend::Swarm)), ["a"]);
    }

    #[test]
    fn without_options_nothing_is_refused() {
        let p = pipeline("p:\n  - {name: a, image_repo: x, sidecars: [{name: s, image_repo: y}]}\n");
        assert!(unsupported(&p, Backend::Swarm).is_empty());
        assert!(unsupported(&p, Backend::Argo).is_empty());
    }

    #[test]
    fn swarm_refuses_devices_gpus_and_ulimits() {
        let swarm = Backend::Swarm;
        assert_eq!(
            refused(swarm, "devices: [/dev/fuse]"),
            ["`devices` cannot be used on Docker Swarm: swarm services have no devices"]
        );
        for gpus in ["gpus: all", "gpus: 2", "gpus: ['0']"] {
            assert_eq!(
                refused(swarm, gpus),
                ["`gpus` cannot be used on Docker Swarm: swarm services take no `--gpus`"],
                "{gpus}"
            );
        }
        assert_eq!(
            refused(swarm, "ulimits: {nofile: {soft: 1024, hard: 2048}}"),
            ["`ulimits` cannot be used on Docker Swarm: docker 20.10's `service create` has no `--ulimit` (it came with \
              docker 23)"]
        );
    }

    #[test]
    fn swarm_refuses_the_bridge_mode_and_host_gateway_but_takes_host_none_and_addresses() {
        let swarm = Backend::Swarm;
        assert_eq!(
            refused(swarm, "network_mode: bridge"),
            ["`network_mode: bridge` cannot be used on Docker Swarm: a service cannot join the engine's default bridge \
              network"]
        );
        taken_by(swarm, "network_mode: host");
        taken_by(swarm, "network_mode: none");
        assert_eq!(
            refused(swarm, "extra_hosts: ['db:10.0.0.5', 'h:host-gateway', 'g:host-gateway']"),
            ["`h:host-gateway`, `g:host-gateway` cannot be used on Docker Swarm: a service's task may run on any node, \
              with no one host to point at"]
        );
        taken_by(swarm, "extra_hosts: ['db:10.0.0.5', 'v6=::1']");
    }

    #[test]
    fn swarm_takes_tmpfs_sizes_and_modes_only() {
        let swarm = Backend::Swarm;
        taken_by(swarm, "tmpfs: [/run, '/tmp:size=64m,mode=1777']");
        let refusals = unsupported(
            &pipeline("p:\n  - {name: a, image_repo: x, tmpfs: ['/tmp:size=64m,noexec', '/run:uid=1000']}\n"),
            swarm,
        );
        assert_eq!(
            refusals.iter().map(|d| (d.message.as_str(), d.help.as_deref())).collect::<Vec<_>>(),
            [
                (
                    "the tmpfs option `noexec` (in `/tmp:size=64m,noexec`) cannot be used on Docker Swarm: a service's \
                     tmpfs mount takes only `size=` and `mode=`",
                    Some("remove `noexec`, keeping `size=` and `mode=`")
                ),
                (
                    "the tmpfs option `uid=1000` (in `/run:uid=1000`) cannot be used on Docker Swarm: a service's \
                     tmpfs mount takes only `size=` and `mode=`",
                    Some("remove `uid=1000`, keeping `size=` and `mode=`")
                ),
            ]
        );
    }

    #[test]
    fn swarm_takes_the_other_options() {
        taken_by(
            Backend::Swarm,
            "networks: [graph]\nuser: postgres\nworking_dir: /app\nentrypoint: ''\nshm_size: 64m\nread_only: true\n\
             init: true\ncap_add: [NET_ADMIN]\ncap_drop: [ALL]\nstop_signal: SIGINT\nstop_grace_period: 30s",
        );
        let p = pipeline(
            "p:\n  - name: a\n    image_repo: x\n    sidecars: [{name: db, image_repo: y, stop_grace_period: 5s, \
             networks: [graph]}]\n",
        );
        assert!(unsupported(&p, Backend::Swarm).is_empty());
    }

    #[test]
    fn argo_refuses_networks_and_network_modes_but_host() {
        let argo = Backend::Argo;
        let networks = unsupported(&pipeline("p:\n  - {name: a, image_repo: x, networks: [graph]}\n"), argo);
        assert_eq!(
            networks[0].message,
            "`networks` cannot be exported to Argo Workflows: pods have no engine networks"
        );
        assert!(networks[0].help.as_deref().is_some_and(|h| h.starts_with("use Kubernetes Services")));
        assert_eq!(
            refused(argo, "network_mode: none"),
            ["`network_mode: none` cannot be exported to Argo Workflows: a pod always has its network"]
        );
        assert_eq!(
            refused(argo, "network_mode: bridge"),
            ["`network_mode: bridge` cannot be exported to Argo Workflows: a pod has a network of its own, not the \
              engine's bridge"]
        );
        taken_by(argo, "network_mode: host");
    }

    #[test]
    fn argo_refuses_host_gateway_but_takes_addresses() {
        let argo = Backend::Argo;
        assert_eq!(
            refused(argo, "extra_hosts: {host.docker.internal: host-gateway, db: 10.0.0.5}"),
            ["`host.docker.internal:host-gateway` cannot be exported to Argo Workflows: the node a pod runs on is not \
              known in advance"]
        );
        taken_by(argo, "extra_hosts: ['db:10.0.0.5', 'v6:[::1]']");
    }

    #[test]
    fn argo_takes_numeric_users_only() {
        let argo = Backend::Argo;
        taken_by(argo, "user: '1000'");
        taken_by(argo, "user: '1000:1000'");
        for (user, shown) in [("postgres", "postgres"), ("'1000:staff'", "1000:staff"), ("'app:100'", "app:100")] {
            assert_eq!(
                refused(argo, &format!("user: {user}")),
                [format!(
                    "`user: {shown}` cannot be exported to Argo Workflows: Kubernetes sets the user and group by \
                     number (runAsUser, runAsGroup)"
                )]
            );
        }
        assert!(is_numeric_user("0"));
        assert!(!is_numeric_user("1000:"));
        assert!(!is_numeric_user(":1000"));
    }

    #[test]
    fn argo_refuses_devices_init_ulimits_and_stop_signal() {
        let argo = Backend::Argo;
        assert_eq!(
            refused(argo, "devices: [/dev/fuse]"),
            ["`devices` cannot be exported to Argo Workflows: pods have no device lists"]
        );
        assert_eq!(
            refused(argo, "init: true"),
            ["`init` cannot be exported to Argo Workflows: Kubernetes starts no init process in a container"]
        );
        taken_by(argo, "init: false");
        assert_eq!(
            refused(argo, "ulimits: {nproc: 512}"),
            ["`ulimits` cannot be exported to Argo Workflows: Kubernetes has no limits per container (the nodes' \
              container runtime sets them)"]
        );
        assert_eq!(
            refused(argo, "stop_signal: SIGINT"),
            ["`stop_signal` cannot be exported to Argo Workflows: Kubernetes stops a container with the image's \
              STOPSIGNAL"]
        );
    }

    #[test]
    fn argo_takes_gpus_by_count_only() {
        let argo = Backend::Argo;
        taken_by(argo, "gpus: 2");
        assert_eq!(
            refused(argo, "gpus: all"),
            ["`gpus: all` cannot be exported to Argo Workflows: Kubernetes requests GPUs by count"]
        );
        assert_eq!(
            refused(argo, "gpus: ['0', GPU-3a23c669]"),
            ["`gpus` by device id cannot be exported to Argo Workflows: Kubernetes requests GPUs by count, the device \
              plugin picks them"]
        );
    }

    #[test]
    fn argo_takes_tmpfs_sizes_in_bytes_only() {
        let argo = Backend::Argo;
        taken_by(argo, "tmpfs: [/run, '/tmp:size=64m']");
        assert_eq!(
            refused(argo, "tmpfs: ['/tmp:size=64m,mode=1777']"),
            ["the tmpfs option `mode=1777` (in `/tmp:size=64m,mode=1777`) cannot be exported to Argo Workflows: a \
              memory-backed emptyDir takes only a size (`size=`)"]
        );
        assert_eq!(
            refused(argo, "tmpfs: '/tmp:size=50%'"),
            ["`size=50%` (in `/tmp:size=50%`) cannot be exported to Argo Workflows: an emptyDir's sizeLimit is an \
              amount of bytes"]
        );
    }

    #[test]
    fn argo_refuses_an_empty_entrypoint_without_a_command() {
        let argo = Backend::Argo;
        let p = pipeline("p:\n  - {name: a, image_repo: x, entrypoint: ''}\n");
        assert_eq!(
            messages(&p, argo),
            ["an empty `entrypoint` without a `command` cannot be exported to Argo Workflows: Kubernetes cannot run the \
              image's CMD without its ENTRYPOINT"]
        );
        assert!(messages(&p, Backend::Swarm).is_empty());
        // With a command, or an entrypoint of its own: fine.
        taken_by(argo, "entrypoint: []");
        taken_by(argo, "entrypoint: [tini, --]");
        let p = pipeline("p:\n  - {name: a, image_repo: x, entrypoint: /bin/sh}\n");
        assert!(messages(&p, argo).is_empty());
    }

    #[test]
    fn argo_takes_one_grace_period_per_pod() {
        let argo = Backend::Argo;
        taken_by(argo, "stop_grace_period: 30s");
        let p = pipeline(
            "p:\n  - name: a\n    image_repo: x\n    stop_grace_period: 30s\n    sidecars:\n      - {name: db, \
             image_repo: y, stop_grace_period: 5s}\n",
        );
        let refusals = unsupported(&p, argo);
        assert_eq!(refusals.len(), 1, "{refusals:#?}");
        assert_eq!(
            refusals[0].message,
            "`stop_grace_period` of a sidecar cannot be exported to Argo Workflows: a pod has one grace period, for \
             all its containers"
        );
        assert_eq!(refusals[0].container.as_deref(), Some("a/db"));
        assert_eq!(refusals[0].span.line, 6);
    }

    #[test]
    fn argo_takes_the_other_options() {
        taken_by(
            Backend::Argo,
            "user: '1000:1000'\nworking_dir: /app\nentrypoint: [tini, --]\nshm_size: 64m\nread_only: true\n\
             cap_add: [NET_ADMIN]\ncap_drop: [ALL]\ngpus: 1\nextra_hosts: ['db:10.0.0.5']\ntmpfs: ['/tmp:size=1g']\n\
             stop_grace_period: 1m",
        );
    }
}
