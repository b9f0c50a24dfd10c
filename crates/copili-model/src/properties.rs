//! The properties a container description may have: one table that the loader, the unknown-key
//! suggestions and the JSON Schema all read, so they cannot drift apart.

/// What a property means on a sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSidecar {
    /// Works the same on a sidecar.
    Allowed,
    /// Accepted, with a warning that it does nothing there.
    NoEffect,
    /// An error: a sidecar starts and ends with its container.
    Refused,
}

/// The kinds of value a property takes, each read by one conversion of the loader
/// ([`crate::load`](mod@crate::load)) and given one shape in the JSON Schema
/// ([`crate::schema`](mod@crate::schema)), which matches on every kind: a property cannot be
/// added to the table without a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A container name: letters, digits, `_`, `.`, `-`, at most 63.
    Name,
    /// An image repository, optionally with a tag or digest.
    ImageRepo,
    /// An image tag.
    Tag,
    /// Any text: a string, or a number or boolean taken as written.
    Text,
    /// `true` or `false`, or a variable that expands to one.
    Boolean {
        /// The value when the property is absent.
        default: bool,
    },
    /// A list of texts (`dependencies`, `exlude_in_env`).
    TextList,
    /// `env_vars`: a mapping of names to values, or a list of `NAME=VALUE`.
    EnvVars,
    /// `labels`: as `env_vars`, names not empty and not `io.copili.*`.
    Labels,
    /// `volumes`: `{HOST: {bind: PATH, mode: rw|ro}}` or a list of `HOST:PATH[:ro|:rw]`.
    Volumes,
    /// A command: a string split shell-style, or a list of texts.
    Command,
    /// A list of sidecar descriptions.
    Sidecars,
    /// A duration string such as `1h 30m`, or a number of seconds.
    Duration {
        /// Whether zero is allowed.
        zero: bool,
        /// The value when the property is absent, shown by editors.
        default: Option<&'static str>,
    },
    /// A whole number from 0 to 100.
    Retries,
    /// A sidecar's readiness check: a command, or `{command, timeout, interval}`.
    Ready,
    /// `always`, `missing` or `never`.
    Pull,
    /// A service schedule: `every 10m`, `daily 03:30`, a cron expression.
    Schedule,
    /// An IANA time zone name, or `local`.
    TimeZone,
    /// A list of swarm constraints `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE`.
    Placement,
    /// `{cpus, memory, reservations}` or `{limits, reservations}`.
    Resources,
    /// A build context, or `{context, dockerfile, args, target}`.
    Build,
    /// `networks`: a list of network names, or a mapping of names to `{aliases}` or null.
    Networks,
    /// `network_mode`: `bridge`, `host` or `none`.
    NetworkMode,
    /// `extra_hosts`: a list of `NAME:ADDRESS` (or `NAME=ADDRESS`), or a mapping.
    ExtraHosts,
    /// One text or a list of texts (`devices`, `tmpfs`, `cap_add`, `cap_drop`).
    OneOrList,
    /// `env_file`: a path, a list of paths, or `{path, required}` items.
    EnvFile,
    /// `gpus`: `all`, a count, or a list of device ids.
    Gpus,
    /// A size in bytes with a unit (`shm_size: 256m`).
    Size,
    /// `ulimits`: a mapping of names to a number or `{soft, hard}`.
    Ulimits,
    /// A signal name (`SIGTERM`, `TERM`) or number.
    Signal,
}

/// One property of a container description.
#[derive(Debug, Clone, Copy)]
pub struct Property {
    /// The canonical spelling.
    pub name: &'static str,
    /// Other accepted spellings (the seed's own examples and misspelling).
    pub aliases: &'static [&'static str],
    /// Whether a description must have it.
    pub required: bool,
    /// What it means on a sidecar.
    pub on_sidecar: OnSidecar,
    /// What its value may be: the loader's conversion and the schema's shape of it.
    pub value: ValueKind,
    /// One line for the schema and the docs.
    pub summary: &'static str,
}

