//! Argo Workflows documents for a pipeline (`copili export argo`): a `Workflow` that runs the
//! selected containers as a DAG, as `copili run` would, and one `CronWorkflow` per schedule of
//! the service containers, as `copili service` reruns them.
//!
//! The selection is the [`Plan`]'s: containers it leaves out are not exported, and neither is a
//! selected container that the run would cancel because a dependency is left out (copili 1.4's
//! "cancelled"), with a warning. Everything else maps property by property (docs/cli.md,
//! `copili export argo`, has the table); what has no Argo or Kubernetes counterpart is named in
//! [`ArgoExport::warnings`]. Handlers (`run_on`) are every workflow's exit handler (`onExit`,
//! a DAG of them with `when` on the workflow's status), not tasks. The container options a pod cannot carry are refused first
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

mod container;
mod cron;
mod exit;
mod names;
mod placement;
mod quantities;
mod secrets;
mod template;
#[cfg(test)]
mod tests;
mod volumes;
mod workflow;

use cron::*;
use exit::*;
use names::*;
use placement::*;
use quantities::*;
use secrets::*;
pub use workflow::export;
use workflow::*;

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
        /// The service container whose `schedule` it is.
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
        /// The service container without a `schedule` of its own.
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
        /// The host path of the `--volume-map` entry.
        host: PathBuf,
        /// The claim as given.
        claim: String,
    },
    /// `--timezone` names no time zone.
    #[error("invalid --timezone `{name}`")]
    TimeZone {
        /// The name as given.
        name: String,
        /// What the time zone database said.
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
