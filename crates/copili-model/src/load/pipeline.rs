//! The loader's walk of the document: the pipeline's top-level key, its list of containers,
//! and the names that must be unique across them.

use super::*;

impl Loader {
    /// Converts the whole document; takes the tree by value so that each container's nodes
    /// are freed as soon as it is converted (peak memory for large pipelines).
    pub(super) fn pipeline(
        &mut self,
        root: Node,
        mut containers: Vec<ContainerSpec>,
        streamed: usize,
    ) -> Option<(String, Span, Vec<ContainerSpec>)> {
        let Value::Map(top) = &root.value else {
            let help = matches!(root.value, Value::Seq(_))
                .then_some("put the list under the pipeline's name, e.g. `my-pipeline:` on the first line");
            let d = self.error(
                format!(
                    "expected a mapping with one key, the pipeline's name, holding a list of containers; found {}",
                    root.kind_name()
                ),
                root.span,
                None,
            );
            if let Some(help) = help {
                d.help = Some(help.into());
            }
            return None;
        };
        let Some((key, value)) = top.first() else {
            self.error("empty pipeline file: expected a mapping with one key, the pipeline's name", root.span, None);
            return None;
        };
        for (other, _) in top.iter().skip(1) {
            let first = key.as_scalar().map(|(k, _)| k.to_string()).unwrap_or_default();
            let shown = other.as_scalar().map(|(k, _)| k.to_string()).unwrap_or_default();
            self.error(
                format!("more than one top-level key (`{shown}`): a pipeline file holds one pipeline"),
                other.span,
                None,
            )
            .notes
            .push(crate::diagnostic::Note {
                message: format!("the pipeline `{first}` is defined here"),
                span: key.span,
            });
        }
        let at = At { container: "", property: "" };
        let name = match self.text(key, at, false) {
            Some(name) if !name.trim().is_empty() => name,
            Some(_) => {
                self.error("the pipeline's name (the top-level key) is empty", key.span, None);
                String::new()
            }
            None => String::new(),
        };
        let (key_span, value_kind, value_span) = (key.span, value.kind_name(), value.span);
        let Value::Map(top) = root.value else { return None };
        let (_, value) = top.into_iter().next()?;
        let items: Vec<Node> = match value.value {
            Value::Seq(items) => items,
            Value::Null => Vec::new(),
            _ => {
                self.error(
                    format!("expected the list of containers of pipeline `{name}`, found {value_kind}"),
                    value_span,
                    None,
                );
                return None;
            }
        };
        if items.is_empty() && streamed == 0 {
            self.error(format!("empty pipeline `{name}`: it names no containers"), key_span, None);
        }
        containers.reserve(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let specs = self.containers_of(&item, streamed + index);
            containers.extend(specs);
        }
        self.check_unique_names(&containers);
        self.fan_in_dependencies(&mut containers);
        // A built image without `image_repo` is named after the pipeline and the container.
        for container in &mut containers {
            default_build_repo(container, &name);
            for sidecar in &mut container.sidecars {
                default_build_repo(sidecar, &name);
            }
        }
        Some((name, key_span, containers))
    }

    /// Containers' names are unique in the pipeline; a sidecar's name is unique among its
    /// container's sidecars and differs from its container's name (they are hostnames on the
    /// job's network), but two containers may each have a sidecar `db`: each is reached only on
    /// its own job's network, and the engine names `<pipeline>-<main>-<sidecar>` differ.
    pub(super) fn check_unique_names(&mut self, containers: &[ContainerSpec]) {
        let mut seen: HashMap<&str, (Span, Option<&crate::spec::MatrixOrigin>)> =
            HashMap::with_capacity(containers.len());
        for container in containers {
            if container.name.is_empty() {
                continue;
            }
            match seen.get(container.name.as_str()) {
                Some(&(first, first_origin)) => {
                    // A name made by a `matrix` says which expansion made it.
                    let origin = container.matrix.as_deref().or(first_origin);
                    let help = match origin {
                        Some(o) => format!(
                            "`{}` is the expansion of the matrix `{}` for {}; rename the container or change the value",
                            container.name,
                            o.base,
                            o.values_text()
                        ),
                        None => "container names must be unique in a pipeline".to_string(),
                    };
                    self.duplicate(&container.name, &container.name, "a container", container.spans.name, first, &help)
                }
                None => {
                    seen.insert(&container.name, (container.spans.name, container.matrix.as_deref()));
                }
            }
        }
        for container in containers {
            let mut on_network: HashMap<&str, Span> = HashMap::with_capacity(container.sidecars.len() + 1);
            if !container.name.is_empty() {
                on_network.insert(&container.name, container.spans.name);
            }
            for sidecar in &container.sidecars {
                if sidecar.name.is_empty() {
                    continue;
                }
                let label = format!("{}/{}", container.name, sidecar.name);
                match on_network.get(sidecar.name.as_str()) {
                    Some(&first) if sidecar.name == container.name => self.duplicate(
                        &sidecar.name,
                        &label,
                        "the name of its own container",
                        sidecar.spans.name,
                        first,
                        "a sidecar and its container share a network where each is reached by its name; rename the sidecar",
                    ),
                    Some(&first) => self.duplicate(
                        &sidecar.name,
                        &label,
                        &format!("a sidecar of `{}`", container.name),
                        sidecar.spans.name,
                        first,
                        "names must be unique among one container's sidecars",
                    ),
                    None => {
                        on_network.insert(&sidecar.name, sidecar.spans.name);
                    }
                }
            }
        }
        // Engine-side names are `<pipeline>-<name>` and, for sidecars, `<pipeline>-<main>-<sidecar>`:
        // a sidecar `db` of `load` and a container `load-db` would be the same container, and so
        // would the sidecars `c` of `a-b` and `b-c` of `a`.
        let mut engine: HashMap<String, (Span, Option<String>)> = HashMap::new();
        for container in containers {
            if !container.name.is_empty() {
                engine.entry(container.name.clone()).or_insert((container.spans.name, None));
            }
        }
        for container in containers {
            for sidecar in &container.sidecars {
                if container.name.is_empty() || sidecar.name.is_empty() {
                    continue;
                }
                let joined = format!("{}-{}", container.name, sidecar.name);
                let label = format!("{}/{}", container.name, sidecar.name);
                match engine.get(joined.as_str()).map(|(span, other)| (*span, other.as_deref())) {
                    Some((span, None)) => {
                        let message = format!(
                            "the sidecar `{}` of `{}` and the container `{joined}` would have the same name on the engine",
                            sidecar.name, container.name
                        );
                        self.error(message, sidecar.spans.name, Some(At { container: &label, property: "name" }))
                            .notes
                            .push(crate::diagnostic::Note { message: format!("`{joined}` is defined here"), span });
                        if let Some(d) = self.diagnostics.last_mut() {
                            d.help = Some("rename the sidecar or the container".into());
                        }
                    }
                    // The same sidecar listed twice in one container has its own error above.
                    Some((_, Some(other))) if other == label => {}
                    Some((span, Some(other))) => {
                        let message = format!(
                            "the sidecars `{label}` and `{other}` would have the same name on the engine (`{joined}`)"
                        );
                        self.error(message, sidecar.spans.name, Some(At { container: &label, property: "name" }))
                            .notes
                            .push(crate::diagnostic::Note { message: format!("`{other}` is defined here"), span });
                        if let Some(d) = self.diagnostics.last_mut() {
                            d.help = Some("rename one of the sidecars".into());
                        }
                    }
                    None => {
                        engine.insert(joined, (sidecar.spans.name, Some(label)));
                    }
                }
            }
        }
    }

