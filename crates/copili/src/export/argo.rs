//! Argo Workflows documents for a pipeline (`copili export argo`): a `Workflow` that runs the
//! selected containers as a DAG, as `copili run` would, and one `CronWorkflow` per schedule of
//! the service containers, as `copili service` reruns them.
//!
//! The selection is the [`Plan`]'s: containers it leaves out are not exported, and neither is a
//! selected container that the run would cancel because a dependency is left out (copili 1.4's
//! "cancelled"), with a warning. Everything else maps property by property (docs/cli.md,
//! `copili export argo`, has the table); what has no Argo or Kubernetes counterpart is named in
//! [`ArgoExport::warnings`]. The container options a pod cannot carry are refused first
//! ([`ExportError::Unsupported`], from `copili_planner::unsupported_among`).
//!
//! Secrets never reach the documents: every `env_vars` value (of containers and sidecars,
//! written in the file or from a `${VARIABLE}`: copili treats them all as secrets) becomes a
//! `secretKeyRef` into the Secret `<pipeline>-env`, registry logins become the
//! `imagePullSecrets` entry `<pipeline>-registry`. The values are only in
//! [`ArgoExport::secrets_manifest`], which the binary writes to a private file on request.
//! [`ArgoOptions::plain_env`] is the one way to write env values into the documents.
//!
//! Argo's v4 schema is the reference: a container template's container needs a `name`, and a
//! `CronWorkflow` lists its `schedules` (the singular `schedule` is gone).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use copili_model::{
    ContainerSpec, Gpus, HostAddress, NetworkMode, Placement, PlacementOp, PullPolicy, ReadyCheck, RunOptions, Secret,
    VolumeSource,
};
use copili_schedule::{NoStandardCron, Schedule};
use serde_json::{json, Map, Value};

use super::{
    base64, dns_label, is_dns_label, is_dns_subdomain, label_key, label_value, secret_key, UniqueNames, DNS_LABEL_MAX,
};
use crate::planner::{unsupported_among, Backend};
use crate::{Diagnostics, Pipeline, Plan};

/// The API version of every Argo document.
pub const API_VERSION: &str = "argoproj.io/v1alpha1";

/// The name of the DAG template every workflow starts at.
const ENTRYPOINT: &str = "pipeline";

/// Argo names a CronWorkflow's workflows `<name>-<timestamp>` within 63 characters.
const CRON_NAME_MAX: usize = 52;

/// `generateName` gets five random characters appended, within 63.
const GENERATE_NAME_BASE_MAX: usize = 57;

/// How long after a missed slot a `catch_up` container still runs (`startingDeadlineSeconds`).
pub const CATCH_UP_DEADLINE_SECONDS: u64 = 86_400;

/// The label naming the tool that manages a document.
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The label naming the pipeline (its identity, as a label value).
const PIPELINE_LABEL: &str = "io.copili/pipeline";
/// The annotation keeping a container's name as written.
const CONTAINER_ANNOTATION: &str = "io.copili/container";

/// What to export besides the pipeline itself.
#[derive(Debug, Clone, Default)]
pub struct ArgoOptions {
    /// `--volume-map HOST=PVC`: absolute host paths and the PersistentVolumeClaims that replace
    /// them. A mount of that path, or of a path below it (then with a `subPath`), uses the claim
    /// instead of a `hostPath` volume; the longest matching path wins.
    pub volume_map: Vec<(PathBuf, String)>,
    /// The namespace of every document; `None` leaves it to `kubectl` or `argo`.
    pub namespace: Option<String>,
    /// The schedule of service containers without their own (`--every`, `--cron`); daily at
    /// 00:00 by default, as for `copili service`.
    pub default_schedule: Schedule,
    /// The time zone of schedules without their own `timezone` (`--timezone`). `None` or
    /// `local`: the document has no `timezone`, and Argo uses its controller's.
    pub default_timezone: Option<String>,
    /// `--plain-env`: write env values in clear into the documents (`env[].value`), instead
    /// of reading them from the Secret `<pipeline>-env`. Registry logins stay in their Secret.
    pub plain_env: bool,
}

/// Why a pipeline cannot be exported with these options.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A container's own schedule has no cron form.
    #[error("container `{container}`, property `schedule`: `{schedule}` cannot be an Argo schedule: {reason}")]
    ContainerSchedule {
        /// The container.
        container: String,
        /// Its schedule, as copili writes it.
        schedule: String,
        /// Why, and what to write instead.
        reason: String,
    },
    /// The default schedule, which a container follows, has no cron form.
    #[error(
        "container `{container}` has no `schedule` and follows the default `{schedule}` (--every/--cron), which \
         cannot be an Argo schedule: {reason}"
    )]
    DefaultSchedule {
        /// The container.
        container: String,
        /// The default schedule.
        schedule: String,
        /// Why, and what to write instead.
        reason: String,
    },
    /// `--namespace` is not a namespace name.
    #[error("invalid namespace `{0}`: expected lowercase letters, digits and `-`, at most 63 characters")]
    Namespace(String),
    /// `--volume-map` names a host path that is not absolute.
    #[error("--volume-map: `{}` is not an absolute path", .0.display())]
    RelativeHostPath(PathBuf),
    /// `--volume-map` names a claim that is not a valid name.
    #[error(
        "--volume-map {}={claim}: `{claim}` is not a PersistentVolumeClaim name (lowercase letters, digits, `-` and \
         `.`, starting and ending with a letter or digit)",
        host.display()
    )]
    ClaimName {
        /// The host path.
        host: PathBuf,
        /// The claim as given.
        claim: String,
    },
    /// `--timezone` names no time zone.
    #[error("invalid --timezone `{name}`")]
    TimeZone {
        /// The name as given.
        name: String,
        /// Why.
        #[source]
        source: copili_schedule::ScheduleError,
    },
    /// The selection leaves nothing to run.
    #[error("nothing to export: the selection leaves out every container")]
    NothingSelected,
    /// Container options that Kubernetes pods cannot carry ([`Backend::Argo`]): one located
    /// error each, to be shown as validation errors are.
    #[error("the pipeline uses container options that cannot be exported to Argo Workflows")]
    Unsupported(Diagnostics),
}

/// A Secret the documents refer to, which the cluster must have: its name and keys, never
/// its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredSecret {
    /// Its name, `<pipeline>-env` or `<pipeline>-registry`.
    pub name: String,
    /// Its `type`: `Opaque` or `kubernetes.io/dockerconfigjson`.
    pub kind: &'static str,
    /// The keys the documents read (`.dockerconfigjson` for a registry Secret).
    pub keys: Vec<String>,
    /// For a registry Secret: the registries it must hold a login for, as docker config keys.
    pub registries: Vec<String>,
}

/// A registry login, for the `<pipeline>-registry` Secret.
#[derive(Debug, Clone)]
struct RegistryLogin {
    /// The docker config key (`https://index.docker.io/v1/` for Docker Hub).
    server: String,
    username: String,
    password: Secret,
    /// The first container that logs in there, for messages.
    container: String,
}

/// The documents of an export, the Secrets they need, and what did not carry over.
#[derive(Debug, Clone)]
pub struct ArgoExport {
    /// The `Workflow`, then one `CronWorkflow` per schedule (in plan order of their first
    /// container).
    pub documents: Vec<Value>,
    /// The Secrets the documents refer to.
    pub secrets: Vec<RequiredSecret>,
    /// What does not carry over to Argo, or changed on the way, one sentence each.
    pub warnings: Vec<String>,
    /// The values of `<pipeline>-env`, by key.
    env_values: Vec<(String, Secret)>,
    /// The logins of `<pipeline>-registry`.
    registry_logins: Vec<RegistryLogin>,
    /// Labels and namespace of the Secrets.
    labels: Value,
    namespace: Option<String>,
}

impl ArgoExport {
    /// The Secrets of [`ArgoExport::secrets`] as `v1` `Secret` documents, **with their
    /// values**: `<pipeline>-env` (`Opaque`, the env values in `stringData`) and
    /// `<pipeline>-registry` (`kubernetes.io/dockerconfigjson`). Write them only where the
    /// user asked, to a file only they can read.
    pub fn secrets_manifest(&self) -> Vec<Value> {
        self.secrets
            .iter()
            .map(|secret| {
                let string_data: Map<String, Value> = if secret.kind == REGISTRY_SECRET_TYPE {
                    let mut auths = Map::new();
                    for login in &self.registry_logins {
                        let auth = base64(format!("{}:{}", login.username, login.password.expose()).as_bytes());
                        auths.insert(
                            login.server.clone(),
                            json!({"username": login.username, "password": login.password.expose(), "auth": auth}),
                        );
                    }
                    let config = json!({ "auths": auths }).to_string();
                    [(".dockerconfigjson".to_string(), Value::String(config))].into_iter().collect()
                } else {
                    self.env_values.iter().map(|(k, v)| (k.clone(), Value::String(v.expose().to_string()))).collect()
                };
                json!({
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": metadata(Some(("name", &secret.name)), self.namespace.as_deref(), &self.labels),
                    "type": secret.kind,
                    "stringData": string_data,
                })
            })
            .collect()
    }
}

const ENV_SECRET_TYPE: &str = "Opaque";
const REGISTRY_SECRET_TYPE: &str = "kubernetes.io/dockerconfigjson";

