//! The loader's conversions of the properties with a grammar of their own: names, images,
//! builds, resources, commands, durations, retries, ready checks, volumes.

use super::*;

impl Loader {
    /// Reports an invalid name; whether the name is valid.
    pub(super) fn check_name(&mut self, name: &str, span: Span, container: &str) -> bool {
        let at = Some(At { container, property: "name" });
        let message = if name.is_empty() {
            "the name is empty".to_string()
        } else if name.starts_with('-') {
            format!("invalid name `{name}`: a name starting with `-` would be read as an option by the engine CLI")
        } else if !NAME.is_match(name) {
            format!("invalid name `{name}`: docker and podman accept letters, digits, `_`, `.` and `-`, starting with a letter or digit")
        } else if name.len() > MAX_NAME_LEN {
            format!("the name `{name}` is longer than {MAX_NAME_LEN} characters, the limit of the hostname it becomes")
        } else {
            return true;
        };
        self.error(message, span, at);
        false
    }

    pub(super) fn check_image(
        &mut self,
        spec: &mut ContainerSpec,
        span: Span,
        explicit_tag: Option<Span>,
        label: &str,
    ) {
        let at = Some(At { container: label, property: "image_repo" });
        if spec.image_repo.is_empty() {
            self.error("the image repository is empty", span, at);
            return;
        }
        if spec.image_repo.contains('@') {
            if let Some(tag_span) = explicit_tag {
                let message = format!("the image repository `{}` pins a digest, and `tag` sets a tag", spec.image_repo);
                let d = self.error(message, span, at);
                d.notes.push(crate::diagnostic::Note { message: "`tag` is set here".into(), span: tag_span });
                d.help = Some("a digest names exactly one image: remove `tag`".into());
                return;
            }
        }
        // A tag written into the repository (`redis:7`) is taken as the tag.
        let last_slash = spec.image_repo.rfind('/').map_or(0, |i| i + 1);
        let (repo_part, digest_part) = match spec.image_repo.find('@') {
            Some(at) => spec.image_repo.split_at(at),
            None => (spec.image_repo.as_str(), ""),
        };
        if let Some(colon) = repo_part[last_slash.min(repo_part.len())..].find(':') {
            let colon = last_slash + colon;
            let (repo, tag) = (repo_part[..colon].to_string(), repo_part[colon + 1..].to_string());
            if let Some(tag_span) = explicit_tag {
                self.error(
                    format!("the image repository `{}` carries a tag, and `tag` sets another", spec.image_repo),
                    span,
                    at,
                )
                .notes
                .push(crate::diagnostic::Note { message: "`tag` is set here".into(), span: tag_span });
                return;
            }
            if !TAG.is_match(&tag) {
                self.error(format!("invalid image tag `{tag}` in `{}`", spec.image_repo), span, at);
                return;
            }
            spec.image_repo = format!("{repo}{digest_part}");
            spec.tag = tag;
        }
        if !REPOSITORY.is_match(&spec.image_repo) {
            let help = if spec.image_repo.chars().any(|c| c.is_ascii_uppercase()) {
                "repository names are lowercase (a registry host may have capitals)"
            } else {
                "expected `[registry[:port]/]path/name`, path components of lowercase letters, digits and separators `.`, `_`, `-`"
            };
            self.error(format!("invalid image repository `{}`", spec.image_repo), span, at).help = Some(help.into());
        }
    }

