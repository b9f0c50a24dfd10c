//! The JSON Schema (`copili schema`, `docs/copili.schema.json`) and the loader behind
//! `copili validate` are one truth about the format, checked on the repository's own files with
//! a JSON Schema validator, as an editor would check them:
//!
//! - every file under `tests/fixtures/valid/` and `examples/` passes the schema and loads;
//! - every fixture under `tests/fixtures/invalid/` fails the schema, but those listed in
//!   [`NOT_SHAPE_ERRORS`] (problems JSON Schema cannot say), which pass it;
//! - every documented form of every property ([`forms`]) occurs in a valid fixture, and so does
//!   every spelling of every property.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use copili_model::document::{self, Syntax};
use copili_model::properties::{self, PROPERTIES};
use copili_model::schema::json_schema;
use copili_model::{load, EnvFile, Input, LoadOptions};
use serde_json::Value;

/// Invalid fixtures whose problem JSON Schema cannot say, with the reason. They must pass the
/// schema (or, for syntax errors, not parse): every other invalid fixture must fail it, so a new
/// fixture is a shape error unless it is listed here.
const NOT_SHAPE_ERRORS: &[(&str, Why)] = &[
    // The dependency graph: the planner's.
    ("cycle-three.yaml", Why::Graph),
    ("cycle-two.yaml", Why::Graph),
    ("cycle-with-unrelated-branch.yaml", Why::Graph),
    ("dependency-on-sidecar.yaml", Why::Graph),
    ("json-unknown-dependency.json", Why::Graph),
    ("self-dependency.yaml", Why::Graph),
    ("unknown-dependency-did-you-mean.yaml", Why::Graph),
    ("unknown-dependency-no-suggestion.yaml", Why::Graph),
    // Names unique where they meet (containers; one container's sidecars and its own name), or
    // clashing once joined as the engine joins them.
    ("duplicate-container-names.yaml", Why::AcrossItems),
    ("sidecar-named-like-its-container.yaml", Why::AcrossItems),
    ("duplicate-sidecar-names.yaml", Why::AcrossItems),
    ("sidecar-engine-name-clash.yaml", Why::AcrossItems),
    ("sidecar-sidecar-engine-name-clash.yaml", Why::AcrossItems),
    ("volume-two-on-one-path.yaml", Why::AcrossItems),
    // A handler in the graph: it depends on another, and another depends on it (the planner's).
    ("handler-with-dependencies.yaml", Why::Graph),
    // Valid as a file: refused by `validate --for swarm`, given on the command line.
    ("handler-on-swarm.yaml", Why::Outside),
    // Names and `${{ matrix.KEY }}` after a `matrix` is expanded.
    ("matrix-duplicate-name.yaml", Why::AcrossItems),
    ("matrix-outside-matrix.yaml", Why::AcrossItems),
    ("matrix-unknown-key.yaml", Why::AcrossItems),
    // A name twice in a list of `NAME=VALUE` with different values: JSON Schema compares whole
    // items only (env-vars-list-duplicate-name.json repeats an item, which it refuses).
    ("env-vars-list-duplicate-name.yaml", Why::AcrossItems),
    ("labels-list-duplicate-name.yaml", Why::AcrossItems),
    // Values compared with each other.
    ("ready-interval-longer-than-timeout.yaml", Why::Comparison),
    // The `.env` file, or the command line.
    ("dotenv-malformed-line.yaml", Why::Outside),
    ("env-file-missing.yaml", Why::Outside),
    ("only-unknown-name.yaml", Why::Outside),
    ("skip-unknown-name.yaml", Why::Outside),
    ("strict-env-undefined-variable.yaml", Why::Outside),
    // Variables: the schema accepts any value with a variable reference, which copili expands
    // first.
    ("interpolation-invalid-name.yaml", Why::Variable),
    ("interpolation-invalid-in-block.yaml", Why::Variable),
    ("interpolation-invalid-in-secret-block.yaml", Why::Variable),
    ("interpolation-required-variable-unset.yaml", Why::Variable),
    ("interpolation-unclosed-brace.yaml", Why::Variable),
    ("retries-variable-not-a-number.yaml", Why::Variable),
    ("interpolation-required-variable-empty.yaml", Why::Variable),
    // The file does not parse: an editor reports the syntax, not the schema.
    ("empty-file.yaml", Why::Syntax),
    ("json-missing-quote.json", Why::Syntax),
    ("json-trailing-comma.json", Why::Syntax),
    ("json-trailing-comma-in-array.json", Why::Syntax),
    ("json-comment.json", Why::Syntax),
    ("not-utf8.yaml", Why::Syntax),
    ("secret-on-json-syntax-error-line.json", Why::Syntax),
    ("secret-on-yaml-syntax-error-line.yaml", Why::Syntax),
    ("yaml-bad-indentation.yaml", Why::Syntax),
    ("yaml-second-document.yaml", Why::Syntax),
    ("yaml-tab-indentation.yaml", Why::Syntax),
    ("yaml-unclosed-flow-sequence.yaml", Why::Syntax),
    ("yaml-unknown-alias.yaml", Why::Syntax),
    // A duplicate key is the parser's error; the tree an editor checks keeps the first.
    ("duplicate-key-in-container.yaml", Why::Syntax),
    ("secret-duplicate-password.yaml", Why::Syntax),
    ("secret-duplicate-env-var.yaml", Why::Syntax),
    ("secret-duplicate-env-var.json", Why::Syntax),
];

