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

/// Documents both the schema and the loader refuse.
#[test]
fn invalid_documents_do_not_validate() {
    let validator = validator();
    let ok = "p:\n  - name: a\n    image_repo: busybox\n";
    assert!(schema_errors(&validator, &to_json(ok)).is_empty());
    let cases = [
        ("unknown key", "p:\n  - name: a\n    image_repo: busybox\n    dependancies: [b]\n"),
        ("missing name", "p:\n  - image_repo: busybox\n"),
        ("missing image", "p:\n  - name: a\n"),
        ("two top-level keys", "p:\n  - name: a\n    image_repo: busybox\nq:\n  - name: b\n    image_repo: busybox\n"),
        ("no pipeline", "{}"),
        ("empty pipeline", "p: []\n"),
        ("a list at the top", "- name: a\n  image_repo: busybox\n"),
        ("volume mode rx", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./d: {bind: /d, mode: rx}\n"),
        ("volume without bind", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./d: {mode: ro}\n"),
        ("volume option typo", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./d: {bind: /d, mdoe: ro}\n"),
        ("relative volume path", "p:\n  - name: a\n    image_repo: busybox\n    volumes: [\"./d:d\"]\n"),
        ("short volume mode", "p:\n  - name: a\n    image_repo: busybox\n    volumes: [\"./d:/d:rx\"]\n"),
        ("volume host with :", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./a:b: {bind: /d}\n"),
        ("volume bind with :", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./d: {bind: \"/d:ro\"}\n"),
        ("volume host with a line break", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      \"./d\\n\": {bind: /d}\n"),
        ("short volume with NUL", "p:\n  - name: a\n    image_repo: busybox\n    volumes: [\"./d:/d\\0\"]\n"),
        ("build context with a line break", "p:\n  - name: a\n    build: \"./ctx\\n\"\n"),
        ("Dockerfile with NUL", "p:\n  - name: a\n    build: {context: ., dockerfile: \"D\\0\"}\n"),
        ("env item twice", "p:\n  - name: a\n    image_repo: busybox\n    env_vars: [A=1, A=1]\n"),
        ("env name empty", "p:\n  - name: a\n    image_repo: busybox\n    env_vars: [=1]\n"),
        ("label item reserved", "p:\n  - name: a\n    image_repo: busybox\n    labels: [io.copili.run=x]\n"),
        ("tag beside a tagged repository", "p:\n  - name: a\n    image_repo: redis:7\n    tag: \"7\"\n"),
        ("invalid name", "p:\n  - name: -a\n    image_repo: busybox\n"),
        ("name with a space", "p:\n  - name: a b\n    image_repo: busybox\n"),
        ("invalid tag", "p:\n  - name: a\n    image_repo: busybox\n    tag: .x\n"),
        ("yes is no boolean", "p:\n  - name: a\n    image_repo: busybox\n    is_service_container: yes\n"),
        ("repo and image_repo", "p:\n  - name: a\n    image_repo: busybox\n    repo: busybox\n"),
        ("dependencies is no string", "p:\n  - name: a\n    image_repo: busybox\n    dependencies: b\n"),
        ("env value is no mapping", "p:\n  - name: a\n    image_repo: busybox\n    env_vars: {X: {Y: 1}}\n"),
        ("null env value", "p:\n  - name: a\n    image_repo: busybox\n    env_vars: {X: ~}\n"),
        ("command mapping", "p:\n  - name: a\n    image_repo: busybox\n    command: {a: b}\n"),
        ("reserved label", "p:\n  - name: a\n    image_repo: busybox\n    labels: {io.copili.run: x}\n"),
        (
            "sidecar with dependencies",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: busybox\n        dependencies: [a]\n",
        ),
        ("timeout no duration", "p:\n  - name: a\n    image_repo: busybox\n    timeout: soon\n"),
        ("timeout months", "p:\n  - name: a\n    image_repo: busybox\n    timeout: 30M\n"),
        ("timeout zero", "p:\n  - name: a\n    image_repo: busybox\n    timeout: 0\n"),
        ("timeout 0s", "p:\n  - name: a\n    image_repo: busybox\n    timeout: 0s\n"),
        ("timeout negative", "p:\n  - name: a\n    image_repo: busybox\n    timeout: -5\n"),
        ("timeout list", "p:\n  - name: a\n    image_repo: busybox\n    timeout: [5m]\n"),
        ("retries negative", "p:\n  - name: a\n    image_repo: busybox\n    retries: -1\n"),
        ("retries above 100", "p:\n  - name: a\n    image_repo: busybox\n    retries: 101\n"),
        ("retries quoted", "p:\n  - name: a\n    image_repo: busybox\n    retries: \"3\"\n"),
        ("retries float", "p:\n  - name: a\n    image_repo: busybox\n    retries: 2.5\n"),
        ("retry_delay negative", "p:\n  - name: a\n    image_repo: busybox\n    retry_delay: -1s\n"),
        ("ready on a container", "p:\n  - name: a\n    image_repo: busybox\n    ready: redis-cli ping\n"),
        (
            "ready option typo",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: {comand: x}\n",
        ),
        (
            "ready without command",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: {timeout: 5s}\n",
        ),
        (
            "ready empty command",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: []\n",
        ),
        (
            "ready blank command",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: {command: \" \"}\n",
        ),
        (
            "ready zero interval",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: {command: x, interval: 0s}\n",
        ),
        (
            "sidecar of a sidecar",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: busybox\n        sidecars: []\n",
        ),
    ];
    for (what, text) in cases {
        assert!(!validator.is_valid(&to_json(text)), "{what}: the schema accepts\n{text}");
        assert!(load(Input::Text(text), &options()).is_err(), "{what}: the loader accepts\n{text}");
    }
}

/// Documents both the schema and the loader accept, in forms an editor must not flag.
#[test]
fn variables_aliases_and_other_forms_validate() {
    let validator = validator();
    let mut options = options();
    options.process_env = [("NAME", "a"), ("SVC", "true"), ("MODE", "ro"), ("TAG", "7")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cases = [
        "p:\n  - name: ${NAME}\n    image_repo: busybox\n    is_service_container: ${SVC}\n    tag: $TAG\n",
        "p:\n  - name: a\n    repo: busybox\n    tag: 1.0\n    dependency: [b]\n  - name: b\n    image_repo: busybox\n    exclude_in_env: [PROD]\n",
        "p:\n  - name: 01\n    image_repo: busybox\n    force_rerun: false\n    command: sh -c 'exit 0'\n",
        "p:\n  - name: a\n    image_repo: busybox\n    command: [-p, 3000]\n    env_vars: {N: 3, B: true, S: x}\n    labels: {team: data}\n",
        "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./d: {bind: /d, mode: ro}\n      cache: {bind: /cache}\n      ./e: {bind: /e, mode: $MODE}\n",
        "p:\n  - name: a\n    image_repo: busybox\n    volumes: [\"./d:/d\", \"vol:/v:ro\", \"/abs:/abs:rw\"]\n",
        "p:\n  - name: a\n    image_repo: busybox\n    dependencies:\n    command:\n    volumes:\n    sidecars:\n",
        "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: busybox\n        is_service_container: true\n",
        r#"{"p": [{"name": "a", "repo": "busybox", "sidecars": [{"name": "s", "repo": "busybox"}]}]}"#,
        "p:\n  - name: a\n    image_repo: busybox\n    timeout: 1h 30m\n    retries: 3\n    retry_delay: 0\n",
        "p:\n  - name: a\n    image_repo: busybox\n    timeout: 600\n    retries: $TAG\n    retry_delay: \"90\"\n",
        "p:\n  - name: a\n    image_repo: busybox\n    timeout: ${TIMEOUT:-2h}\n    retries: 0\n",
        "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: redis-cli ping\n",
        "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: [redis-cli, ping]\n",
        "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: {command: [redis-cli, ping], timeout: 2m, interval: 500ms}\n",
        r#"{"p": [{"name": "a", "repo": "busybox", "timeout": 90, "retries": 2, "retry_delay": 1.5, "sidecars": [{"name": "s", "repo": "redis", "ready": {"command": "redis-cli ping", "interval": 2}}]}]}"#,
    ];
    for text in cases {
        let errors = schema_errors(&validator, &to_json(text));
        assert!(errors.is_empty(), "the schema refuses\n{text}\n{errors:#?}");
        if let Err(d) = load(Input::Text(text), &options) {
            panic!("the loader refuses\n{text}\n{d}");
        }
    }
}

/// The name and tag patterns are copies of the loader's: they must agree on every value.
#[test]
fn name_and_tag_patterns_agree_with_the_loader() {
    let validator = validator();
    let long = |n: usize| "a".repeat(n);
    let names = ["a", "A.b-c_d", "0x", "-x", ".x", "_x", "a b", "a/b", "é", "a:b", ""];
    let names = names.iter().map(|s| s.to_string()).chain([long(63), long(64)]);
    for name in names {
        let doc = json!({ "p": [{ "name": name, "image_repo": "busybox" }] });
        let loads = load(Input::Value(&doc), &options()).is_ok();
        assert_eq!(validator.is_valid(&doc), loads, "name {name:?}");
    }
    let tags = ["latest", "1.0", "_x", ".x", "-x", "a b", "a:b", "ä", ""];
    for tag in tags.iter().map(|s| s.to_string()).chain([long(128), long(129)]) {
        let doc = json!({ "p": [{ "name": "a", "image_repo": "busybox", "tag": tag }] });
        let loads = load(Input::Value(&doc), &options()).is_ok();
        assert_eq!(validator.is_valid(&doc), loads, "tag {tag:?}");
    }
}

/// The duration pattern is built from the loader's: they must agree on every value (but a
/// duration too long to represent, which only the loader sees).
#[test]
fn duration_patterns_agree_with_the_loader() {
    let validator = validator();
    // What a `timeout` takes, then what it does not (`retry_delay` takes the zeros too).
    let accepted = "30m|1h 30m|1h30m| 90s |30 minutes|2 hours 5 sec|1.5h|500ms|5µs|1w|600|1.5|0.5s";
    let refused = "0|0s|0h 0m|0.0|soon|| |1h 30|1 30m|1h, 30m|30M|1H|-5s|-1|1.|.5s|30 minuts|1e3|0x10";
    let texts = accepted.split('|').chain(refused.split('|'));
    for text in texts {
        for property in ["timeout", "retry_delay"] {
            let doc = json!({ "p": [{ "name": "a", "image_repo": "busybox", property: text, "retries": 1 }] });
            let loads = load(Input::Value(&doc), &options()).is_ok();
            assert_eq!(validator.is_valid(&doc), loads, "{property}: {text:?}");
        }
        for option in ["timeout", "interval"] {
            let ready = json!({ "command": "x", "timeout": "1y", option: text });
            let doc = json!({ "p": [{ "name": "a", "image_repo": "busybox", "sidecars": [{ "name": "s", "image_repo": "redis", "ready": ready }] }] });
            let loads = load(Input::Value(&doc), &options()).is_ok();
            assert_eq!(validator.is_valid(&doc), loads, "ready.{option}: {text:?}");
        }
    }
    for number in [
        json!(0),
        json!(600),
        json!(1.5),
        json!(-1),
        json!(0.0),
        json!(-0.5),
        json!(3155760000u64),
        json!(3155760001u64),
    ] {
        for property in ["timeout", "retry_delay"] {
            let doc = json!({ "p": [{ "name": "a", "image_repo": "busybox", property: number, "retries": 1 }] });
            let loads = load(Input::Value(&doc), &options()).is_ok();
            assert_eq!(validator.is_valid(&doc), loads, "{property}: {number}");
        }
    }
    for retries in [json!(0), json!(100), json!(101), json!(-1), json!("3"), json!(2.5)] {
        let doc = json!({ "p": [{ "name": "a", "image_repo": "busybox", "retries": retries }] });
        let loads = load(Input::Value(&doc), &options()).is_ok();
        assert_eq!(validator.is_valid(&doc), loads, "retries: {retries}");
    }
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

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 1000, ..Default::default() })]

    /// The volume patterns are built from the loader's rules: both forms agree with the
    /// loader on every mount without variables.
    #[test]
    fn volume_patterns_agree_with_the_loader(
        host in "[a-z./~: \n\r\u{0}-]{0,5}",
        target in "[a-z/: \n\u{0}]{0,5}",
        mode in proptest::option::of("ro|rw|rx|"),
    ) {
        let validator = &*VALIDATOR;
        let mut binding = json!({ "bind": target });
        if let Some(mode) = &mode {
            binding["mode"] = json!(mode);
        }
        let doc = one_container("volumes", json!({ host.clone(): binding }));
        proptest::prop_assert_eq!(validator.is_valid(&doc), loads(&doc), "{}", doc);
        let joined = match &mode {
            Some(mode) => format!("{host}:{target}:{mode}"),
            None => format!("{host}:{target}"),
        };
        let doc = one_container("volumes", json!([joined]));
        proptest::prop_assert_eq!(validator.is_valid(&doc), loads(&doc), "{}", doc);
    }

    /// The list forms of `env_vars` and `labels`, and their mapping keys, agree with the
    /// loader on every name without variables.
    #[test]
    fn string_map_patterns_agree_with_the_loader(
        items in proptest::collection::vec("(io\\.copili\\.)?[ab=\u{0} ]{0,3}", 1..3),
    ) {
        // A name twice is the loader's alone to see (unless the items are equal).
        let names: std::collections::BTreeSet<&str> = items.iter().map(|i| i.split('=').next().unwrap_or(i)).collect();
        proptest::prop_assume!(names.len() == items.len());
        let validator = &*VALIDATOR;
        for property in ["env_vars", "labels"] {
            let doc = one_container(property, json!(items));
            proptest::prop_assert_eq!(validator.is_valid(&doc), loads(&doc), "{}", doc);
            let mapping: serde_json::Map<String, Value> = items.iter().map(|k| (k.clone(), json!("v"))).collect();
            let doc = one_container(property, Value::Object(mapping));
            proptest::prop_assert_eq!(validator.is_valid(&doc), loads(&doc), "{}", doc);
        }
    }
}

/// A JSON value such as a property may be given: scalars of every type, texts near the
/// forms of the format, lists and mappings of them with the format's keys. No `$`: a value
/// with a variable is the loader's to judge once expanded.
fn any_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let texts = prop_oneof![
        "[a-z0-9 =:/.@#_-]{0,6}",
        proptest::sample::select(vec![
            "5m",
            "1h 30m",
            "0s",
            "600",
            "every 5m",
            "daily 03:30",
            "*/10 * * * *",
            "UTC",
            "Europe/Berlin",
            "local",
            "always",
            "missing",
            "never",
            "ro",
            "rw",
            "x==y",
            "a!=b",
            "A=1",
            "A=",
            "=1",
            "./a:/b",
            "cache:/c:ro",
            "/abs",
            "./ctx",
            "512m",
            "1g",
            "0.5",
            "busybox",
            "redis:7",
            "io.copili.x=1",
            "true",
            "-x",
        ])
        .prop_map(str::to_string),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-2i64..5000).prop_map(Value::from),
        proptest::sample::select(vec![0.0, 0.5, 1.5, -0.5, 1e3]).prop_map(Value::from),
        texts.prop_map(Value::String),
    ];
    let keys = proptest::sample::select(vec![
        "bind",
        "mode",
        "command",
        "timeout",
        "interval",
        "context",
        "dockerfile",
        "args",
        "target",
        "cpus",
        "memory",
        "limits",
        "reservations",
        "name",
        "image_repo",
        "a",
        "./a",
        "cache",
        "A",
        "B",
    ]);
    leaf.prop_recursive(3, 12, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(keys.clone().prop_map(str::to_string), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Properties whose grammar the schema does not hold (a schedule's, the time zone
/// database): the schema accepts more than the loader.
/// The container options' finer grammar (IP addresses, capability and ulimit names,
/// device and tmpfs forms, env files on disk) is the loader's too.
const LOOSER_IN_THE_SCHEMA: [&str; 18] = [
    "schedule",
    "timezone",
    "extra_hosts",
    "user",
    "working_dir",
    "env_file",
    "devices",
    "gpus",
    "shm_size",
    "tmpfs",
    "cap_add",
    "cap_drop",
    "ulimits",
    "stop_signal",
    "networks",
    "network_mode",
    "entrypoint",
    "stop_grace_period",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 400, ..Default::default() })]

    /// For every property, on a container and on a sidecar: whatever value the loader
    /// accepts, the schema accepts (editors flag no valid file), and whatever the schema
    /// accepts, the loader accepts, but for what JSON Schema cannot say (names repeated
    /// across items, two mounts on one path, reservations above limits, an interval
    /// longer than its timeout, too little memory in a string, `2.0` as a whole
    /// number, the properties of [`LOOSER_IN_THE_SCHEMA`]).
    #[test]
    fn the_schema_and_the_loader_agree_on_generated_values(value in any_value()) {
        let validator = &*VALIDATOR;
        for property in PROPERTIES {
            for on_sidecar in [false, true] {
                let mut description = json!({ "name": "s", "image_repo": "busybox" });
                if property.required || property.value == ValueKind::ImageRepo {
                    description.as_object_mut().map(|m| m.remove(property.name));
                }
                description[property.name] = value.clone();
                if property.name == "retry_delay" {
                    description["retries"] = json!(1);
                }
                let doc = if on_sidecar {
                    json!({ "p": [{ "name": "a", "image_repo": "busybox", "sidecars": [description] }] })
                } else {
                    json!({ "p": [description] })
                };
                let (schema_ok, loader_ok) = (validator.is_valid(&doc), loads(&doc));
                if loader_ok {
                    proptest::prop_assert!(schema_ok, "the schema refuses what the loader accepts: {}", doc);
                } else if schema_ok && !LOOSER_IN_THE_SCHEMA.contains(&property.name) {
                    let mut options = options();
                    options.process_env.insert("HOME".into(), "/home/u".into());
                    let errors = match load(Input::Value(&doc), &options) {
                        Err(d) => d.errors().map(|e| e.message.clone()).collect::<Vec<_>>(),
                        Ok(_) => Vec::new(),
                    };
                    let beyond = |m: &String| {
                        m.starts_with("duplicate name")
                            || m.starts_with("two volumes are mounted on")
                            || m.starts_with("a reservation is larger than its limit")
                            || m.starts_with("the ready check's interval (")
                            // `"600"`: an amount in a string is not a number to compare.
                            || m.contains("is below the 4 MiB engines accept")
                            // `2.0`: JSON Schema's integers include numbers with a zero fraction.
                            || (m.starts_with("expected a whole number, found `") && m.contains('.'))
                    };
                    proptest::prop_assert!(
                        errors.iter().all(beyond),
                        "the schema accepts what the loader refuses: {}\n{:?}", doc, errors
                    );
                }
            }
        }
    }
}

/// The repository pattern is the loader's grammar, with a tag or digest; `tag` beside a
/// repository that carries one is refused by both.
#[test]
fn image_repository_patterns_agree_with_the_loader() {
    let validator = validator();
    let digest = format!("@sha256:{}", "ab".repeat(32));
    let repos = [
        "busybox".to_string(),
        "redis:7".into(),
        "localhost:5000/team/redis:7.2".into(),
        "Registry.Example.com:5000/team/x".into(),
        format!("busybox{digest}"),
        format!("busybox:1{digest}"),
        "Redis".into(),
        "https://registry.example.com/x".into(),
        "redis:".into(),
        "redis:.x".into(),
        "a/b:c/d".into(),
        "a__b/c--d".into(),
        "a_-b".into(),
        "".into(),
        "a@sha256:12".into(),
    ];
    for repo in &repos {
        for tag in [None, Some("8")] {
            let mut container = json!({ "name": "a", "image_repo": repo });
            if let Some(tag) = tag {
                container["tag"] = json!(tag);
            }
            let doc = json!({ "p": [container] });
            assert_eq!(validator.is_valid(&doc), loads(&doc), "{doc}");
        }
    }
    for number in [json!(5), json!(1.5), json!(-1), json!(true)] {
        let doc = json!({ "p": [{ "name": "a", "image_repo": number }] });
        assert_eq!(validator.is_valid(&doc), loads(&doc), "{doc}");
    }
}

/// Resource amounts: the patterns and bounds are the loader's.
#[test]
fn resource_patterns_agree_with_the_loader() {
    let validator = validator();
    let cpus = [
        json!(2),
        json!(0.5),
        json!(0),
        json!(-1),
        json!(4097),
        json!("1.5"),
        json!("0.5 "),
        json!("x"),
        json!("1e1"),
        json!(true),
    ];
    let memory = [
        json!(268435456),
        json!(1024),
        json!("512m"),
        json!("1.5G"),
        json!("256Mi"),
        json!("10 MB"),
        json!("1x"),
        json!("m"),
        json!("1.2.3g"),
        json!(".5g"),
        json!(false),
    ];
    for amount in cpus {
        let doc = one_container("resources", json!({ "cpus": amount }));
        assert_eq!(validator.is_valid(&doc), loads(&doc), "{doc}");
    }
    for amount in memory {
        let doc = one_container("resources", json!({ "reservations": { "memory": amount } }));
        assert_eq!(validator.is_valid(&doc), loads(&doc), "{doc}");
    }
}

/// Commands and ready checks: every scalar is a command; an empty one is refused by both for
/// `ready`.
#[test]
fn command_and_ready_forms_agree_with_the_loader() {
    let validator = validator();
    let values = [
        json!("echo hi"),
        json!(5),
        json!(true),
        json!(["-p", 3000, false]),
        json!([]),
        json!(""),
        json!("  "),
        json!("# only a comment"),
        json!("x # a comment"),
        json!(null),
        json!([["nested"]]),
        json!([null]),
        json!({ "run": "x" }),
    ];
    for value in values {
        let doc = one_container("command", value.clone());
        assert_eq!(validator.is_valid(&doc), loads(&doc), "{doc}");
        let sidecar = json!({ "name": "s", "image_repo": "redis", "ready": value });
        let doc = one_container("sidecars", json!([sidecar]));
        assert_eq!(validator.is_valid(&doc), loads(&doc), "{doc}");
        let sidecar = json!({ "name": "s", "image_repo": "redis", "ready": { "command": value } });
        let doc = one_container("sidecars", json!([sidecar]));
        assert_eq!(validator.is_valid(&doc), loads(&doc), "{doc}");
    }
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
