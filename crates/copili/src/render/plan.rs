//! `copili plan`: the selected containers by level, what is left out and why, the variables
//! used. Secret values (registry passwords, `env_vars` values) are always shown as `****`.
//!
//! The JSON shape is stable and documented in `docs/cli.md`:
//! `{"pipeline", "source", "environment", "levels", "containers", "excluded", "added_by_only",
//! "external_dependencies", "variables", "warnings"}`.

use copili_model::{AllowFailure, ContainerSpec, DependencyCondition, Diagnostic, Secret};
use serde::Serialize;

use crate::{Pipeline, Plan};

pub use super::plan_text::to_text;

/// What will happen to each image (by `repo:tag`), from [`copili_runtime::images::plan`].
pub type ImagePlans = std::collections::HashMap<String, copili_runtime::images::Planned>;

/// An image's fate in a plan.
#[derive(Debug, Serialize)]
pub struct ImageJson {
    /// `present`, `pull`, `build`, `absent` (fails: `pull: never`), `unknown` or `invalid`.
    pub status: &'static str,
    /// For people.
    pub note: String,
    /// The build context, when built.
    pub build: Option<String>,
}

fn image_json(c: &ContainerSpec, images: &ImagePlans) -> Option<ImageJson> {
    images.get(&c.image()).map(|planned| ImageJson {
        status: planned.kind(),
        note: crate::report::words::planned(planned),
        build: c.build.as_ref().map(|b| build_context(&b.context)),
    })
}

pub(super) fn build_context(context: &copili_model::BuildContext) -> String {
    match context {
        copili_model::BuildContext::Dir { resolved, .. } => resolved.display().to_string(),
        copili_model::BuildContext::Git { url, reference, subdir } => {
            let mut text = url.clone();
            if reference.is_some() || subdir.is_some() {
                text.push('#');
                text.push_str(reference.as_deref().unwrap_or(""));
                if let Some(subdir) = subdir {
                    text.push(':');
                    text.push_str(subdir);
                }
            }
            text
        }
    }
}

/// The JSON document of `copili plan --format json`.
#[derive(Debug, Serialize)]
pub struct PlanJson {
    /// The pipeline's identity (its top-level key, or `--name`).
    pub pipeline: String,
    /// Where it was read from.
    pub source: String,
    /// The environment the selection was made for.
    pub environment: Option<String>,
    /// Container names by topological level.
    pub levels: Vec<Vec<String>>,
    /// The selected containers in execution order.
    pub containers: Vec<ContainerJson>,
    /// Containers that do not run, with the reason.
    pub excluded: Vec<ExcludedJson>,
    /// Handlers (`run_on`), run after the others when the run's outcome matches; left out
    /// when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<HandlerJson>,
    /// Containers selected because a container named by `--only` depends on them.
    pub added_by_only: Vec<String>,
    /// Service-only plans: dependencies on static containers, met by earlier runs.
    pub external_dependencies: Vec<ExternalJson>,
    /// Variables the description used and where their values came from.
    pub variables: Vec<VariableJson>,
    /// Warnings from loading and planning.
    pub warnings: Vec<WarningJson>,
    /// `plan --engine swarm`: per container, the `docker service create` commands a run makes
    /// (its sidecars', then its own); absent for other engines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm_commands: Option<serde_json::Map<String, serde_json::Value>>,
    /// With a lock file beside the pipeline (`FILE.lock`): each image of the selected
    /// containers against it, `{"image", "containers", "state":
    /// "present-at-locked-identity|present-but-different|absent|not-locked", "locked_id", "locked_digest", "host_id"}`; absent
    /// without a lock file or with `--engine none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_images: Option<Vec<serde_json::Value>>,
}

/// A container in the plan.
#[derive(Debug, Serialize)]
pub struct ContainerJson {
    /// Its name.
    pub name: String,
    /// `repo:tag`.
    pub image: String,
    /// What happens to the image before the run; absent when the engine was not asked
    /// (`--engine none`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_status: Option<ImageJson>,
    /// When to pull: `missing`, `always` or `never`.
    pub pull: &'static str,
    /// 1-based level.
    pub level: usize,
    /// Names of its dependencies.
    pub dependencies: Vec<String>,
    /// Those of them it needs only to have ended (`condition: completed`); left out when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub completed_dependencies: Vec<String>,
    /// Its allowed failures: `true` (any) or the exit codes; left out when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_failure: Option<serde_json::Value>,
    /// Whether it reruns in service mode.
    pub is_service_container: bool,
    /// Set when it will be cancelled because a dependency does not run.
    pub blocked_by: Option<String>,
    /// The command (empty: the image's own).
    pub command: Vec<String>,
    /// Environment variables, values masked.
    pub env_vars: serde_json::Map<String, serde_json::Value>,
    /// Mounts in the short form `SOURCE:TARGET:MODE`, host paths resolved.
    pub volumes: Vec<String>,
    /// Labels.
    pub labels: serde_json::Map<String, serde_json::Value>,
    /// Environments in which it is left out: the property `exlude_in_env` (or its alias), under
    /// the documented, correctly spelt name.
    pub exclude_in_env: Vec<String>,
    /// The same list under the property's seed spelling, which copili 0.1.0 wrote here:
    /// deprecated, kept so that scripts written for it go on working.
    pub exlude_in_env: Vec<String>,
    /// Whether it runs even when it ran before.
    pub force_rerun: bool,
    /// Registry user name, if any.
    pub image_reg_username: Option<String>,
    /// `****` when a registry password is set.
    pub image_reg_password: Option<String>,
    /// Link to more information.
    pub info_link: Option<String>,
    /// Description.
    pub desc: Option<String>,
    /// The container options that are set (`networks`, `user`, `tmpfs`, …), by property name.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub options: serde_json::Map<String, serde_json::Value>,
    /// Sidecars (same fields, without dependencies, sidecars and level).
    pub sidecars: Vec<SidecarJson>,
    /// For an expansion of a `matrix` description: its name and this expansion's values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixJson>,
}

