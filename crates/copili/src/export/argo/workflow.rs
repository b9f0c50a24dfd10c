//! The export itself: the plan's containers into one `Workflow` DAG and the `CronWorkflow`s of
//! the service containers, with the options checked first.

use copili_model::RunOn;

use super::*;
use copili_model::{AllowFailure, DependencyCondition};

/// Exports `pipeline` as planned in `plan`: the containers the plan selects and would not
/// cancel, mapped as the [`argo`](super) module documentation describes.
pub fn export(pipeline: &Pipeline, plan: &Plan, options: &ArgoOptions) -> Result<ArgoExport, ExportError> {
    let exported: Vec<usize> = plan.order().filter(|&i| plan.blocked_by(i).is_none()).collect();
    // What is not exported cannot be wrong in the documents. Handlers are the exit handler's.
    let handlers = plan.handlers();
    let refused =
        unsupported_among(pipeline.spec(), exported.iter().copied().chain(handlers.iter().copied()), Backend::Argo);
    if !refused.is_empty() {
        return Err(ExportError::Unsupported(Diagnostics { items: refused }));
    }
    check_options(options)?;
    let spec = pipeline.spec();
    let mut warnings = blocked_warnings(pipeline, plan);
    if exported.is_empty() {
        return Err(ExportError::NothingSelected);
    }
    let groups = cron_groups(pipeline, &exported, options)?;

    let base = match dns_label(pipeline.identity(), GENERATE_NAME_BASE_MAX) {
        name if name.is_empty() => ENTRYPOINT.to_string(),
        name => name,
    };
    let labels = json!({ MANAGED_BY: "copili", PIPELINE_LABEL: identity_label(pipeline.identity(), &base) });

    // Names in file order, so that a container's name does not depend on the selection.
    let mut template_names = UniqueNames::reserving(&[ENTRYPOINT, EXIT_HANDLER]);
    let task_names: Vec<String> =
        spec.containers.iter().map(|c| template_names.claim(&task_name(&c.name), DNS_LABEL_MAX)).collect();

    let mut builder = Builder {
        env_secret: format!("{base}-env"),
        plain_env: options.plain_env,
        volume_map: &options.volume_map,
        volume_map_used: vec![false; options.volume_map.len()],
        env_keys: Vec::new(),
        registry_logins: Vec::new(),
        volumes: Vec::new(),
        volume_names: UniqueNames::default(),
        warnings: Vec::new(),
    };
    let mut templates: HashMap<usize, Built> =
        exported.iter().map(|&i| (i, builder.template(&spec.containers[i], &task_names[i]))).collect();
    for &h in &handlers {
        let mut built = builder.template(&spec.containers[h], &task_names[h]);
        add_handler_env(&mut built.template);
        templates.insert(h, built);
    }
    let Builder { env_keys, registry_logins, volume_map_used, volumes, warnings: template_warnings, .. } = builder;
    warnings.extend(template_warnings);
    let handlers: Vec<(usize, RunOn)> =
        handlers.iter().filter_map(|&h| Some((h, spec.containers[h].run_on?))).collect();
    let specs = Specs {
        plan,
        containers: &spec.containers,
        task_names: &task_names,
        templates: &templates,
        handlers: &handlers,
        volumes: &volumes,
        base: &base,
    };

    let mut documents = vec![json!({
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": metadata(Some(("generateName", &format!("{base}-"))), options.namespace.as_deref(), &labels),
        "spec": specs.workflow_spec(&exported),
    })];
    let mut cron_names = UniqueNames::default();
    let mut without_zone = Vec::new();
    for group in &groups {
        let first = group.members.first().map_or(ENTRYPOINT, |&i| task_names[i].as_str());
        let name = cron_names.claim(&format!("{base}-{first}"), CRON_NAME_MAX);
        let mut cron_spec = Map::new();
        cron_spec.insert("schedules".into(), json!([group.cron]));
        match &group.zone {
            Some(zone) => {
                cron_spec.insert("timezone".into(), zone.clone().into());
            }
            None => without_zone.push(name.clone()),
        }
        // copili never starts a container while its previous run goes on.
        cron_spec.insert("concurrencyPolicy".into(), "Forbid".into());
        if group.catch_up {
            cron_spec.insert("startingDeadlineSeconds".into(), CATCH_UP_DEADLINE_SECONDS.into());
        }
        cron_spec.insert("workflowMetadata".into(), json!({ "labels": labels }));
        cron_spec.insert("workflowSpec".into(), specs.workflow_spec(&group.members));
        documents.push(json!({
            "apiVersion": API_VERSION,
            "kind": "CronWorkflow",
            "metadata": metadata(Some(("name", &name)), options.namespace.as_deref(), &labels),
            "spec": cron_spec,
        }));
    }

    if !without_zone.is_empty() {
        let one = without_zone.len() == 1;
        warnings.push(format!(
            "{} {} no time zone: Argo reads {} in the workflow controller's time zone, where copili would use \
             local time; pass --timezone or set `timezone`",
            plural_list("CronWorkflow", &without_zone),
            if one { "has" } else { "have" },
            if one { "its schedule" } else { "their schedules" },
        ));
    }
    for ((host, claim), used) in options.volume_map.iter().zip(&volume_map_used) {
        if !used {
            warnings
                .push(format!("--volume-map {}={claim}: no exported mount is at or below that path", host.display()));
        }
    }

    let mut secrets = Vec::new();
    if !env_keys.is_empty() {
        secrets.push(RequiredSecret {
            name: format!("{base}-env"),
            kind: ENV_SECRET_TYPE,
            keys: env_keys.iter().map(|(k, _)| k.clone()).collect(),
            registries: Vec::new(),
        });
    }
    if !registry_logins.is_empty() {
        secrets.push(RequiredSecret {
            name: format!("{base}-registry"),
            kind: REGISTRY_SECRET_TYPE,
            keys: vec![".dockerconfigjson".into()],
            registries: registry_logins.iter().map(|l| l.server.clone()).collect(),
        });
    }
    Ok(ArgoExport {
        documents,
        secrets,
        warnings,
        env_values: env_keys,
        registry_logins,
        labels,
        namespace: options.namespace.clone(),
    })
}

