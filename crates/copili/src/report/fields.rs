//! The JSON report's machine-readable reason ([`ReasonFields`]): the typed [`Reason`] of an
//! outcome as stable keys beside its `reason` text, so that scripts need not parse sentences.
//! Documented in docs/cli.md (the report section).

use copili_runtime::reason::{DependencyEnd, ImageFailure, Reason, RegistryFailure};
use copili_runtime::EngineError;
use serde::{Deserialize, Serialize};

/// The keys that say why a container (or an image) did not succeed; each is left out when it
/// does not apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasonFields {
    /// What kind of reason: `exit_code`, `timed_out`, `engine_error`, `sidecar_not_ready`,
    /// `image`, `interrupted`, `fail_fast`, `dependency`, `excluded`, `ran_before`,
    /// `hook_refused`, `hook_never_met`, `not_started`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_kind: Option<String>,
    /// `exit_code`: whether the kernel killed it for want of memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_killed: Option<bool>,
    /// `timed_out`, `sidecar_not_ready`: the limit, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// `sidecar_not_ready`: the sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<String>,
    /// `dependency`: the dependency whose end started the cascade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency: Option<String>,
    /// `dependency`: how it ended: `failed`, `cancelled`, `not_run`, `did_not_run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_end: Option<String>,
    /// `fail_fast`: the container whose failure stopped the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_container: Option<String>,
    /// `excluded`: `environment`, `skip`, `only` or `service` (as in `copili plan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion: Option<String>,
    /// `image`: what went wrong with it (`pull`, `absent_never`, `build_failed`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_failure: Option<String>,
    /// `image`: the image that could not be had (a sidecar's, maybe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_image: Option<String>,
    /// A pull or a build's login: `credentials_refused`, `credentials_missing`,
    /// `access_denied`, `not_found`, `unreachable`, `plain_http` or `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_failure: Option<String>,
    /// A pull or a build's login: the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// A pull: the attempts made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_attempts: Option<u32>,
    /// An engine command that failed (secrets masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_command: Option<String>,
    /// Its exit code. (Its error output is not repeated here: `reason` quotes its telling
    /// line, and the rest can hold a container's own output.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_exit_code: Option<i32>,
}

impl ReasonFields {
    /// The fields of a container's reason.
    pub fn of(reason: &Reason) -> ReasonFields {
        let mut fields = ReasonFields { reason_kind: Some(reason.kind().to_string()), ..ReasonFields::default() };
        match reason {
            Reason::ExitCode { oom_killed, .. } => fields.oom_killed = Some(*oom_killed),
            Reason::TimedOut { after } => fields.timeout_seconds = Some(after.as_secs_f64()),
            Reason::Engine(error) => fields.engine(error),
            Reason::SidecarNotReady { sidecar, after } => {
                fields.sidecar = Some(sidecar.clone());
                fields.timeout_seconds = Some(after.as_secs_f64());
            }
            Reason::Image(failure) => fields.image(failure),
            Reason::FailFast { failed } => fields.failed_container = Some(failed.clone()),
            Reason::Dependency { name, end } => {
                fields.dependency = Some(name.clone());
                fields.dependency_end = Some(end.kind().to_string());
                if let DependencyEnd::NotRun(Some(why)) = end {
                    if let Reason::Excluded(exclusion) = &**why {
                        fields.exclusion = Some(exclusion.kind().to_string());
                    }
                }
            }
            Reason::Excluded(exclusion) => fields.exclusion = Some(exclusion.kind().to_string()),
            Reason::Interrupted
            | Reason::RanBefore { .. }
            | Reason::HookRefused
            | Reason::HookNeverMet
            | Reason::NotStarted { .. }
            | Reason::Outputs { .. }
            | Reason::OutputMissing { .. } => {}
        }
        fields
    }

    /// The fields of an image's failure (the kind is `image`).
    pub fn of_image(failure: &ImageFailure) -> ReasonFields {
        let mut fields = ReasonFields { reason_kind: Some("image".into()), ..ReasonFields::default() };
        fields.image(failure);
        fields
    }

