//! Handlers (`run_on`) as the workflow's exit handler: `spec.onExit` names a `dag` template
//! with one task per handler, none depending on another (they run in parallel), each with a
//! `when` on Argo's `{{workflow.status}}`. A DAG rather than `steps`: Argo's published schema
//! describes a `steps` group as an object where its controller reads a list, so no `steps`
//! template satisfies both. The handlers' own templates are built as any container's, with the
//! run's outcome in their environment in Argo's words.

use copili_model::RunOn;

use super::*;

/// The name of the exit handler's template (reserved: no container's template gets it).
pub(super) const EXIT_HANDLER: &str = "copili-exit-handler";

/// The environment a handler gets, as Argo fills it in: Argo's workflow status (`Succeeded`,
/// `Failed`, `Error`), its failures (a JSON list) and the workflow's name. There is no report.
const HANDLER_ENV: [(&str, &str); 3] = [
    ("COPILI_RUN_STATUS", "{{workflow.status}}"),
    ("COPILI_FAILED", "{{workflow.failures}}"),
    ("COPILI_RUN_ID", "{{workflow.name}}"),
];

/// The `when` of a handler's task: none for `always`.
pub(super) fn when(run_on: RunOn) -> Option<&'static str> {
    match run_on {
        RunOn::Failure => Some("{{workflow.status}} != Succeeded"),
        RunOn::Success => Some("{{workflow.status}} == Succeeded"),
        RunOn::Always => None,
    }
}

/// Adds the outcome variables to a handler's template (its main container), replacing
/// variables of the same names the handler sets itself, as copili does.
pub(super) fn add_handler_env(template: &mut Value) {
    let Some(container) = template.get_mut("container").and_then(Value::as_object_mut) else { return };
    let env = container.entry("env").or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(entries) = env {
        entries.retain(|e| !HANDLER_ENV.iter().any(|(name, _)| e["name"] == *name));
        entries.extend(HANDLER_ENV.iter().map(|(name, value)| json!({ "name": name, "value": value })));
    }
}

/// The exit handler's template: a DAG of independent tasks, one per handler (`(task name,
/// run_on)`, in file order). A handler's failure does not change the workflow's outcome
/// (`continueOn`), as a handler's does not change copili's exit code.
pub(super) fn exit_template(handlers: &[(String, RunOn)]) -> Value {
    let tasks: Vec<Value> = handlers
        .iter()
        .map(|(task, run_on)| {
            let mut entry = Map::new();
            entry.insert("name".into(), task.clone().into());
            entry.insert("template".into(), task.clone().into());
            if let Some(when) = when(*run_on) {
                entry.insert("when".into(), when.into());
            }
            entry.insert("continueOn".into(), json!({ "failed": true, "error": true }));
            Value::Object(entry)
        })
        .collect();
    json!({ "name": EXIT_HANDLER, "dag": { "failFast": false, "tasks": tasks } })
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    const YAML: &str = "p:\n  - {name: load, image_repo: x}\n  - {name: copili-exit-handler, image_repo: x}\n  - \
                        {name: notify, image_repo: curl, run_on: failure, env_vars: {COPILI_RUN_ID: mine, URL: \
                        'http://hook'}}\n  - {name: done, image_repo: x, run_on: success}\n  - {name: archive, \
                        image_repo: x, run_on: always}\n";

    #[test]
    fn handlers_are_the_exit_handler_not_dag_tasks() {
        let export = check(YAML);
        let workflow = &export.documents[0];
        assert_eq!(workflow["spec"]["onExit"], EXIT_HANDLER);
        assert_eq!(
            tasks(workflow),
            vec![("load".to_string(), vec![]), ("copili-exit-handler-2".to_string(), vec![])],
            "handlers are no DAG tasks, and a container cannot take the exit handler's name"
        );
        assert_eq!(
            template(workflow, EXIT_HANDLER)["dag"],
            json!({"failFast": false, "tasks": [
                {"name": "notify", "template": "notify", "when": "{{workflow.status}} != Succeeded",
                 "continueOn": {"failed": true, "error": true}},
                {"name": "done", "template": "done", "when": "{{workflow.status}} == Succeeded",
                 "continueOn": {"failed": true, "error": true}},
                {"name": "archive", "template": "archive", "continueOn": {"failed": true, "error": true}},
            ]})
        );
        let notify = template(workflow, "notify");
        assert_eq!(notify["container"]["image"], "curl:latest");
        assert_eq!(
            notify["container"]["env"],
            json!([
                {"name": "URL", "valueFrom": {"secretKeyRef": {"name": "p-env", "key": "URL"}}},
                {"name": "COPILI_RUN_STATUS", "value": "{{workflow.status}}"},
                {"name": "COPILI_FAILED", "value": "{{workflow.failures}}"},
                {"name": "COPILI_RUN_ID", "value": "{{workflow.name}}"},
            ])
        );
        assert!(template(workflow, "archive")["container"]["env"].as_array().is_some_and(|e| e.len() == 3));
        assert!(export.warnings.is_empty(), "{:?}", export.warnings);
    }

    #[test]
    fn without_handlers_there_is_no_exit_handler_and_cron_workflows_get_it_too() {
        let export = check("p:\n  - {name: a, image_repo: x}\n");
        assert!(export.documents[0]["spec"].get("onExit").is_none());
        assert!(export.documents[0]["spec"]["templates"].as_array().is_some_and(|t| t.len() == 2));

        let export = check(
            "p:\n  - {name: a, image_repo: x, is_service_container: true, schedule: '0 3 * * *'}\n  - {name: h, \
             image_repo: x, run_on: failure}\n",
        );
        let cron = &export.documents[1];
        assert_eq!(cron["kind"], "CronWorkflow");
        assert_eq!(cron["spec"]["workflowSpec"]["onExit"], EXIT_HANDLER);
        assert_eq!(tasks(cron), vec![("a".to_string(), vec![])]);
        assert_eq!(template(cron, EXIT_HANDLER)["dag"]["tasks"][0]["when"], "{{workflow.status}} != Succeeded");
        assert_eq!(template(cron, "h")["container"]["env"][0]["name"], "COPILI_RUN_STATUS");
    }

    #[test]
    fn a_skipped_handler_is_not_exported() {
        let selection = crate::Selection { skip: vec!["notify".into()], ..crate::Selection::default() };
        let export = export_with(YAML, &selection, &ArgoOptions::default()).expect("exports");
        let tasks = &template(&export.documents[0], EXIT_HANDLER)["dag"]["tasks"];
        assert_eq!(tasks.as_array().map(Vec::len), Some(2), "{tasks:#}");
        assert!(export.documents[0]["spec"]["templates"]
            .as_array()
            .is_some_and(|t| !t.iter().any(|t| t["name"] == "notify")));
    }
}