/// One warning per selected container a run would cancel, which is not exported.
pub(super) fn blocked_warnings(pipeline: &Pipeline, plan: &Plan) -> Vec<String> {
    let name = |i: usize| pipeline.spec().containers.get(i).map_or("?", |c| c.name.as_str());
    plan.blocked
        .iter()
        .map(|blocked| {
            let why = match plan.exclusion(blocked.dependency) {
                Some(reason) => format!("which is {reason}"),
                None => "which is left out too".to_string(),
            };
            format!(
                "`{}` is left out: it depends on `{}`, {why} (a run would cancel it)",
                name(blocked.container),
                name(blocked.dependency)
            )
        })
        .collect()
}

/// What a workflow spec is assembled from: the templates of the exported containers.
pub(super) struct Specs<'a> {
    plan: &'a Plan,
    /// The pipeline's containers, by index.
    containers: &'a [ContainerSpec],
    /// By container index.
    task_names: &'a [String],
    /// By container index, the exported ones.
    templates: &'a HashMap<usize, Built>,
    /// The handlers, in file order: every workflow's exit handler.
    handlers: &'a [(usize, RunOn)],
    volumes: &'a [PodVolume],
    /// The DNS form of the identity.
    base: &'a str,
}

impl Specs<'_> {
    /// The spec of a workflow running `members` (in plan order): a DAG of them, their
    /// dependencies on others dropped (met by earlier runs), the handlers as its exit handler,
    /// and what their templates need.
    pub(super) fn workflow_spec(&self, members: &[usize]) -> Value {
        let built = || members.iter().chain(self.handlers.iter().map(|(h, _)| h)).filter_map(|i| self.templates.get(i));
        let mut spec = Map::new();
        spec.insert("entrypoint".into(), ENTRYPOINT.into());
        if !self.handlers.is_empty() {
            spec.insert("onExit".into(), EXIT_HANDLER.into());
        }
        if built().any(|t| t.registry_login) {
            spec.insert("imagePullSecrets".into(), json!([{ "name": format!("{}-registry", self.base) }]));
        }
        let mut volumes: Vec<usize> = built().flat_map(|t| t.volumes.iter().copied()).collect();
        volumes.sort_unstable();
        volumes.dedup();
        if !volumes.is_empty() {
            let entries = volumes.iter().filter_map(|&v| self.volumes.get(v)).map(|v| v.entry.clone()).collect();
            spec.insert("volumes".into(), Value::Array(entries));
        }
        let name = |i: usize| Value::String(self.task_names.get(i).cloned().unwrap_or_default());
        let tasks: Vec<Value> = members
            .iter()
            .map(|&i| {
                let mut task = Map::new();
                task.insert("name".into(), name(i));
                task.insert("template".into(), name(i));
                let dependencies: Vec<usize> =
                    self.plan.dependencies(i).into_iter().filter(|d| members.contains(d)).collect();
                let spec = &self.containers[i];
                let completed =
                    |d: usize| spec.condition_of(&self.containers[d].name) == DependencyCondition::Completed;
                if dependencies.iter().any(|&d| completed(d)) {
                    // `depends` (not `dependencies`, which cannot say "ended, even failed"): a
                    // `completed` dependency, or one allowed to fail, is met when it failed too.
                    let terms: Vec<String> = dependencies
                        .iter()
                        .map(|&d| {
                            let task = self.task_names.get(d).cloned().unwrap_or_default();
                            if completed(d) || self.containers[d].allow_failure() == &AllowFailure::Any {
                                format!("({task}.Succeeded || {task}.Failed)")
                            } else {
                                task
                            }
                        })
                        .collect();
                    task.insert("depends".into(), Value::String(terms.join(" && ")));
                } else if !dependencies.is_empty() {
                    task.insert("dependencies".into(), Value::Array(dependencies.into_iter().map(name).collect()));
                }
                // An allowed failure: its dependents run, and the workflow does not fail by it.
                if spec.allow_failure() == &AllowFailure::Any {
                    task.insert("continueOn".into(), json!({ "failed": true }));
                }
                Value::Object(task)
            })
            .collect();
        // copili runs on after a failure, cancelling only what depends on it; Argo's DAG
        // would stop scheduling at the first failure.
        let mut templates = vec![json!({ "name": ENTRYPOINT, "dag": { "failFast": false, "tasks": tasks } })];
        if !self.handlers.is_empty() {
            let handlers: Vec<(String, RunOn)> = self
                .handlers
                .iter()
                .map(|&(h, run_on)| (self.task_names.get(h).cloned().unwrap_or_default(), run_on))
                .collect();
            templates.push(exit_template(&handlers));
        }
        templates.extend(built().map(|t| t.template.clone()));
        spec.insert("templates".into(), Value::Array(templates));
        Value::Object(spec)
    }
}