/// Why JSON Schema cannot say what is wrong with an invalid fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Unknown dependencies, cycles.
    Graph,
    /// A rule across list items or containers.
    AcrossItems,
    /// Two values compared.
    Comparison,
    /// The problem is in the `.env` file or on the command line.
    Outside,
    /// A `${VAR}` reference, or the value of one.
    Variable,
    /// The file does not parse (or the parser refuses it, as for duplicate keys).
    Syntax,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validator() -> jsonschema::Validator {
    match jsonschema::draft7::new(&json_schema()) {
        Ok(v) => v,
        Err(e) => panic!("the schema does not compile: {e}"),
    }
}

/// The pipeline files under `dir`, recursively, sorted.
fn pipeline_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
            if path.is_dir() {
                todo.push(path);
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn file_name(path: &Path) -> String {
    path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string()
}

/// The file as the JSON an editor checks; `None` when it does not parse (or the parser reports
/// a problem, such as a duplicate key).
fn as_json(path: &Path) -> Option<Value> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // A file that is not UTF-8 does not parse.
    let text = String::from_utf8(bytes).ok()?;
    let syntax = if path.extension().is_some_and(|e| e == "json") { Syntax::Json } else { Syntax::Yaml };
    let parsed = document::parse(&text, syntax);
    if !parsed.problems.is_empty() {
        return None;
    }
    parsed.root.map(|root| root.to_json())
}

fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

/// Options as `copili validate` has them in the repository, with `HOME` set (`~` in volumes).
fn options() -> LoadOptions {
    LoadOptions {
        process_env: [("HOME", "/home/u"), ("LOADER_TAG", "1.0")].map(|(k, v)| (k.to_string(), v.to_string())).into(),
        env_file: EnvFile::Default,
        strict_env: false,
        working_dir: workspace_root(),
    }
}

/// The valid files: the valid fixtures and the examples.
fn valid_files() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = pipeline_files(&root.join("tests/fixtures/valid"));
    files.extend(pipeline_files(&root.join("examples")));
    files
}

#[test]
fn every_valid_fixture_and_example_passes_the_schema_and_loads() {
    let validator = validator();
    let files = valid_files();
    assert!(files.len() >= 14, "{files:#?}");
    for path in &files {
        let Some(json) = as_json(path) else { panic!("{} does not parse", path.display()) };
        let errors = schema_errors(&validator, &json);
        assert!(errors.is_empty(), "{}: the schema refuses it:\n{errors:#?}", path.display());
        if let Err(d) = load(Input::File(path), &options()) {
            panic!("{}: the loader refuses it:\n{d}", path.display());
        }
    }
}

