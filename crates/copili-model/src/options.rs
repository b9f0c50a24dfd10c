//! The container options compose users expect (`networks`, `user`, `entrypoint`, `tmpfs`,
//! `cap_add`, …), with compose's names and meaning: what a description asks of the engine when
//! the container is created. The runtime turns them into engine arguments; backends that cannot
//! carry one over refuse it by name ([`RunOptions::written`] says where each was written).

use std::path::PathBuf;
use std::time::Duration;

use crate::document::Span;
use crate::properties::RunOptionId;

/// The options of one container or sidecar; all empty by default.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct RunOptions {
    /// Existing engine networks to join, besides the job's own network (`networks:`).
    pub networks: Vec<NetworkAttachment>,
    /// The network stack (`network_mode: bridge|host|none`).
    pub network_mode: Option<NetworkMode>,
    /// Entries added to `/etc/hosts` (`extra_hosts: ["db:10.0.0.5", "h:host-gateway"]`).
    pub extra_hosts: Vec<ExtraHost>,
    /// The user the command runs as: `UID`, `UID:GID`, `NAME` or `NAME:GROUP` (`user:`).
    pub user: Option<String>,
    /// The working directory of the command, absolute (`working_dir:`).
    pub working_dir: Option<String>,
    /// Replaces the image's entrypoint (`entrypoint:`); `Some(vec![])` resets it to none.
    pub entrypoint: Option<Vec<String>>,
    /// The env files read (`env_file:`), resolved against the pipeline file's directory; their
    /// values are in the container's `env_vars` already (`env_vars` win), as secrets.
    pub env_files: Vec<PathBuf>,
    /// Host devices made available (`devices: ["/dev/fuse"]`).
    pub devices: Vec<Device>,
    /// GPUs (`gpus: all`, a count, or device ids).
    pub gpus: Option<Gpus>,
    /// The size of `/dev/shm`, in bytes (`shm_size: 256m`).
    pub shm_size: Option<u64>,
    /// tmpfs mounts (`tmpfs: ["/run", "/tmp:size=64m"]`).
    pub tmpfs: Vec<Tmpfs>,
    /// A read-only root file system (`read_only: true`).
    pub read_only: bool,
    /// An init process as PID 1 that forwards signals and reaps zombies (`init: true`).
    pub init: bool,
    /// Linux capabilities added (`cap_add: [NET_ADMIN]`), upper case without `CAP_`.
    pub cap_add: Vec<String>,
    /// Linux capabilities dropped (`cap_drop: [ALL]`).
    pub cap_drop: Vec<String>,
    /// Resource limits of the processes (`ulimits: {nofile: {soft: 1024, hard: 2048}}`).
    pub ulimits: Vec<Ulimit>,
    /// The signal that asks the container to stop (`stop_signal: SIGINT`), as written upper case.
    pub stop_signal: Option<String>,
    /// How long a stop waits before killing (`stop_grace_period: 30s`); overrides the run's
    /// `--stop-timeout` for this container.
    pub stop_grace_period: Option<Duration>,
    /// Where each option was written (its key), for messages of backends that refuse it.
    #[serde(skip)]
    pub written: Vec<(RunOptionId, Span)>,
}

impl RunOptions {
    /// No options at all.
    pub const NONE: RunOptions = RunOptions {
        networks: Vec::new(),
        network_mode: None,
        extra_hosts: Vec::new(),
        user: None,
        working_dir: None,
        entrypoint: None,
        env_files: Vec::new(),
        devices: Vec::new(),
        gpus: None,
        shm_size: None,
        tmpfs: Vec::new(),
        read_only: false,
        init: false,
        cap_add: Vec::new(),
        cap_drop: Vec::new(),
        ulimits: Vec::new(),
        stop_signal: None,
        stop_grace_period: None,
        written: Vec::new(),
    };

    /// Where an option was written, if it was.
    pub fn span_of(&self, option: RunOptionId) -> Option<Span> {
        self.written.iter().find(|(written, _)| *written == option).map(|&(_, span)| span)
    }

    /// Whether nothing was set.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty()
    }
}

/// An existing network a container joins.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NetworkAttachment {
    /// The engine network's name.
    pub name: String,
    /// Further names the container is reachable by on it (compose's `aliases`).
    pub aliases: Vec<String>,
}

/// A container's network stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum NetworkMode {
    /// The engine's default bridge network.
    Bridge,
    /// The host's own network stack.
    Host,
    /// No network but loopback.
    None,
}

impl NetworkMode {
    /// Every mode with its spelling.
    pub const ALL: [(&'static str, NetworkMode); 3] =
        [("bridge", NetworkMode::Bridge), ("host", NetworkMode::Host), ("none", NetworkMode::None)];

    /// `bridge`, `host` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Bridge => "bridge",
            NetworkMode::Host => "host",
            NetworkMode::None => "none",
        }
    }
}

/// An `/etc/hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExtraHost {
    /// The host name.
    pub name: String,
    /// What it resolves to.
    pub address: HostAddress,
}

/// The address of an `/etc/hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum HostAddress {
    /// An IPv4 or IPv6 address.
    Ip(std::net::IpAddr),
    /// The host seen from the container (`host-gateway`): docker's gateway; copili finds the
    /// address itself for podman, which does not know the word.
    HostGateway,
}