/// Exports `pipeline` as planned in `plan` (see the module documentation).
pub fn export(pipeline: &Pipeline, plan: &Plan, options: &ArgoOptions) -> Result<ArgoExport, ExportError> {
    let exported: Vec<usize> = plan.order().filter(|&i| plan.blocked_by(i).is_none()).collect();
    // What is not exported cannot be wrong in the documents.
    let refused = unsupported_among(pipeline.spec(), exported.iter().copied(), Backend::Argo);
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
    let mut template_names = UniqueNames::reserving(&[ENTRYPOINT]);
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
    let templates: HashMap<usize, Built> =
        exported.iter().map(|&i| (i, builder.template(&spec.containers[i], &task_names[i]))).collect();
    let Builder { env_keys, registry_logins, volume_map_used, volumes, warnings: template_warnings, .. } = builder;
    warnings.extend(template_warnings);
    let specs = Specs { plan, task_names: &task_names, templates: &templates, volumes: &volumes, base: &base };

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
fn blocked_warnings(pipeline: &Pipeline, plan: &Plan) -> Vec<String> {
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

/// Service containers that share a schedule, a time zone and `catch_up`: one CronWorkflow.
#[derive(Debug)]
struct CronGroup {
    /// The cron expression.
    cron: String,
    /// The IANA zone; `None` for the controller's.
    zone: Option<String>,
    catch_up: bool,
    /// In plan order.
    members: Vec<usize>,
}

/// The exported service containers, grouped in plan order of their first member.
fn cron_groups(pipeline: &Pipeline, exported: &[usize], options: &ArgoOptions) -> Result<Vec<CronGroup>, ExportError> {
    let default_zone = options.default_timezone.as_deref().filter(|z| !is_local(z));
    let mut groups: Vec<CronGroup> = Vec::new();
    for &i in exported {
        let Some(c) = pipeline.spec().containers.get(i).filter(|c| c.is_service_container) else { continue };
        let cron = match &c.schedule {
            Some(schedule) => argo_cron(schedule).map_err(|reason| ExportError::ContainerSchedule {
                container: c.name.clone(),
                schedule: schedule.to_string(),
                reason: format!("{reason}; write a cron expression in `schedule`"),
            })?,
            None => argo_cron(&options.default_schedule).map_err(|reason| ExportError::DefaultSchedule {
                container: c.name.clone(),
                schedule: options.default_schedule.to_string(),
                reason: format!("{reason}; pass --cron, or give the container a `schedule`"),
            })?,
        };
        let zone = match c.timezone.as_deref() {
            Some(zone) if is_local(zone) => None,
            Some(zone) => Some(zone.to_string()),
            None => default_zone.map(str::to_string),
        };
        match groups.iter_mut().find(|g| g.cron == cron && g.zone == zone && g.catch_up == c.catch_up) {
            Some(group) => group.members.push(i),
            None => groups.push(CronGroup { cron, zone, catch_up: c.catch_up, members: vec![i] }),
        }
    }
    Ok(groups)
}

/// What a workflow spec is assembled from: the templates of the exported containers.
struct Specs<'a> {
    plan: &'a Plan,
    /// By container index.
    task_names: &'a [String],
    /// By container index, the exported ones.
    templates: &'a HashMap<usize, Built>,
    volumes: &'a [PodVolume],
    /// The DNS form of the identity.
    base: &'a str,
}

impl Specs<'_> {
    /// The spec of a workflow running `members` (in plan order): a DAG of them, their
    /// dependencies on others dropped (met by earlier runs), and what their templates need.
    fn workflow_spec(&self, members: &[usize]) -> Value {
        let built = || members.iter().filter_map(|i| self.templates.get(i));
        let mut spec = Map::new();
        spec.insert("entrypoint".into(), ENTRYPOINT.into());
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
                let dependencies: Vec<Value> =
                    self.plan.dependencies(i).into_iter().filter(|d| members.contains(d)).map(name).collect();
                if !dependencies.is_empty() {
                    task.insert("dependencies".into(), Value::Array(dependencies));
                }
                Value::Object(task)
            })
            .collect();
        // copili runs on after a failure, cancelling only what depends on it; Argo's DAG
        // would stop scheduling at the first failure.
        let mut templates = vec![json!({ "name": ENTRYPOINT, "dag": { "failFast": false, "tasks": tasks } })];
        templates.extend(built().map(|t| t.template.clone()));
        spec.insert("templates".into(), Value::Array(templates));
        Value::Object(spec)
    }
}