    /// `build`: a context as a string, or `{context, dockerfile, args, target}`.
    pub(super) fn build(&mut self, node: &Node, at: At<'_>, container: &str) -> Option<BuildSpec> {
        const KEYS: [&str; 4] = ["context", "dockerfile", "args", "target"];
        let context_node = match &node.value {
            Value::Scalar { .. } => node,
            Value::Map(entries) => {
                let mut context = None;
                for (key, _) in entries {
                    let key_text = key.as_scalar().map_or("", |(k, _)| k);
                    if !KEYS.contains(&key_text) {
                        let help = match properties::suggest(key_text, KEYS) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None => "`build` takes `context`, `dockerfile`, `args` and `target`".into(),
                        };
                        self.error(format!("unknown build option `{key_text}`"), key.span, Some(at)).help = Some(help);
                    }
                }
                for (key, value) in entries {
                    if key.as_scalar().is_some_and(|(k, _)| k == "context") {
                        context = Some(value);
                    }
                }
                match context {
                    Some(context) => context,
                    None => {
                        self.error("`build` needs a `context`", node.span, Some(at)).help = Some(
                            "a directory (`context: ./loader`) or a git repository (`context: https://git.example.com/team/loader.git#v1.2`)".into(),
                        );
                        return None;
                    }
                }
            }
            _ => {
                self.error(
                    format!(
                        "expected a build context or `{{context, dockerfile, args, target}}`, found {}",
                        node.kind_name()
                    ),
                    node.span,
                    Some(at),
                )
                .help = Some(
                    "write e.g. `build: ./loader` or `build: {context: ./loader, dockerfile: Dockerfile.prod}`".into(),
                );
                return None;
            }
        };
        let context_at = At { container, property: "build.context" };
        let written = self.text(context_node, context_at, false)?;
        if written.trim().is_empty() {
            self.error("the build context is empty", context_node.span, Some(context_at));
            return None;
        }
        if let Some(found) = forbidden_in_path(&written) {
            self.path_error("the build context", found, context_node.span, context_at);
            return None;
        }
        let context = match BuildContext::parse(written.trim(), &self.base_dir) {
            BuildContext::Dir { written, resolved } => {
                let resolved = absolute(&resolved, &self.base_dir);
                BuildContext::Dir { written, resolved }
            }
            git => git,
        };
        let mut spec = BuildSpec { context, dockerfile: None, args: Vec::new(), target: None };
        let Value::Map(entries) = &node.value else { return Some(spec) };
        for (key, value) in entries {
            match key.as_scalar().map_or("", |(k, _)| k) {
                "dockerfile" => {
                    let at = At { container, property: "build.dockerfile" };
                    if let Some(file) = self.text(value, at, false) {
                        if file.trim().is_empty() {
                            self.error("the Dockerfile's name is empty", value.span, Some(at));
                        } else if let Some(found) = forbidden_in_path(&file) {
                            self.path_error("the Dockerfile's name", found, value.span, at);
                        } else {
                            spec.dockerfile = Some(file);
                        }
                    }
                }
                "target" => {
                    let at = At { container, property: "build.target" };
                    if let Some(target) = self.text(value, at, false) {
                        if target.trim().is_empty() || target.starts_with('-') {
                            self.error(format!("invalid build target `{target}`"), value.span, Some(at));
                        } else {
                            spec.target = Some(target);
                        }
                    }
                }
                "args" => {
                    for (name, v, span) in self.string_map(value, "build.args", container, true) {
                        if name.is_empty() || name.contains(ENV_NAME_FORBIDDEN) {
                            self.error(
                                "invalid build argument name: it must be non-empty and hold no `=`",
                                span,
                                Some(At { container, property: "build.args" }),
                            );
                            continue;
                        }
                        spec.args.push((name, Secret::new(v)));
                    }
                }
                _ => {}
            }
        }
        Some(spec)
    }

    /// `resources`: `{cpus, memory, reservations: {cpus, memory}}`, or compose's
    /// `{limits: {cpus, memory}, reservations: {cpus, memory}}`.
    pub(super) fn resources(&mut self, node: &Node, at: At<'_>, container: &str) -> Option<Resources> {
        let Value::Map(entries) = &node.value else {
            self.error(
                format!("expected `{{cpus, memory, reservations}}`, found {}", node.kind_name()),
                node.span,
                Some(at),
            )
            .help = Some("write e.g. `resources: {cpus: 2, memory: 1g, reservations: {memory: 512m}}`".into());
            return None;
        };
        let mut resources = Resources::default();
        for (key, value) in entries {
            let key_text = key.as_scalar().map_or("", |(k, _)| k);
            match key_text {
                "cpus" | "memory" => {
                    let amounts = &mut resources.limits;
                    self.amount(key_text, value, container, "resources", amounts);
                }
                "limits" | "reservations" => {
                    let path = format!("resources.{key_text}");
                    let Value::Map(inner) = &value.value else {
                        self.error(
                            format!("expected `{{cpus, memory}}`, found {}", value.kind_name()),
                            value.span,
                            Some(At { container, property: &path }),
                        );
                        continue;
                    };
                    let mut amounts = ResourceAmounts::default();
                    for (inner_key, inner_value) in inner {
                        let inner_text = inner_key.as_scalar().map_or("", |(k, _)| k);
                        if inner_text == "cpus" || inner_text == "memory" {
                            self.amount(inner_text, inner_value, container, &path, &mut amounts);
                        } else {
                            let help = properties::suggest(inner_text, ["cpus", "memory"])
                                .map(|s| format!("did you mean `{s}`?"));
                            self.error(
                                format!("unknown resource `{inner_text}`"),
                                inner_key.span,
                                Some(At { container, property: &path }),
                            )
                            .help = help.or_else(|| Some("resources are `cpus` and `memory`".into()));
                        }
                    }
                    if key_text == "limits" {
                        resources.limits.cpus = amounts.cpus.or(resources.limits.cpus);
                        resources.limits.memory = amounts.memory.or(resources.limits.memory);
                    } else {
                        resources.reservations = amounts;
                    }
                }
                other => {
                    let help = properties::suggest(other, ["cpus", "memory", "limits", "reservations"])
                        .map(|s| format!("did you mean `{s}`?"));
                    self.error(format!("unknown resource `{other}`"), key.span, Some(at)).help = help
                        .or_else(|| Some("`resources` takes `cpus`, `memory` and `reservations` (or `limits`)".into()));
                }
            }
        }
        let over = |reserved: Option<f64>, limit: Option<f64>| matches!((reserved, limit), (Some(r), Some(l)) if r > l);
        if over(resources.reservations.cpus, resources.limits.cpus)
            || over(resources.reservations.memory.map(|m| m as f64), resources.limits.memory.map(|m| m as f64))
        {
            self.error("a reservation is larger than its limit", node.span, Some(at)).help =
                Some("the reservation is what the container is guaranteed, the limit what it may use: keep reservation ≤ limit".into());
        }
        Some(resources)
    }

    /// One `cpus` or `memory` amount.
    pub(super) fn amount(&mut self, key: &str, node: &Node, container: &str, path: &str, into: &mut ResourceAmounts) {
        let property = format!("{path}.{key}");
        let at = At { container, property: &property };
        let Some(text) = self.text(node, at, false) else { return };
        if key == "cpus" {
            match text.trim().parse::<f64>() {
                Ok(cpus) if cpus > 0.0 && cpus.is_finite() && cpus <= MAX_CPUS => into.cpus = Some(cpus),
                _ => {
                    self.error(
                        format!("invalid number of CPUs `{text}`: expected a number above 0, e.g. `0.5` or `2`"),
                        node.span,
                        Some(at),
                    );
                }
            }
        } else {
            match parse_memory(&text) {
                Some(bytes) if bytes >= MIN_MEMORY => into.memory = Some(bytes),
                Some(_) => {
                    self.error(format!("memory `{text}` is below the 4 MiB engines accept"), node.span, Some(at));
                }
                None => {
                    self.error(format!("invalid amount of memory `{text}`"), node.span, Some(at)).help = Some(
                        "a number of bytes with a unit: `512m`, `1g`, `1.5g`, `256Mi` (k, m, g, t are powers of 1024)"
                            .into(),
                    );
                }
            }
        }
    }

    pub(super) fn command(&mut self, node: &Node, at: At<'_>) -> Vec<String> {
        match &node.value {
            Value::Null => Vec::new(),
            Value::Scalar { .. } => {
                let Some(text) = self.text(node, at, false) else { return Vec::new() };
                match shlex::split(&text) {
                    Some(words) => words,
                    None => {
                        let what = if at.property == "entrypoint" { "entrypoint" } else { "command" };
                        self.error(
                            format!("the {what} has an unclosed quote or a trailing backslash"),
                            node.span,
                            Some(at),
                        )
                        .help = Some(format!("write the {what} as a list of strings to avoid shell-style splitting"));
                        Vec::new()
                    }
                }
            }
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| match &item.value {
                    Value::Scalar { .. } => self.text(item, at, false),
                    _ => {
                        self.error(
                            format!("expected a string in the command, found {}", item.kind_name()),
                            item.span,
                            Some(at),
                        );
                        None
                    }
                })
                .collect(),
            Value::Map(_) => {
                let example = if at.property == "entrypoint" {
                    "`entrypoint: [/bin/sh, -c]`"
                } else {
                    "`command: [python, load.py, --full]`"
                };
                self.error("expected a list of strings or one string, found a mapping", node.span, Some(at)).help =
                    Some(format!("write a list, e.g. {example}"));
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn command_forms() {
        let p = ok("p:\n  - name: a\n    image_repo: busybox\n    command: sh -c 'echo \"hi there\"'\n  - name: b\n    image_repo: busybox\n    command: [-p, 3000]\n");
        assert_eq!(p.containers[0].command, vec!["sh", "-c", "echo \"hi there\""]);
        assert_eq!(p.containers[1].command, vec!["-p", "3000"]);
    }

    #[test]
    fn tag_in_repository() {
        let p = ok("p:\n  - name: a\n    image_repo: localhost:5000/team/redis:7.2\n");
        assert_eq!(
            (p.containers[0].image_repo.as_str(), p.containers[0].tag.as_str()),
            ("localhost:5000/team/redis", "7.2")
        );
        assert_eq!(errors("p:\n  - name: a\n    image_repo: redis:7\n    tag: '8'\n").len(), 1);
    }

    #[test]
    fn build_forms() {
        let p = ok("My Pipe:\n  - name: Load_1\n    build: ./loader\n    sidecars:\n      - {name: s, build: {context: ../x, dockerfile: D, target: t, args: {A: 1}}}\n  - name: b\n    image_repo: reg.example.com:5000/t/b\n    tag: v1\n    build:\n      context: https://git.example.com/t/b.git#v1.2:sub/dir\n");
        let a = &p.containers[0];
        assert_eq!(a.image(), "localhost/copili-my-pipe-load-1:latest");
        assert_eq!(
            a.build.as_ref().map(|b| b.context.clone()),
            Some(BuildContext::Dir { written: "./loader".into(), resolved: PathBuf::from("/work/loader") })
        );
        let s = &a.sidecars[0];
        assert_eq!(s.image_repo, "localhost/copili-my-pipe-s");
        let build = s.build.as_ref().expect("a build");
        assert_eq!(
            (build.dockerfile.as_deref(), build.target.as_deref(), build.args[0].0.as_str(), build.args[0].1.expose()),
            (Some("D"), Some("t"), "A", "1")
        );
        assert!(matches!(&build.context, BuildContext::Dir { resolved, .. } if resolved == &PathBuf::from("/x")));
        let b = &p.containers[1];
        assert_eq!(b.image(), "reg.example.com:5000/t/b:v1");
        assert_eq!(
            b.build.as_ref().map(|b| b.context.clone()),
            Some(BuildContext::Git {
                url: "https://git.example.com/t/b.git".into(),
                reference: Some("v1.2".into()),
                subdir: Some("sub/dir".into())
            })
        );
    }

    #[test]
    fn git_contexts_are_recognised() {
        let base = Path::new("/base");
        let git = |url: &str, reference: Option<&str>, subdir: Option<&str>| BuildContext::Git {
            url: url.into(),
            reference: reference.map(String::from),
            subdir: subdir.map(String::from),
        };
        assert_eq!(BuildContext::parse("file:///srv/repo#main", base), git("file:///srv/repo", Some("main"), None));
        assert_eq!(BuildContext::parse("git@host:team/x.git", base), git("git@host:team/x.git", None, None));
        assert_eq!(BuildContext::parse("repo.git", base), git("/base/repo.git", None, None));
        assert_eq!(BuildContext::parse("./repo#:docker", base), git("/base/./repo", None, Some("docker")));
        assert_eq!(
            BuildContext::parse("ctx", base),
            BuildContext::Dir { written: "ctx".into(), resolved: PathBuf::from("/base/ctx") }
        );
    }

    #[test]
    fn build_errors() {
        assert_eq!(error_with_help("p:\n  - {name: a, build: {dockerfile: D}}\n").0, "`build` needs a `context`");
        let (message, help) = error_with_help("p:\n  - {name: a, build: {context: ., targt: x}}\n");
        assert_eq!(
            (message.as_str(), help.as_deref()),
            ("unknown build option `targt`", Some("did you mean `target`?"))
        );
        assert_eq!(
            error_with_help("p:\n  - {name: a, build: [x]}\n").0,
            "expected a build context or `{context, dockerfile, args, target}`, found a list"
        );
        assert_eq!(error_with_help("p:\n  - {name: a}\n").0, "missing required property `image_repo`");
    }

    #[test]
    fn build_args_are_secret() {
        let text = "p:\n  - name: a\n    build:\n      context: .\n      args: {TOKEN: hunter2, A=B: x}\n";
        let draft = load_draft(Input::Text(text), &options());
        let rendered: String = draft.diagnostics.items.iter().map(|d| d.to_string()).collect();
        assert!(rendered.contains("invalid build argument name"), "{rendered}");
        assert!(rendered.contains("args: {"), "the snippet is shown: {rendered}");
        assert!(!rendered.contains("hunter2"), "{rendered}");
    }
}
