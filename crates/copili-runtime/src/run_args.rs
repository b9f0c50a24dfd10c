//! The container options ([`RunOptions`]) as arguments of `docker create`/`run` and `podman
//! create`/`run`: compose's meaning, each engine's spelling. Networks are the caller's (they
//! depend on the job's own network and on what the engine can join at once).

use copili_model::{Gpus, HostAddress, RunOptions};

use crate::cli_engine::EngineKind;

/// The arguments for every option but `networks`, in a fixed order. `host_gateway` is the
/// address `host-gateway` stands for when the engine does not know the word (podman 4);
/// `None` passes the word itself (docker).
pub(crate) fn option_args(kind: EngineKind, o: &RunOptions, host_gateway: Option<&str>) -> Vec<String> {
    let mut argv = Vec::new();
    if let Some(mode) = o.network_mode {
        argv.push(format!("--network={}", mode.as_str()));
    }
    for host in &o.extra_hosts {
        let address = match (&host.address, host_gateway) {
            (HostAddress::Ip(ip), _) => ip.to_string(),
            (HostAddress::HostGateway, Some(resolved)) => resolved.to_string(),
            (HostAddress::HostGateway, None) => "host-gateway".to_string(),
        };
        argv.push(format!("--add-host={}:{address}", host.name));
    }
    if let Some(user) = &o.user {
        argv.push(format!("--user={user}"));
    }
    if let Some(dir) = &o.working_dir {
        argv.push(format!("--workdir={dir}"));
    }
    if let Some(entrypoint) = &o.entrypoint {
        // Both CLIs take one word (podman also a JSON array); the other words go before the
        // command, which is how the engine runs an entrypoint list anyway.
        argv.push(format!("--entrypoint={}", entrypoint.first().map(String::as_str).unwrap_or("")));
    }
    for device in &o.devices {
        argv.push(format!("--device={}", device.short_form()));
    }
    match (&o.gpus, kind) {
        (None, _) => {}
        (Some(Gpus::All), EngineKind::Docker) => argv.push("--gpus=all".into()),
        (Some(Gpus::Count(n)), EngineKind::Docker) => argv.push(format!("--gpus={n}")),
        // A list of devices is quoted for the CLI's CSV reader: `"device=0,1"`.
        (Some(Gpus::Ids(ids)), EngineKind::Docker) => argv.push(format!("--gpus=\"device={}\"", ids.join(","))),
        // podman: the NVIDIA toolkit's CDI devices (`nvidia-ctk cdi generate`).
        (Some(Gpus::All), EngineKind::Podman) => argv.push("--device=nvidia.com/gpu=all".into()),
        (Some(Gpus::Count(n)), EngineKind::Podman) => {
            argv.extend((0..*n).map(|i| format!("--device=nvidia.com/gpu={i}")));
        }
        (Some(Gpus::Ids(ids)), EngineKind::Podman) => {
            argv.extend(ids.iter().map(|id| format!("--device=nvidia.com/gpu={id}")));
        }
    }
    if let Some(bytes) = o.shm_size {
        argv.push(format!("--shm-size={bytes}b"));
    }
    for tmpfs in &o.tmpfs {
        argv.push(format!("--tmpfs={}", tmpfs.short_form()));
    }
    argv.extend(crate::shared_argv::root_and_capability_args(o));
    for ulimit in &o.ulimits {
        argv.push(format!("--ulimit={}", ulimit.short_form()));
    }
    if kind == EngineKind::Podman && !o.ulimits.is_empty() {
        // Given any `--ulimit`, podman drops the host's configured `default_ulimits` and raises
        // the open files and processes not given to a maximum, which a host without
        // CAP_SYS_RESOURCE refuses (`error setting rlimit type 6: operation not permitted`):
        // the limits not given keep the host's defaults, as compose users expect.
        for (name, limit) in configured_default_ulimits() {
            if !o.ulimits.iter().any(|u| u.name == *name) {
                argv.push(format!("--ulimit={name}={limit}"));
            }
        }
    }
    if let Some(signal) = &o.stop_signal {
        argv.push(format!("--stop-signal={signal}"));
    }
    if let Some(grace) = o.stop_grace_period {
        argv.push(format!("--stop-timeout={}", crate::shared_argv::whole_seconds(grace)));
    }
    argv
}