fn check_options(options: &ArgoOptions) -> Result<(), ExportError> {
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

fn is_local(zone: &str) -> bool {
    zone.trim().eq_ignore_ascii_case("local")
}

/// `metadata` with an optional name field (`name` or `generateName`), namespace and labels.
fn metadata(name: Option<(&str, &str)>, namespace: Option<&str>, labels: &Value) -> Value {
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
fn identity_label(identity: &str, base: &str) -> String {
    match label_value(identity) {
        value if value.is_empty() => base.to_string(),
        value => value,
    }
}

/// A container's task and template name: a DNS label that starts with a letter (Argo refuses
/// task names starting with a digit when tasks have dependencies).
fn task_name(name: &str) -> String {
    let label = dns_label(name, DNS_LABEL_MAX);
    if label.is_empty() {
        "container".into()
    } else if label.starts_with(|c: char| c.is_ascii_digit()) {
        dns_label(&format!("c-{label}"), DNS_LABEL_MAX)
    } else {
        label
    }
}

/// `CronWorkflow a`, `CronWorkflows a, b`.
fn plural_list(word: &str, names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    if names.len() == 1 {
        format!("{word} {}", quoted.join(", "))
    } else {
        format!("{word}s {}", quoted.join(", "))
    }
}

/// The cron expression Argo is given for a schedule, or why there is none, in Argo's terms.
fn argo_cron(schedule: &Schedule) -> Result<String, String> {
    schedule.to_standard_cron().map_err(|error| match error {
        NoStandardCron::SundayAsSeven => "Argo's cron reads days of the week 0 to 6: write Sunday as 0 or SUN".into(),
        NoStandardCron::Interval(interval) => format!(
            "Argo runs on a cron schedule, and only intervals that divide an hour (1m, 2m, …, 30m) or a day \
             (1h, 2h, …, 12h, 24h) are one, not {}",
            humantime::format_duration(interval)
        ),
    })
}

/// A volume of the documents.
#[derive(Debug)]
struct PodVolume {
    key: VolumeKey,
    /// Its `volumes` entry.
    entry: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum VolumeKey {
    Claim(String),
    Host(PathBuf),
}

/// A container's template, and what its documents need.
#[derive(Debug)]
struct Built {
    template: Value,
    /// Indexes into `Builder::volumes`.
    volumes: Vec<usize>,
    /// Whether it (or a sidecar) logs in to a registry.
    registry_login: bool,
}

/// What the templates share: Secret keys, registry logins, volumes, warnings.
struct Builder<'a> {
    env_secret: String,
    /// Env values as `value`s instead of `secretKeyRef`s.
    plain_env: bool,
    volume_map: &'a [(PathBuf, String)],
    volume_map_used: Vec<bool>,
    env_keys: Vec<(String, Secret)>,
    registry_logins: Vec<RegistryLogin>,
    volumes: Vec<PodVolume>,
    volume_names: UniqueNames,
    warnings: Vec<String>,
}

impl Builder<'_> {
    fn template(&mut self, c: &ContainerSpec, task: &str) -> Built {
        let mut volumes = Vec::new();
        let mut registry_login = self.registry_login(c);
        let mut template = Map::new();
        template.insert("name".into(), task.into());

        let mut labels = Map::new();
        for owner in std::iter::once(c).chain(&c.sidecars) {
            for (key, value) in &owner.labels {
                self.label(&owner.name, key, value, &mut labels);
            }
        }
        let mut annotations = Map::new();
        annotations.insert(CONTAINER_ANNOTATION.into(), c.name.clone().into());
        if let Some(desc) = &c.desc {
            annotations.insert("io.copili/desc".into(), desc.clone().into());
        }
        if let Some(link) = &c.info_link {
            annotations.insert("io.copili/info-link".into(), link.clone().into());
        }
        let mut metadata = Map::new();
        if !labels.is_empty() {
            metadata.insert("labels".into(), Value::Object(labels));
        }
        metadata.insert("annotations".into(), Value::Object(annotations));
        template.insert("metadata".into(), Value::Object(metadata));

        let owner = format!("`{}`", c.name);
        // tmpfs and /dev/shm: memory-backed emptyDirs of this pod only.
        let mut pod_volumes = Vec::new();
        let main = self.container(c, "main", &owner, task, &mut volumes, &mut pod_volumes);
        template.insert("container".into(), Value::Object(main));
        // `/etc/hosts` is the pod's: the sidecars' names and every container's `extra_hosts`.
        let mut host_aliases = HostAliases::default();

        if !c.sidecars.is_empty() {
            // Argo's own containers are `main`, `wait` and `init`.
            let mut names = UniqueNames::reserving(&["main", "wait", "init"]);
            let mut sidecars = Vec::new();
            for s in &c.sidecars {
                registry_login |= self.registry_login(s);
                let label = match dns_label(&s.name, DNS_LABEL_MAX) {
                    label if label.is_empty() => "sidecar".to_string(),
                    label => label,
                };
                let name = names.claim(&label, DNS_LABEL_MAX);
                let owner = format!("sidecar `{}` of `{}`", s.name, c.name);
                let mut sidecar = self.container(s, &name, &owner, task, &mut volumes, &mut pod_volumes);
                if let Some(ready) = &s.ready {
                    sidecar.insert("readinessProbe".into(), readiness_probe(ready));
                    self.warnings.push(format!(
                        "sidecar `{}` of `{}`: its `ready` check becomes a readinessProbe, but Argo starts the main \
                         container without waiting for it",
                        s.name, c.name
                    ));
                }
                sidecars.push(Value::Object(sidecar));
                // copili's sidecars are reached by their name; in a pod they share the network.
                let lowercase = s.name.to_ascii_lowercase();
                let hostname = if is_dns_subdomain(&lowercase) {
                    lowercase
                } else {
                    self.warnings.push(format!(
                        "sidecar `{}` of `{}` is reached as `{label}` (a host name cannot be `{}`)",
                        s.name, c.name, s.name
                    ));
                    label
                };
                host_aliases.add("127.0.0.1", hostname);
            }
            template.insert("sidecars".into(), Value::Array(sidecars));
        }
        for owner in std::iter::once(c).chain(&c.sidecars) {
            for host in &owner.options().extra_hosts {
                // `host-gateway` is refused before the export (`Backend::Argo`).
                if let HostAddress::Ip(ip) = host.address {
                    host_aliases.add(&ip.to_string(), host.name.clone());
                }
            }
        }
        if !host_aliases.0.is_empty() {
            let entries = host_aliases.0.into_iter().map(|(ip, hostnames)| json!({ "ip": ip, "hostnames": hostnames }));
            template.insert("hostAliases".into(), Value::Array(entries.collect()));
        }
        if !pod_volumes.is_empty() {
            template.insert("volumes".into(), Value::Array(pod_volumes));
        }
        // A template has no `hostNetwork` or `terminationGracePeriodSeconds` of its own: Argo
        // patches the pod's spec with `podSpecPatch`.
        let mut patch = Map::new();
        if c.options().network_mode == Some(NetworkMode::Host) {
            patch.insert("hostNetwork".into(), true.into());
        }
        if let Some(grace) = c.options().stop_grace_period {
            patch.insert("terminationGracePeriodSeconds".into(), whole_seconds(grace).into());
        }
        if !patch.is_empty() {
            template.insert("podSpecPatch".into(), Value::Object(patch).to_string().into());
        }

        if c.retries > 0 {
            let mut retry = Map::new();
            retry.insert("limit".into(), c.retries.to_string().into());
            retry.insert("retryPolicy".into(), "Always".into());
            if !c.retry_delay.is_zero() {
                retry.insert("backoff".into(), json!({ "duration": go_duration(c.retry_delay), "factor": 2 }));
            }
            template.insert("retryStrategy".into(), Value::Object(retry));
        }
        if let Some(timeout) = c.timeout {
            template.insert("activeDeadlineSeconds".into(), whole_seconds(timeout).into());
        }

        let mut selector = Map::new();
        let mut expressions = Vec::new();
        for owner in std::iter::once(c).chain(&c.sidecars) {
            for constraint in &owner.placement {
                match node_rule(constraint) {
                    Ok(NodeRule::Selector(key, value)) => match selector.get(&key) {
                        Some(existing) if existing != &Value::String(value.clone()) => {
                            expressions.push(json!({ "key": key, "operator": "In", "values": [value] }));
                        }
                        _ => {
                            selector.insert(key, value.into());
                        }
                    },
                    Ok(NodeRule::Expression(expression)) => expressions.push(expression),
                    Err(reason) => self
                        .warnings
                        .push(format!("`{}`: placement `{constraint}` does not carry over: {reason}", owner.name)),
                }
            }
        }
        if !selector.is_empty() {
            template.insert("nodeSelector".into(), Value::Object(selector));
        }
        if !expressions.is_empty() {
            template.insert(
                "affinity".into(),
                json!({ "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{ "matchExpressions": expressions }]
                } } }),
            );
        }

        self.not_carried_over(c);
        Built { template: Value::Object(template), volumes, registry_login }
    }

    /// The properties that have no counterpart, named once per container.
    fn not_carried_over(&mut self, c: &ContainerSpec) {
        for owner in std::iter::once(c).chain(&c.sidecars) {
            if owner.build.is_some() {
                self.warnings.push(format!(
                    "`{}` is built by copili: Argo pulls `{}`, so push the image to a registry the cluster can reach",
                    owner.name,
                    owner.image()
                ));
            }
            if !owner.tls_verify {
                self.warnings.push(format!(
                    "`{}`: `tls_verify: false` does not carry over: the nodes' container runtime decides",
                    owner.name
                ));
            }
        }
        if c.run_once {
            self.warnings.push(format!(
                "`{}`: `run_once` does not carry over: Argo keeps no run state, every workflow runs it",
                c.name
            ));
        }
    }

    /// A `container` (or sidecar) entry; records the workflow's volumes it uses into `volumes`,
    /// and adds the memory-backed volumes of its tmpfs mounts and `/dev/shm` to `pod_volumes`.
    fn container(
        &mut self,
        c: &ContainerSpec,
        name: &str,
        owner: &str,
        task: &str,
        volumes: &mut Vec<usize>,
        pod_volumes: &mut Vec<Value>,
    ) -> Map<String, Value> {
        let options = c.options();
        let mut container = Map::new();
        container.insert("name".into(), name.into());
        container.insert("image".into(), c.image().into());
        if let Some(pull) = c.pull {
            let policy = match pull {
                PullPolicy::Always => "Always",
                PullPolicy::Missing => "IfNotPresent",
                PullPolicy::Never => "Never",
            };
            container.insert("imagePullPolicy".into(), policy.into());
        }
        // Kubernetes calls the image's ENTRYPOINT `command` and its CMD `args`; a `command` given
        // without `args` runs without the image's CMD, as docker's `--entrypoint` does.
        let (command, args): (&[String], &[String]) = match options.entrypoint.as_deref() {
            None => (&[], &c.command),
            // An empty entrypoint runs the command itself (refused without one, `Backend::Argo`).
            Some([]) => (&c.command, &[]),
            Some(entrypoint) => (entrypoint, &c.command),
        };
        for (field, words) in [("command", command), ("args", args)] {
            if !words.is_empty() {
                let escaped: Vec<String> = words.iter().map(|word| kubernetes_escape(word)).collect();
                container.insert(field.into(), json!(escaped));
            }
        }
        if command.iter().chain(args).any(|word| word.contains("{{")) {
            self.warnings.push(format!(
                "{owner}: Argo reads `{{{{…}}}}` in the command as its own template expression; the workflow may fail \
                 to resolve it"
            ));
        }
        if let Some(dir) = &options.working_dir {
            container.insert("workingDir".into(), dir.clone().into());
        }
        let security = security_context(options);
        if !security.is_empty() {
            container.insert("securityContext".into(), Value::Object(security));
        }
        if !c.env_vars.is_empty() {
            let env: Vec<Value> = c
                .env_vars
                .iter()
                .map(|(key, value)| {
                    if self.plain_env {
                        json!({ "name": key, "value": kubernetes_escape(value.expose()) })
                    } else {
                        // Kubernetes expands `$(NAME)` in `value` only: a Secret's value is
                        // passed on as it is, unescaped.
                        let secret_key = self.env_key(key, value, task);
                        json!({ "name": key, "valueFrom": { "secretKeyRef": { "name": self.env_secret, "key": secret_key } } })
                    }
                })
                .collect();
            container.insert("env".into(), Value::Array(env));
        }
        let mut mounts: Vec<Value> = Vec::new();
        if !c.volumes.is_empty() {
            mounts = c
                .volumes
                .iter()
                .map(|volume| {
                    let (index, sub_path) = self.volume(&volume.source, owner);
                    if !volumes.contains(&index) {
                        volumes.push(index);
                    }
                    let mut mount = Map::new();
                    let name = self.volumes.get(index).and_then(|v| v.entry.get("name")).cloned();
                    mount.insert("name".into(), name.unwrap_or(Value::Null));
                    mount.insert("mountPath".into(), volume.target.clone().into());
                    if let Some(sub_path) = sub_path {
                        mount.insert("subPath".into(), sub_path.into());
                    }
                    if volume.read_only {
                        mount.insert("readOnly".into(), true.into());
                    }
                    Value::Object(mount)
                })
                .collect();
        }
        let memory_mounts =
            options.shm_size.map(|size| ("dshm".to_string(), "/dev/shm", Some(size))).into_iter().chain(
                options.tmpfs.iter().map(|t| (format!("tmpfs-{}", t.target), t.target.as_str(), t.size_bytes())),
            );
        for (base, target, size) in memory_mounts {
            let base = match dns_label(&base, DNS_LABEL_MAX) {
                label if label == "tmpfs" => "tmpfs-root".to_string(),
                label => label,
            };
            let volume_name = self.volume_names.claim(&base, DNS_LABEL_MAX);
            let mut empty_dir = Map::new();
            empty_dir.insert("medium".into(), "Memory".into());
            if let Some(size) = size {
                empty_dir.insert("sizeLimit".into(), memory_quantity(size).into());
            }
            pod_volumes.push(json!({ "name": volume_name, "emptyDir": empty_dir }));
            mounts.push(json!({ "name": volume_name, "mountPath": target }));
        }
        if !mounts.is_empty() {
            container.insert("volumeMounts".into(), Value::Array(mounts));
        }
        let gpus = match options.gpus {
            // `all` and device ids are refused before the export (`Backend::Argo`).
            Some(Gpus::Count(count)) => Some(count),
            _ => None,
        };
        if c.resources.is_some() || gpus.is_some() {
            let resources = c.resources.as_deref().copied().unwrap_or_default();
            let amounts = |a: copili_model::ResourceAmounts| {
                let mut map = Map::new();
                if let Some(cpus) = a.cpus {
                    map.insert("cpu".into(), cpu_quantity(cpus).into());
                }
                if let Some(memory) = a.memory {
                    map.insert("memory".into(), memory_quantity(memory).into());
                }
                map
            };
            let mut map = Map::new();
            for (field, amount) in [("limits", resources.limits), ("requests", resources.reservations)] {
                let mut amount = amounts(amount);
                if let Some(count) = gpus.filter(|_| field == "limits") {
                    // The NVIDIA device plugin's resource; a request defaults to the limit.
                    amount.insert(GPU_RESOURCE.into(), count.to_string().into());
                }
                if !amount.is_empty() {
                    map.insert(field.into(), Value::Object(amount));
                }
            }
            if !map.is_empty() {
                container.insert("resources".into(), Value::Object(map));
            }
        }
        container
    }

    /// The Secret key of an env value: its name, unless that key already holds another value
    /// (then qualified by the template's name, then numbered).
    fn env_key(&mut self, env_name: &str, value: &Secret, task: &str) -> String {
        let base = secret_key(env_name);
        let mut candidate = base.clone();
        let mut n = 1;
        loop {
            match self.env_keys.iter().find(|(k, _)| *k == candidate) {
                None => {
                    self.env_keys.push((candidate.clone(), value.clone()));
                    return candidate;
                }
                Some((_, existing)) if existing == value => return candidate,
                Some(_) => {
                    n += 1;
                    candidate = if n == 2 { secret_key(&format!("{task}.{env_name}")) } else { format!("{base}_{n}") };
                }
            }
        }
    }

    /// Records a container's registry login, if it has one; whether it has.
    fn registry_login(&mut self, c: &ContainerSpec) -> bool {
        if c.image_reg_username.is_none() && c.image_reg_password.is_none() {
            return false;
        }
        let registry = c.registry();
        let server =
            if registry == "docker.io" { "https://index.docker.io/v1/".to_string() } else { registry.to_string() };
        let username = c.image_reg_username.clone().unwrap_or_default();
        let password = c.image_reg_password.clone().unwrap_or_default();
        match self.registry_logins.iter().find(|l| l.server == server) {
            Some(login) if login.username == username && login.password == password => {}
            Some(login) => {
                let first = login.container.clone();
                self.warnings.push(format!(
                    "`{}` and `{first}` log in to {registry} with different credentials: the registry Secret holds \
                     `{first}`'s",
                    c.name
                ));
            }
            None => self.registry_logins.push(RegistryLogin { server, username, password, container: c.name.clone() }),
        }
        true
    }

    /// The volume a mount source uses (created on first use), and the mount's `subPath`.
    fn volume(&mut self, source: &VolumeSource, owner: &str) -> (usize, Option<String>) {
        let (key, sub_path, base_name) = match source {
            VolumeSource::Named(name) => {
                let claim = match dns_label(name, DNS_LABEL_MAX) {
                    claim if claim.is_empty() => "volume".to_string(),
                    claim => claim,
                };
                if claim != *name && !self.volumes.iter().any(|v| v.key == VolumeKey::Claim(claim.clone())) {
                    self.warnings
                        .push(format!("the named volume `{name}` becomes the PersistentVolumeClaim `{claim}`"));
                }
                (VolumeKey::Claim(claim.clone()), None, claim)
            }
            VolumeSource::HostPath { resolved, .. } => match self.mapped(resolved) {
                Some((claim, sub_path)) => (VolumeKey::Claim(claim.clone()), sub_path, claim),
                None => {
                    let base = resolved.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let name = dns_label(&format!("host-{base}"), DNS_LABEL_MAX);
                    (VolumeKey::Host(resolved.clone()), None, name)
                }
            },
        };
        if let Some(index) = self.volumes.iter().position(|v| v.key == key) {
            return (index, sub_path);
        }
        let name = self.volume_names.claim(&base_name, DNS_LABEL_MAX);
        let entry = match &key {
            VolumeKey::Claim(claim) => json!({ "name": name, "persistentVolumeClaim": { "claimName": claim } }),
            VolumeKey::Host(path) => {
                self.warnings.push(format!(
                    "{owner} mounts the host path {}: a hostPath volume is that directory on whichever node runs \
                     the pod; map it to a PersistentVolumeClaim with --volume-map",
                    path.display()
                ));
                json!({ "name": name, "hostPath": { "path": path.display().to_string() } })
            }
        };
        self.volumes.push(PodVolume { key, entry });
        (self.volumes.len() - 1, sub_path)
    }

    /// The claim a host path is mapped to by `--volume-map` (the longest matching entry), and
    /// the `subPath` below it.
    fn mapped(&mut self, path: &Path) -> Option<(String, Option<String>)> {
        let (index, (host, claim)) = self
            .volume_map
            .iter()
            .enumerate()
            .filter(|(_, (host, _))| path.starts_with(host))
            .max_by_key(|(_, (host, _))| host.components().count())?;
        if let Some(used) = self.volume_map_used.get_mut(index) {
            *used = true;
        }
        let rest = path.strip_prefix(host).ok()?;
        let sub_path: Vec<String> = rest.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        Some((claim.clone(), (!sub_path.is_empty()).then(|| sub_path.join("/"))))
    }

    /// Adds a label, made valid for Kubernetes (with a warning when it changed or is dropped).
    fn label(&mut self, owner: &str, key: &str, value: &str, into: &mut Map<String, Value>) {
        let Some(k8s_key) = label_key(key) else {
            self.warnings.push(format!("`{owner}`: the label `{key}` is left out: no valid Kubernetes label key"));
            return;
        };
        let k8s_value = label_value(value);
        if k8s_value.is_empty() && !value.is_empty() {
            self.warnings.push(format!(
                "`{owner}`: the label `{key}` is left out: its value is no valid Kubernetes label value"
            ));
            return;
        }
        if k8s_key != key || k8s_value != value {
            self.warnings.push(format!(
                "`{owner}`: the label `{key}={value}` becomes `{k8s_key}={k8s_value}` (Kubernetes label rules)"
            ));
        }
        into.entry(k8s_key).or_insert(Value::String(k8s_value));
    }
}

