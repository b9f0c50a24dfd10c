//! The loader's conversion of one container (or sidecar) description: keys resolved to
//! properties, each property converted by its own arm of one exhaustive match, and the checks
//! that need the whole description (service-only keys, `retry_delay` without `retries`, the image).

use super::*;

/// What the checks across a description's properties need from their conversion.
#[derive(Default)]
struct Written<'n> {
    /// Where the `tag` value is, when one was written.
    explicit_tag: Option<Span>,
    /// Where the `image_repo` value is, when it was read.
    image_span: Option<Span>,
    /// `retries` as written: a `retry_delay` without retries does nothing.
    retries_node: Option<&'n Node>,
    /// Keys that only matter for a service container, for the warning when it is not one.
    service_only_keys: Vec<(Span, &'static str)>,
    /// Where the `retry_delay` key is.
    retry_delay_key: Option<Span>,
    /// The variables of `env_file`, which `env_vars` override.
    env_from_files: Vec<(String, Secret)>,
}

/// The description a property belongs to, as its conversion needs it.
struct Description<'a, 'n> {
    /// The label of the container whose sidecar this is.
    parent: Option<&'a str>,
    /// `#N` (or `parent/#N`): the description's label until its name is known.
    provisional: &'a str,
    /// How messages name the container: its name, or the provisional label.
    label: &'a str,
    /// Every property written, with its key and value.
    fields: &'a [(&'static properties::Property, &'n Node, &'n Node)],
}