#[test]
fn every_invalid_fixture_fails_the_schema_unless_json_schema_cannot_say_why() {
    let validator = validator();
    let files = pipeline_files(&workspace_root().join("tests/fixtures/invalid"));
    let names: BTreeSet<String> = files.iter().map(|p| file_name(p)).collect();
    for (listed, _) in NOT_SHAPE_ERRORS {
        assert!(names.contains(*listed), "{listed} is listed but is no invalid fixture");
    }
    let mut problems = Vec::new();
    for path in &files {
        let name = file_name(path);
        let why = NOT_SHAPE_ERRORS.iter().find(|(n, _)| *n == name).map(|(_, why)| *why);
        let json = as_json(path);
        match (why, json) {
            (Some(Why::Syntax), None) => {}
            (Some(Why::Syntax), Some(_)) => problems.push(format!("{name}: listed as a syntax error, but it parses")),
            (_, None) => problems.push(format!("{name}: does not parse; list it as `Why::Syntax`")),
            (Some(why), Some(json)) => {
                let errors = schema_errors(&validator, &json);
                if !errors.is_empty() {
                    problems.push(format!("{name}: listed as {why:?}, but the schema refuses it: {errors:?}"));
                }
            }
            (None, Some(json)) => {
                if validator.is_valid(&json) {
                    problems.push(format!(
                        "{name}: the schema accepts it; make the schema refuse it, or list it in NOT_SHAPE_ERRORS with the reason"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Most invalid fixtures are shape errors: the list is the exception.
    assert!(files.len() > 2 * NOT_SHAPE_ERRORS.len(), "{} fixtures, {} listed", files.len(), NOT_SHAPE_ERRORS.len());
}

/// A documented form of a property's value, and how to recognise it.
type Form = (&'static str, fn(&Value) -> bool);

fn is_text(v: &Value) -> bool {
    v.is_string() || v.is_number() || v.is_boolean()
}

fn has_variable(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.contains("${"))
}

fn is_duration_string(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.chars().any(char::is_alphabetic) && !s.contains('$'))
}

fn is_number_string(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.parse::<f64>().is_ok())
}

fn map_values(v: &Value, test: fn(&Value) -> bool) -> bool {
    v.as_object().is_some_and(|m| m.values().any(test))
}

fn list_items(v: &Value, test: fn(&Value) -> bool) -> bool {
    v.as_array().is_some_and(|items| items.iter().any(test))
}

fn item_text(v: &Value, test: fn(&str) -> bool) -> bool {
    v.as_array().is_some_and(|items| items.iter().any(|i| i.as_str().is_some_and(test)))
}

/// The documented forms of each property's value (docs/format.md), by canonical name.
fn forms(property: &str) -> Vec<Form> {
    let text: Vec<Form> = vec![("a string", |v| v.is_string() && !has_variable(v))];
    let boolean: Vec<Form> = vec![
        ("true", |v| v == &Value::Bool(true)),
        ("false", |v| v == &Value::Bool(false)),
        ("a variable", has_variable),
    ];
    let string_map: Vec<Form> = vec![
        ("a mapping", Value::is_object),
        ("a list of NAME=VALUE", |v| item_text(v, |s| s.contains('='))),
        ("NAME= in the list, an empty value", |v| item_text(v, |s| s.ends_with('='))),
        ("a number value", |v| map_values(v, Value::is_number)),
        ("a boolean value", |v| map_values(v, Value::is_boolean)),
        ("null, none", Value::is_null),
    ];
    let names: Vec<Form> = vec![("a list", |v| list_items(v, is_text)), ("null, none", Value::is_null)];
    let duration: Vec<Form> = vec![
        ("a duration string", is_duration_string),
        ("a number of seconds", Value::is_number),
        ("a fractional number of seconds", Value::is_f64),
    ];
    match property {
        "name" => vec![("a string", Value::is_string), ("a number", Value::is_number)],
        "image_repo" => vec![
            ("a repository", |v| v.as_str().is_some_and(|s| !s.contains([':', '@']))),
            ("with a registry and port", |v| v.as_str().is_some_and(|s| s.contains(':') && s.contains('/'))),
            ("with a tag", |v| v.as_str().is_some_and(|s| s.rsplit('/').next().is_some_and(|l| l.contains(':')))),
            ("with a digest", |v| v.as_str().is_some_and(|s| s.contains("@sha256:"))),
        ],
        "tag" => vec![
            ("a string", |v| v.is_string() && !has_variable(v)),
            ("a number", Value::is_number),
            ("a variable", has_variable),
        ],
        "info_link" | "desc" => {
            [text, vec![("a number or boolean, as written", |v| v.is_number() || v.is_boolean())]].concat()
        }
        "image_reg_username" | "image_reg_password" => [text, vec![("a variable", has_variable)]].concat(),
        "is_service_container" | "force_rerun" | "run_once" | "catch_up" | "tls_verify" => boolean,
        "env_vars" => [
            string_map,
            vec![
                ("a variable value", |v| map_values(v, has_variable) || item_text(v, |s| s.contains("${"))),
                ("a variable in a name", |v| v.as_object().is_some_and(|m| m.keys().any(|k| k.contains("${")))),
            ],
        ]
        .concat(),
        "labels" => string_map,
        "exlude_in_env" => names,
        "dependencies" => [
            names,
            vec![
                ("a mapping with a condition", |v| list_items(v, |i| i.get("condition").is_some())),
                ("a mapping without a condition", |v| list_items(v, |i| i.is_object() && i.get("condition").is_none())),
            ],
        ]
        .concat(),
        "allow_failure" => vec![
            ("true", |v| v == &Value::Bool(true)),
            ("false", |v| v == &Value::Bool(false)),
            ("a list of exit codes", |v| list_items(v, Value::is_u64)),
            ("a variable", has_variable),
        ],
        "volumes" => vec![
            ("a mapping with a mode", |v| map_values(v, |b| b.get("mode").is_some())),
            ("a mapping without a mode", |v| map_values(v, |b| b.get("mode").is_none())),
            ("a mapping with a variable mode", |v| map_values(v, |b| b.get("mode").is_some_and(has_variable))),
            ("a mapping's named volume", |v| {
                v.as_object().is_some_and(|m| m.keys().any(|k| !k.contains('/') && !k.starts_with(['.', '~'])))
            }),
            ("a mapping's home path", |v| v.as_object().is_some_and(|m| m.keys().any(|k| k.starts_with("~/")))),
            ("a list of HOST:PATH", |v| item_text(v, |s| s.matches(':').count() == 1)),
            ("a list of HOST:PATH:ro", |v| item_text(v, |s| s.ends_with(":ro"))),
            ("a list of HOST:PATH:rw", |v| item_text(v, |s| s.ends_with(":rw"))),
            ("a list's named volume", |v| {
                item_text(v, |s| s.split(':').next().is_some_and(|h| !h.contains(['/', '.', '~'])))
            }),
            ("null, none", Value::is_null),
        ],
        "command" => vec![
            ("a string", Value::is_string),
            ("a list of strings", |v| list_items(v, Value::is_string)),
            ("a number in the list", |v| list_items(v, Value::is_number)),
            ("a boolean in the list", |v| list_items(v, Value::is_boolean)),
            ("a number", Value::is_number),
            ("a boolean", Value::is_boolean),
            ("null, the image's", Value::is_null),
        ],
        "sidecars" => vec![("a list", Value::is_array), ("null, none", Value::is_null)],
        "timeout" => [duration, vec![("a string of seconds", is_number_string), ("a variable", has_variable)]].concat(),
        "retry_delay" => [duration, vec![("zero", |v| v.as_f64() == Some(0.0))]].concat(),
        "retries" => {
            vec![("a number", Value::is_u64), ("zero", |v| v.as_u64() == Some(0)), ("a variable", has_variable)]
        }
        "ready" => vec![
            ("a string", Value::is_string),
            ("a list", Value::is_array),
            ("a number", Value::is_number),
            ("a boolean", Value::is_boolean),
            ("a mapping with a string command", |v| v.get("command").is_some_and(Value::is_string)),
            ("a mapping with a list command", |v| v.get("command").is_some_and(Value::is_array)),
            ("a mapping with timeout and interval", |v| v.get("timeout").is_some() && v.get("interval").is_some()),
            ("a mapping with a number interval", |v| v.get("interval").is_some_and(Value::is_number)),
            ("a mapping with the default timeout", |v| v.is_object() && v.get("timeout").is_none()),
        ],
        "pull" => vec![
            ("always", |v| v == "always"),
            ("missing", |v| v == "missing"),
            ("never", |v| v == "never"),
            ("a variable", has_variable),
        ],
        "run_on" => {
            vec![("failure", |v| v == "failure"), ("success", |v| v == "success"), ("always", |v| v == "always")]
        }
        "schedule" => vec![
            ("every DURATION", |v| v.as_str().is_some_and(|s| s.starts_with("every "))),
            ("daily HH:MM", |v| v.as_str().is_some_and(|s| s.starts_with("daily"))),
            ("a cron expression", |v| v.as_str().is_some_and(|s| s.split_whitespace().count() == 5)),
        ],
        "timezone" => vec![
            ("an IANA name", |v| v.as_str().is_some_and(|s| s.contains('/'))),
            ("UTC", |v| v == "UTC"),
            ("local", |v| v == "local"),
        ],
        "placement" => vec![
            ("ATTRIBUTE==VALUE", |v| item_text(v, |s| s.contains("=="))),
            ("ATTRIBUTE!=VALUE", |v| item_text(v, |s| s.contains("!="))),
        ],
        "resources" => vec![
            ("cpus and memory", |v| v.get("cpus").is_some() && v.get("memory").is_some()),
            ("reservations", |v| v.get("reservations").is_some()),
            ("compose's limits", |v| v.get("limits").is_some()),
            ("memory with a unit", |v| v.get("memory").is_some_and(Value::is_string)),
            ("memory in bytes", |v| {
                ["memory", "limits"]
                    .iter()
                    .any(|k| v.get(k).is_some_and(|m| m.is_number() || m.get("memory").is_some_and(Value::is_number)))
            }),
            ("fractional cpus", |v| v.get("reservations").and_then(|r| r.get("cpus")).is_some_and(Value::is_f64)),
            ("cpus as a string", |v| v.get("limits").and_then(|r| r.get("cpus")).is_some_and(Value::is_string)),
        ],
        "matrix" => vec![
            ("one key", |v| v.as_object().is_some_and(|m| m.len() == 1)),
            ("several keys", |v| v.as_object().is_some_and(|m| m.len() > 1)),
        ],
        "build" => vec![
            ("a directory", |v| v.as_str().is_some_and(|s| !s.contains("://"))),
            ("a git repository", |v| v.as_str().is_some_and(|s| s.contains(".git"))),
            ("a mapping with only a context", |v| {
                v.as_object().is_some_and(|m| m.len() == 1 && m.contains_key("context"))
            }),
            ("dockerfile", |v| v.get("dockerfile").is_some()),
            ("target", |v| v.get("target").is_some()),
            ("args as a mapping", |v| v.get("args").is_some_and(Value::is_object)),
            ("args as a list", |v| v.get("args").is_some_and(Value::is_array)),
        ],
        "networks" => vec![
            ("a list of names", |v| list_items(v, Value::is_string)),
            ("a mapping with aliases", |v| map_values(v, |n| n.get("aliases").is_some())),
            ("a mapping with null", |v| map_values(v, Value::is_null)),
        ],
        "network_mode" => vec![("host", |v| v == "host"), ("none", |v| v == "none")],
        "extra_hosts" => vec![
            ("NAME:host-gateway", |v| item_text(v, |s| s.ends_with(":host-gateway"))),
            ("NAME:IP", |v| item_text(v, |s| s.contains(':') && !s.contains('='))),
            ("NAME=IP", |v| item_text(v, |s| s.contains('='))),
            ("a mapping", Value::is_object),
        ],
        "user" => vec![
            ("UID:GID", |v| v.as_str().is_some_and(|s| s.contains(':'))),
            ("a name", |v| v.as_str().is_some_and(|s| !s.contains(':') && s.parse::<u32>().is_err())),
            ("a UID", |v| v.as_str().is_some_and(|s| s.parse::<u32>().is_ok())),
        ],
        "working_dir" => text,
        "entrypoint" => vec![
            ("a list", |v| v.as_array().is_some_and(|l| !l.is_empty())),
            ("a string", |v| v.as_str().is_some_and(|s| !s.is_empty())),
            ("[], a reset", |v| v.as_array().is_some_and(Vec::is_empty)),
            ("'', a reset", |v| v == ""),
        ],
        "env_file" => vec![
            ("a path", Value::is_string),
            ("a list of paths", |v| list_items(v, Value::is_string)),
            ("{path, required: false}", |v| {
                v.as_array().is_some_and(|l| l.iter().any(|i| i.get("required") == Some(&Value::Bool(false))))
            }),
        ],
        "devices" => vec![
            ("a list", Value::is_array),
            ("one device", Value::is_string),
            ("HOST:CONTAINER:PERMISSIONS", |v| item_text(v, |s| s.matches(':').count() == 2)),
        ],
        "gpus" => vec![("all", |v| v == "all"), ("a count", Value::is_u64), ("device ids", Value::is_array)],
        "shm_size" => vec![("with a unit", Value::is_string), ("bytes", Value::is_u64)],
        "tmpfs" => vec![
            ("one path", Value::is_string),
            ("a list", Value::is_array),
            ("with options", |v| item_text(v, |s| s.contains(':'))),
        ],
        "read_only" | "init" => boolean[..2].to_vec(),
        "cap_add" | "cap_drop" => vec![("a list", Value::is_array), ("one", Value::is_string)],
        "ulimits" => vec![
            ("{soft, hard}", |v| map_values(v, |l| l.get("soft").is_some())),
            ("one number", |v| map_values(v, Value::is_number)),
        ],
        "stop_signal" => vec![("a name", Value::is_string), ("a number", Value::is_number)],
        "stop_grace_period" => [duration[..2].to_vec(), vec![("zero", |v| v == "0s")]].concat(),
        _ => Vec::new(),
    }
}

/// Every container and sidecar description of a pipeline file's JSON.
fn descriptions(json: &Value) -> Vec<&serde_json::Map<String, Value>> {
    let mut out = Vec::new();
    let containers = json.as_object().into_iter().flat_map(|top| top.values()).filter_map(Value::as_array).flatten();
    for container in containers.filter_map(Value::as_object) {
        out.push(container);
        let sidecars = container.get("sidecars").and_then(Value::as_array).into_iter().flatten();
        out.extend(sidecars.filter_map(Value::as_object));
    }
    out
}

#[test]
fn every_documented_form_of_every_property_is_in_a_valid_fixture() {
    let mut seen_forms: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut seen_spellings: BTreeSet<String> = BTreeSet::new();
    let files = valid_files();
    let documents: Vec<Value> = files.iter().filter_map(|p| as_json(p)).collect();
    for description in documents.iter().flat_map(descriptions) {
        for (key, value) in description {
            let Some(property) = properties::lookup(key) else { continue };
            seen_spellings.insert(key.clone());
            for (form, test) in forms(property.name) {
                if test(value) {
                    seen_forms.insert((property.name, form));
                }
            }
        }
    }
    let mut missing = Vec::new();
    for property in PROPERTIES {
        let forms = forms(property.name);
        assert!(!forms.is_empty(), "`{}` has no documented forms in this test", property.name);
        for (form, _) in forms {
            if !seen_forms.contains(&(property.name, form)) {
                missing.push(format!("`{}`: {form}", property.name));
            }
        }
    }
    for spelling in properties::all_spellings() {
        if !seen_spellings.contains(spelling) {
            missing.push(format!("the spelling `{spelling}`"));
        }
    }
    assert!(
        missing.is_empty(),
        "not in any valid fixture (add it to tests/fixtures/valid/all-forms.*):\n{}",
        missing.join("\n")
    );
}
