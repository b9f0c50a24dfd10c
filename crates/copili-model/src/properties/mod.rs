//! The properties a container description may have: one table that the loader, the unknown-key
//! suggestions and the JSON Schema all read, so they cannot drift apart.

mod table;

pub use table::PROPERTIES;

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
    /// A list of texts (`exlude_in_env`).
    TextList,
    /// `dependencies`: a list of names or `{name, condition: succeeded|completed}`.
    Dependencies,
    /// `allow_failure`: `true`, `false` or a list of exit codes.
    AllowFailure,
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
    /// `failure`, `success` or `always` (handlers).
    RunOn,
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
    /// `matrix`: a mapping of keys to non-empty lists of scalars.
    Matrix,
}

/// Which property a [`Property`] of the table is: the loader matches on it, so a property added to
/// the table without a conversion is a compile error, not a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyId {
    /// `name`.
    Name,
    /// `image_repo`.
    ImageRepo,
    /// `tag`.
    Tag,
    /// `info_link`.
    InfoLink,
    /// `desc`.
    Desc,
    /// `image_reg_username`.
    ImageRegUsername,
    /// `image_reg_password`.
    ImageRegPassword,
    /// `is_service_container`.
    IsServiceContainer,
    /// `env_vars`.
    EnvVars,
    /// `dependencies`.
    Dependencies,
    /// `exlude_in_env`.
    ExludeInEnv,
    /// `volumes`.
    Volumes,
    /// `command`.
    Command,
    /// `sidecars`.
    Sidecars,
    /// `labels`.
    Labels,
    /// `force_rerun`.
    ForceRerun,
    /// `timeout`.
    Timeout,
    /// `retries`.
    Retries,
    /// `retry_delay`.
    RetryDelay,
    /// `ready`.
    Ready,
    /// `run_once`.
    RunOnce,
    /// `schedule`.
    Schedule,
    /// `timezone`.
    Timezone,
    /// `catch_up`.
    CatchUp,
    /// `placement`.
    Placement,
    /// `resources`.
    Resources,
    /// `pull`.
    Pull,
    /// `run_on` (handlers).
    RunOn,
    /// `tls_verify`.
    TlsVerify,
    /// `build`.
    Build,
    /// `matrix`.
    Matrix,
    /// `allow_failure`.
    AllowFailure,
    /// A container option, read into [`crate::options::RunOptions`].
    Run(RunOptionId),
}

/// The container options: the properties read into [`crate::options::RunOptions`], with
/// compose's names and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunOptionId {
    /// `networks`.
    Networks,
    /// `network_mode`.
    NetworkMode,
    /// `extra_hosts`.
    ExtraHosts,
    /// `user`.
    User,
    /// `working_dir`.
    WorkingDir,
    /// `entrypoint`.
    Entrypoint,
    /// `env_file`.
    EnvFile,
    /// `devices`.
    Devices,
    /// `gpus`.
    Gpus,
    /// `shm_size`.
    ShmSize,
    /// `tmpfs`.
    Tmpfs,
    /// `read_only`.
    ReadOnly,
    /// `init`.
    Init,
    /// `cap_add`.
    CapAdd,
    /// `cap_drop`.
    CapDrop,
    /// `ulimits`.
    Ulimits,
    /// `stop_signal`.
    StopSignal,
    /// `stop_grace_period`.
    StopGracePeriod,
}

impl RunOptionId {
    /// The option's canonical spelling, as messages name it.
    pub fn name(self) -> &'static str {
        match self {
            RunOptionId::Networks => "networks",
            RunOptionId::NetworkMode => "network_mode",
            RunOptionId::ExtraHosts => "extra_hosts",
            RunOptionId::User => "user",
            RunOptionId::WorkingDir => "working_dir",
            RunOptionId::Entrypoint => "entrypoint",
            RunOptionId::EnvFile => "env_file",
            RunOptionId::Devices => "devices",
            RunOptionId::Gpus => "gpus",
            RunOptionId::ShmSize => "shm_size",
            RunOptionId::Tmpfs => "tmpfs",
            RunOptionId::ReadOnly => "read_only",
            RunOptionId::Init => "init",
            RunOptionId::CapAdd => "cap_add",
            RunOptionId::CapDrop => "cap_drop",
            RunOptionId::Ulimits => "ulimits",
            RunOptionId::StopSignal => "stop_signal",
            RunOptionId::StopGracePeriod => "stop_grace_period",
        }
    }
}

/// One property of a container description.
#[derive(Debug, Clone, Copy)]
pub struct Property {
    /// Which property this is, for the loader's exhaustive match.
    pub id: PropertyId,
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

/// The property a key names, by canonical spelling or alias.
pub fn lookup(key: &str) -> Option<&'static Property> {
    PROPERTIES.iter().find(|p| p.name == key || p.aliases.contains(&key))
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
