//! The schema's patterns against the loader's grammar, value by value.

use super::*;

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