/// The resource the NVIDIA device plugin offers GPUs as.
const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// A container's `securityContext`: its user and group, a read-only root, capabilities.
fn security_context(options: &RunOptions) -> Map<String, Value> {
    let mut context = Map::new();
    if let Some(user) = &options.user {
        // Numbers only: a named user is refused before the export (`Backend::Argo`).
        let (uid, gid) = match user.split_once(':') {
            Some((uid, gid)) => (uid, Some(gid)),
            None => (user.as_str(), None),
        };
        if let Ok(uid) = uid.parse::<u64>() {
            context.insert("runAsUser".into(), uid.into());
        }
        if let Some(Ok(gid)) = gid.map(str::parse::<u64>) {
            context.insert("runAsGroup".into(), gid.into());
        }
    }
    if options.read_only {
        context.insert("readOnlyRootFilesystem".into(), true.into());
    }
    let mut capabilities = Map::new();
    for (field, list) in [("add", &options.cap_add), ("drop", &options.cap_drop)] {
        if !list.is_empty() {
            capabilities.insert(field.into(), json!(list));
        }
    }
    if !capabilities.is_empty() {
        context.insert("capabilities".into(), Value::Object(capabilities));
    }
    context
}

/// A pod's `hostAliases`: host names by address, in the order first given.
#[derive(Debug, Default)]
struct HostAliases(Vec<(String, Vec<String>)>);

impl HostAliases {
    fn add(&mut self, ip: &str, hostname: String) {
        match self.0.iter_mut().find(|(known, _)| known == ip) {
            Some((_, hostnames)) => {
                if !hostnames.contains(&hostname) {
                    hostnames.push(hostname);
                }
            }
            None => self.0.push((ip.to_string(), vec![hostname])),
        }
    }
}

/// `text` as Kubernetes must be given it in `args` and env values to pass it on unchanged: it
/// expands `$(NAME)` there and reads `$$` as `$`, so a `$` followed by `(` or `$` is doubled.
fn kubernetes_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' && matches!(chars.peek(), Some('(' | '$')) {
            out.push('$');
        }
    }
    out
}

/// A readiness probe running the `ready` command every `interval` until `timeout`.
fn readiness_probe(ready: &ReadyCheck) -> Value {
    let period = whole_seconds(ready.interval).max(1);
    let failures = whole_seconds(ready.timeout).div_ceil(period).max(1);
    json!({ "exec": { "command": ready.command }, "periodSeconds": period, "failureThreshold": failures })
}

/// What a placement constraint becomes.
#[derive(Debug, PartialEq)]
enum NodeRule {
    /// A `nodeSelector` entry.
    Selector(String, String),
    /// A node affinity `matchExpressions` entry.
    Expression(Value),
}

/// The node label rule of a swarm placement constraint, or why there is none.
fn node_rule(constraint: &Placement) -> Result<NodeRule, String> {
    let (attribute, equal, value) =
        (constraint.attribute.as_str(), constraint.op == PlacementOp::Eq, constraint.value.as_str());
    let (key, value) = if let Some(label) = attribute.strip_prefix("node.labels.") {
        (label.to_string(), value.to_string())
    } else {
        match attribute {
            "node.hostname" => ("kubernetes.io/hostname".to_string(), value.to_string()),
            "node.platform.os" => ("kubernetes.io/os".to_string(), value.to_ascii_lowercase()),
            "node.platform.arch" => {
                let arch = match value.to_ascii_lowercase().as_str() {
                    "x86_64" | "amd64" => "amd64",
                    "aarch64" | "arm64" => "arm64",
                    "armv7l" | "arm" => "arm",
                    other => return Err(format!("unknown architecture `{other}`")),
                };
                ("kubernetes.io/arch".to_string(), arch.to_string())
            }
            "node.role" => {
                // Kubernetes marks control-plane nodes with a label whose value is empty.
                let on_manager = match value.to_ascii_lowercase().as_str() {
                    "manager" => equal,
                    "worker" => !equal,
                    other => return Err(format!("unknown node role `{other}`")),
                };
                let operator = if on_manager { "Exists" } else { "DoesNotExist" };
                return Ok(NodeRule::Expression(
                    json!({ "key": "node-role.kubernetes.io/control-plane", "operator": operator }),
                ));
            }
            _ => {
                return Err("only node.labels.*, node.hostname, node.role and node.platform.* map to node labels".into())
            }
        }
    };
    if label_key(&key).as_deref() != Some(key.as_str()) || label_value(&value) != value {
        return Err(format!("`{key}={value}` is no valid Kubernetes node label"));
    }
    if equal {
        Ok(NodeRule::Selector(key, value))
    } else {
        Ok(NodeRule::Expression(json!({ "key": key, "operator": "NotIn", "values": [value] })))
    }
}