/// Every property, in the order of the reference documentation.
pub const PROPERTIES: &[Property] = &[
    Property {
        name: "name",
        aliases: &[],
        required: true,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Name,
        summary: "Identifier within the pipeline and the container's hostname: letters, digits, `_`, `.`, `-`, starting with a letter or digit.",
    },
    Property {
        name: "image_repo",
        aliases: &["repo"],
        required: true,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::ImageRepo,
        summary: "Image repository, e.g. `my-namespace/my-image` or `registry.example.com:5000/team/image`; optional with `build` (default `localhost/copili-<pipeline>-<name>`).",
    },
    Property {
        name: "tag",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Tag,
        summary: "Image tag (default `latest`).",
    },
    Property {
        name: "info_link",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Text,
        summary: "Link to the code repository or other information.",
    },
    Property {
        name: "desc",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Text,
        summary: "Short description.",
    },
    Property {
        name: "image_reg_username",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Text,
        summary: "Registry user name; use a variable such as `${REGISTRY_USER}`.",
    },
    Property {
        name: "image_reg_password",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Text,
        summary: "Registry password (a secret: never shown); use a variable such as `${REGISTRY_PASSWORD}`.",
    },
    Property {
        name: "is_service_container",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::NoEffect,
        value: ValueKind::Boolean { default: false },
        summary: "Rerun on a schedule in service mode (default false).",
    },
    Property {
        name: "env_vars",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::EnvVars,
        summary: "Environment variables; numbers and booleans become strings. Values are secrets: never shown.",
    },
    Property {
        name: "dependencies",
        aliases: &["dependency"],
        required: false,
        on_sidecar: OnSidecar::Refused,
        value: ValueKind::TextList,
        summary: "Names of containers that must succeed before this one starts.",
    },
    Property {
        name: "exlude_in_env",
        aliases: &["exclude_in_env"],
        required: false,
        on_sidecar: OnSidecar::NoEffect,
        value: ValueKind::TextList,
        summary: "Environments (values of `ENV` or `--environment`) in which this container is skipped.",
    },
    Property {
        name: "volumes",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Volumes,
        summary: "Mounts: `{HOST: {bind: PATH, mode: rw|ro}}` or a list of `HOST:PATH[:ro|:rw]`; a bare name is a named volume.",
    },
    Property {
        name: "command",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Command,
        summary: "Command: a list of strings, or one string split shell-style.",
    },
    Property {
        name: "sidecars",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Refused,
        value: ValueKind::Sidecars,
        summary: "Helper containers started with this one and removed when it ends.",
    },
    Property {
        name: "labels",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Labels,
        summary: "Container labels.",
    },
    Property {
        name: "force_rerun",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::NoEffect,
        value: ValueKind::Boolean { default: false },
        summary: "Run even when it ran before (default false).",
    },
    Property {
        name: "timeout",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::NoEffect,
        value: ValueKind::Duration { zero: false, default: None },
        summary: "Stop the container and fail it when it runs longer: a duration such as `30m` or `1h 30m`, or a number of seconds (default: no limit).",
    },
    Property {
        name: "retries",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::NoEffect,
        value: ValueKind::Retries,
        summary: "Attempts after the first when the container fails, 0 to 100 (default 0).",
    },
    Property {
        name: "retry_delay",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::NoEffect,
        value: ValueKind::Duration { zero: true, default: Some("10s") },
        summary: "Wait before the first retry, doubled before each further one: a duration or a number of seconds (default `10s`).",
    },
    Property {
        name: "ready",
        aliases: &[],
        required: false,
        // Sidecars only: the loader refuses it on a container of the pipeline itself.
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Ready,
        summary: "Sidecars only: a command run inside the sidecar until it succeeds, before its container starts; a string, a list, or `{command, timeout, interval}` (default timeout `60s`, interval `1s`).",
    },
    Property {
        name: "run_once",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::NoEffect,
        value: ValueKind::Boolean { default: false },
        summary: "Run only until it has succeeded once (the state in `.copili/` remembers); `force_rerun` or `--force` run it again (default false).",
    },
    Property {
        name: "schedule",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::NoEffect,
        value: ValueKind::Schedule,
        summary: "Service containers: when to rerun in service mode: `every 10m`, `daily 03:30`, or a cron expression such as `*/10 * * * *` (default: the run's `--every`/`--cron`, else daily at 00:00).",
    },
    Property {
        name: "timezone",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::NoEffect,
        value: ValueKind::TimeZone,
        summary: "Service containers: the time zone of `schedule`, an IANA name such as `Europe/Berlin` (default: `--timezone`, else local time).",
    },
    Property {
        name: "catch_up",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::NoEffect,
        value: ValueKind::Boolean { default: false },
        summary: "Service containers: when a run was due while copili was down, run once at start-up (never once per missed run); otherwise wait for the next (default false).",
    },
    Property {
        name: "placement",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Placement,
        summary: "Where it may run on a cluster: Docker Swarm constraints such as `node.labels.disk==ssd` or `node.role!=manager` (node selectors when exported to Kubernetes); no effect on a single host.",
    },
    Property {
        name: "resources",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Resources,
        summary: "CPU and memory: `{cpus: 2, memory: 1g, reservations: {cpus: 0.5, memory: 256m}}` (or compose's `limits`/`reservations`); limits for every engine, reservations on swarm and Kubernetes (memory also on docker and podman).",
    },
    Property {
        name: "pull",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Pull,
        summary: "When to pull the image: `missing` (default: only when no image of that name and tag is present), `always`, or `never` (an absent image fails the container).",
    },
    Property {
        name: "tls_verify",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Boolean { default: true },
        summary: "Verify the registry's TLS certificate (default true); `false` lets podman use a plain-HTTP registry (docker decides by its daemon's `insecure-registries`).",
    },
    Property {
        name: "build",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Build,
        summary: "Build the image instead of pulling it: a context (a directory, or a git repository `URL[#REF][:SUBDIR]`), or `{context, dockerfile, args, target}`; tagged `image_repo:tag`.",
    },
    Property {
        name: "networks",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Networks,
        summary: "Existing engine networks to join (created outside copili, e.g. by another compose stack), besides the job's own network when it has sidecars: a list of names, or a mapping of names to `{aliases: [...]}`; a missing network fails the run before anything starts.",
    },
    Property {
        name: "network_mode",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::NetworkMode,
        summary: "The network stack: `bridge` (the engine's default network), `host` (the host's own) or `none` (loopback only); not with `networks`, nor on a container with sidecars.",
    },
    Property {
        name: "extra_hosts",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::ExtraHosts,
        summary: "Entries added to `/etc/hosts`: a list of `NAME:ADDRESS` or a mapping; the address `host-gateway` is the host as the container reaches it, on docker and podman alike.",
    },
    Property {
        name: "user",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Text,
        summary: "The user the command runs as: `UID`, `UID:GID`, `NAME` or `NAME:GROUP` (default: the image's).",
    },
    Property {
        name: "working_dir",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Text,
        summary: "The working directory of the command, an absolute path (default: the image's).",
    },
    Property {
        name: "entrypoint",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Command,
        summary: "Replaces the image's entrypoint: a list of strings, or one string split shell-style; `[]` or `''` resets it to none. As with the engines, the image's own command is not used then: give `command`.",
    },
    Property {
        name: "env_file",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::EnvFile,
        summary: "Files of `KEY=VALUE` lines (`.env` syntax) whose variables the container gets, relative to the pipeline file: one path, a list, or `{path, required: false}` items; `env_vars` win. Values are secrets: never on a command line, never shown.",
    },
    Property {
        name: "devices",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::OneOrList,
        summary: "Host devices made available: `HOST[:CONTAINER[:PERMISSIONS]]` such as `/dev/fuse` or `/dev/sdb:/dev/xvdb:r`, or a CDI name such as `nvidia.com/gpu=0`.",
    },
    Property {
        name: "gpus",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Gpus,
        summary: "GPUs: `all`, a number of them, or a list of device ids; docker's `--gpus`, podman's CDI devices `nvidia.com/gpu=…` (the NVIDIA container toolkit must be set up on the host).",
    },
    Property {
        name: "shm_size",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Size,
        summary: "The size of `/dev/shm`: a number of bytes with a unit such as `256m` or `1g` (default: the engine's, 64 MiB).",
    },
    Property {
        name: "tmpfs",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::OneOrList,
        summary: "tmpfs mounts: one absolute path or a list, each optionally with mount options (`/tmp:size=64m,mode=1777`).",
    },
    Property {
        name: "read_only",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Boolean { default: false },
        summary: "Mount the root file system read-only (default false); volumes and `tmpfs` stay writable.",
    },
    Property {
        name: "init",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Boolean { default: false },
        summary: "Run an init process as PID 1 that forwards signals and reaps zombies (default false).",
    },
    Property {
        name: "cap_add",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::OneOrList,
        summary: "Linux capabilities to add, such as `NET_ADMIN` (`CAP_` may be written).",
    },
    Property {
        name: "cap_drop",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::OneOrList,
        summary: "Linux capabilities to drop, such as `NET_RAW` or `ALL`.",
    },
    Property {
        name: "ulimits",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Ulimits,
        summary: "Process limits: a mapping of names (`nofile`, `nproc`, …) to a number (soft and hard) or `{soft, hard}`; `-1` is unlimited.",
    },
    Property {
        name: "stop_signal",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Signal,
        summary: "The signal that asks the container to stop, such as `SIGINT` (default: the image's, else `SIGTERM`).",
    },
    Property {
        name: "stop_grace_period",
        aliases: &[],
        required: false,
        on_sidecar: OnSidecar::Allowed,
        value: ValueKind::Duration { zero: true, default: None },
        summary: "How long a stop waits for the container to end before killing it: a duration such as `30s` or a number of seconds (default: the run's `--stop-timeout`, 10s).",
    },
];

