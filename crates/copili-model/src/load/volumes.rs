//! The loader's conversion of `volumes`: both forms through one set of rules, so that a mount
//! the engine would split differently is refused in either.

use super::*;

impl Loader {
    pub(super) fn volumes(&mut self, node: &Node, container: &str) -> Vec<Volume> {
        let at = At { container, property: "volumes" };
        let mut volumes: Vec<(Volume, Span)> = Vec::new();
        match &node.value {
            Value::Null => {}
            // docker-py: {HOST: {bind: PATH, mode: rw|ro}}
            Value::Map(entries) => {
                for (key, value) in entries {
                    let Some(host) = self.text(key, at, false) else { continue };
                    // Debug-quoted: a line break in the host would otherwise end the line.
                    let path = format!("volumes[{host:?}]");
                    let shown = host.escape_debug().to_string();
                    let at = At { container, property: &path };
                    let Value::Map(options) = &value.value else {
                        self.error(
                            format!("expected `{{bind: PATH, mode: rw|ro}}`, found {}", value.kind_name()),
                            value.span,
                            Some(at),
                        )
                        .help = Some(format!("or use the list form: `- {shown}:/path/in/container:ro`"));
                        continue;
                    };
                    let mut bind: Option<(String, Span)> = None;
                    let mut mode: Option<(String, Span)> = None;
                    for (option_key, option_value) in options {
                        match option_key.as_scalar().map(|(k, _)| k) {
                            Some("bind") => bind = self.text(option_value, at, false).map(|t| (t, option_value.span)),
                            Some("mode") => mode = self.text(option_value, at, false).map(|t| (t, option_value.span)),
                            other => {
                                let text = other.unwrap_or("");
                                let help =
                                    properties::suggest(text, ["bind", "mode"]).map(|s| format!("did you mean `{s}`?"));
                                let d = self.error(
                                    format!("unknown volume option `{text}`: expected `bind` and `mode`"),
                                    option_key.span,
                                    Some(at),
                                );
                                d.help = help;
                            }
                        }
                    }
                    let Some((target, target_span)) = bind else {
                        self.error("missing `bind`: the path inside the container", key.span, Some(at)).help =
                            Some(format!("write `{shown}: {{bind: /path/in/container, mode: rw}}`"));
                        continue;
                    };
                    let mode = mode.as_ref().map(|(m, span)| (m.as_str(), *span));
                    if let Some(volume) = self.mount(&host, key.span, &target, target_span, mode, at) {
                        volumes.push((volume, target_span));
                    }
                }
            }
            // compose short syntax: HOST:PATH[:ro|:rw]
            Value::Seq(items) => {
                for item in items {
                    let Some(text) = (match &item.value {
                        Value::Scalar { .. } => self.text(item, at, false),
                        _ => {
                            self.error(
                                format!("expected `HOST:PATH[:ro|:rw]`, found {}", item.kind_name()),
                                item.span,
                                Some(at),
                            );
                            None
                        }
                    }) else {
                        continue;
                    };
                    // Checked before the split: the line would be quoted in the message.
                    if let Some(found) = forbidden_in_path(&text) {
                        self.path_error("the volume", found, item.span, at);
                        continue;
                    }
                    let (host, target, mode) = match text.split(':').collect::<Vec<_>>().as_slice() {
                        [host, target] => (*host, *target, None),
                        // `./a:b:/c`: a `:` inside a path, not a mode.
                        [host, target, mode] if !mode.starts_with('/') => (*host, *target, Some((*mode, item.span))),
                        _ => {
                            self.error(
                                format!("invalid volume `{text}`: expected `HOST:PATH[:ro|:rw]`"),
                                item.span,
                                Some(at),
                            )
                            .help =
                                Some("neither the host path nor the path inside the container may hold a `:`".into());
                            continue;
                        }
                    };
                    if let Some(volume) = self.mount(host, item.span, target, item.span, mode, at) {
                        volumes.push((volume, item.span));
                    }
                }
            }
            Value::Scalar { .. } => {
                self.error("expected a list of `HOST:PATH[:ro|:rw]` or a mapping `{HOST: {bind: PATH, mode: rw}}`, found a string", node.span, Some(at))
                    .help = Some("write a list: `- ./data:/data:ro`".into());
            }
        }
        // Engines refuse two mounts on one path.
        let mut out: Vec<Volume> = Vec::with_capacity(volumes.len());
        let mut targets: HashMap<String, Span> = HashMap::new();
        for (volume, span) in volumes {
            let normalized = volume.target.trim_end_matches('/').to_string();
            if let Some(first) = targets.get(&normalized) {
                let first = *first;
                self.error(format!("two volumes are mounted on `{}`", volume.target), span, Some(at))
                    .notes
                    .push(crate::diagnostic::Note { message: "first mounted here".into(), span: first });
                continue;
            }
            targets.insert(normalized, span);
            out.push(volume);
        }
        out
    }

