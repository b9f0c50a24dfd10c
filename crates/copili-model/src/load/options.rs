//! The loader's conversions of the container options ([`RunOptions`]): compose's names, forms
//! and meaning, every problem reported at its place.

use super::*;
use crate::options::{Device, Gpus, RunOptions, Tmpfs, Ulimit, CAPABILITIES, SIGNALS, ULIMIT_NAMES};

/// `user`: `UID`, `NAME`, `UID:GID`, `NAME:GROUP`.
static USER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[^:\s]+(?::[^:\s]+)?$").expect("valid regex"));
/// A CDI device name, `vendor.com/class=name`.
static CDI_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*=\S+$").expect("valid regex"));
/// A real-time signal: `RTMIN`, `RTMIN+3`, `RTMAX-1`.
static REALTIME_SIGNAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^RTM(?:IN|AX)(?:[+-][0-9]+)?$").expect("valid regex"));
/// A GPU device id: an index or a UUID.
static GPU_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_-]+$").expect("valid regex"));

impl Loader {
    /// One container option into `options`; `env_file`'s variables into `env`.
    pub(super) fn run_option(
        &mut self,
        option: RunOptionId,
        value: &Node,
        at: At<'_>,
        options: &mut RunOptions,
        env: &mut Vec<(String, Secret)>,
    ) {
        match option {
            RunOptionId::Networks => options.networks = self.networks(value, at),
            RunOptionId::NetworkMode => options.network_mode = self.network_mode(value, at),
            RunOptionId::ExtraHosts => options.extra_hosts = self.extra_hosts(value, at),
            RunOptionId::User => {
                if let Some(user) = self.text(value, at, false) {
                    if USER.is_match(user.trim()) {
                        options.user = Some(user.trim().to_string());
                    } else {
                        self.error(format!("invalid user `{}`", user.escape_debug()), value.span, Some(at)).help =
                            Some("write `UID`, `UID:GID`, `NAME` or `NAME:GROUP`, e.g. `user: \"1000:1000\"`".into());
                    }
                }
            }
            RunOptionId::WorkingDir => {
                if let Some(dir) = self.text(value, at, false) {
                    if let Some(bad) = forbidden_in_path(&dir) {
                        self.path_error("working directory", bad, value.span, at);
                    } else if !dir.starts_with('/') {
                        self.error(
                            format!("the working directory `{dir}` is not an absolute path"),
                            value.span,
                            Some(at),
                        )
                        .help = Some("a path inside the container, starting with `/`, e.g. `/app`".into());
                    } else {
                        options.working_dir = Some(dir);
                    }
                }
            }
            RunOptionId::Entrypoint => {
                options.entrypoint = match &value.value {
                    Value::Null => None,
                    _ => Some(self.command(value, at)),
                }
            }
            RunOptionId::EnvFile => self.env_files(value, at, options, env),
            RunOptionId::Devices => {
                for (text, span) in self.one_or_list(value, at) {
                    if let Some(device) = self.device(&text, span, at) {
                        options.devices.push(device);
                    }
                }
            }
            RunOptionId::Gpus => options.gpus = self.gpus(value, at),
            RunOptionId::ShmSize => {
                if let Some(text) = self.text(value, at, false) {
                    match parse_memory(&text) {
                        Some(bytes) if bytes > 0 => options.shm_size = Some(bytes),
                        _ => {
                            self.error(format!("invalid size `{text}`"), value.span, Some(at)).help = Some(
                                "a number of bytes with a unit: `64m`, `1g`, `256Mi` (k, m, g, t are powers of 1024)"
                                    .into(),
                            );
                        }
                    }
                }
            }
            RunOptionId::Tmpfs => {
                for (text, span) in self.one_or_list(value, at) {
                    let (target, mount_options) = match text.split_once(':') {
                        Some((target, mount_options)) => (target, Some(mount_options.to_string())),
                        None => (text.as_str(), None),
                    };
                    if let Some(bad) = forbidden_in_path(&text) {
                        self.path_error("tmpfs mount", bad, span, at);
                    } else if !target.starts_with('/') {
                        self.error(format!("the tmpfs path `{target}` is not an absolute path"), span, Some(at)).help =
                            Some("write `/PATH` or `/PATH:OPTIONS`, e.g. `/tmp:size=64m,mode=1777`".into());
                    } else if mount_options.as_deref().is_some_and(|o| o.is_empty() || o.contains(char::is_whitespace))
                    {
                        self.error(format!("invalid tmpfs options in `{text}`"), span, Some(at)).help =
                            Some("options are comma-separated without spaces, e.g. `size=64m,mode=1777`".into());
                    } else {
                        options.tmpfs.push(Tmpfs { target: target.to_string(), options: mount_options });
                    }
                }
            }
            RunOptionId::ReadOnly => options.read_only = self.bool_value(value, at).unwrap_or(false),
            RunOptionId::Init => options.init = self.bool_value(value, at).unwrap_or(false),
            RunOptionId::CapAdd => options.cap_add = self.capabilities(value, at),
            RunOptionId::CapDrop => options.cap_drop = self.capabilities(value, at),
            RunOptionId::Ulimits => options.ulimits = self.ulimits(value, at),
            RunOptionId::StopSignal => options.stop_signal = self.signal(value, at),
            RunOptionId::StopGracePeriod => options.stop_grace_period = self.duration(value, at).map(|(d, _)| d),
        }
    }