pub(super) fn check_options(options: &ArgoOptions) -> Result<(), ExportError> {
    if let Some(namespace) = &options.namespace {
        if !is_dns_label(namespace) {
            return Err(ExportError::Namespace(namespace.clone()));
        }
    }
    for (host, claim) in &options.volume_map {
        if !host.is_absolute() {
            return Err(ExportError::RelativeHostPath(host.clone()));
        }
        if !is_dns_subdomain(claim) {
            return Err(ExportError::ClaimName { host: host.clone(), claim: claim.clone() });
        }
    }
    if let Some(zone) = options.default_timezone.as_deref().filter(|z| !is_local(z)) {
        copili_schedule::parse_time_zone(zone)
            .map_err(|source| ExportError::TimeZone { name: zone.to_string(), source })?;
    }
    Ok(())
}

pub(super) fn is_local(zone: &str) -> bool {
    zone.trim().eq_ignore_ascii_case("local")
}

/// `metadata` with an optional name field (`name` or `generateName`), namespace and labels.
pub(super) fn metadata(name: Option<(&str, &str)>, namespace: Option<&str>, labels: &Value) -> Value {
    let mut map = Map::new();
    if let Some((field, value)) = name {
        map.insert(field.into(), value.into());
    }
    if let Some(namespace) = namespace {
        map.insert("namespace".into(), namespace.into());
    }
    map.insert("labels".into(), labels.clone());
    Value::Object(map)
}

/// The pipeline label's value: the identity as a label value, else the DNS form.
pub(super) fn identity_label(identity: &str, base: &str) -> String {
    match label_value(identity) {
        value if value.is_empty() => base.to_string(),
        value => value,
    }
}