/// The property a key names, by canonical spelling or alias.
pub fn lookup(key: &str) -> Option<&'static Property> {
    PROPERTIES.iter().find(|p| p.name == key || p.aliases.contains(&key))
}

/// The container options read into [`crate::options::RunOptions`].
pub const RUN_OPTIONS: &[&str] = &[
    "networks",
    "network_mode",
    "extra_hosts",
    "user",
    "working_dir",
    "entrypoint",
    "env_file",
    "devices",
    "gpus",
    "shm_size",
    "tmpfs",
    "read_only",
    "init",
    "cap_add",
    "cap_drop",
    "ulimits",
    "stop_signal",
    "stop_grace_period",
];

/// Whether a property is one of [`RUN_OPTIONS`].
pub fn is_run_option(name: &str) -> bool {
    RUN_OPTIONS.contains(&name)
}

/// The closest known spelling to an unknown key, if one is close enough to be a typo.
pub fn suggest<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = key.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate.eq_ignore_ascii_case(key) {
            return Some(candidate);
        }
        let score = strsim::jaro_winkler(&lower, &candidate.to_ascii_lowercase());
        let distance = strsim::levenshtein(&lower, &candidate.to_ascii_lowercase());
        // Very short names are too alike to guess between.
        let close = candidate.len() >= 4 && (score >= 0.85 || distance <= (candidate.len() / 3).max(1));
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Every accepted spelling, for suggestions.
pub fn all_spellings() -> impl Iterator<Item = &'static str> {
    PROPERTIES.iter().flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos() {
        assert_eq!(suggest("dependancies", all_spellings()), Some("dependencies"));
        assert_eq!(suggest("image-repo", all_spellings()), Some("image_repo"));
        assert_eq!(suggest("Tag", all_spellings()), Some("tag"));
        assert_eq!(suggest("envvars", all_spellings()), Some("env_vars"));
        assert_eq!(suggest("completely_unrelated", all_spellings()), None);
        assert_eq!(suggest("retires", all_spellings()), Some("retries"));
        assert_eq!(suggest("retry-delay", all_spellings()), Some("retry_delay"));
        assert_eq!(suggest("timout", all_spellings()), Some("timeout"));
    }
}