    /// One text or a list of texts (compose takes both for `devices`, `tmpfs`, `cap_add`, …).
    fn one_or_list(&mut self, node: &Node, at: At<'_>) -> Vec<(String, Span)> {
        match &node.value {
            Value::Scalar { .. } => self.text(node, at, false).map(|t| vec![(t, node.span)]).unwrap_or_default(),
            _ => self.string_list(node, at),
        }
    }

    fn env_files(&mut self, node: &Node, at: At<'_>, options: &mut RunOptions, env: &mut Vec<(String, Secret)>) {
        let items: Vec<&Node> = match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        for item in items {
            let (path, required) = match &item.value {
                Value::Scalar { .. } => match self.text(item, at, false) {
                    Some(path) => (path, true),
                    None => continue,
                },
                Value::Map(entries) => {
                    let mut path = None;
                    let mut required = true;
                    for (key, value) in entries {
                        match key.as_scalar().map_or("", |(k, _)| k) {
                            "path" => path = self.text(value, at, false),
                            "required" => required = self.bool_value(value, at).unwrap_or(true),
                            other => {
                                let help = properties::suggest(other, ["path", "required"])
                                    .map(|s| format!("did you mean `{s}`?"));
                                self.error(format!("unknown env file setting `{other}`"), key.span, Some(at)).help =
                                    help.or_else(|| Some("an env file takes `path` and `required`".into()));
                            }
                        }
                    }
                    match path {
                        Some(path) => (path, required),
                        None => {
                            self.error("an env file needs a `path`", item.span, Some(at));
                            continue;
                        }
                    }
                }
                _ => {
                    self.error(
                        format!("expected a path or `{{path, required}}`, found {}", item.kind_name()),
                        item.span,
                        Some(at),
                    );
                    continue;
                }
            };
            if path.trim().is_empty() {
                self.error("the env file path is empty", item.span, Some(at));
                continue;
            }
            if let Some(bad) = forbidden_in_path(&path) {
                self.path_error("env file path", bad, item.span, at);
                continue;
            }
            let resolved = absolute(Path::new(&path), &self.base_dir);
            let text = match std::fs::read(&resolved) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => text,
                    Err(_) => {
                        self.error(format!("the env file `{path}` is not UTF-8 text"), item.span, Some(at));
                        continue;
                    }
                },
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => continue,
                Err(error) => {
                    self.error(format!("cannot read the env file `{path}`: {}", io_reason(&error)), item.span, Some(at))
                        .help = Some(format!(
                        "the path is relative to the pipeline file's directory ({}); `{{path: {path}, required: false}}` allows a missing file",
                        self.base_dir.display()
                    ));
                    continue;
                }
            };
            let (entries, errors) = dotenv::parse(&text);
            // No snippets: a broken line of an env file may well hold a secret.
            let source = Arc::new(SourceFile::without_text(path.as_str()));
            for error in errors {
                let mut d = Diagnostic::error(format!("invalid env file line: {}", error.message))
                    .at(&source, Span { line: error.line, column: error.column, len: 1 });
                d = d.container(at.container).property(at.property);
                self.diagnostics.push(d);
            }
            for entry in entries {
                // A later file wins, as in compose.
                env.retain(|(name, _)| *name != entry.key);
                env.push((entry.key, Secret::new(entry.value)));
            }
            options.env_files.push(resolved);
        }
    }

    fn device(&mut self, text: &str, span: Span, at: At<'_>) -> Option<Device> {
        if CDI_NAME.is_match(text) {
            return Some(Device { host: text.to_string(), container: None, permissions: None });
        }
        let mut parts = text.splitn(3, ':');
        let host = parts.next().unwrap_or_default();
        let container = parts.next().filter(|s| !s.is_empty());
        let permissions = parts.next();
        // `HOST:PERMISSIONS` is allowed too.
        let (container, permissions) = match (container, permissions) {
            (Some(c), None) if !c.starts_with('/') => (None, Some(c)),
            other => other,
        };
        let problem = if let Some(bad) = forbidden_in_path(text) {
            Some(format!("the device holds {bad}"))
        } else if !host.starts_with('/') {
            Some(format!("invalid device `{text}`: the host device is not an absolute path"))
        } else if container.is_some_and(|c| !c.starts_with('/')) {
            Some(format!("invalid device `{text}`: the path in the container is not absolute"))
        } else if permissions.is_some_and(|p| p.is_empty() || !p.chars().all(|c| "rwm".contains(c))) {
            Some(format!("invalid device `{text}`: permissions are letters of `rwm`"))
        } else {
            None
        };
        if let Some(message) = problem {
            self.error(message, span, Some(at)).help = Some(
                "write `HOST[:CONTAINER[:PERMISSIONS]]`, e.g. `/dev/fuse` or `/dev/sdb:/dev/xvdb:r`, or a CDI name such as `nvidia.com/gpu=0`"
                    .into(),
            );
            return None;
        }
        Some(Device {
            host: host.to_string(),
            container: container.map(str::to_string),
            permissions: permissions.map(str::to_string),
        })
    }

    fn gpus(&mut self, node: &Node, at: At<'_>) -> Option<Gpus> {
        let help = "write `gpus: all`, a number such as `gpus: 1`, or device ids such as `gpus: [\"0\", \"1\"]`";
        match &node.value {
            Value::Seq(items) => {
                let mut ids: Vec<String> = Vec::new();
                for item in items {
                    let id = match &item.value {
                        Value::Scalar { ty: ScalarType::Str | ScalarType::Int, .. } => self.text(item, at, false),
                        _ => {
                            self.error(format!("expected a GPU id, found {}", item.kind_name()), item.span, Some(at));
                            continue;
                        }
                    };
                    let Some(id) = id else { continue };
                    if GPU_ID.is_match(id.trim()) {
                        ids.push(id.trim().to_string());
                    } else {
                        self.error(format!("invalid GPU id `{}`", id.escape_debug()), item.span, Some(at)).help =
                            Some("an index such as `0` or a UUID such as `GPU-3a23c669`".into());
                    }
                }
                if items.is_empty() {
                    self.error("the list of GPUs is empty", node.span, Some(at)).help = Some(help.into());
                    return None;
                }
                if ids.is_empty() {
                    return None;
                }
                Some(Gpus::Ids(ids))
            }
            _ => {
                let text = self.scalar_text(node, at, false, "`all`, a number or a list of ids")?;
                let text = text.trim();
                if text.eq_ignore_ascii_case("all") {
                    return Some(Gpus::All);
                }
                match text.parse::<u32>() {
                    Ok(count) if count > 0 => Some(Gpus::Count(count)),
                    _ => {
                        self.error(format!("invalid `gpus` value `{}`", text.escape_debug()), node.span, Some(at))
                            .help = Some(help.into());
                        None
                    }
                }
            }
        }
    }

    fn capabilities(&mut self, node: &Node, at: At<'_>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (text, span) in self.one_or_list(node, at) {
            let upper = text.trim().to_ascii_uppercase();
            let name = upper.strip_prefix("CAP_").unwrap_or(&upper);
            if CAPABILITIES.contains(&name) {
                if !out.iter().any(|c| c == name) {
                    out.push(name.to_string());
                }
                continue;
            }
            let help = properties::suggest(name, CAPABILITIES.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    "a Linux capability such as `NET_ADMIN`, `SYS_PTRACE` or `ALL` (see capabilities(7))".into()
                });
            self.error(format!("unknown capability `{}`", text.escape_debug()), span, Some(at)).help = Some(help);
        }
        out
    }

    fn ulimits(&mut self, node: &Node, at: At<'_>) -> Vec<Ulimit> {
        let entries = match &node.value {
            Value::Null => return Vec::new(),
            Value::Map(entries) => entries,
            _ => {
                self.error(format!("expected a mapping of limits, found {}", node.kind_name()), node.span, Some(at))
                    .help = Some("write e.g. `ulimits: {nofile: {soft: 1024, hard: 4096}, nproc: 512}`".into());
                return Vec::new();
            }
        };
        let mut out: Vec<Ulimit> = Vec::new();
        for (key, value) in entries {
            let Some(name) = self.text(key, at, false) else { continue };
            if !ULIMIT_NAMES.contains(&name.as_str()) {
                let help = properties::suggest(&name, ULIMIT_NAMES.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("known limits: {}", ULIMIT_NAMES.join(", ")));
                self.error(format!("unknown ulimit `{}`", name.escape_debug()), key.span, Some(at)).help = Some(help);
                continue;
            }
            let (soft, hard) = match &value.value {
                Value::Map(limits) => {
                    let before = self.diagnostics.len();
                    let mut soft = None;
                    let mut hard = None;
                    for (limit_key, limit) in limits {
                        match limit_key.as_scalar().map_or("", |(k, _)| k) {
                            "soft" => soft = self.limit(limit, at),
                            "hard" => hard = self.limit(limit, at),
                            other => {
                                self.error(format!("unknown ulimit setting `{other}`"), limit_key.span, Some(at))
                                    .help = Some("a limit takes `soft` and `hard`".into());
                            }
                        }
                    }
                    match (soft, hard) {
                        (Some(soft), Some(hard)) => (soft, hard),
                        _ => {
                            if self.diagnostics.len() == before {
                                self.error(
                                    format!("the ulimit `{name}` needs both `soft` and `hard`"),
                                    value.span,
                                    Some(at),
                                );
                            }
                            continue;
                        }
                    }
                }
                _ => match self.limit(value, at) {
                    Some(both) => (both, both),
                    None => continue,
                },
            };
            let unlimited = |n: i64| n == -1;
            if !unlimited(hard) && (unlimited(soft) || soft > hard) {
                self.error(format!("the soft limit of `{name}` is above its hard limit"), value.span, Some(at)).help =
                    Some("the soft limit is what a process gets, the hard limit how far it may raise it: keep soft ≤ hard".into());
                continue;
            }
            out.push(Ulimit { name, soft, hard });
        }
        out
    }

    /// A limit: a whole number from -1 (unlimited) up.
    fn limit(&mut self, node: &Node, at: At<'_>) -> Option<i64> {
        let text = self.scalar_text(node, at, false, "a whole number")?;
        match text.trim().parse::<i64>() {
            Ok(n) if n >= -1 => Some(n),
            _ => {
                self.error(
                    format!("invalid limit `{}`: expected a whole number, or -1 for unlimited", text.escape_debug()),
                    node.span,
                    Some(at),
                );
                None
            }
        }
    }

    fn signal(&mut self, node: &Node, at: At<'_>) -> Option<String> {
        let text = self.text(node, at, false)?;
        let upper = text.trim().to_ascii_uppercase();
        if let Ok(number) = upper.parse::<u32>() {
            if (1..=64).contains(&number) {
                return Some(number.to_string());
            }
        } else {
            let name = upper.strip_prefix("SIG").unwrap_or(&upper);
            if SIGNALS.contains(&name) || REALTIME_SIGNAL.is_match(name) {
                return Some(format!("SIG{name}"));
            }
        }
        let help = properties::suggest(upper.strip_prefix("SIG").unwrap_or(&upper), SIGNALS.iter().copied())
            .map(|s| format!("did you mean `SIG{s}`?"))
            .unwrap_or_else(|| "a signal name such as `SIGTERM` or `SIGINT`, or its number from 1 to 64".into());
        self.error(format!("unknown signal `{}`", text.escape_debug()), node.span, Some(at)).help = Some(help);
        None
    }
}