/// Where an expansion of a `matrix` description comes from.
#[derive(Debug, Serialize)]
pub struct MatrixJson {
    /// The description's name (a dependency on it is one on every expansion).
    pub of: String,
    /// This expansion's value of each key.
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// The matrix origin of a container, as the plan and the report show it.
pub fn matrix_json(c: &ContainerSpec) -> Option<MatrixJson> {
    c.matrix.as_ref().map(|m| MatrixJson {
        of: m.base.clone(),
        values: m.values.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
    })
}

/// A sidecar in the plan.
#[derive(Debug, Serialize)]
pub struct SidecarJson {
    /// Its name.
    pub name: String,
    /// `repo:tag`.
    pub image: String,
    /// What happens to the image before the run; absent when the engine was not asked
    /// (`--engine none`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_status: Option<ImageJson>,
    /// The command.
    pub command: Vec<String>,
    /// Environment variables, values masked.
    pub env_vars: serde_json::Map<String, serde_json::Value>,
    /// Mounts.
    pub volumes: Vec<String>,
    /// Labels.
    pub labels: serde_json::Map<String, serde_json::Value>,
    /// Registry user name, if any.
    pub image_reg_username: Option<String>,
    /// `****` when a registry password is set.
    pub image_reg_password: Option<String>,
    /// Link to more information.
    pub info_link: Option<String>,
    /// Description.
    pub desc: Option<String>,
    /// The container options that are set, by property name.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// A container left out.
#[derive(Debug, Serialize)]
pub struct ExcludedJson {
    /// Its name.
    pub name: String,
    /// Why, for people, e.g. "excluded in environment `PROD`".
    pub reason: String,
    /// Why, for scripts: `environment`, `skip`, `only` or `service`.
    pub kind: &'static str,
}

/// A handler of the plan.
#[derive(Debug, Serialize)]
pub struct HandlerJson {
    /// Its name.
    pub name: String,
    /// `failure`, `success` or `always`.
    pub run_on: &'static str,
    /// Its image, `repo:tag`.
    pub image: String,
}

/// A dependency met by earlier runs (service-only plans).
#[derive(Debug, Serialize)]
pub struct ExternalJson {
    /// The service container.
    pub container: String,
    /// The static container it depends on.
    pub dependency: String,
}

/// A variable the description used.
#[derive(Debug, Serialize)]
pub struct VariableJson {
    /// Its name.
    pub name: String,
    /// `env`, `.env`, `default` or `undefined`.
    pub source: &'static str,
}

/// A warning, located.
#[derive(Debug, Serialize)]
pub struct WarningJson {
    /// The message.
    pub message: String,
    /// The file.
    pub file: Option<String>,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// The container.
    pub container: Option<String>,
    /// The property.
    pub property: Option<String>,
}

fn masked_env(env: &[(String, Secret)]) -> serde_json::Map<String, serde_json::Value> {
    env.iter().map(|(k, _)| (k.clone(), serde_json::Value::String(Secret::MASK.into()))).collect()
}

fn labels(labels: &[(String, String)]) -> serde_json::Map<String, serde_json::Value> {
    labels.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect()
}

fn warning_json(d: &Diagnostic) -> WarningJson {
    let known = d.span.is_known();
    WarningJson {
        message: d.message.clone(),
        file: d.source.as_ref().map(|s| s.name.clone()),
        line: known.then_some(d.span.line),
        column: known.then_some(d.span.column),
        container: d.container.clone(),
        property: d.property.clone(),
    }
}

/// The dependencies a container needs only to have ended (`condition: completed`).
fn completed_dependencies(c: &ContainerSpec) -> Vec<String> {
    c.dependencies.iter().filter(|d| c.condition_of(d) == DependencyCondition::Completed).cloned().collect()
}

/// Builds the JSON document of a plan.
pub fn to_json(pipeline: &Pipeline, plan: &Plan, images: &ImagePlans) -> PlanJson {
    let spec = pipeline.spec();
    let name = |i: usize| spec.containers[i].name.clone();
    let mut level_of = vec![0; spec.containers.len()];
    for (level, members) in plan.levels.iter().enumerate() {
        for &i in members {
            level_of[i] = level + 1;
        }
    }
    let containers = plan
        .order()
        .map(|i| {
            let c = &spec.containers[i];
            ContainerJson {
                name: c.name.clone(),
                image: c.image(),
                image_status: image_json(c, images),
                pull: c.pull.unwrap_or_default().as_str(),
                level: level_of[i],
                dependencies: c.dependencies.clone(),
                completed_dependencies: completed_dependencies(c),
                allow_failure: match c.allow_failure() {
                    AllowFailure::No => None,
                    AllowFailure::Any => Some(serde_json::Value::Bool(true)),
                    AllowFailure::ExitCodes(codes) => Some(serde_json::json!(codes)),
                },
                is_service_container: c.is_service_container,
                blocked_by: plan.blocked_by(i).map(name),
                command: c.command.clone(),
                env_vars: masked_env(&c.env_vars),
                volumes: c.volumes.iter().map(|v| v.short_form()).collect(),
                labels: labels(&c.labels),
                exclude_in_env: c.exclude_in_env.clone(),
                exlude_in_env: c.exclude_in_env.clone(),
                force_rerun: c.force_rerun,
                image_reg_username: c.image_reg_username.clone(),
                image_reg_password: c.image_reg_password.as_ref().map(|_| Secret::MASK.to_string()),
                info_link: c.info_link.clone(),
                desc: c.desc.clone(),
                options: super::options::options_json(c.options()),
                sidecars: c.sidecars.iter().map(|s| sidecar_json(s, images)).collect(),
                matrix: matrix_json(c),
            }
        })
        .collect();
    PlanJson {
        pipeline: pipeline.identity().to_string(),
        source: spec.source.name.clone(),
        environment: plan.environment.clone(),
        levels: plan.levels.iter().map(|l| l.iter().map(|&i| name(i)).collect()).collect(),
        containers,
        excluded: plan
            .excluded
            .iter()
            .filter(|e| e.reason != copili_planner::ExclusionReason::Handler)
            .map(|e| ExcludedJson { name: name(e.container), reason: e.reason.to_string(), kind: e.reason.kind() })
            .collect(),
        handlers: plan
            .handlers()
            .into_iter()
            .filter_map(|h| {
                let c = spec.containers.get(h)?;
                Some(HandlerJson { name: c.name.clone(), run_on: c.run_on?.as_str(), image: c.image() })
            })
            .collect(),
        added_by_only: plan.added_by_only.iter().map(|&i| name(i)).collect(),
        external_dependencies: plan
            .external_dependencies
            .iter()
            .map(|&(c, d)| ExternalJson { container: name(c), dependency: name(d) })
            .collect(),
        variables: spec
            .variables
            .iter()
            .map(|v| VariableJson { name: v.name.clone(), source: v.source.as_str() })
            .collect(),
        warnings: pipeline.warnings().iter().chain(&plan.warnings).map(warning_json).collect(),
        swarm_commands: None,
        locked_images: None,
    }
}

fn sidecar_json(s: &ContainerSpec, images: &ImagePlans) -> SidecarJson {
    SidecarJson {
        name: s.name.clone(),
        image: s.image(),
        image_status: image_json(s, images),
        command: s.command.clone(),
        env_vars: masked_env(&s.env_vars),
        volumes: s.volumes.iter().map(|v| v.short_form()).collect(),
        labels: labels(&s.labels),
        image_reg_username: s.image_reg_username.clone(),
        image_reg_password: s.image_reg_password.as_ref().map(|_| Secret::MASK.to_string()),
        info_link: s.info_link.clone(),
        desc: s.desc.clone(),
        options: super::options::options_json(s.options()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, Selection};

    #[test]
    fn json_gives_the_environments_under_the_documented_name_and_the_deprecated_one() {
        let yaml = "p:\n  - {name: a, image_repo: x, exlude_in_env: [PROD, QA]}\n  - {name: b, image_repo: x, exclude_in_env: [DEV]}\n";
        let pipeline = Pipeline::from_str(yaml, &LoadOptions::default()).expect("a valid pipeline");
        let plan = pipeline.plan(&Selection::default()).expect("a plannable pipeline");
        let json = serde_json::to_value(to_json(&pipeline, &plan, &ImagePlans::new())).expect("serializable");
        let containers = json["containers"].as_array().expect("a list of containers");
        let fields = |i: usize| {
            let keys: Vec<&str> = containers[i].as_object().expect("an object").keys().map(String::as_str).collect();
            let at = keys.iter().position(|k| *k == "exclude_in_env").expect("`exclude_in_env` is given");
            assert_eq!(keys[at + 1], "exlude_in_env", "the deprecated spelling follows the documented one");
            (containers[i]["exclude_in_env"].clone(), containers[i]["exlude_in_env"].clone())
        };
        assert_eq!(fields(0), (serde_json::json!(["PROD", "QA"]), serde_json::json!(["PROD", "QA"])));
        assert_eq!(fields(1), (serde_json::json!(["DEV"]), serde_json::json!(["DEV"])));
    }
}