    fn image(&mut self, failure: &ImageFailure) {
        self.image_failure = Some(failure.kind().to_string());
        self.failed_image = match failure {
            ImageFailure::PresenceUnknown { image, .. }
            | ImageFailure::AbsentNever { image }
            | ImageFailure::LockedAbsent { image, .. }
            | ImageFailure::LocalOnly { image }
            | ImageFailure::InspectFailed { image, .. }
            | ImageFailure::BuildFailed { image, .. } => Some(image.clone()),
            ImageFailure::Pull { failure: RegistryFailure { image, .. }, .. }
            | ImageFailure::BuildLogin(RegistryFailure { image, .. }) => Some(image.clone()),
            _ => None,
        };
        if let ImageFailure::HalfCredentials { registry, .. } = failure {
            self.registry = Some(registry.clone());
        }
        if let Some(registry) = failure.registry_failure() {
            self.pull_failure = Some(registry.kind.kind().to_string());
            self.registry = Some(registry.registry.clone());
        }
        if let ImageFailure::Pull { attempts, .. } = failure {
            self.pull_attempts = Some(*attempts);
        }
        if let Some(error) = failure.engine_error() {
            self.engine(error);
        }
    }

    fn engine(&mut self, error: &EngineError) {
        match error {
            EngineError::Failed { command, code, .. } => {
                self.engine_command = Some(command.clone());
                self.engine_exit_code = *code;
            }
            EngineError::UnexpectedOutput { command, .. } | EngineError::TimedOut { command, .. } => {
                self.engine_command = Some(command.clone())
            }
            EngineError::NotFound { binary, .. } => self.engine_command = Some(binary.clone()),
            EngineError::NoClientOnPath => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use copili_runtime::reason::PullFailure;
    use serde_json::json;

    use super::*;

    #[test]
    fn typed_reasons_become_stable_keys() {
        let value = |reason: &Reason| serde_json::to_value(ReasonFields::of(reason)).expect("serializable");
        assert_eq!(
            value(&Reason::ExitCode { code: 137, oom_killed: true }),
            json!({"reason_kind": "exit_code", "oom_killed": true})
        );
        assert_eq!(
            value(&Reason::TimedOut { after: Duration::from_secs(2) }),
            json!({"reason_kind": "timed_out", "timeout_seconds": 2.0})
        );
        let error = EngineError::Failed { command: "podman run x".into(), code: Some(125), stderr: "Error: no".into() };
        assert_eq!(
            value(&Reason::Engine(error.clone())),
            json!({"reason_kind": "engine_error", "engine_command": "podman run x", "engine_exit_code": 125})
        );
        let failure = RegistryFailure {
            kind: PullFailure::NotFound,
            image: "r.io/x:1".into(),
            registry: "r.io".into(),
            error: error.clone(),
        };
        assert_eq!(
            value(&Reason::Image(ImageFailure::Pull { failure, attempts: 4 })),
            json!({"reason_kind": "image", "image_failure": "pull", "failed_image": "r.io/x:1",
                   "pull_failure": "not_found", "registry": "r.io", "pull_attempts": 4,
                   "engine_command": "podman run x", "engine_exit_code": 125})
        );
        assert_eq!(
            value(&Reason::Dependency { name: "a".into(), end: DependencyEnd::Cancelled }),
            json!({"reason_kind": "dependency", "dependency": "a", "dependency_end": "cancelled"})
        );
        assert_eq!(value(&Reason::Interrupted), json!({"reason_kind": "interrupted"}));
    }

    /// The acceptance case of issue 13: one run with an OOM kill, a timeout, an engine error,
    /// a pull failure and a cancelled dependent, on the fake engine, through the JSON report.
    #[test]
    fn a_run_reports_a_typed_reason_for_each_failure() {
        use std::sync::Mutex;
        use std::time::{SystemTime, UNIX_EPOCH};

        use copili_model::{load, EnvFile, Input, LoadOptions};
        use copili_runtime::fake::{FakeEngine, PullScript, Script};
        use copili_runtime::images::ImageConfig;
        use copili_runtime::runner::{self, CancelToken, ContainerPolicy, RunConfig};

        use crate::report::json::JsonReport;
        use crate::report::{ContainerInfo, Reporter, RunInfo, RunSummary};

        let text = "p:
  - {name: oom, image_repo: x}
  - {name: slow, image_repo: x}
  - {name: broken, image_repo: x}
  - {name: unpullable, image_repo: r.io/gone}
  - {name: dependent, image_repo: x, dependencies: [oom]}
";
        let pipeline = load(Input::Text(text), &LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() })
            .expect("valid");
        let plan = copili_planner::plan(&pipeline, &copili_planner::Selection::default()).expect("plannable");
        let engine = FakeEngine::new([
            ("oom", Script { exit_code: 137, ..Script::default() }),
            ("slow", Script { runs_for: Duration::from_secs(30), ..Script::default() }),
            ("broken", Script { create_fails: Some("Error: no space left on device".into()), ..Script::default() }),
        ])
        .with_absent_images(&["r.io/gone:latest"])
        .with_pull_script(
            "r.io/gone:latest",
            PullScript { fail_times: 9, failure: PullFailure::NotFound, ..PullScript::default() },
        );
        let mut policies = vec![ContainerPolicy::default(); 5];
        policies[1].timeout = Some(Duration::from_millis(100));
        let config = RunConfig {
            identity: "p".into(),
            run_id: "r1".into(),
            jobs: 4,
            fail_fast: false,
            stop_timeout: Duration::from_secs(1),
            global_env: Vec::new(),
            global_labels: Vec::new(),
            policies,
            images: ImageConfig {
                pull_retries: 1,
                pull_retry_delay: Duration::from_millis(1),
                ..ImageConfig::default()
            },
            instance: None,
            outputs_dir: None,
        };
        let info = RunInfo {
            pipeline: "p".into(),
            run_id: "r1".into(),
            engine: "fake".into(),
            started_at: UNIX_EPOCH,
            containers: pipeline
                .containers
                .iter()
                .map(|c| ContainerInfo {
                    name: c.name.clone(),
                    image: c.image(),
                    sidecars: Vec::new(),
                    depends_on: Vec::new(),
                    completed_dependencies: Vec::new(),
                    service: false,
                    run_on: None,
                    matrix: None,
                })
                .collect(),
        };
        let temp = tempfile::tempdir().expect("temporary directory");
        let report = Mutex::new(JsonReport::new(temp.path().join("report.json"), &info, Box::new(|| UNIX_EPOCH)));
        let outcomes = runner::run(&engine, &pipeline, &plan, &config, &CancelToken::new(), &|event| {
            report.lock().expect("not poisoned").event(&event)
        });
        let mut report = report.into_inner().expect("not poisoned");
        report.finish(&RunSummary { outcomes, finished_at: SystemTime::now(), exit_code: 1 });
        let value = serde_json::to_value(report.report()).expect("serializable");
        let container = |name: &str| {
            let all = value["containers"].as_array().expect("a list");
            all.iter().find(|c| c["name"] == name).cloned().expect("reported")
        };
        let oom = container("oom");
        assert_eq!((&oom["reason_kind"], &oom["oom_killed"]), (&json!("exit_code"), &json!(true)), "{oom}");
        assert_eq!(oom["reason"], "exit code 137 (killed: out of memory)");
        let slow = container("slow");
        assert_eq!((&slow["reason_kind"], &slow["timeout_seconds"]), (&json!("timed_out"), &json!(0.1)), "{slow}");
        let broken = container("broken");
        assert_eq!(broken["reason_kind"], "engine_error", "{broken}");
        assert!(broken["engine_command"].as_str().is_some_and(|c| c.contains("create")), "{broken}");
        assert_eq!(broken["reason"], "engine error: Error: no space left on device", "{broken}");
        let unpullable = container("unpullable");
        let pull = ["reason_kind", "image_failure", "pull_failure", "registry", "pull_attempts", "failed_image"]
            .map(|key| unpullable[key].clone());
        assert_eq!(
            pull,
            [json!("image"), json!("pull"), json!("not_found"), json!("r.io"), json!(2), json!("r.io/gone:latest")],
            "{unpullable}"
        );
        let dependent = container("dependent");
        let cascade = ["reason_kind", "dependency", "dependency_end"].map(|key| dependent[key].clone());
        assert_eq!(cascade, [json!("dependency"), json!("oom"), json!("failed")], "{dependent}");
    }
}