    /// A name used a second time where it must be unique.
    fn duplicate(&mut self, name: &str, label: &str, already: &str, span: Span, first: Span, help: &str) {
        self.error(
            format!("duplicate name `{name}`: it is already {already}"),
            span,
            Some(At { container: label, property: "name" }),
        )
        .notes
        .push(crate::diagnostic::Note { message: "first defined here".into(), span: first });
        if let Some(d) = self.diagnostics.last_mut() {
            d.help = Some(help.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;

    #[test]
    fn a_sidecar_anchored_once_is_reused_by_two_containers() {
        let p = ok("p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - &db {name: db, image_repo: redis, tag: '7'}\n  - name: b\n    image_repo: busybox\n    sidecars: [*db]\n");
        let sidecars: Vec<_> = p
            .containers
            .iter()
            .flat_map(|c| c.sidecars.iter().map(|s| (c.name.as_str(), s.name.as_str(), s.image())))
            .collect();
        assert_eq!(sidecars, vec![("a", "db", "redis:7".to_string()), ("b", "db", "redis:7".to_string())]);
        // A sidecar may also be named like another job's container: it lives on its own job's network.
        let p = ok("p:\n  - name: db\n    image_repo: busybox\n  - name: b\n    image_repo: busybox\n    sidecars: [{name: db, image_repo: redis}]\n");
        assert_eq!(p.containers[1].sidecars[0].name, "db");
    }

    #[test]
    fn the_same_sidecar_in_two_containers_of_a_json_pipeline() {
        let p = ok(
            r#"{"p":[{"name":"a","image_repo":"busybox","sidecars":[{"name":"db","image_repo":"redis"}]},{"name":"b","image_repo":"busybox","sidecars":[{"name":"db","image_repo":"redis"}]}]}"#,
        );
        assert_eq!(p.containers[0].sidecars[0].name, "db");
        assert_eq!(p.containers[1].sidecars[0].name, "db");
    }

    #[test]
    fn names_stay_unique_where_they_meet() {
        // Among one container's sidecars.
        assert_eq!(
            error_with_help("p:\n  - name: a\n    image_repo: busybox\n    sidecars: [{name: db, image_repo: redis}, {name: db, image_repo: redis}]\n"),
            (
                "duplicate name `db`: it is already a sidecar of `a`".into(),
                Some("names must be unique among one container's sidecars".into())
            )
        );
        // A sidecar and its own container share a network, where each is reached by its name.
        let (message, help) =
            error_with_help("p:\n  - name: a\n    image_repo: busybox\n    sidecars: [{name: a, image_repo: redis}]\n");
        assert_eq!(message, "duplicate name `a`: it is already the name of its own container");
        assert!(help.is_some_and(|h| h.contains("share a network")));
        // Containers among themselves.
        assert_eq!(
            error_with_help("p:\n  - name: a\n    image_repo: busybox\n  - name: a\n    image_repo: busybox\n"),
            (
                "duplicate name `a`: it is already a container".into(),
                Some("container names must be unique in a pipeline".into())
            )
        );
        // Engine names: `<main>-<sidecar>` against a container and against another sidecar.
        assert_eq!(
            error_with_help("p:\n  - name: load-db\n    image_repo: busybox\n  - name: load\n    image_repo: busybox\n    sidecars: [{name: db, image_repo: redis}]\n").0,
            "the sidecar `db` of `load` and the container `load-db` would have the same name on the engine"
        );
        assert_eq!(
            error_with_help("p:\n  - name: a-b\n    image_repo: busybox\n    sidecars: [{name: c, image_repo: redis}]\n  - name: a\n    image_repo: busybox\n    sidecars: [{name: b-c, image_repo: redis}]\n").0,
            "the sidecars `a/b-c` and `a-b/c` would have the same name on the engine (`a-b-c`)"
        );
    }
}