    /// Reports a path holding a character of [`PATH_FORBIDDEN`] (the path is not quoted: it
    /// would break the message's line).
    pub(super) fn path_error(&mut self, what: &str, found: &str, span: Span, at: At<'_>) {
        self.error(format!("{what} holds {found}"), span, Some(at)).help = Some(
            "docker and podman would read such a path differently: paths hold no line breaks or NUL characters".into(),
        );
    }

    /// Checks one mount, `(host, target, mode)`, by the same rules for both forms of `volumes`:
    /// what the list form cannot say (a `:` inside a path) the mapping form may not say either,
    /// as the engine would split it differently; no path holds a line break or a NUL.
    pub(super) fn mount(
        &mut self,
        host: &str,
        host_span: Span,
        target: &str,
        target_span: Span,
        mode: Option<(&str, Span)>,
        at: At<'_>,
    ) -> Option<Volume> {
        if host.is_empty() {
            self.error("the volume's host side is empty", host_span, Some(at));
            return None;
        }
        if let Some(found) = forbidden_in_path(host) {
            self.path_error("the volume's host side", found, host_span, at);
            return None;
        }
        if let Some(found) = forbidden_in_path(target) {
            self.path_error("the path inside the container", found, target_span, at);
            return None;
        }
        for (what, path, span) in
            [("the volume's host side", host, host_span), ("the path inside the container", target, target_span)]
        {
            if path.contains(':') {
                self.error(
                    format!("{what} `{path}` holds a `:`, which docker and podman read as a separator"),
                    span,
                    Some(at),
                )
                .help = Some("mount a path without `:` (a parent directory, or a symbolic link to it)".into());
                return None;
            }
        }
        if !target.starts_with('/') {
            self.error(
                format!("the path inside the container must be absolute, found `{target}`"),
                target_span,
                Some(at),
            );
            return None;
        }
        let read_only = match mode {
            None | Some(("rw", _)) => false,
            Some(("ro", _)) => true,
            Some((other, span)) => {
                self.error(format!("invalid volume mode `{other}`: expected `rw` or `ro`"), span, Some(at));
                return None;
            }
        };
        // As in compose: a bare name is a named volume, anything with `/` or a leading `.` or
        // `~` a host path.
        let source = if !host.contains('/') && !host.starts_with('.') && !host.starts_with('~') {
            if !NAME.is_match(host) {
                self.error(
                    format!("invalid volume name `{host}`: a named volume holds letters, digits, `_`, `.` and `-`; write `./{host}` for a host path"),
                    host_span,
                    Some(at),
                );
                return None;
            }
            VolumeSource::Named(host.to_string())
        } else {
            let expanded = match (host.strip_prefix("~/"), host == "~", &self.home) {
                (Some(rest), _, Some(home)) => PathBuf::from(home).join(rest),
                (_, true, Some(home)) => PathBuf::from(home),
                (Some(_), _, None) | (_, true, None) => {
                    self.error("`~` in a volume path, but `HOME` is not set", host_span, Some(at));
                    return None;
                }
                _ => PathBuf::from(host),
            };
            VolumeSource::HostPath { written: host.to_string(), resolved: absolute(&expanded, &self.base_dir) }
        };
        Some(Volume { source, target: target.to_string(), read_only })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn volumes_both_forms() {
        let p = ok("p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./data: {bind: /data, mode: ro}\n      cache: {bind: /cache}\n      ~/x: {bind: /x}\n");
        let v = &p.containers[0].volumes;
        assert_eq!(v[0].short_form(), "/work/data:/data:ro");
        assert_eq!(v[1].source, VolumeSource::Named("cache".into()));
        assert_eq!(v[2].short_form(), "/home/u/x:/x:rw");
        let p = ok(
            "p:\n  - name: a\n    image_repo: busybox\n    volumes: [\"../up:/up:ro\", \"vol:/v\", \"/abs:/abs:rw\"]\n",
        );
        let forms: Vec<_> = p.containers[0].volumes.iter().map(Volume::short_form).collect();
        assert_eq!(forms, vec!["/up:/up:ro", "vol:/v:rw", "/abs:/abs:rw"]);
    }

    #[test]
    fn a_colon_in_a_mapping_volume_is_refused_as_the_list_form_cannot_say_it() {
        let host = with_volumes(serde_json::json!({ "./a:b": { "bind": "/x" } }));
        assert_eq!(
            host,
            Err(vec!["the volume's host side `./a:b` holds a `:`, which docker and podman read as a separator".into()])
        );
        let target = with_volumes(serde_json::json!({ "./a": { "bind": "/x:ro" } }));
        assert_eq!(
            target,
            Err(vec![
                "the path inside the container `/x:ro` holds a `:`, which docker and podman read as a separator".into()
            ])
        );
        let list = with_volumes(serde_json::json!(["./a:b:/x"]));
        assert_eq!(list, Err(vec!["invalid volume `./a:b:/x`: expected `HOST:PATH[:ro|:rw]`".into()]));
    }

    proptest::proptest! {
        /// Both forms of `volumes` read a `(host, target, mode)` triple by the same rules: where
        /// the list form can say it, both accept the same mount or both refuse; what only the
        /// mapping form can say (a `:` inside a path) it refuses.
        #[test]
        fn both_volume_forms_follow_the_same_rules(
            host in "[a-z./~: \n\u{0}-]{0,5}",
            target in "[a-z/: \n\r\u{0}]{0,5}",
            mode in proptest::option::of("ro|rw|rx|"),
        ) {
            let mut binding = serde_json::json!({ "bind": target });
            if let Some(mode) = &mode {
                binding["mode"] = serde_json::json!(mode);
            }
            let mapping = with_volumes(serde_json::json!({ host.clone(): binding }));
            let joined = match &mode {
                Some(mode) => format!("{host}:{target}:{mode}"),
                None => format!("{host}:{target}"),
            };
            let list = with_volumes(serde_json::json!([joined]));
            if host.contains(':') || target.contains(':') {
                proptest::prop_assert!(mapping.is_err(), "{host:?} {target:?}: {mapping:?}");
            } else {
                proptest::prop_assert_eq!(mapping.is_ok(), list.is_ok(), "{:?}: {:?} / {:?}", joined, mapping, list);
                if let (Ok(a), Ok(b)) = (&mapping, &list) {
                    proptest::prop_assert_eq!(a, b);
                }
            }
            if host.contains(PATH_FORBIDDEN) || target.contains(PATH_FORBIDDEN) {
                proptest::prop_assert!(mapping.is_err() && list.is_err());
            }
        }

        /// A name set twice in the list form is an error at the second, with a note at the
        /// first, naming the name and never the value.
        #[test]
        fn duplicate_names_in_the_list_form_are_refused(names in proptest::collection::vec("[A-C]", 1..6)) {
            for property in ["env_vars", "labels"] {
                let items: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{n}=hunter2-{i}")).collect();
                let doc = serde_json::json!({ "p": [{ "name": "a", "image_repo": "busybox", property: items }] });
                let draft = load_draft(Input::Value(&doc), &options());
                let errors: Vec<_> = draft.diagnostics.errors().collect();
                let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
                proptest::prop_assert_eq!(errors.len(), names.len() - distinct.len(), "{:#?}", errors);
                for e in &errors {
                    proptest::prop_assert!(e.message.starts_with("duplicate name `"), "{}", e.message);
                    proptest::prop_assert_eq!(e.notes.len(), 1);
                    let all = format!("{} {:?} {:?}", e.message, e.help, e.notes);
                    proptest::prop_assert!(!all.contains("hunter2"), "{}", all);
                }
                let pipeline = draft.pipeline.as_ref();
                let kept = pipeline.map_or(0, |p| match property {
                    "env_vars" => p.containers[0].env_vars.len(),
                    _ => p.containers[0].labels.len(),
                });
                proptest::prop_assert_eq!(kept, distinct.len());
            }
        }
    }
}
