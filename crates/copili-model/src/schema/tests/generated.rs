//! Generated values: whatever the loader accepts the schema accepts, and the other way round.

use super::*;

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