/// A host device made available in the container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Device {
    /// The device on the host, or a CDI name (`vendor.com/class=name`).
    pub host: String,
    /// Its path in the container (the host path when not given).
    pub container: Option<String>,
    /// `r`, `w` and `m` (read, write, mknod); all when not given.
    pub permissions: Option<String>,
}

impl Device {
    /// The engines' `--device` form: `HOST[:CONTAINER[:PERMISSIONS]]`.
    pub fn short_form(&self) -> String {
        let mut out = self.host.clone();
        match (&self.container, &self.permissions) {
            (Some(container), Some(permissions)) => out.push_str(&format!(":{container}:{permissions}")),
            (Some(container), None) => out.push_str(&format!(":{container}")),
            (None, Some(permissions)) => out.push_str(&format!(":{}:{permissions}", self.host)),
            (None, None) => {}
        }
        out
    }
}

/// GPUs requested.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Gpus {
    /// Every GPU of the host.
    All,
    /// This many GPUs.
    Count(u32),
    /// These devices, by index or UUID.
    Ids(Vec<String>),
}

/// A tmpfs mount.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tmpfs {
    /// The absolute path in the container.
    pub target: String,
    /// Mount options as the engines take them (`size=64m,mode=1777`), if any.
    pub options: Option<String>,
}

impl Tmpfs {
    /// The engines' `--tmpfs` form: `PATH[:OPTIONS]`.
    pub fn short_form(&self) -> String {
        match &self.options {
            Some(options) => format!("{}:{options}", self.target),
            None => self.target.clone(),
        }
    }

    /// The mount options one by one, as `(NAME, VALUE)`: `size=64m,noexec` gives
    /// `("size", Some("64m"))` and `("noexec", None)`.
    pub fn option_list(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.options.as_deref().unwrap_or_default().split(',').filter(|o| !o.is_empty()).map(|option| {
            match option.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (option, None),
            }
        })
    }

    /// The `size=` option in bytes, when it is given as a size (`64m`, `1g`, `65536`; the
    /// engines also take a percentage of the memory, which has no byte count).
    pub fn size_bytes(&self) -> Option<u64> {
        let (_, size) = self.option_list().find(|(name, _)| *name == "size")?;
        crate::load::parse_memory(size?)
    }
}

/// A process resource limit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ulimit {
    /// Its name as the engines take it (`nofile`, `nproc`, `memlock`, …).
    pub name: String,
    /// The soft limit; `-1` is unlimited.
    pub soft: i64,
    /// The hard limit; `-1` is unlimited.
    pub hard: i64,
}

impl Ulimit {
    /// The engines' `--ulimit` form: `NAME=SOFT:HARD`.
    pub fn short_form(&self) -> String {
        format!("{}={}:{}", self.name, self.soft, self.hard)
    }
}

/// The ulimit names docker and podman know.
pub const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
    "as",
];

/// The Linux capabilities (without `CAP_`), for validation and suggestions.
pub const CAPABILITIES: &[&str] = &[
    "ALL",
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// The signal names engines take for `stop_signal` (without `SIG`).
pub const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "KILL", "PIPE", "PROF", "PWR", "QUIT",
    "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH",
    "XCPU", "XFSZ",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_are_the_engines() {
        let device = |host: &str, container: Option<&str>, permissions: Option<&str>| Device {
            host: host.into(),
            container: container.map(Into::into),
            permissions: permissions.map(Into::into),
        };
        assert_eq!(device("/dev/fuse", None, None).short_form(), "/dev/fuse");
        assert_eq!(device("/dev/sda", Some("/dev/xvda"), None).short_form(), "/dev/sda:/dev/xvda");
        assert_eq!(device("/dev/sda", Some("/dev/xvda"), Some("r")).short_form(), "/dev/sda:/dev/xvda:r");
        assert_eq!(device("/dev/fuse", None, Some("rw")).short_form(), "/dev/fuse:/dev/fuse:rw");
        assert_eq!(Tmpfs { target: "/run".into(), options: Some("size=64m".into()) }.short_form(), "/run:size=64m");
        assert_eq!(Ulimit { name: "nofile".into(), soft: 1024, hard: -1 }.short_form(), "nofile=1024:-1");
    }

    #[test]
    fn tmpfs_options_one_by_one_and_the_size_in_bytes() {
        let tmpfs = |options: Option<&str>| Tmpfs { target: "/tmp".into(), options: options.map(Into::into) };
        let listed = tmpfs(Some("size=64m,noexec,mode=1777"));
        assert_eq!(
            listed.option_list().collect::<Vec<_>>(),
            vec![("size", Some("64m")), ("noexec", None), ("mode", Some("1777"))]
        );
        assert_eq!(listed.size_bytes(), Some(64 << 20));
        assert_eq!(tmpfs(Some("size=65536")).size_bytes(), Some(65536));
        assert_eq!(tmpfs(Some("size=50%")).size_bytes(), None);
        assert_eq!(tmpfs(Some("mode=1777")).size_bytes(), None);
        assert_eq!(tmpfs(None).option_list().count(), 0);
        assert_eq!(tmpfs(None).size_bytes(), None);
    }
}
