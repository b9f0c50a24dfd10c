//! The pieces of a container's command line that the local engines (`docker`/`podman
//! create`) and swarm (`docker service create`) build the same way: labels, mount sources,
//! resources (each with its own flag names) and grace periods in whole seconds. One place, so
//! that the two backends cannot drift apart.

use std::time::Duration;

use copili_model::Resources;

use crate::engine::MountSource;

/// A duration in the whole seconds the clients take (`stop --time`, `--stop-timeout`,
/// `--stop-grace-period`): a fraction rounds up, so a grace period is never cut to nothing.
pub(crate) fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// `FLAG key=value` for every label, once for each of `flags` (swarm puts them on the service
/// and on its task's container).
pub(crate) fn label_args(flags: &[&str], labels: &[(String, String)]) -> Vec<String> {
    let mut args = Vec::new();
    for (key, value) in labels {
        for flag in flags {
            args.push((*flag).to_string());
            args.push(format!("{key}={value}"));
        }
    }
    args
}

/// A mount's source as the clients name it: a volume by its name, a host path as a path.
pub(crate) fn mount_source(source: &MountSource) -> String {
    match source {
        MountSource::Volume(name) => name.clone(),
        MountSource::Host(path) => path.display().to_string(),
    }
}

/// How a backend spells CPU and memory limits and reservations.
pub(crate) struct ResourceFlags {
    /// The CPU limit.
    pub(crate) limit_cpu: &'static str,
    /// The memory limit.
    pub(crate) limit_memory: &'static str,
    /// The CPU reservation; `None` where the backend has none (local engines).
    pub(crate) reserve_cpu: Option<&'static str>,
    /// The memory reservation (a soft limit on the local engines).
    pub(crate) reserve_memory: &'static str,
}

/// `docker`/`podman create`.
pub(crate) const LOCAL_RESOURCES: ResourceFlags = ResourceFlags {
    limit_cpu: "--cpus",
    limit_memory: "--memory",
    reserve_cpu: None,
    reserve_memory: "--memory-reservation",
};

/// `docker service create`.
pub(crate) const SWARM_RESOURCES: ResourceFlags = ResourceFlags {
    limit_cpu: "--limit-cpu",
    limit_memory: "--limit-memory",
    reserve_cpu: Some("--reserve-cpu"),
    reserve_memory: "--reserve-memory",
};

/// `FLAG=VALUE` for each limit and reservation given: CPUs as a number, memory in bytes
/// (`…b`), limits first.
pub(crate) fn resource_args(resources: &Resources, flags: &ResourceFlags) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(cpus) = resources.limits.cpus {
        args.push(format!("{}={cpus}", flags.limit_cpu));
    }
    if let Some(memory) = resources.limits.memory {
        args.push(format!("{}={memory}b", flags.limit_memory));
    }
    if let (Some(flag), Some(cpus)) = (flags.reserve_cpu, resources.reservations.cpus) {
        args.push(format!("{flag}={cpus}"));
    }
    if let Some(memory) = resources.reservations.memory {
        args.push(format!("{}={memory}b", flags.reserve_memory));
    }
    args
}

/// `read_only`, `init`, `cap_add` and `cap_drop`, which `create`, `run` and `service create`
/// spell alike.
pub(crate) fn root_and_capability_args(options: &copili_model::RunOptions) -> Vec<String> {
    let mut argv = Vec::new();
    if options.read_only {
        argv.push("--read-only".into());
    }
    if options.init {
        argv.push("--init".into());
    }
    argv.extend(options.cap_add.iter().map(|cap| format!("--cap-add={cap}")));
    argv.extend(options.cap_drop.iter().map(|cap| format!("--cap-drop={cap}")));
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_periods_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(10)), 10);
        assert_eq!(whole_seconds(Duration::from_millis(10_500)), 11);
    }

    #[test]
    fn labels_go_once_per_flag() {
        let labels = vec![("a".to_string(), "1".to_string()), ("b".to_string(), String::new())];
        assert_eq!(label_args(&["--label"], &labels), ["--label", "a=1", "--label", "b="]);
        assert_eq!(
            label_args(&["--label", "--container-label"], &labels[..1]),
            ["--label", "a=1", "--container-label", "a=1"]
        );
    }
}