impl Loader {
    /// One container description into a [`ContainerSpec`], every problem reported where it is;
    /// `parent` is the label of the container whose sidecar this is. `None` when the node is no
    /// mapping at all.
    pub(super) fn container(&mut self, node: &Node, index: usize, parent: Option<&str>) -> Option<ContainerSpec> {
        let ordinal = format!("#{}", index + 1);
        let provisional = match parent {
            Some(p) => format!("{p}/{ordinal}"),
            None => ordinal.clone(),
        };
        let Value::Map(entries) = &node.value else {
            let what = if parent.is_some() { "a sidecar" } else { "a container" };
            self.error(
                format!(
                    "expected {what} description (a mapping with at least `name` and `image_repo`), found {}",
                    node.kind_name()
                ),
                node.span,
                Some(At { container: if parent.is_some() { &provisional } else { "" }, property: "" }),
            );
            return None;
        };

        // Resolve keys to properties first, so that the name is known for every message.
        let mut fields: Vec<(&'static properties::Property, &Node, &Node)> = Vec::with_capacity(entries.len());
        let mut unknown: Vec<(&Node, String)> = Vec::new();
        let mut twice: Vec<(&Node, &Node, &'static str)> = Vec::new();
        for (key, value) in entries {
            let Some((key_text, _)) = key.as_scalar() else {
                unknown.push((key, String::new()));
                continue;
            };
            match properties::lookup(key_text) {
                Some(property) => {
                    if let Some((_, first, _)) = fields.iter().find(|(p, _, _)| p.id == property.id) {
                        twice.push((key, first, property.name));
                        continue;
                    }
                    fields.push((property, key, value));
                }
                None => unknown.push((key, key_text.to_string())),
            }
        }
        let name_field = fields.iter().find(|(p, _, _)| p.id == PropertyId::Name).map(|(_, _, v)| *v);
        let mut name_valid = true;
        let (name, name_span) = match name_field {
            Some(value) => {
                let at = At { container: &provisional, property: "name" };
                let name = match self.text(value, at, false) {
                    Some(name) => {
                        name_valid = self.check_name(&name, value.span, &provisional);
                        name
                    }
                    None => {
                        name_valid = false;
                        String::new()
                    }
                };
                (name, value.span)
            }
            None => {
                self.error(
                    "missing required property `name`",
                    node.span,
                    Some(At { container: &provisional, property: "" }),
                );
                (String::new(), node.span)
            }
        };
        // An invalid name would only confuse the messages that follow: use the position.
        let label = match (parent, name.is_empty() || !name_valid) {
            (Some(p), false) => format!("{p}/{name}"),
            (None, false) => name.clone(),
            _ => provisional.clone(),
        };
        for (key, first, property) in twice {
            let key_text = key.as_scalar().map(|(k, _)| k).unwrap_or_default();
            let first_text = first.as_scalar().map(|(k, _)| k).unwrap_or_default();
            let (message, help) = if first_text == key_text {
                (format!("`{key_text}` is set twice"), "keep one of them".to_string())
            } else {
                (
                    format!("`{key_text}` and `{first_text}` both set `{property}`"),
                    format!("`{key_text}` is another spelling of `{first_text}`; keep one"),
                )
            };
            let d = self.error(message, key.span, Some(At { container: &label, property }));
            d.notes.push(crate::diagnostic::Note { message: "first set here".into(), span: first.span });
            d.help = Some(help);
        }
        let mut suggested: Vec<&'static str> = Vec::new();
        for (key, text) in unknown {
            let message = if matches!(key.value, Value::Scalar { ty: ScalarType::Str, .. }) && text.is_empty() {
                // Found by fuzzing: `"": x` read "must be a string, found a string".
                "a property name must not be empty".to_string()
            } else if text.is_empty() {
                format!("a property name must be a string, found {}", key.kind_name())
            } else {
                format!("unknown property `{text}`")
            };
            let suggestion = properties::suggest(&text, properties::all_spellings());
            if let Some(property) = suggestion.and_then(properties::lookup) {
                suggested.push(property.name);
            }
            let help = suggestion.map(|s| format!("did you mean `{s}`?"));
            let d = self.error(message, key.span, Some(At { container: &label, property: "" }));
            d.help =
                help.or_else(|| Some("see `copili schema` or the format reference for the known properties".into()));
        }

        let mut spec = ContainerSpec {
            name,
            image_repo: String::new(),
            tag: "latest".into(),
            info_link: None,
            desc: None,
            image_reg_username: None,
            image_reg_password: None,
            is_service_container: false,
            env_vars: Vec::new(),
            dependencies: Vec::new(),
            exclude_in_env: Vec::new(),
            volumes: Vec::new(),
            command: Vec::new(),
            sidecars: Vec::new(),
            labels: Vec::new(),
            force_rerun: false,
            timeout: None,
            retries: 0,
            retry_delay: crate::spec::DEFAULT_RETRY_DELAY,
            ready: None,
            pull: None,
            tls_verify: true,
            build: None,
            schedule: None,
            timezone: None,
            catch_up: false,
            run_once: false,
            env_from_variables: Vec::new(),
            placement: Vec::new(),
            resources: None,
            run_options: None,
            run_on: None,
            matrix: None,
            flow: None,
            spans: ContainerSpans { item: node.span, name: name_span, ..ContainerSpans::default() },
        };
        let mut written = Written::default();
        let description = Description { parent, provisional: &provisional, label: &label, fields: &fields };
        for &field in &fields {
            self.convert_property(&mut spec, &mut written, &description, field);
        }

        if !written.env_from_files.is_empty() {
            written.env_from_files.retain(|(name, _)| !spec.env_vars.iter().any(|(set, _)| set == name));
            written.env_from_files.append(&mut spec.env_vars);
            spec.env_vars = written.env_from_files;
        }
        self.check_network_options(&spec, parent, &label);
        if parent.is_none() && !spec.is_service_container {
            for (span, property) in written.service_only_keys {
                let at = Some(At { container: &label, property });
                self.warning(format!("`{property}` has no effect: `{label}` is not a service container"), span, at)
                    .help = Some("set `is_service_container: true` to rerun it on a schedule in service mode".into());
            }
        }
        // On a sidecar, `retry_delay` was reported as having no effect already.
        if let (Some(delay_span), None) = (written.retry_delay_key, parent) {
            let at = Some(At { container: &label, property: "retry_delay" });
            match written.retries_node {
                None => {
                    self.warning("`retry_delay` has no effect without `retries`", delay_span, at).help =
                        Some("set `retries`, the number of attempts after the first, e.g. `retries: 2`".into());
                }
                // Only when written so: a variable may well be 0 in one environment only.
                Some(node) if node.as_scalar().is_some_and(|(t, ty)| ty == ScalarType::Int && t.trim() == "0") => {
                    self.warning("`retry_delay` has no effect with `retries: 0`", delay_span, at).help =
                        Some("set `retries`, the number of attempts after the first, e.g. `retries: 2`".into());
                }
                Some(_) => {}
            }
        }

        match written.image_span {
            // Built images are named after the pipeline and the container (see `Loader::pipeline`).
            None if spec.build.is_some() || fields.iter().any(|(p, _, _)| p.id == PropertyId::Build) => {}
            None => {
                // A misspelt `image_repo` was reported as such already.
                if !fields.iter().any(|(p, _, _)| p.id == PropertyId::ImageRepo) && !suggested.contains(&"image_repo") {
                    self.error(
                        "missing required property `image_repo`",
                        node.span,
                        Some(At { container: &label, property: "" }),
                    )
                    .help = Some("name the image, e.g. `image_repo: registry.example.com/team/loader`".into());
                }
            }
            Some(span) => self.check_image(&mut spec, span, written.explicit_tag, &label),
        }
        Some(spec)
    }

    /// One property of a description into `spec`, after the check of what it means on a
    /// sidecar; what the checks across properties need is noted in `written`.
    fn convert_property<'n>(
        &mut self,
        spec: &mut ContainerSpec,
        written: &mut Written<'n>,
        description: &Description<'_, 'n>,
        (property, key, value): (&'static properties::Property, &'n Node, &'n Node),
    ) {
        let label = description.label;
        let at = At { container: label, property: property.name };
        if description.parent.is_some() {
            match property.on_sidecar {
                OnSidecar::Allowed => {}
                OnSidecar::NoEffect => {
                    self.warning(format!("`{}` has no effect on a sidecar", property.name), key.span, Some(at)).help =
                        Some("a sidecar starts and stops with its container".into());
                    return;
                }
                OnSidecar::Refused => {
                    let message = format!(
                        "a sidecar cannot have `{}`: it starts with its container and is removed when that ends",
                        property.name
                    );
                    self.error(message, key.span, Some(at)).help = Some(format!(
                        "set `{}` on the container `{}` instead",
                        property.name,
                        description.parent.unwrap_or("")
                    ));
                    return;
                }
            }
        }
        match property.id {
            // Expanded before conversion (see `matrix.rs`).
            PropertyId::Name | PropertyId::Matrix => {}
            PropertyId::ImageRepo => {
                if let Some(repo) = self.text(value, at, false) {
                    spec.image_repo = repo;
                    written.image_span = Some(value.span);
                }
            }
            PropertyId::Tag => {
                if let Some(tag) = self.text(value, at, false) {
                    if !TAG.is_match(&tag) {
                        let message = if tag.is_empty() {
                            "the tag is empty".to_string()
                        } else {
                            format!("invalid image tag `{tag}`: a tag holds up to 128 letters, digits, `_`, `.` and `-`, and does not start with `.` or `-`")
                        };
                        self.error(message, value.span, Some(at));
                    }
                    spec.tag = tag;
                    written.explicit_tag = Some(value.span);
                }
            }
            PropertyId::InfoLink => spec.info_link = self.text(value, at, false),
            PropertyId::Desc => spec.desc = self.text(value, at, false),
            PropertyId::ImageRegUsername => spec.image_reg_username = self.text(value, at, false),
            PropertyId::ImageRegPassword => spec.image_reg_password = self.text(value, at, true).map(Secret::new),
            PropertyId::IsServiceContainer => spec.is_service_container = self.bool_value(value, at).unwrap_or(false),
            PropertyId::ForceRerun => spec.force_rerun = self.bool_value(value, at).unwrap_or(false),
            PropertyId::EnvVars => {
                for (key_text, v, key_span) in self.string_map(value, "env_vars", label, true) {
                    if key_text.is_empty() || key_text.contains(ENV_NAME_FORBIDDEN) {
                        self.error(
                            "invalid environment variable name: it must be non-empty and hold no `=`",
                            key_span,
                            Some(at),
                        );
                        continue;
                    }
                    if crate::expression::has_expressions(&v) {
                        let spans = spec.spans.expressions.get_or_insert_with(Default::default);
                        spans.env_vars.push((key_text.clone(), key_span));
                    }
                    spec.env_vars.push((key_text, Secret::new(v)));
                }
                spec.env_from_variables = env_names_using_variables(value);
            }
            PropertyId::Labels => {
                for (key_text, v, key_span) in self.string_map(value, "labels", label, false) {
                    if key_text.is_empty() {
                        self.error("a label name must not be empty", key_span, Some(at));
                    } else if key_text.starts_with(RESERVED_LABEL_PREFIX) {
                        self.error(
                            format!("the label `{key_text}` is reserved: copili sets `io.copili.*` labels itself"),
                            key_span,
                            Some(at),
                        );
                    } else {
                        spec.labels.push((key_text, v));
                    }
                }
            }
            PropertyId::Dependencies => self.dependencies(spec, value, at),
            PropertyId::AllowFailure => {
                if let Some(allowed) = self.allow_failure(value, at) {
                    let flow = spec.flow_mut();
                    flow.allow_failure = allowed;
                    flow.allow_failure_span = key.span;
                }
            }
            PropertyId::ExludeInEnv => {
                spec.exclude_in_env = self.string_list(value, at).into_iter().map(|(t, _)| t).collect();
            }
            PropertyId::Volumes => spec.volumes = self.volumes(value, label),
            PropertyId::Command => {
                spec.command = self.command(value, at);
                if spec.command.iter().any(|word| crate::expression::has_expressions(word)) {
                    spec.spans.expressions.get_or_insert_with(Default::default).command = Some(value.span);
                }
            }
            PropertyId::Sidecars => {
                let items: &[Node] = match &value.value {
                    Value::Seq(items) => items,
                    Value::Null => &[],
                    _ => {
                        self.error(
                            format!("expected a list of sidecar descriptions, found {}", value.kind_name()),
                            value.span,
                            Some(at),
                        )
                        .help = Some("write each sidecar as a list item: `- name: redis01`".into());
                        &[]
                    }
                };
                let main = spec.name.clone();
                let parent_label = if main.is_empty() { description.provisional.to_string() } else { main };
                for (i, item) in items.iter().enumerate() {
                    if let Some(sidecar) = self.container(item, i, Some(&parent_label)) {
                        spec.sidecars.push(sidecar);
                    }
                }
            }
            PropertyId::Timeout => {
                if let Some((timeout, written)) = self.duration(value, at) {
                    if timeout.is_zero() {
                        self.error(
                            format!("the timeout must be longer than zero, found `{written}`"),
                            value.span,
                            Some(at),
                        )
                        .help = Some("remove `timeout` for no time limit".into());
                    } else {
                        spec.timeout = Some(timeout);
                    }
                }
            }
            PropertyId::Retries => {
                written.retries_node = Some(value);
                spec.retries = self.retries(value, at).unwrap_or(0);
            }
            PropertyId::RetryDelay => {
                written.retry_delay_key = Some(key.span);
                if let Some((delay, _)) = self.duration(value, at) {
                    spec.retry_delay = delay;
                }
            }
            PropertyId::Ready => {
                if description.parent.is_none() {
                    let sidecars =
                        description.fields.iter().find(|(p, _, _)| p.id == PropertyId::Sidecars).map(|(_, _, v)| *v);
                    let help = ready_help(sidecars);
                    self.error("`ready` applies to sidecars only", key.span, Some(at)).help = Some(help);
                    return;
                }
                spec.ready = self.ready(value, key.span, label).map(Box::new);
            }
            PropertyId::Pull => {
                if let Some(text) = self.text(value, at, false) {
                    match PullPolicy::parse(&text) {
                        Some(policy) => spec.pull = Some(policy),
                        None => {
                            let known = PullPolicy::ALL.map(|(name, _)| name);
                            let help = match properties::suggest(&text, known) {
                                Some(close) => format!("did you mean `{close}`?"),
                                None => "`missing` pulls only an absent image, `always` before every run, `never` not at all".into(),
                            };
                            self.error(
                                format!("invalid pull policy `{text}`: expected `always`, `missing` or `never`"),
                                value.span,
                                Some(at),
                            )
                            .help = Some(help);
                        }
                    }
                }
            }
            PropertyId::RunOn => {
                spec.spans.run_on = Some(key.span);
                spec.run_on = self.run_on(value, at);
            }
            PropertyId::TlsVerify => spec.tls_verify = self.bool_value(value, at).unwrap_or(true),
            PropertyId::RunOnce => spec.run_once = self.bool_value(value, at).unwrap_or(false),
            PropertyId::Placement => {
                for (constraint, span) in self.string_list(value, at) {
                    if let Ok(placement) = constraint.parse::<Placement>() {
                        spec.placement.push(placement);
                    } else {
                        self.error(format!("invalid placement constraint `{constraint}`"), span, Some(at)).help =
                            Some("write `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE`, e.g. `node.labels.disk==ssd` or `node.role==worker`".into());
                    }
                }
            }
            PropertyId::Resources => spec.resources = self.resources(value, at, label).map(Box::new),
            PropertyId::CatchUp => {
                spec.catch_up = self.bool_value(value, at).unwrap_or(false);
                written.service_only_keys.push((key.span, "catch_up"));
            }
            PropertyId::Schedule => {
                written.service_only_keys.push((key.span, "schedule"));
                if let Some(text) = self.text(value, at, false) {
                    match copili_schedule::Schedule::parse(&text) {
                        Ok(schedule) => spec.schedule = Some(Box::new(schedule)),
                        Err(error) => {
                            let message = error.to_string();
                            let (message, help) = match message.split_once("; ") {
                                Some((message, help)) => (message.to_string(), Some(help.to_string())),
                                None => (message, None),
                            };
                            self.error(message, value.span, Some(at)).help = help;
                        }
                    }
                }
            }
            PropertyId::Timezone => {
                written.service_only_keys.push((key.span, "timezone"));
                if let Some(name) = self.text(value, at, false) {
                    match copili_schedule::parse_time_zone(&name) {
                        Ok(_) => spec.timezone = Some(name.trim().to_string()),
                        Err(_) => {
                            let known: Vec<String> =
                                copili_schedule::jiff::tz::db().available().map(|n| n.as_str().to_string()).collect();
                            let help = properties::suggest(name.trim(), known.iter().map(String::as_str))
                                .map(|close| format!("did you mean `{close}`?"))
                                .unwrap_or_else(|| "an IANA name such as `Europe/Berlin`, `UTC`, or `local`".into());
                            self.error(format!("unknown time zone `{}`", name.trim()), value.span, Some(at)).help =
                                Some(help);
                        }
                    }
                }
            }
            PropertyId::Build => spec.build = self.build(value, at, label).map(Box::new),
            PropertyId::Run(option) => {
                let options = spec.run_options.get_or_insert_with(Default::default);
                options.written.push((option, key.span));
                self.run_option(option, value, at, options, &mut written.env_from_files);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn an_empty_property_name_is_named_as_such() {
        assert_eq!(error_with_help(&container("    \"\": x\n")).0, "a property name must not be empty");
        assert_eq!(
            error_with_help(&container("    ? [x]\n    : y\n")).0,
            "a property name must be a string, found a list"
        );
        assert_eq!(
            error_with_help(r#"{"p": [{"name": "a", "image_repo": "busybox", "": 1}]}"#).0,
            "a property name must not be empty"
        );
    }

    #[test]
    fn retry_delay_without_retries_warns() {
        assert_eq!(
            warnings(&container("    retry_delay: 30s\n")),
            vec!["`retry_delay` has no effect without `retries`"]
        );
        assert_eq!(
            warnings(&container("    retries: 0\n    retry_delay: 30s\n")),
            vec!["`retry_delay` has no effect with `retries: 0`"]
        );
        // A variable may be 0 in one environment and more in another.
        assert!(warnings(&container("    retries: ${RETRIES:-0}\n    retry_delay: 30s\n")).is_empty());
        let p = ok(&container("    retry_delay: 30s\n"));
        assert_eq!(p.warnings[0].property.as_deref(), Some("retry_delay"));
        assert_eq!(
            p.warnings[0].help.as_deref(),
            Some("set `retries`, the number of attempts after the first, e.g. `retries: 2`")
        );
    }

    #[test]
    fn timeout_and_retries_have_no_effect_on_a_sidecar() {
        let p = ok(&sidecar("        timeout: 5m\n        retries: 2\n        retry_delay: 1s\n"));
        let messages: Vec<_> = p.warnings.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "`timeout` has no effect on a sidecar",
                "`retries` has no effect on a sidecar",
                "`retry_delay` has no effect on a sidecar"
            ]
        );
        let s = &p.containers[0].sidecars[0];
        assert_eq!((s.timeout, s.retries), (None, 0));
    }

    #[test]
    fn ready_only_on_sidecars() {
        let (message, help) = error_with_help(&container("    ready: redis-cli ping\n"));
        assert_eq!(message, "`ready` applies to sidecars only");
        assert_eq!(
            help.as_deref(),
            Some("`ready` checks a sidecar before its container starts; put it on a sidecar, under `sidecars`")
        );
        let text = "p:\n  - name: a\n    image_repo: busybox\n    ready: redis-cli ping\n    sidecars:\n      - name: cache\n        image_repo: redis\n";
        assert_eq!(
            error_with_help(text).1.as_deref(),
            Some("`ready` checks a sidecar before its container starts; put it on the sidecar `cache`")
        );
        // Not parsed further: one error, not two.
        assert_eq!(errors(&container("    ready: {comand: x}\n")).len(), 1);
    }

    #[test]
    fn pull_policy_and_tls_verify() {
        let p = ok("p:\n  - {name: a, image_repo: x, pull: never, tls_verify: false}\n  - {name: b, image_repo: x, pull: Always}\n  - {name: c, image_repo: x}\n");
        assert_eq!(p.containers[0].pull, Some(PullPolicy::Never));
        assert!(!p.containers[0].tls_verify);
        assert_eq!(p.containers[1].pull, Some(PullPolicy::Always));
        assert_eq!((p.containers[2].pull, p.containers[2].tls_verify), (None, true));
        let (message, help) = error_with_help(&container("    pull: misssing\n"));
        assert_eq!(message, "invalid pull policy `misssing`: expected `always`, `missing` or `never`");
        assert_eq!(help.as_deref(), Some("did you mean `missing`?"));
        assert_eq!(errors(&container("    tls_verify: maybe\n")).len(), 1);
    }

    #[test]
    fn service_properties() {
        let p = ok("p:\n  - {name: a, image_repo: x, is_service_container: true, schedule: every 10m, timezone: Europe/Berlin, catch_up: true, run_once: true}\n");
        let a = &p.containers[0];
        assert_eq!(a.schedule.as_ref().map(ToString::to_string).as_deref(), Some("every 10m"));
        assert_eq!((a.timezone.as_deref(), a.catch_up, a.run_once), (Some("Europe/Berlin"), true, true));
        let (message, help) =
            error_with_help("p:\n  - {name: a, image_repo: x, is_service_container: true, timezone: Europe/Berlinn}\n");
        assert_eq!(
            (message.as_str(), help.as_deref()),
            ("unknown time zone `Europe/Berlinn`", Some("did you mean `Europe/Berlin`?"))
        );
        let (message, help) =
            error_with_help("p:\n  - {name: a, image_repo: x, is_service_container: true, schedule: every 0s}\n");
        assert!(message.starts_with("invalid interval in schedule `every 0s`"), "{message}");
        assert!(help.is_some_and(|h| h.contains("daily")));
        assert_eq!(
            warnings("p:\n  - {name: a, image_repo: x, schedule: daily 03:30}\n"),
            vec!["`schedule` has no effect: `a` is not a service container"]
        );
    }

    #[test]
    fn placement_resources_and_env_from_variables() {
        let p = ok("p:\n  - name: a\n    image_repo: x\n    placement: [node.labels.disk==ssd, 'node.role != manager']\n    resources: {cpus: 1.5, memory: 512m, reservations: {cpus: 0.5, memory: 256Mi}}\n    env_vars: {A: literal, B: $PW, C: 'cost $$5', D: '${DB}x'}\n");
        let a = &p.containers[0];
        let placement: Vec<String> = a.placement.iter().map(ToString::to_string).collect();
        assert_eq!(placement, vec!["node.labels.disk==ssd", "node.role!=manager"]);
        let r = a.resources.as_deref().expect("resources");
        assert_eq!((r.limits.cpus, r.limits.memory), (Some(1.5), Some(512 << 20)));
        assert_eq!((r.reservations.cpus, r.reservations.memory), (Some(0.5), Some(256 << 20)));
        assert_eq!(a.env_from_variables, vec!["B", "D"]);
        let p = ok("p:\n  - {name: a, image_repo: x, resources: {limits: {memory: 1g}}, env_vars: [X=$PW, Y=1]}\n");
        assert_eq!(p.containers[0].resources.as_ref().and_then(|r| r.limits.memory), Some(1 << 30));
        assert_eq!(p.containers[0].env_from_variables, vec!["X"]);
        assert_eq!(error_with_help(&container("    placement: [ssd]\n")).0, "invalid placement constraint `ssd`");
        assert_eq!(error_with_help(&container("    resources: {memory: lots}\n")).0, "invalid amount of memory `lots`");
        assert_eq!(
            error_with_help(&container("    resources: {cpus: 0}\n")).0,
            "invalid number of CPUs `0`: expected a number above 0, e.g. `0.5` or `2`"
        );
        assert_eq!(
            error_with_help(&container("    resources: {cpu: 1}\n")),
            ("unknown resource `cpu`".into(), Some("did you mean `cpus`?".into()))
        );
        assert_eq!(
            error_with_help(&container("    resources: {memory: 1g, reservations: {memory: 2g}}\n")).0,
            "a reservation is larger than its limit"
        );
        assert_eq!(parse_memory("1.5g"), Some(3 << 29));
        assert_eq!(parse_memory("10 MB"), Some(10 << 20));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn a_dependency_listed_twice_warns_and_the_rest_are_kept() {
        let text = "p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x}\n  - {name: c, image_repo: x, \
                    dependencies: [a, a, b]}\n";
        assert_eq!(warnings(text), ["dependency `a` is listed twice"]);
        assert_eq!(ok(text).containers[2].dependencies, ["a", "b"]);
    }

    #[test]
    fn an_invalid_env_name_is_refused_and_the_other_variables_are_kept() {
        let text = container("    env_vars: [=1, A=2]\n");
        assert_eq!(errors(&text), ["invalid environment variable name: it must be non-empty and hold no `=`"]);
        let draft = load_draft(Input::Text(&text), &options());
        let pipeline = draft.pipeline.expect("a draft pipeline");
        let names: Vec<&str> = pipeline.containers[0].env_vars.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["A"]);
    }
}