/// Seconds, rounded up.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// A duration as Go's `time.ParseDuration` reads it: `30s`, or `1500ms`.
fn go_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// CPUs as a Kubernetes quantity: `2`, `1.5`, `0.25`.
fn cpu_quantity(cpus: f64) -> String {
    if cpus.fract() == 0.0 {
        format!("{cpus:.0}")
    } else {
        // Kubernetes keeps millicores: round to them.
        let millis = (cpus * 1000.0).round() / 1000.0;
        format!("{millis}")
    }
}

/// Bytes as a Kubernetes quantity: `512Mi` when a whole number of a binary unit, else bytes.
fn memory_quantity(bytes: u64) -> String {
    for (unit, size) in [("Ti", 1u64 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EnvFile, LoadOptions, Selection};

    const SECRET_VALUE: &str = "s3cret-value-4711";
    const REGISTRY_PASSWORD: &str = "reg-pa55-0815";

    fn load(yaml: &str) -> Pipeline {
        let options = LoadOptions {
            process_env: [("DB_PASSWORD", SECRET_VALUE), ("REG_PASSWORD", REGISTRY_PASSWORD), ("OTHER", "other-value")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            env_file: EnvFile::Disabled,
            strict_env: true,
            working_dir: PathBuf::from("/pipelines"),
        };
        Pipeline::from_str(yaml, &options).unwrap_or_else(|d| panic!("invalid test pipeline:\n{d}"))
    }

    fn export_with(yaml: &str, selection: &Selection, options: &ArgoOptions) -> Result<ArgoExport, ExportError> {
        let pipeline = load(yaml);
        let plan = pipeline.plan(selection).unwrap_or_else(|d| panic!("{d}"));
        export(&pipeline, &plan, options)
    }

    fn check(yaml: &str) -> ArgoExport {
        export_with(yaml, &Selection::default(), &ArgoOptions::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The template called `name` of a document.
    fn template<'a>(document: &'a Value, name: &str) -> &'a Value {
        let spec = document.get("spec").and_then(|s| s.get("workflowSpec")).unwrap_or(&document["spec"]);
        spec["templates"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == name))
            .unwrap_or_else(|| panic!("no template `{name}` in {document:#}"))
    }

    /// Task names and their dependencies.
    type Tasks = Vec<(String, Vec<String>)>;

    fn tasks(document: &Value) -> Tasks {
        let spec = document.get("spec").and_then(|s| s.get("workflowSpec")).unwrap_or(&document["spec"]);
        let dag = &spec["templates"][0]["dag"];
        dag["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| {
                assert_eq!(t["name"], t["template"]);
                let deps = t["dependencies"]
                    .as_array()
                    .map(|d| d.iter().map(|d| d.as_str().expect("a name").to_string()).collect())
                    .unwrap_or_default();
                (t["name"].as_str().expect("a name").to_string(), deps)
            })
            .collect()
    }

    #[test]
    fn names_become_dns_labels_and_the_dag_uses_them() {
        let export = check(
            "Kg_Pipeline:\n  - {name: dataloader_01, image_repo: x}\n  - {name: dataloader-01, image_repo: x}\n  - {name: \
             01-link, image_repo: x, dependencies: [dataloader_01, dataloader-01]}\n  - {name: pipeline, image_repo: x, \
             dependencies: [01-link]}\n",
        );
        let workflow = &export.documents[0];
        assert_eq!(workflow["metadata"]["generateName"], "kg-pipeline-");
        assert_eq!(
            workflow["metadata"]["labels"],
            json!({"app.kubernetes.io/managed-by": "copili", "io.copili/pipeline": "Kg_Pipeline"})
        );
        assert_eq!(workflow["spec"]["entrypoint"], "pipeline");
        assert_eq!(workflow["spec"]["templates"][0]["dag"]["failFast"], false);
        assert_eq!(
            tasks(workflow),
            vec![
                ("dataloader-01".to_string(), vec![]),
                ("dataloader-01-2".to_string(), vec![]),
                ("c-01-link".to_string(), vec!["dataloader-01".to_string(), "dataloader-01-2".to_string()]),
                ("pipeline-2".to_string(), vec!["c-01-link".to_string()]),
            ]
        );
        let t = template(workflow, "dataloader-01-2");
        assert_eq!(t["metadata"]["annotations"]["io.copili/container"], "dataloader-01");
        assert_eq!(t["container"]["name"], "main");
        assert_eq!(t["container"]["image"], "x:latest");
        assert_eq!(export.documents.len(), 1, "no service containers, no CronWorkflow");
        assert!(export.secrets.is_empty());
    }

    #[test]
    fn every_env_value_becomes_a_secret_reference() {
        let yaml = "p:\n  - name: a\n    image_repo: x\n    env_vars: {PW: $DB_PASSWORD, LEVEL: info, URL: 'bolt://${OTHER}'}\n  - \
                    name: b\n    image_repo: x\n    env_vars: ['PW=${OTHER}', 'SAME=${DB_PASSWORD}', LEVEL=debug]\n    sidecars:\n      - \
                    {name: db, image_repo: y, env_vars: {PW: '${DB_PASSWORD}', LEVEL: trace, EMPTY: ''}}\n";
        let export = check(yaml);
        let workflow = &export.documents[0];
        let secret_ref = |key: &str| json!({"secretKeyRef": {"name": "p-env", "key": key}});
        assert_eq!(
            template(workflow, "a")["container"]["env"],
            json!([
                {"name": "PW", "valueFrom": secret_ref("PW")},
                {"name": "LEVEL", "valueFrom": secret_ref("LEVEL")},
                {"name": "URL", "valueFrom": secret_ref("URL")},
            ])
        );
        // `PW` and `LEVEL` of `b` hold other values: their own keys.
        assert_eq!(
            template(workflow, "b")["container"]["env"],
            json!([
                {"name": "PW", "valueFrom": secret_ref("b.PW")},
                {"name": "SAME", "valueFrom": secret_ref("SAME")},
                {"name": "LEVEL", "valueFrom": secret_ref("b.LEVEL")},
            ])
        );
        // The sidecar's `LEVEL` is a third value; `b.LEVEL` is taken: numbered.
        assert_eq!(
            template(workflow, "b")["sidecars"][0]["env"],
            json!([
                {"name": "PW", "valueFrom": secret_ref("PW")},
                {"name": "LEVEL", "valueFrom": secret_ref("LEVEL_3")},
                {"name": "EMPTY", "valueFrom": secret_ref("EMPTY")},
            ])
        );
        assert_eq!(
            export.secrets,
            vec![RequiredSecret {
                name: "p-env".into(),
                kind: "Opaque",
                keys: ["PW", "LEVEL", "URL", "b.PW", "SAME", "b.LEVEL", "LEVEL_3", "EMPTY"].map(String::from).to_vec(),
                registries: vec![],
            }]
        );
        let text = super::super::to_yaml(&export.documents).expect("yaml");
        for value in [SECRET_VALUE, "other-value", "info", "debug", "trace"] {
            assert!(!text.contains(value), "`{value}` in the documents:\n{text}");
        }
        let manifest = export.secrets_manifest();
        assert_eq!(
            manifest[0]["stringData"],
            json!({"PW": SECRET_VALUE, "LEVEL": "info", "URL": "bolt://other-value", "b.PW": "other-value",
                   "SAME": SECRET_VALUE, "b.LEVEL": "debug", "LEVEL_3": "trace", "EMPTY": ""})
        );
        assert_eq!(manifest[0]["type"], "Opaque");
        assert_eq!(manifest[0]["metadata"]["name"], "p-env");
    }

    #[test]
    fn plain_env_writes_the_values_in_clear() {
        let yaml = "p:\n  - name: a\n    image_repo: x\n    env_vars: {PW: $DB_PASSWORD, LEVEL: info}\n    sidecars: \
                    [{name: s, image_repo: y, env_vars: [X=1]}]\n";
        let options = ArgoOptions { plain_env: true, ..ArgoOptions::default() };
        let export = export_with(yaml, &Selection::default(), &options).expect("exports");
        let a = template(&export.documents[0], "a");
        assert_eq!(
            a["container"]["env"],
            json!([{"name": "PW", "value": SECRET_VALUE}, {"name": "LEVEL", "value": "info"}])
        );
        assert_eq!(a["sidecars"][0]["env"], json!([{"name": "X", "value": "1"}]));
        assert!(export.secrets.is_empty(), "{:?}", export.secrets);
        assert!(export.secrets_manifest().is_empty());
    }

    #[test]
    fn registry_logins_become_an_image_pull_secret() {
        let export = check(
            "p:\n  - {name: a, image_repo: reg.example.com:5000/team/a, image_reg_username: bot, image_reg_password: \
             $REG_PASSWORD}\n  - {name: b, image_repo: library/b, sidecars: [{name: s, image_repo: redis, \
             image_reg_username: hub, image_reg_password: '${REG_PASSWORD}'}]}\n  - {name: c, image_repo: c, \
             image_reg_username: other, image_reg_password: x}\n",
        );
        let workflow = &export.documents[0];
        assert_eq!(workflow["spec"]["imagePullSecrets"], json!([{"name": "p-registry"}]));
        assert_eq!(
            export.secrets,
            vec![RequiredSecret {
                name: "p-registry".into(),
                kind: "kubernetes.io/dockerconfigjson",
                keys: vec![".dockerconfigjson".into()],
                registries: vec!["reg.example.com:5000".into(), "https://index.docker.io/v1/".into()],
            }]
        );
        assert!(
            export
                .warnings
                .iter()
                .any(|w| w
                    == "`c` and `s` log in to docker.io with different credentials: the registry Secret holds `s`'s"),
            "{:?}",
            export.warnings
        );
        let text = super::super::to_yaml(&export.documents).expect("yaml");
        assert!(!text.contains(REGISTRY_PASSWORD), "{text}");
        let manifest = export.secrets_manifest();
        assert_eq!(manifest[0]["type"], "kubernetes.io/dockerconfigjson");
        let config: Value =
            serde_json::from_str(manifest[0]["stringData"][".dockerconfigjson"].as_str().expect("a string"))
                .expect("JSON");
        assert_eq!(
            config["auths"]["reg.example.com:5000"],
            json!({"username": "bot", "password": REGISTRY_PASSWORD, "auth": base64(format!("bot:{REGISTRY_PASSWORD}").as_bytes())})
        );
        assert_eq!(config["auths"]["https://index.docker.io/v1/"]["username"], "hub");
        // Without logins, no imagePullSecrets.
        let plain = check("p:\n  - {name: a, image_repo: x}\n");
        assert!(plain.documents[0]["spec"].get("imagePullSecrets").is_none());
    }

    #[test]
    fn volumes_host_paths_named_volumes_and_claims() {
        let yaml = "p:\n  - name: a\n    image_repo: x\n    volumes: [/srv/data/genes:/data:ro, pg_data:/pg, \
                    /srv/data:/all, /opt/cache:/cache]\n  - name: b\n    image_repo: x\n    volumes: \
                    ['/opt/cache:/c']\n";
        let export = check(yaml);
        let workflow = &export.documents[0];
        assert_eq!(
            workflow["spec"]["volumes"],
            json!([
                {"name": "host-genes", "hostPath": {"path": "/srv/data/genes"}},
                {"name": "pg-data", "persistentVolumeClaim": {"claimName": "pg-data"}},
                {"name": "host-data", "hostPath": {"path": "/srv/data"}},
                {"name": "host-cache", "hostPath": {"path": "/opt/cache"}},
            ])
        );
        assert_eq!(
            template(workflow, "a")["container"]["volumeMounts"],
            json!([
                {"name": "host-genes", "mountPath": "/data", "readOnly": true},
                {"name": "pg-data", "mountPath": "/pg"},
                {"name": "host-data", "mountPath": "/all"},
                {"name": "host-cache", "mountPath": "/cache"},
            ])
        );
        assert_eq!(
            template(workflow, "b")["container"]["volumeMounts"],
            json!([{"name": "host-cache", "mountPath": "/c"}])
        );
        assert!(export
            .warnings
            .contains(&"the named volume `pg_data` becomes the PersistentVolumeClaim `pg-data`".to_string()));
        assert!(export.warnings.iter().any(|w| w.starts_with("`a` mounts the host path /srv/data/genes: a hostPath")));

        let options = ArgoOptions {
            volume_map: vec![
                (PathBuf::from("/srv/data"), "kg-data".into()),
                (PathBuf::from("/srv/data/genes"), "genes".into()),
                (PathBuf::from("/unused"), "nothing".into()),
            ],
            ..ArgoOptions::default()
        };
        let export = export_with(yaml, &Selection::default(), &options).expect("exports");
        let workflow = &export.documents[0];
        assert_eq!(
            workflow["spec"]["volumes"],
            json!([
                {"name": "genes", "persistentVolumeClaim": {"claimName": "genes"}},
                {"name": "pg-data", "persistentVolumeClaim": {"claimName": "pg-data"}},
                {"name": "kg-data", "persistentVolumeClaim": {"claimName": "kg-data"}},
                {"name": "host-cache", "hostPath": {"path": "/opt/cache"}},
            ])
        );
        let export2 = export_with(
            "p:\n  - {name: a, image_repo: x, volumes: [/srv/data/genes/v2:/g]}\n",
            &Selection::default(),
            &ArgoOptions { volume_map: vec![(PathBuf::from("/srv/data"), "kg-data".into())], ..ArgoOptions::default() },
        )
        .expect("exports");
        assert_eq!(
            template(&export2.documents[0], "a")["container"]["volumeMounts"],
            json!([{"name": "kg-data", "mountPath": "/g", "subPath": "genes/v2"}])
        );
        assert!(export
            .warnings
            .contains(&"--volume-map /unused=nothing: no exported mount is at or below that path".to_string()));
    }

    #[test]
    fn retries_timeout_and_resources() {
        let export = check(
            "p:\n  - name: a\n    image_repo: x\n    retries: 3\n    retry_delay: 1.5\n    timeout: 90.5s\n    \
             resources: {cpus: 1.5, memory: 512m, reservations: {cpus: 0.25, memory: 4194305}}\n  - {name: b, image_repo: x, \
             retries: 1, retry_delay: 0, resources: {memory: 1g}}\n  - {name: c, image_repo: x, retry_delay: 5s}\n",
        );
        let workflow = &export.documents[0];
        let a = template(workflow, "a");
        assert_eq!(
            a["retryStrategy"],
            json!({"limit": "3", "retryPolicy": "Always", "backoff": {"duration": "1500ms", "factor": 2}})
        );
        assert_eq!(a["activeDeadlineSeconds"], 91);
        assert_eq!(
            a["container"]["resources"],
            json!({"limits": {"cpu": "1.5", "memory": "512Mi"}, "requests": {"cpu": "0.25", "memory": "4194305"}})
        );
        let b = template(workflow, "b");
        assert_eq!(b["retryStrategy"], json!({"limit": "1", "retryPolicy": "Always"}));
        assert_eq!(b["container"]["resources"], json!({"limits": {"memory": "1Gi"}}));
        let c = template(workflow, "c");
        assert!(c.get("retryStrategy").is_none() && c.get("activeDeadlineSeconds").is_none());
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(cpu_quantity(2.0), "2");
        assert_eq!(memory_quantity(3 << 29), "1536Mi");
    }

    #[test]
    fn a_sidecar_name_is_unique_per_template_only() {
        let yaml = "p:\n  - name: a\n    image_repo: x\n    sidecars: [&db {name: db, image_repo: redis}]\n  - name: b\n    image_repo: x\n    sidecars: [*db]\n  - name: db\n    image_repo: x\n";
        let export = check(yaml);
        let workflow = &export.documents[0];
        for task in ["a", "b"] {
            let t = template(workflow, task);
            assert_eq!(t["sidecars"].as_array().map(Vec::len), Some(1), "{t:#}");
            assert_eq!(t["sidecars"][0]["name"], "db", "{t:#}");
            assert_eq!(t["hostAliases"], json!([{"ip": "127.0.0.1", "hostnames": ["db"]}]));
        }
        assert_eq!(template(workflow, "db")["container"]["name"], "main");
    }

    #[test]
    fn sidecars_with_ready_checks_host_aliases_and_pull_policy() {
        let export = check(
            "p:\n  - name: a\n    image_repo: x\n    pull: always\n    command: [run, --fast]\n    sidecars:\n      - \
             {name: cache_01, image_repo: redis, tag: '7', ready: {command: redis-cli ping, timeout: 30s, interval: 4s}, \
             pull: never}\n      - {name: main, image_repo: y, command: serve}\n",
        );
        let a = template(&export.documents[0], "a");
        assert_eq!(
            a["container"],
            json!({"name": "main", "image": "x:latest", "imagePullPolicy": "Always", "args": ["run", "--fast"]})
        );
        assert_eq!(
            a["sidecars"],
            json!([
                {"name": "cache-01", "image": "redis:7", "imagePullPolicy": "Never",
                 "readinessProbe": {"exec": {"command": ["redis-cli", "ping"]}, "periodSeconds": 4, "failureThreshold": 8}},
                {"name": "main-2", "image": "y:latest", "args": ["serve"]},
            ])
        );
        assert_eq!(a["hostAliases"], json!([{"ip": "127.0.0.1", "hostnames": ["cache-01", "main"]}]));
        assert!(export
            .warnings
            .iter()
            .any(|w| w == "sidecar `cache_01` of `a` is reached as `cache-01` (a host name cannot be `cache_01`)"));
        assert!(export
            .warnings
            .iter()
            .any(|w| w.starts_with("sidecar `cache_01` of `a`: its `ready` check becomes a readinessProbe")));
    }

    #[test]
    fn placement_becomes_node_selectors_and_affinity() {
        let export = check(
            "p:\n  - name: a\n    image_repo: x\n    placement: [node.labels.disk==ssd, node.hostname==n1, 'node.role != \
             manager', node.labels.zone!=eu-1, node.platform.arch==x86_64, node.id==abc, node.labels.disk==nvme]\n",
        );
        let a = template(&export.documents[0], "a");
        assert_eq!(
            a["nodeSelector"],
            json!({"disk": "ssd", "kubernetes.io/hostname": "n1", "kubernetes.io/arch": "amd64"})
        );
        assert_eq!(
            a["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"],
            json!([{"matchExpressions": [
                {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["eu-1"]},
                {"key": "disk", "operator": "In", "values": ["nvme"]},
            ]}])
        );
        assert_eq!(
            export.warnings,
            vec![
                "`a`: placement `node.id==abc` does not carry over: only node.labels.*, node.hostname, node.role and \
                 node.platform.* map to node labels"
                    .to_string()
            ]
        );
        let parse = |text: &str| text.parse::<Placement>().expect("a placement");
        assert_eq!(
            node_rule(&parse("node.role==manager")),
            Ok(NodeRule::Expression(json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"})))
        );
        let spaced = Placement { attribute: "node.labels.a b".into(), op: PlacementOp::Eq, value: "c".into() };
        assert_eq!(node_rule(&spaced), Err("`a b=c` is no valid Kubernetes node label".to_string()));
    }

    #[test]
    fn labels_are_made_valid_or_left_out() {
        let export = check(
            "p:\n  - name: a\n    image_repo: x\n    desc: Loads things\n    labels: {team: data, 'cost center': 'kg / \
             nightly', '%%': x, ok: '%%'}\n    sidecars: [{name: s, image_repo: y, labels: {team: other, tier: cache}}]\n",
        );
        let a = template(&export.documents[0], "a");
        assert_eq!(
            a["metadata"],
            json!({
                "labels": {"team": "data", "cost-center": "kg-nightly", "tier": "cache"},
                "annotations": {"io.copili/container": "a", "io.copili/desc": "Loads things"},
            })
        );
        assert_eq!(
            export.warnings,
            vec![
                "`a`: the label `cost center=kg / nightly` becomes `cost-center=kg-nightly` (Kubernetes label rules)",
                "`a`: the label `%%` is left out: no valid Kubernetes label key",
                "`a`: the label `ok` is left out: its value is no valid Kubernetes label value",
            ]
        );
    }

    #[test]
    fn dollar_references_reach_the_container_unchanged() {
        assert_eq!(kubernetes_escape("echo $HOSTNAME ${X:-0}"), "echo $HOSTNAME ${X:-0}");
        assert_eq!(kubernetes_escape("echo $(date) $$ $"), "echo $$(date) $$$ $");
        assert_eq!(kubernetes_escape("$$("), "$$$$(");
        let yaml =
            "p:\n  - {name: a, image_repo: x, command: ['sh', '-c', 'echo $$(date) {{x}}'], env_vars: {A: 'x$$(B)'}}\n";
        let export = check(yaml);
        let a = template(&export.documents[0], "a");
        assert_eq!(a["container"]["args"], json!(["sh", "-c", "echo $$(date) {{x}}"]));
        // A Secret's value is not expanded: kept as the container gets it.
        assert_eq!(export.secrets_manifest()[0]["stringData"], json!({"A": "x$(B)"}));
        let options = ArgoOptions { plain_env: true, ..ArgoOptions::default() };
        let plain = export_with(yaml, &Selection::default(), &options).expect("exports");
        assert_eq!(template(&plain.documents[0], "a")["container"]["env"], json!([{"name": "A", "value": "x$$(B)"}]));
        assert_eq!(
            export.warnings,
            vec!["`a`: Argo reads `{{…}}` in the command as its own template expression; the workflow may fail to resolve it"]
        );
    }

    #[test]
    fn schedules_without_a_cron_form_are_worded_for_argo() {
        let cron = |text: &str| argo_cron(&Schedule::parse(text).expect("a schedule"));
        assert_eq!(cron("*/5 * * * mon-fri").as_deref(), Ok("*/5 * * * 1-5"));
        assert_eq!(
            cron("every 90s"),
            Err("Argo runs on a cron schedule, and only intervals that divide an hour (1m, 2m, …, 30m) or a day \
                 (1h, 2h, …, 12h, 24h) are one, not 1m 30s"
                .to_string())
        );
        assert_eq!(
            cron("0 3 * * 5-7"),
            Err("Argo's cron reads days of the week 0 to 6: write Sunday as 0 or SUN".to_string())
        );
    }

    #[test]
    fn an_unexpressible_schedule_names_the_container() {
        let yaml = "p:\n  - {name: refresh, image_repo: x, is_service_container: true, schedule: every 7m}\n";
        let error = export_with(yaml, &Selection::default(), &ArgoOptions::default()).expect_err("7m has no cron form");
        assert_eq!(
            error.to_string(),
            "container `refresh`, property `schedule`: `every 7m` cannot be an Argo schedule: Argo runs on a cron \
             schedule, and only intervals that divide an hour (1m, 2m, …, 30m) or a day (1h, 2h, …, 12h, 24h) are one, \
             not 7m; write a cron expression in `schedule`"
        );
        let yaml = "p:\n  - {name: refresh, image_repo: x, is_service_container: true}\n";
        let options =
            ArgoOptions { default_schedule: Schedule::parse("every 25m").expect("valid"), ..Default::default() };
        let error = export_with(yaml, &Selection::default(), &options).expect_err("25m has no cron form");
        assert!(
            error.to_string().starts_with(
                "container `refresh` has no `schedule` and follows the default `every 25m` (--every/--cron), which \
                 cannot be an Argo schedule"
            ),
            "{error}"
        );
    }

    #[test]
    fn cron_workflows_group_service_containers_by_schedule() {
        let yaml = "p:\n  - {name: load, image_repo: x}\n  - {name: refresh, image_repo: x, is_service_container: true, \
                    dependencies: [load], schedule: every 10m}\n  - {name: report, image_repo: x, is_service_container: \
                    true, schedule: daily 03:30, timezone: Europe/Berlin, catch_up: true}\n  - {name: report_sum, \
                    image_repo: x, is_service_container: true, schedule: '30 3 * * *', timezone: Europe/Berlin, \
                    catch_up: true, dependencies: [report, refresh]}\n  - {name: nightly, image_repo: x, \
                    is_service_container: true}\n";
        let export = export_with(yaml, &Selection::default(), &ArgoOptions::default()).expect("exports");
        assert_eq!(export.documents.len(), 4);
        assert_eq!(tasks(&export.documents[0]).len(), 5, "the Workflow runs everything");
        let summary: Vec<(Value, Value, Tasks)> = export.documents[1..]
            .iter()
            .map(|d| {
                assert_eq!(d["kind"], "CronWorkflow");
                assert_eq!(d["spec"]["concurrencyPolicy"], "Forbid");
                assert_eq!(d["spec"]["workflowMetadata"]["labels"]["io.copili/pipeline"], "p");
                (d["metadata"]["name"].clone(), d["spec"]["schedules"].clone(), tasks(d))
            })
            .collect();
        assert_eq!(
            summary,
            // In plan order of their first container: `refresh` waits for `load`, a level later.
            vec![
                (
                    json!("p-report"),
                    json!(["30 3 * * *"]),
                    vec![("report".to_string(), vec![]), ("report-sum".to_string(), vec!["report".to_string()])]
                ),
                (json!("p-nightly"), json!(["0 0 * * *"]), vec![("nightly".to_string(), vec![])]),
                (json!("p-refresh"), json!(["*/10 * * * *"]), vec![("refresh".to_string(), vec![])]),
            ]
        );
        assert_eq!(export.documents[1]["spec"]["timezone"], "Europe/Berlin");
        assert_eq!(export.documents[1]["spec"]["startingDeadlineSeconds"], CATCH_UP_DEADLINE_SECONDS);
        assert!(export.documents[3]["spec"].get("timezone").is_none());
        assert!(export.documents[3]["spec"].get("startingDeadlineSeconds").is_none());
        assert_eq!(
            export.warnings,
            vec![
                "CronWorkflows `p-nightly`, `p-refresh` have no time zone: Argo reads their schedules in the workflow \
                 controller's time zone, where copili would use local time; pass --timezone or set `timezone`"
            ]
        );

        let options = ArgoOptions {
            default_schedule: Schedule::parse("every 2h").expect("valid"),
            default_timezone: Some("UTC".into()),
            namespace: Some("argo".into()),
            ..ArgoOptions::default()
        };
        let export = export_with(yaml, &Selection::default(), &options).expect("exports");
        assert!(export.warnings.is_empty(), "{:?}", export.warnings);
        let nightly = &export.documents[2];
        assert_eq!(nightly["spec"]["schedules"], json!(["0 */2 * * *"]));
        assert_eq!(nightly["spec"]["timezone"], "UTC");
        assert_eq!(nightly["metadata"]["namespace"], "argo");
        assert_eq!(export.documents[0]["metadata"]["namespace"], "argo");
    }

    #[test]
    fn containers_a_run_would_cancel_are_left_out() {
        let yaml =
            "p:\n  - {name: a, image_repo: x, exlude_in_env: [PROD]}\n  - {name: b, image_repo: x, dependencies: \
                    [a]}\n  - {name: c, image_repo: x, dependencies: [b]}\n  - {name: d, image_repo: x}\n";
        let selection = Selection { environment: Some("PROD".into()), ..Selection::default() };
        let export = export_with(yaml, &selection, &ArgoOptions::default()).expect("exports");
        assert_eq!(tasks(&export.documents[0]), vec![("d".to_string(), vec![])]);
        assert_eq!(
            export.warnings,
            vec![
                "`b` is left out: it depends on `a`, which is excluded in environment `PROD` (a run would cancel it)",
                "`c` is left out: it depends on `b`, which is left out too (a run would cancel it)",
            ]
        );
        let selection = Selection { skip: vec!["d".into(), "a".into()], ..Selection::default() };
        let error = export_with(yaml, &selection, &ArgoOptions::default()).expect_err("nothing left");
        assert_eq!(error.to_string(), "nothing to export: the selection leaves out every container");
    }

    #[test]
    fn options_are_checked() {
        let yaml = "p:\n  - {name: a, image_repo: x}\n";
        let run = |options: ArgoOptions| {
            export_with(yaml, &Selection::default(), &options).expect_err("invalid options").to_string()
        };
        assert_eq!(
            run(ArgoOptions { namespace: Some("Argo".into()), ..Default::default() }),
            "invalid namespace `Argo`: expected lowercase letters, digits and `-`, at most 63 characters"
        );
        assert_eq!(
            run(ArgoOptions { volume_map: vec![(PathBuf::from("data"), "c".into())], ..Default::default() }),
            "--volume-map: `data` is not an absolute path"
        );
        assert!(run(ArgoOptions { volume_map: vec![(PathBuf::from("/d"), "C_1".into())], ..Default::default() })
            .starts_with("--volume-map /d=C_1: `C_1` is not a PersistentVolumeClaim name"));
        assert_eq!(
            run(ArgoOptions { default_timezone: Some("Mars/Olympus".into()), ..Default::default() }),
            "invalid --timezone `Mars/Olympus`"
        );
    }

    #[test]
    fn container_options_map_to_the_container_and_its_pod() {
        let export = check(
            "p:\n  - name: load\n    image_repo: x\n    command: [sh, -c, 'echo $$(id -u)']\n    user: '1000:1001'\n    \
             working_dir: /app\n    entrypoint: [tini, --]\n    read_only: true\n    cap_add: [net_admin]\n    \
             cap_drop: [ALL]\n    network_mode: host\n    extra_hosts: ['db:10.0.0.5', 'cache=10.0.0.5', 'v6:[::1]']\n    \
             shm_size: 256m\n    tmpfs: [/run, '/tmp:size=64m']\n    gpus: 2\n    stop_grace_period: 1m30s\n    \
             resources: {memory: 1g}\n",
        );
        let load = template(&export.documents[0], "load");
        assert_eq!(
            load["container"],
            json!({
                "name": "main",
                "image": "x:latest",
                "command": ["tini", "--"],
                "args": ["sh", "-c", "echo $$(id -u)"],
                "workingDir": "/app",
                "securityContext": {
                    "runAsUser": 1000,
                    "runAsGroup": 1001,
                    "readOnlyRootFilesystem": true,
                    "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                },
                "volumeMounts": [
                    {"name": "dshm", "mountPath": "/dev/shm"},
                    {"name": "tmpfs-run", "mountPath": "/run"},
                    {"name": "tmpfs-tmp", "mountPath": "/tmp"},
                ],
                "resources": {"limits": {"memory": "1Gi", "nvidia.com/gpu": "2"}},
            })
        );
        assert_eq!(
            load["volumes"],
            json!([
                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
                {"name": "tmpfs-run", "emptyDir": {"medium": "Memory"}},
                {"name": "tmpfs-tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            ])
        );
        assert_eq!(
            load["hostAliases"],
            json!([{"ip": "10.0.0.5", "hostnames": ["db", "cache"]}, {"ip": "::1", "hostnames": ["v6"]}])
        );
        let patch: Value = serde_json::from_str(load["podSpecPatch"].as_str().expect("a string")).expect("JSON");
        assert_eq!(patch, json!({"hostNetwork": true, "terminationGracePeriodSeconds": 90}));
        assert!(export.warnings.is_empty(), "{:?}", export.warnings);
        // Pod volumes are not the workflow's.
        assert!(export.documents[0]["spec"].get("volumes").is_none());
    }

    #[test]
    fn an_entrypoint_becomes_the_command_and_an_empty_one_runs_the_command_itself() {
        let export = check(
            "p:\n  - {name: a, image_repo: x, entrypoint: /bin/sh}\n  - {name: b, image_repo: x, entrypoint: '', \
             command: 'report --all'}\n  - {name: c, image_repo: x, entrypoint: [], command: [serve]}\n  - {name: d, \
             image_repo: x, command: [serve]}\n",
        );
        let workflow = &export.documents[0];
        let fields = |name: &str| {
            let container = &template(workflow, name)["container"];
            (container.get("command").cloned(), container.get("args").cloned())
        };
        // Without args, Kubernetes runs the command without the image's CMD, as docker does.
        assert_eq!(fields("a"), (Some(json!(["/bin/sh"])), None));
        assert_eq!(fields("b"), (Some(json!(["report", "--all"])), None));
        assert_eq!(fields("c"), (Some(json!(["serve"])), None));
        assert_eq!(fields("d"), (None, Some(json!(["serve"]))));
        let braces = check("p:\n  - {name: a, image_repo: x, entrypoint: ['{{x}}']}\n");
        assert_eq!(
            braces.warnings,
            vec!["`a`: Argo reads `{{…}}` in the command as its own template expression; the workflow may fail to resolve it"]
        );
    }

    #[test]
    fn sidecar_options_stay_with_the_sidecar_and_extra_hosts_join_the_pods() {
        let export = check(
            "p:\n  - name: a\n    image_repo: x\n    stop_grace_period: 10s\n    extra_hosts: ['graph:10.1.0.2']\n    \
             sidecars:\n      - {name: db, image_repo: y, user: '999', read_only: true, tmpfs: /var/run/postgresql, \
             shm_size: 1g, extra_hosts: ['ext:192.168.1.9', 'graph:10.1.0.2', 'self:127.0.0.1']}\n  - {name: b, \
             image_repo: x, tmpfs: '/tmp:size=1m', volumes: ['dshm:/data']}\n",
        );
        let workflow = &export.documents[0];
        let a = template(workflow, "a");
        assert!(a["container"].get("securityContext").is_none(), "{a:#}");
        assert!(a["container"].get("volumeMounts").is_none(), "{a:#}");
        assert_eq!(
            a["sidecars"][0],
            json!({
                "name": "db",
                "image": "y:latest",
                "securityContext": {"runAsUser": 999, "readOnlyRootFilesystem": true},
                "volumeMounts": [
                    {"name": "dshm", "mountPath": "/dev/shm"},
                    {"name": "tmpfs-var-run-postgresql", "mountPath": "/var/run/postgresql"},
                ],
            })
        );
        assert_eq!(
            a["volumes"],
            json!([
                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
                {"name": "tmpfs-var-run-postgresql", "emptyDir": {"medium": "Memory"}},
            ])
        );
        assert_eq!(
            a["hostAliases"],
            json!([
                {"ip": "127.0.0.1", "hostnames": ["db", "self"]},
                {"ip": "10.1.0.2", "hostnames": ["graph"]},
                {"ip": "192.168.1.9", "hostnames": ["ext"]},
            ])
        );
        assert_eq!(a["podSpecPatch"], r#"{"terminationGracePeriodSeconds":10}"#);
        // Volume names are unique in the workflow: the named volume `dshm` is not `a`'s /dev/shm.
        let b = template(workflow, "b");
        assert_eq!(
            b["container"]["volumeMounts"],
            json!([{"name": "dshm-2", "mountPath": "/data"}, {"name": "tmpfs-tmp", "mountPath": "/tmp"}])
        );
        assert_eq!(
            workflow["spec"]["volumes"],
            json!([{"name": "dshm-2", "persistentVolumeClaim": {"claimName": "dshm"}}])
        );
        assert!(b.get("podSpecPatch").is_none());
    }

    #[test]
    fn options_pods_cannot_carry_are_refused_before_anything_is_exported() {
        let yaml = "p:\n  - {name: a, image_repo: x, networks: [graph], is_service_container: true, schedule: every \
                    7m}\n  - {name: b, image_repo: x, sidecars: [{name: db, image_repo: y, devices: [/dev/fuse]}]}\n";
        let error = export_with(yaml, &Selection::default(), &ArgoOptions::default()).expect_err("refused");
        assert_eq!(error.to_string(), "the pipeline uses container options that cannot be exported to Argo Workflows");
        let ExportError::Unsupported(diagnostics) = error else { panic!("{error:?}") };
        assert_eq!(
            diagnostics
                .items
                .iter()
                .map(|d| (d.container.as_deref(), d.property.as_deref(), d.message.as_str()))
                .collect::<Vec<_>>(),
            [
                (
                    Some("a"),
                    Some("networks"),
                    "`networks` cannot be exported to Argo Workflows: pods have no engine networks"
                ),
                (
                    Some("b/db"),
                    Some("devices"),
                    "`devices` cannot be exported to Argo Workflows: pods have no device lists"
                ),
            ]
        );
        assert!(diagnostics.items.iter().all(|d| d.source.is_some()), "located");
        // What the selection leaves out is not exported, and not refused.
        let selection = Selection { skip: vec!["a".into()], ..Selection::default() };
        let ExportError::Unsupported(diagnostics) =
            export_with(yaml, &selection, &ArgoOptions::default()).expect_err("refused")
        else {
            panic!("refused for its options")
        };
        assert_eq!(diagnostics.items.len(), 1);
        assert_eq!(diagnostics.items[0].container.as_deref(), Some("b/db"));
        let selection = Selection { only: vec!["a".into()], ..Selection::default() };
        let error = export_with(yaml, &selection, &ArgoOptions::default()).expect_err("refused");
        assert!(matches!(&error, ExportError::Unsupported(d) if d.items.len() == 1), "{error:?}");
        let yaml = "p:\n  - {name: a, image_repo: x, exlude_in_env: [PROD], devices: [/dev/fuse]}\n  - {name: b, \
                    image_repo: x}\n";
        let selection = Selection { environment: Some("PROD".into()), ..Selection::default() };
        let export = export_with(yaml, &selection, &ArgoOptions::default()).expect("`a` is not exported");
        assert_eq!(tasks(&export.documents[0]), vec![("b".to_string(), vec![])]);
    }

    #[test]
    fn copili_only_properties_are_named() {
        let export =
            check("p:\n  - {name: a, image_repo: x, run_once: true, tls_verify: false}\n  - {name: b, build: ./b}\n");
        assert_eq!(
            export.warnings,
            vec![
                "`a`: `tls_verify: false` does not carry over: the nodes' container runtime decides",
                "`a`: `run_once` does not carry over: Argo keeps no run state, every workflow runs it",
                "`b` is built by copili: Argo pulls `localhost/copili-p-b:latest`, so push the image to a registry the \
                 cluster can reach",
            ]
        );
    }
}