/// The `default_ulimits` of the containers.conf podman reads (`CONTAINERS_CONF` alone when
/// set, else the system's files and the user's, a later one overriding): `(NAME, SOFT:HARD)`.
/// [`podman_default_ulimits`], read once per process: the files do not change during a run, and
/// every container with `ulimits` asks.
fn configured_default_ulimits() -> &'static [(String, String)] {
    static LIMITS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    LIMITS.get_or_init(podman_default_ulimits)
}

fn podman_default_ulimits() -> Vec<(String, String)> {
    let files: Vec<std::path::PathBuf> = match std::env::var_os("CONTAINERS_CONF") {
        Some(path) => vec![path.into()],
        None => {
            let mut files: Vec<std::path::PathBuf> =
                vec!["/usr/share/containers/containers.conf".into(), "/etc/containers/containers.conf".into()];
            let config = std::env::var_os("XDG_CONFIG_HOME")
                .map(std::path::PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".config")));
            files.extend(config.map(|dir| dir.join("containers/containers.conf")));
            files
        }
    };
    let mut limits = Vec::new();
    for file in files {
        if let Ok(text) = std::fs::read_to_string(file) {
            if let Some(found) = default_ulimits_in(&text) {
                limits = found;
            }
        }
    }
    limits
}

/// The `default_ulimits = ["nofile=1024:1024", …]` of a containers.conf text, if set.
fn default_ulimits_in(conf: &str) -> Option<Vec<(String, String)>> {
    static KEY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(?m)^\s*default_ulimits\s*=\s*\[([^\]]*)\]"#).expect("valid regex")
    });
    static ITEM: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"["']([a-z]+)=(-?[0-9]+(?::-?[0-9]+)?)["']"#).expect("valid regex")
    });
    let list = KEY.captures(conf)?.get(1)?.as_str();
    Some(ITEM.captures_iter(list).map(|c| (c[1].to_string(), c[2].to_string())).collect())
}

/// The words that go before the command: an entrypoint list's words after its first.
pub(crate) fn command_prefix(o: &RunOptions) -> &[String] {
    match o.entrypoint.as_deref() {
        Some([_, rest @ ..]) => rest,
        _ => &[],
    }
}

/// Whether copili runs as a user other than root: podman is rootless then.
pub(crate) fn running_rootless() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().nth(1));
    effective.is_some_and(|uid| uid != "0")
}

