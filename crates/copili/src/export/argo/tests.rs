//! What the exporter's tests share (a pipeline loaded with secrets in its environment, the
//! export of a YAML text, a template or the tasks of a document), and the tests of the export
//! as a whole.

use super::*;
use crate::{EnvFile, LoadOptions, Selection};

pub(super) const SECRET_VALUE: &str = "s3cret-value-4711";
pub(super) const REGISTRY_PASSWORD: &str = "reg-pa55-0815";

pub(super) fn load(yaml: &str) -> Pipeline {
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

pub(super) fn export_with(yaml: &str, selection: &Selection, options: &ArgoOptions) -> Result<ArgoExport, ExportError> {
    let pipeline = load(yaml);
    let plan = pipeline.plan(selection).unwrap_or_else(|d| panic!("{d}"));
    export(&pipeline, &plan, options)
}

pub(super) fn check(yaml: &str) -> ArgoExport {
    export_with(yaml, &Selection::default(), &ArgoOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// The template called `name` of a document.
pub(super) fn template<'a>(document: &'a Value, name: &str) -> &'a Value {
    let spec = document.get("spec").and_then(|s| s.get("workflowSpec")).unwrap_or(&document["spec"]);
    spec["templates"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no template `{name}` in {document:#}"))
}

/// Task names and their dependencies.
pub(super) type Tasks = Vec<(String, Vec<String>)>;

pub(super) fn tasks(document: &Value) -> Tasks {
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
fn containers_a_run_would_cancel_are_left_out() {
    let yaml = "p:\n  - {name: a, image_repo: x, exlude_in_env: [PROD]}\n  - {name: b, image_repo: x, dependencies: \
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
