//! The container options (`networks`, `user`, `tmpfs`, …) as `plan` shows them: one line each
//! for people, one field each in the JSON.

use copili_model::{Gpus, HostAddress, RunOptions};
use serde_json::{json, Map, Value};

/// Each option that is set, by property name, with its value as JSON (in the order of the
/// reference). Env files are named by path; their values are in `env_vars`, masked.
pub fn options_json(o: &RunOptions) -> Map<String, Value> {
    let mut out = Map::new();
    let mut put = |name: &str, value: Value| {
        out.insert(name.to_string(), value);
    };
    if !o.networks.is_empty() {
        let networks: Map<String, Value> =
            o.networks.iter().map(|n| (n.name.clone(), json!({ "aliases": n.aliases }))).collect();
        put("networks", Value::Object(networks));
    }
    if let Some(mode) = o.network_mode {
        put("network_mode", json!(mode.as_str()));
    }
    if !o.extra_hosts.is_empty() {
        put("extra_hosts", json!(o.extra_hosts.iter().map(host_entry).collect::<Vec<_>>()));
    }
    if let Some(user) = &o.user {
        put("user", json!(user));
    }
    if let Some(dir) = &o.working_dir {
        put("working_dir", json!(dir));
    }
    if let Some(entrypoint) = &o.entrypoint {
        put("entrypoint", json!(entrypoint));
    }
    if !o.env_files.is_empty() {
        put("env_file", json!(o.env_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>()));
    }
    if !o.devices.is_empty() {
        put("devices", json!(o.devices.iter().map(|d| d.short_form()).collect::<Vec<_>>()));
    }
    if let Some(gpus) = &o.gpus {
        put("gpus", gpus_json(gpus));
    }
    if let Some(bytes) = o.shm_size {
        put("shm_size", json!(bytes));
    }
    if !o.tmpfs.is_empty() {
        put("tmpfs", json!(o.tmpfs.iter().map(|t| t.short_form()).collect::<Vec<_>>()));
    }
    if o.read_only {
        put("read_only", json!(true));
    }
    if o.init {
        put("init", json!(true));
    }
    if !o.cap_add.is_empty() {
        put("cap_add", json!(o.cap_add));
    }
    if !o.cap_drop.is_empty() {
        put("cap_drop", json!(o.cap_drop));
    }
    if !o.ulimits.is_empty() {
        let limits: Map<String, Value> =
            o.ulimits.iter().map(|u| (u.name.clone(), json!({ "soft": u.soft, "hard": u.hard }))).collect();
        put("ulimits", Value::Object(limits));
    }
    if let Some(signal) = &o.stop_signal {
        put("stop_signal", json!(signal));
    }
    if let Some(grace) = o.stop_grace_period {
        put("stop_grace_period", json!(humantime::format_duration(grace).to_string()));
    }
    out
}

/// Each option that is set as `(name, value)` for a line of the text plan.
pub fn option_lines(o: &RunOptions) -> Vec<(String, String)> {
    options_json(o)
        .into_iter()
        .map(|(name, value)| {
            let text = match (name.as_str(), &value) {
                ("networks", _) => o
                    .networks
                    .iter()
                    .map(|n| {
                        if n.aliases.is_empty() {
                            n.name.clone()
                        } else {
                            format!("{} (aliases {})", n.name, n.aliases.join(", "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                ("entrypoint", _) => match o.entrypoint.as_deref() {
                    Some([]) | None => "none (reset)".to_string(),
                    Some(words) => words.iter().map(|w| copili_runtime::shell_quote(w)).collect::<Vec<_>>().join(" "),
                },
                ("shm_size", _) => o.shm_size.map(bytes).unwrap_or_default(),
                ("ulimits", _) => o.ulimits.iter().map(|u| u.short_form()).collect::<Vec<_>>().join(", "),
                (_, Value::String(s)) => s.clone(),
                (_, Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
                    .collect::<Vec<_>>()
                    .join(", "),
                (_, other) => other.to_string(),
            };
            (name, text)
        })
        .collect()
}

fn host_entry(h: &copili_model::ExtraHost) -> String {
    match h.address {
        HostAddress::Ip(ip) => format!("{}:{ip}", h.name),
        HostAddress::HostGateway => format!("{}:host-gateway", h.name),
    }
}

fn gpus_json(gpus: &Gpus) -> Value {
    match gpus {
        Gpus::All => json!("all"),
        Gpus::Count(n) => json!(n),
        Gpus::Ids(ids) => json!(ids),
    }
}

/// `64 MiB`-style, exact when a unit divides it.
fn bytes(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}