/// The host's first global IPv4 address, which rootless podman itself gives
/// `host.containers.internal` (its network reaches the host there through slirp4netns).
pub(crate) fn host_address() -> Option<String> {
    let interfaces = if_addrs::get_if_addrs().ok()?;
    interfaces
        .iter()
        .filter(|i| !i.is_loopback())
        .map(|i| i.ip())
        .find(|ip| match ip {
            std::net::IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
            std::net::IpAddr::V6(_) => false,
        })
        .map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use copili_model::{load, EnvFile, Input, LoadOptions};

    use super::*;

    fn options(props: &str) -> RunOptions {
        let text = format!("p:\n  - name: a\n    image_repo: x\n{props}");
        let load_options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
        let pipeline = load(Input::Text(&text), &load_options).expect("valid pipeline");
        pipeline.containers[0].options().clone()
    }

    #[test]
    fn every_option_has_its_engine_argument() {
        let o = options(
            "    extra_hosts: ['db:10.0.0.5', 'h:host-gateway', 'v6=::1']
    user: '1000:1000'
    working_dir: /work
    entrypoint: [/bin/sh, -c]
    devices: [/dev/fuse, '/dev/sda:/dev/xvda:r']
    shm_size: 256m
    tmpfs: ['/run', '/tmp:size=64m,mode=1777']
    read_only: true
    init: true
    cap_add: [net_admin, CAP_SYS_PTRACE]
    cap_drop: ALL
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    stop_signal: int
    stop_grace_period: 1m 30s
",
        );
        let expected = [
            "--add-host=db:10.0.0.5",
            "--add-host=h:host-gateway",
            "--add-host=v6:::1",
            "--user=1000:1000",
            "--workdir=/work",
            "--entrypoint=/bin/sh",
            "--device=/dev/fuse",
            "--device=/dev/sda:/dev/xvda:r",
            "--shm-size=268435456b",
            "--tmpfs=/run",
            "--tmpfs=/tmp:size=64m,mode=1777",
            "--read-only",
            "--init",
            "--cap-add=NET_ADMIN",
            "--cap-add=SYS_PTRACE",
            "--cap-drop=ALL",
            "--ulimit=nofile=1024:2048",
            "--ulimit=nproc=512:512",
            "--stop-signal=SIGINT",
            "--stop-timeout=90",
        ];
        assert_eq!(option_args(EngineKind::Docker, &o, None), expected);
        let podman = option_args(EngineKind::Podman, &o, Some("10.88.0.1"));
        assert_eq!(podman[1], "--add-host=h:10.88.0.1");
        // Both given: podman gets nothing more.
        assert_eq!(podman.len(), expected.len());
        assert_eq!(command_prefix(&o), ["-c"]);
        assert_eq!(o.stop_grace_period, Some(Duration::from_secs(90)));
    }

    #[test]
    fn gpus_are_docker_s_flag_and_podman_s_cdi_devices() {
        let cases = [
            ("all", vec!["--gpus=all"], vec!["--device=nvidia.com/gpu=all"]),
            ("2", vec!["--gpus=2"], vec!["--device=nvidia.com/gpu=0", "--device=nvidia.com/gpu=1"]),
            (
                "['0', GPU-3a23c669]",
                vec!["--gpus=\"device=0,GPU-3a23c669\""],
                vec!["--device=nvidia.com/gpu=0", "--device=nvidia.com/gpu=GPU-3a23c669"],
            ),
        ];
        for (written, docker, podman) in cases {
            let o = options(&format!("    gpus: {written}\n"));
            assert_eq!(option_args(EngineKind::Docker, &o, None), docker, "{written}");
            assert_eq!(option_args(EngineKind::Podman, &o, None), podman, "{written}");
        }
    }

    #[test]
    fn an_empty_entrypoint_resets_it() {
        let o = options("    entrypoint: []\n");
        assert_eq!(option_args(EngineKind::Podman, &o, None), ["--entrypoint="]);
        assert!(command_prefix(&o).is_empty());
        let o = options("    entrypoint: ''\n");
        assert_eq!(option_args(EngineKind::Docker, &o, None), ["--entrypoint="]);
    }

    #[test]
    fn podman_s_configured_default_ulimits_are_read() {
        let conf = "[containers]\n# default_ulimits = []\ndefault_ulimits = [\n  \"nofile=1024:1024\",\n  'nproc=512',\n]\n[engine]\nruntime = \"runc\"\n";
        assert_eq!(
            default_ulimits_in(conf),
            Some(vec![("nofile".into(), "1024:1024".into()), ("nproc".into(), "512".into())])
        );
        assert_eq!(default_ulimits_in("[engine]\nruntime = \"runc\"\n"), None);
    }

    #[test]
    fn network_mode_is_the_network() {
        assert_eq!(option_args(EngineKind::Docker, &options("    network_mode: host\n"), None), ["--network=host"]);
        assert_eq!(option_args(EngineKind::Podman, &options("    network_mode: none\n"), None), ["--network=none"]);
    }
}
