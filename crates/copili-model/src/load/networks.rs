//! The loader's conversions of a container's network options (`networks`, `network_mode`,
//! `extra_hosts`) and the check that they go together.

use super::*;
use crate::options::{ExtraHost, HostAddress, NetworkAttachment, NetworkMode};

/// A network's name as docker and podman accept it.
static NETWORK_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{NAME_SYNTAX}$")).expect("valid regex"));
/// A host name of an `/etc/hosts` entry.
static HOST_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$").expect("valid regex"));

impl Loader {
    /// `networks`: a list of network names, or a mapping of names to `{aliases}` or null.
    pub(super) fn networks(&mut self, node: &Node, at: At<'_>) -> Vec<NetworkAttachment> {
        let mut out: Vec<NetworkAttachment> = Vec::new();
        let mut add = |this: &mut Loader, name: String, span: Span, aliases: Vec<String>| {
            if !NETWORK_NAME.is_match(&name) {
                this.error(format!("invalid network name `{}`", name.escape_debug()), span, Some(at)).help = Some(
                    "a network name holds letters, digits, `_`, `.` and `-`, starting with a letter or digit".into(),
                );
            } else if out.iter().any(|n| n.name == name) {
                this.error(format!("the network `{name}` is listed twice"), span, Some(at));
            } else {
                out.push(NetworkAttachment { name, aliases });
            }
        };
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    let Some(name) = self.text(key, at, false) else { continue };
                    let aliases = self.network_aliases(value, at);
                    add(self, name, key.span, aliases);
                }
            }
            _ => {
                for (name, span) in self.string_list(node, at) {
                    add(self, name, span, Vec::new());
                }
            }
        }
        out
    }

    /// A network's settings in the mapping form: null or `{aliases: [...]}`.
    fn network_aliases(&mut self, node: &Node, at: At<'_>) -> Vec<String> {
        let entries = match &node.value {
            Value::Null => return Vec::new(),
            Value::Map(entries) => entries,
            _ => {
                self.error(
                    format!("expected `{{aliases: [...]}}` or nothing, found {}", node.kind_name()),
                    node.span,
                    Some(at),
                )
                .help = Some("write e.g. `networks: {graph: {aliases: [loader]}}` or `networks: [graph]`".into());
                return Vec::new();
            }
        };
        let mut aliases = Vec::new();
        for (key, value) in entries {
            let key_text = key.as_scalar().map_or("", |(k, _)| k);
            if key_text != "aliases" {
                let help = properties::suggest(key_text, ["aliases"]).map(|s| format!("did you mean `{s}`?"));
                self.error(format!("unknown network setting `{key_text}`"), key.span, Some(at)).help =
                    help.or_else(|| Some("a network takes `aliases`, a list of names".into()));
                continue;
            }
            for (alias, span) in self.string_list(value, at) {
                if HOST_NAME.is_match(&alias) {
                    aliases.push(alias);
                } else {
                    self.error(format!("invalid network alias `{}`", alias.escape_debug()), span, Some(at));
                }
            }
        }
        aliases
    }

    /// `network_mode`: `bridge`, `host` or `none`.
    pub(super) fn network_mode(&mut self, node: &Node, at: At<'_>) -> Option<NetworkMode> {
        let text = self.text(node, at, false)?;
        if let Some(&(_, mode)) = NetworkMode::ALL.iter().find(|(name, _)| *name == text) {
            return Some(mode);
        }
        let help = if text.starts_with("container:") || text.starts_with("service:") {
            "sharing another container's network stack is not supported: give both the same `networks`, or make one a sidecar of the other".to_string()
        } else {
            match properties::suggest(&text, NetworkMode::ALL.map(|(n, _)| n)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "to join a network by name, use `networks: [NAME]`".into(),
            }
        };
        self.error(
            format!("invalid network mode `{}`: expected `bridge`, `host` or `none`", text.escape_debug()),
            node.span,
            Some(at),
        )
        .help = Some(help);
        None
    }

    /// `extra_hosts`: `NAME:ADDRESS` (or `NAME=ADDRESS`) items, or a mapping of names to addresses.
    pub(super) fn extra_hosts(&mut self, node: &Node, at: At<'_>) -> Vec<ExtraHost> {
        let entries: Vec<(String, String, Span)> = match &node.value {
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(key, value)| {
                    let name = self.text(key, at, false)?;
                    let address = self.scalar_text(value, at, false, "an address")?;
                    Some((name, address, key.span))
                })
                .collect(),
            _ => self
                .string_list(node, at)
                .into_iter()
                .filter_map(|(text, span)| {
                    // compose-go: `NAME=ADDRESS`, else `NAME:ADDRESS` split at the first `:`.
                    let split = text.split_once('=').or_else(|| text.split_once(':'));
                    match split {
                        Some((name, address)) => Some((name.to_string(), address.to_string(), span)),
                        None => {
                            self.error(format!("invalid host entry `{}`", text.escape_debug()), span, Some(at)).help =
                                Some(
                                    "write `NAME:ADDRESS`, e.g. `db:10.0.0.5` or `host.docker.internal:host-gateway`"
                                        .into(),
                                );
                            None
                        }
                    }
                })
                .collect(),
        };
        let mut out = Vec::new();
        for (name, address, span) in entries {
            let (name, address) = (name.trim(), address.trim());
            if !HOST_NAME.is_match(name) {
                self.error(format!("invalid host name `{}`", name.escape_debug()), span, Some(at));
                continue;
            }
            let address = if address == "host-gateway" {
                HostAddress::HostGateway
            } else {
                let bare = address.strip_prefix('[').and_then(|a| a.strip_suffix(']')).unwrap_or(address);
                match bare.parse::<std::net::IpAddr>() {
                    Ok(ip) => HostAddress::Ip(ip),
                    Err(_) => {
                        self.error(
                            format!("invalid address `{}` for host `{name}`", address.escape_debug()),
                            span,
                            Some(at),
                        )
                        .help = Some("an IPv4 or IPv6 address, or `host-gateway` for the host itself".into());
                        continue;
                    }
                }
            };
            out.push(ExtraHost { name: name.to_string(), address });
        }
        out
    }

    /// `network_mode` leaves no place for other networks: not with `networks`, not on a
    /// container with sidecars (they meet on the job's own network), not on a sidecar.
    pub(super) fn check_network_options(&mut self, spec: &ContainerSpec, parent: Option<&str>, label: &str) {
        let options = spec.options();
        let (Some(mode), Some(span)) = (options.network_mode, options.span_of(RunOptionId::NetworkMode)) else {
            return;
        };
        let at = Some(At { container: label, property: "network_mode" });
        if !options.networks.is_empty() {
            self.error(format!("`network_mode: {}` and `networks` cannot be combined", mode.as_str()), span, at).help =
                Some("`networks` joins named networks; remove `network_mode`, or `networks`".into());
        } else if let Some(main) = parent {
            self.error(format!("a sidecar cannot have `network_mode: {}`", mode.as_str()), span, at).help = Some(format!(
                "a sidecar is on the job's own network, where `{main}` reaches it by name; use `networks` to join another network too"
            ));
        } else if !spec.sidecars.is_empty() {
            self.error(
                format!("`network_mode: {}` leaves no place for the sidecars' network", mode.as_str()),
                span,
                at,
            )
            .help = Some(format!(
                "`{label}` meets its sidecars on the job's own network; remove `network_mode`, or use `networks` to join another network too"
            ));
        }
    }
}
