//! What the fuzz targets run: a pipeline text through parse → interpolate → validate → plan →
//! render (plan as text and JSON, graph as dot and mermaid) → export argo (documents and
//! Secrets manifest), as `copili validate`, `plan`, `graph` and `export argo` do. A panic
//! anywhere is a finding; so is a renderer failing on a pipeline that loaded.

pub mod structured;

use std::collections::HashMap;
use std::path::PathBuf;

use copili::export::argo::{self, ArgoOptions};
use copili::render::plan::ImagePlans;
use copili::{EnvFile, LoadOptions, Pipeline, Selection};

/// The variables a pipeline under test can use (`${FUZZ_VAR}`, `$ENV`, …): a fixed set, so
/// that a finding reproduces from its input alone.
fn load_options() -> LoadOptions {
    let env: HashMap<String, String> =
        [("FUZZ_VAR", "fuzz-value"), ("ENV", "PROD"), ("EMPTY", ""), ("FUZZ_NUMBER", "3"), ("FUZZ_PATH", "/srv/data")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    LoadOptions {
        process_env: env,
        env_file: EnvFile::Disabled,
        strict_env: false,
        working_dir: PathBuf::from("/fuzz"),
    }
}

/// Runs everything on `text`, YAML or JSON; panics on a finding.
pub fn check(text: &str) {
    let options = load_options();
    match Pipeline::from_str(text, &options) {
        Ok(pipeline) => check_pipeline(&pipeline, &options),
        Err(diagnostics) => drop(diagnostics.to_string()),
    }
    // A library user's value (the seed's "dict") takes the other entry point.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        match Pipeline::from_value(&value, &options) {
            Ok(pipeline) => check_pipeline(&pipeline, &options),
            Err(diagnostics) => drop(diagnostics.to_string()),
        }
    }
}

fn check_pipeline(pipeline: &Pipeline, options: &LoadOptions) {
    for warning in pipeline.warnings() {
        drop(warning.to_string());
    }
    let names: Vec<String> = pipeline.spec().containers.iter().map(|c| c.name.clone()).collect();
    let selections = [
        Selection::default(),
        Selection { environment: pipeline.default_environment(options), ..Selection::default() },
        Selection { service_only: true, ..Selection::default() },
        Selection { only: names.last().cloned().into_iter().collect(), ..Selection::default() },
        Selection { skip: names.first().cloned().into_iter().collect(), ..Selection::default() },
    ];
    for selection in &selections {
        match pipeline.plan(selection) {
            Ok(plan) => render(pipeline, &plan),
            Err(diagnostics) => drop(diagnostics.to_string()),
        }
    }
}

fn render(pipeline: &Pipeline, plan: &copili::Plan) {
    for warning in &plan.warnings {
        drop(warning.to_string());
    }
    let images = ImagePlans::new();
    drop(copili::render::plan::to_text(pipeline, plan, &images));
    let json = copili::render::plan::to_json(pipeline, plan, &images);
    if let Err(error) = serde_json::to_string(&json) {
        panic!("the plan of a loaded pipeline does not serialise: {error}");
    }
    drop(copili::render::graph::to_dot(pipeline, plan));
    drop(copili::render::graph::to_mermaid(pipeline, plan));
    let plain = ArgoOptions {
        plain_env: true,
        namespace: Some("fuzz".into()),
        default_timezone: Some("UTC".into()),
        volume_map: vec![(PathBuf::from("/srv"), "srv-claim".into())],
        ..ArgoOptions::default()
    };
    for options in [ArgoOptions::default(), plain] {
        match argo::export(pipeline, plan, &options) {
            Ok(export) => {
                for documents in [&export.documents, &export.secrets_manifest()] {
                    if let Err(error) = copili::export::to_yaml(documents) {
                        panic!("the Argo documents of a loaded pipeline do not render: {error}");
                    }
                }
            }
            Err(error) => drop(error.to_string()),
        }
    }
}
