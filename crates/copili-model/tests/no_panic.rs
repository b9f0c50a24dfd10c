//! Property tests: parsing, interpolation and validation never panic, whatever the input, and
//! interpolation keeps what it must keep. A fuzzer in miniature: proptest generates thousands
//! of inputs per run, from plain noise to mutations of a valid pipeline.

use std::collections::HashMap;

use copili_model::interpolate::{interpolate, Variables};
use copili_model::{load_draft, EnvFile, Input, LoadOptions};
use proptest::prelude::*;

const VALID: &str = "nightly:
  - name: fetch_genes
    image_repo: registry.example.com/loaders/genes
    tag: \"2.1\"
    env_vars: {DB: \"${DB_URL:-bolt://neo4j:7687}\", PW: $PASSWORD}
    volumes: [\"./data:/data:ro\", \"cache:/cache\"]
    command: sh -c 'echo hi'
  - name: link
    image_repo: localhost/link
    dependencies: [fetch_genes]
    sidecars:
      - {name: redis01, image_repo: redis, tag: '7'}
    volumes:
      /srv: {bind: /srv, mode: rw}
";

fn options() -> LoadOptions {
    LoadOptions {
        process_env: HashMap::from([("PASSWORD".to_string(), "hunter2".to_string())]),
        env_file: EnvFile::Disabled,
        strict_env: false,
        working_dir: "/work".into(),
    }
}

/// Text made of the characters that matter to YAML, JSON and interpolation.
fn yamlish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "nightly:",
        "\n",
        "  ",
        "- ",
        "name: ",
        "image_repo: ",
        "dependencies: ",
        "env_vars:",
        "sidecars:",
        "volumes:",
        "command: ",
        "a",
        "b",
        "x/y",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "'",
        "\"",
        "$",
        "${",
        "$$",
        "-",
        "?",
        "+",
        "&a ",
        "*a",
        "<<: ",
        "#",
        "\t",
        "é",
        "0x1F",
        "true",
        "~",
        "|\n",
        ">-\n",
        "---\n",
        "\\",
    ]);
    prop::collection::vec(pieces, 0..80).prop_map(|v| v.concat())
}

/// A valid pipeline with some bytes deleted, replaced or duplicated.
fn mutated() -> impl Strategy<Value = String> {
    let edits = prop::collection::vec((0..VALID.len(), 0u8..3, prop::char::any()), 1..6);
    edits.prop_map(|edits| {
        let mut chars: Vec<char> = VALID.chars().collect();
        for (at, kind, c) in edits {
            let at = at % chars.len().max(1);
            match kind {
                0 => {
                    chars.remove(at);
                }
                1 => chars[at] = c,
                _ => chars.insert(at, chars[at]),
            }
            if chars.is_empty() {
                chars.push(' ');
            }
        }
        chars.into_iter().collect()
    })
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        "[a-z$_{}:.-]{0,12}".prop_map(serde_json::Value::String),
        prop::sample::select(vec!["name", "image_repo", "tag", "dependencies", "sidecars", "env_vars"])
            .prop_map(|s| serde_json::Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "p",
                    "name",
                    "image_repo",
                    "dependencies",
                    "sidecars",
                    "env_vars",
                    "volumes",
                    "x"
                ]),
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn loading_noise_never_panics(text in "\\PC{0,200}") {
        let draft = load_draft(Input::Text(&text), &options());
        // Rendering walks the snippets and masks: it must not panic either.
        let _ = draft.diagnostics.to_string();
    }

    #[test]
    fn loading_yamlish_text_never_panics(text in yamlish()) {
        let draft = load_draft(Input::Text(&text), &options());
        let rendered = draft.diagnostics.to_string();
        prop_assert!(!rendered.contains("hunter2"));
    }

    #[test]
    fn loading_a_mutated_pipeline_never_panics_nor_leaks(text in mutated()) {
        let draft = load_draft(Input::Text(&text), &options());
        let rendered = draft.diagnostics.to_string();
        // While the secret is still written as an env_vars value, it must never show.
        if text.contains("env_vars: {DB: \"${DB_URL:-bolt://neo4j:7687}\", PW: $PASSWORD}") {
            prop_assert!(!rendered.contains("hunter2"), "{}", rendered);
        }
    }

    #[test]
    fn loading_values_never_panics(value in json_value()) {
        let draft = load_draft(Input::Value(&value), &options());
        let _ = draft.diagnostics.to_string();
    }

    #[test]
    fn interpolating_never_panics(text in "[$${}:?+\\-aB_1 é]{0,40}") {
        let vars = Variables::new(HashMap::from([("a".to_string(), "x".to_string())]), HashMap::new());
        let _ = interpolate(&text, &vars);
    }

    #[test]
    fn text_without_dollar_is_kept(text in "[^$]{0,60}") {
        let expanded = interpolate(&text, &Variables::default()).expect("no references");
        prop_assert_eq!(expanded.value, text);
    }

    #[test]
    fn doubled_dollars_give_the_text_back(text in "\\PC{0,60}") {
        let escaped = text.replace('$', "$$");
        let expanded = interpolate(&escaped, &Variables::default()).expect("only escapes");
        prop_assert_eq!(expanded.value, text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// The JSON reader and the YAML parser build the same tree from the same JSON text.
    #[test]
    fn json_reader_agrees_with_the_yaml_parser(value in json_value(), pretty in any::<bool>()) {
        use copili_model::document::{parse, Syntax};
        let text = if pretty {
            serde_json::to_string_pretty(&value).expect("serializable")
        } else {
            serde_json::to_string(&value).expect("serializable")
        };
        let from_json = parse(&text, Syntax::Json);
        let from_yaml = parse(&text, Syntax::Yaml);
        prop_assert!(from_json.problems.is_empty() && from_yaml.problems.is_empty());
        let (Some(a), Some(b)) = (from_json.root, from_yaml.root) else {
            return Err(TestCaseError::fail("no root"));
        };
        prop_assert_eq!(a.to_json(), b.to_json());
        prop_assert_eq!(a.span, b.span);
    }
}
