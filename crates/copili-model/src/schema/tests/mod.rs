//! The schema's tests: its shape and the committed file (here), whole documents, patterns and
//! generated values in their own modules.

mod documents;
mod generated;
mod patterns;

use std::path::{Path, PathBuf};

use super::*;
use crate::document::{self, Syntax};
use crate::load::{load, EnvFile, Input, LoadOptions};
use crate::properties::all_spellings;

fn validator() -> jsonschema::Validator {
    match jsonschema::draft7::new(&json_schema()) {
        Ok(v) => v,
        Err(e) => panic!("the schema does not compile: {e}"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The document as JSON, as an editor sees it.
fn to_json(text: &str) -> Value {
    let parsed = document::parse(text, Syntax::Detect);
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    parsed.root.map(|r| r.to_json()).unwrap_or(Value::Null)
}

fn options() -> LoadOptions {
    LoadOptions { env_file: EnvFile::Disabled, working_dir: PathBuf::from("/work"), ..LoadOptions::default() }
}

fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

#[test]
fn every_property_and_alias_is_in_the_schema() {
    let schema = json_schema();
    let container = &schema["definitions"]["container"]["properties"];
    let sidecar = &schema["definitions"]["sidecar"]["properties"];
    for property in PROPERTIES {
        for spelling in std::iter::once(property.name).chain(property.aliases.iter().copied()) {
            let description = container[spelling]["description"].as_str().unwrap_or_default();
            assert!(description.contains(property.summary), "`{spelling}`: {description:?}");
            let on_sidecar = sidecar.get(spelling).is_some();
            assert_eq!(on_sidecar, property.on_sidecar != OnSidecar::Refused, "`{spelling}` on a sidecar");
        }
    }
    let spellings: Vec<&str> = all_spellings().collect();
    let keys: Vec<&str> = container.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
    assert_eq!(keys, spellings);
    assert!(spellings.contains(&"repo") && spellings.contains(&"dependency") && spellings.contains(&"exclude_in_env"));
    assert_eq!(container["tag"]["default"], "latest");
    assert_eq!(container["is_service_container"]["default"], false);
    assert_eq!(container["force_rerun"]["default"], false);
    assert_eq!(container["retries"]["default"], 0);
    assert_eq!(container["retry_delay"]["default"], "10s");
    let ready = &sidecar["ready"]["properties"];
    assert_eq!((&ready["timeout"]["default"], &ready["interval"]["default"]), (&json!("60s"), &json!("1s")));
    assert_eq!(container["ready"]["not"], json!({}), "`ready` is refused on a container");
}

#[test]
fn the_schema_is_valid_draft_07() {
    let schema = json_schema();
    assert_eq!(schema["$schema"], SCHEMA_DRAFT);
    if let Err(e) = jsonschema::draft7::meta::validate(&schema) {
        panic!("not a valid draft-07 schema: {e} at {}", e.instance_path());
    }
    validator();
}

#[test]
fn the_examples_validate_and_load() {
    let validator = validator();
    let mut seen = Vec::new();
    let dir = workspace_root().join("examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let errors = schema_errors(&validator, &to_json(&text));
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        if let Err(d) = load(Input::File(&path), &options()) {
            panic!("{}: {d}", path.display());
        }
        seen.extend(path.file_name().and_then(|n| n.to_str()).map(str::to_string));
    }
    for expected in ["quickstart.yaml", "json-01-hello.json", "json-02-dependency.json", "json-03-sidecar.json"] {
        assert!(seen.iter().any(|s| s == expected), "{expected} not found in {seen:?}");
    }
}

/// The fixture with every form of `timeout`, `retries`, `retry_delay` and `ready`.
#[test]
fn the_timeouts_fixture_validates_and_loads() {
    use std::time::Duration;

    let path = workspace_root().join("tests/fixtures/valid/timeouts-retries-ready.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let errors = schema_errors(&validator(), &to_json(&text));
    assert!(errors.is_empty(), "{errors:#?}");
    let pipeline = load(Input::File(&path), &options()).unwrap_or_else(|d| panic!("{d}"));
    assert!(pipeline.warnings.is_empty(), "{:#?}", pipeline.warnings);
    let c = &pipeline.containers;
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let timeouts: Vec<_> = c.iter().map(|c| c.timeout).collect();
    assert_eq!(timeouts, [Some(minutes(30)), Some(minutes(90)), Some(minutes(10)), Some(minutes(120))]);
    let retries: Vec<_> = c.iter().map(|c| (c.retries, c.retry_delay)).collect();
    let default = crate::spec::DEFAULT_RETRY_DELAY;
    assert_eq!(retries, [(3, Duration::from_secs(30)), (2, Duration::from_millis(1500)), (0, default), (0, default)]);
    let ready: Vec<_> = c.iter().flat_map(|c| &c.sidecars).filter_map(|s| s.ready.as_ref()).collect();
    let commands: Vec<String> = ready.iter().map(|r| r.command.join(" ")).collect();
    assert_eq!(
        commands,
        [
            "redis-cli ping",
            "wget -q -O- http://localhost:8080/health",
            "pg_isready -U postgres",
            "curl -fs http://localhost:9200/_cluster/health"
        ]
    );
    let times: Vec<_> = ready.iter().map(|r| (r.timeout.as_secs(), r.interval.as_secs())).collect();
    assert_eq!(times, [(60, 1), (60, 1), (120, 5), (60, 2)]);
}

#[test]
fn quickstart_escapes_reach_the_container_shell() {
    let path = workspace_root().join("examples/quickstart.yaml");
    let pipeline = load(Input::File(&path), &options()).unwrap_or_else(|d| panic!("{d}"));
    let command = pipeline.containers.iter().find(|c| c.name == "dataloader_01").map(|c| c.command.clone());
    let script = command.and_then(|c| c.last().cloned()).unwrap_or_default();
    assert!(script.contains("$HOSTNAME") && script.contains("${EXIT_CODE:-0}"), "{script}");
    assert!(!script.contains("$$"), "{script}");
}
#[test]
fn to_json_keeps_yaml_types() {
    let json = to_json("k: [1, 1.5, true, x, '2', ~, 0x1F, .inf, 99999999999999999999]\n");
    assert_eq!(json, json!({ "k": [1, 1.5, true, "x", "2", null, "0x1F", ".inf", "99999999999999999999"] }));
}

/// `docs/copili.schema.json` is the generated schema; `COPILI_BLESS=1` rewrites it.
#[test]
fn the_variable_pattern_is_what_the_loader_expands() {
    let pattern = regex::Regex::new(VARIABLE_PATTERN).expect("valid regex");
    for text in ["${RUN}", "$RUN", "x${", "a $$${B}", "$$$_a"] {
        assert!(pattern.is_match(text), "{text:?} refers to a variable");
        assert!(crate::interpolate::refers_to_variables(text), "{text:?}");
    }
    for text in ["a $ b", "$(date)", "$1", "$$RUN", "^id$", "$$$$x"] {
        assert!(!pattern.is_match(text), "{text:?} refers to no variable");
        assert!(!crate::interpolate::refers_to_variables(text), "{text:?}");
    }
}

#[test]
fn the_committed_schema_file_is_up_to_date() {
    let path = workspace_root().join("docs/copili.schema.json");
    let generated = match serde_json::to_string_pretty(&json_schema()) {
        Ok(text) => text + "\n",
        Err(e) => panic!("cannot serialize the schema: {e}"),
    };
    if std::env::var_os("COPILI_BLESS").is_some_and(|v| v == "1") {
        if let Err(e) = std::fs::write(&path, &generated) {
            panic!("cannot write {}: {e}", path.display());
        }
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not the generated schema: run `COPILI_BLESS=1 cargo test -p copili-model schema`",
        path.display()
    );
}

/// The validator, compiled once for the property tests.
static VALIDATOR: std::sync::LazyLock<jsonschema::Validator> = std::sync::LazyLock::new(validator);

/// Whether the loader accepts `doc` (with `HOME` set, for `~` in volumes).
fn loads(doc: &Value) -> bool {
    let mut options = options();
    options.process_env.insert("HOME".into(), "/home/u".into());
    load(Input::Value(doc), &options).is_ok()
}

fn one_container(property: &str, value: Value) -> Value {
    json!({ "p": [{ "name": "a", "image_repo": "busybox", property: value }] })
}
