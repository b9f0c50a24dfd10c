//! compose-go's template vectors (`template/template_test.go` of compose-spec/compose-go), written
//! out and run against copili's interpolation: every test of that file for the forms copili
//! supports — `$$`, `$NAME`, `${NAME}`, defaults (`:-`, `-`), required (`:?`, `?`),
//! alternatives (`:+`, `+`), nested expansion in defaults, invalid `${…}`, and a `$` followed by
//! anything else (kept as written). The mapping is compose-go's `defaults`: `FOO=first`, `BAR=`
//! (set but empty); every other name is unset.
//!
//! Where copili intentionally differs, a comment says so:
//! - compose's custom substitution and replacement functions (`TestSubstituteWithCustomFunc`,
//!   `TestSubstituteWithReplacementFunc`, `TestSubstituteWithReplacementAppliedFunc`) are a Go
//!   API that copili has no counterpart for; their default-behaviour vectors (`ok ${FOO}`,
//!   `ok ${BAR}`) are checked below.
//! - a missing required variable is `InterpolationError::Required` with the name and the written
//!   message, worded by copili ("required variable `X` is not set: …") rather than compose's
//!   "required variable X is missing a value: …"; with no message written, copili supplies one
//!   ("it must be set").
//! - compose's `ExtractVariables` (a map of variables with their defaults) is checked through
//!   what copili records and expands: the names used, the default a missing variable gets, the
//!   alternative a set one gets, and the required ones refusing to be missing.

use std::collections::HashMap;

use copili_model::interpolate::{interpolate, InterpolationError, Variables};

fn mapping(pairs: &[(&str, &str)]) -> Variables {
    let process: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Variables::new(process, HashMap::new())
}

/// compose-go's `defaultMapping`.
fn defaults() -> Variables {
    mapping(&[("FOO", "first"), ("BAR", "")])
}

fn substitute(template: &str) -> Result<String, InterpolationError> {
    interpolate(template, &defaults()).map(|e| e.value)
}

fn expect(cases: &[(&str, &str)]) {
    for (template, expected) in cases {
        assert_eq!(substitute(template).as_deref(), Ok(*expected), "template {template:?}");
    }
}

/// A required-variable error naming `name` with the message `message`.
fn expect_required(template: &str, name: &str, message: &str) {
    match substitute(template) {
        Err(InterpolationError::Required { name: got, message: got_message, .. }) => {
            assert_eq!((got.as_str(), got_message.as_str()), (name, message), "template {template:?}");
        }
        other => panic!("template {template:?}: expected a required-variable error, got {other:?}"),
    }
}

#[test]
fn escaped() {
    expect(&[("$${foo}", "${foo}")]);
}

#[test]
fn substitute_no_match() {
    expect(&[("foo", "foo")]);
}

#[test]
fn unescaped() {
    // A `$` followed by anything but a name, `{` or `$` is kept as written.
    for template in ["a $ string", "^REGEX$", "$}", "$"] {
        expect(&[(template, template)]);
    }
}

#[test]
fn invalid() {
    for template in ["${", "${}", "${ }", "${ foo}", "${foo }", "${foo!}"] {
        assert!(
            matches!(substitute(template), Err(InterpolationError::Syntax { .. })),
            "template {template:?} must be invalid"
        );
    }
}

#[test]
fn non_braced() {
    // https://github.com/docker/compose/issues/8601
    expect(&[("$FOO-bar", "first-bar")]);
}

#[test]
fn values_and_defaults() {
    expect(&[
        // TestNoValueNoDefault
        ("This ${missing} var", "This  var"),
        ("This ${BAR} var", "This  var"),
        // TestValueNoDefault
        ("This $FOO var", "This first var"),
        ("This ${FOO} var", "This first var"),
        // TestNoValueWithDefault
        ("ok ${missing:-def}", "ok def"),
        ("ok ${missing-def}", "ok def"),
        // TestEmptyValueWithSoftDefault
        ("ok ${BAR:-def}", "ok def"),
        // TestValueWithSoftDefault
        ("ok ${FOO:-def}", "ok first"),
        // TestEmptyValueWithHardDefault
        ("ok ${BAR-def}", "ok "),
        // TestNonAlphanumericDefault
        ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
    ]);
}

#[test]
fn presence_values() {
    expect(&[
        ("ok ${UNSET_VAR:+presence_value}", "ok "),
        ("ok ${UNSET_VAR+presence_value}", "ok "),
        ("ok ${FOO:+presence_value}", "ok presence_value"),
        ("ok ${FOO+presence_value}", "ok presence_value"),
        ("ok ${BAR+presence_value}", "ok presence_value"),
        ("ok ${BAR:+presence_value}", "ok "),
    ]);
}

#[test]
fn interpolation_external_interference() {
    expect(&[
        ("-ok ${BAR:-defaultValue}", "-ok defaultValue"),
        ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
        ("-ok ${FOO:-defaultValue}", "-ok first"),
        (":-ok ${UNSET-defaultValue}", ":-ok defaultValue"),
        (":-ok ${BAR-defaultValue}", ":-ok "),
        (":?ok ${BAR-defaultValue}", ":?ok "),
        (":?ok ${BAR:-defaultValue}", ":?ok defaultValue"),
        (":+ok ${BAR:-defaultValue}", ":+ok defaultValue"),
        ("+ok ${BAR-defaultValue}", "+ok "),
        ("?ok ${BAR:-defaultValue}", "?ok defaultValue"),
    ]);
}

#[test]
fn defaults_with_nested_expansion() {
    expect(&[
        ("ok ${UNSET_VAR-$FOO}", "ok first"),
        ("ok ${UNSET_VAR-${FOO}}", "ok first"),
        ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR:-$FOO}", "ok first"),
        ("ok ${BAR:-${FOO}}", "ok first"),
        ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR+$FOO}", "ok first"),
        ("ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
    ]);
}

#[test]
fn mandatory_variable_errors() {
    expect_required("not ok ${UNSET_VAR:?Mandatory Variable Unset}", "UNSET_VAR", "Mandatory Variable Unset");
    expect_required("not ok ${BAR:?Mandatory Variable Empty}", "BAR", "Mandatory Variable Empty");
    expect_required("not ok ${UNSET_VAR?Mandatory Variable Unset}", "UNSET_VAR", "Mandatory Variable Unset");
    // Differs in wording only: with no message written, compose says "is missing a value" and
    // copili gives its own reason.
    expect_required("not ok ${UNSET_VAR:?}", "UNSET_VAR", "it must be set and not empty");
    expect_required("not ok ${UNSET_VAR?}", "UNSET_VAR", "it must be set");
    assert_eq!(
        substitute("not ok ${BAR:?Mandatory Variable Empty}").map_err(|e| e.to_string()),
        Err("required variable `BAR` is set but empty: Mandatory Variable Empty".to_string())
    );
}

#[test]
fn mandatory_variable_errors_with_nested_expansion() {
    expect_required("not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}", "UNSET_VAR", "Mandatory Variable first");
    expect_required("not ok ${UNSET_VAR?Mandatory Variable ${FOO}}", "UNSET_VAR", "Mandatory Variable first");
}

#[test]
fn defaults_for_mandatory_variables() {
    expect(&[("ok ${FOO:?err}", "ok first"), ("ok ${FOO?err}", "ok first"), ("ok ${BAR?err}", "ok ")]);
}

#[test]
fn substitute_with_custom_func_default_behaviour() {
    // The custom functions are Go API (see the module doc); the substitutions they fall back on:
    expect(&[("ok ${FOO}", "ok first"), ("ok ${BAR}", "ok "), ("ok ${UNSET}", "ok ")]);
}

#[test]
fn precedence() {
    // The first operator after the name decides.
    expect_required("${UNSET_VAR?bar-baz}", "UNSET_VAR", "bar-baz");
    expect(&[
        ("${UNSET_VAR-myerror?msg}", "myerror?msg"),
        ("${FOO?bar-baz}", "first"),
        ("${BAR:-default_value_for_empty_var}", "default_value_for_empty_var"),
        ("${UNSET_VAR-default_value_for_unset_var}", "default_value_for_unset_var"),
    ]);
}

/// One variable of compose's `TestExtractVariables`: the reference it is written in, its name,
/// default, presence value, and whether it is required.
struct Extracted {
    reference: &'static str,
    name: &'static str,
    default: &'static str,
    presence: &'static str,
    required: bool,
}

const fn var(
    reference: &'static str,
    name: &'static str,
    default: &'static str,
    presence: &'static str,
    required: bool,
) -> Extracted {
    Extracted { reference, name, default, presence, required }
}

#[test]
fn extract_variables() {
    let cases: &[(&[&str], &[Extracted])] = &[
        // empty, no-variables
        (&[], &[]),
        (&["bar"], &[]),
        // variable-without-curly-braces, variable
        (&["$bar"], &[var("$bar", "bar", "", "", false)]),
        (&["${bar}"], &[var("${bar}", "bar", "", "", false)]),
        // required-variable, required-variable2
        (&["${bar?:foo}"], &[var("${bar?:foo}", "bar", "", "", true)]),
        (&["${bar?foo}"], &[var("${bar?foo}", "bar", "", "", true)]),
        // default-variable, default-variable2
        (&["${bar:-foo}"], &[var("${bar:-foo}", "bar", "foo", "", false)]),
        (&["${bar-foo}"], &[var("${bar-foo}", "bar", "foo", "", false)]),
        // multiple-values
        (
            &["${bar:-foo}", "${fruit:-banana}", "vegetable", "foo", "$docker:${project:-cli}", "$toto"],
            &[
                var("${bar:-foo}", "bar", "foo", "", false),
                var("${fruit:-banana}", "fruit", "banana", "", false),
                var("$toto", "toto", "", "", false),
                var("$docker", "docker", "", "", false),
                var("${project:-cli}", "project", "cli", "", false),
            ],
        ),
        // presence-value-nonEmpty, presence-value
        (&["${bar:+foo}"], &[var("${bar:+foo}", "bar", "", "foo", false)]),
        (&["${bar+foo}"], &[var("${bar+foo}", "bar", "", "foo", false)]),
    ];
    for (strings, expected) in cases {
        let set: Vec<(&str, &str)> = expected.iter().map(|v| (v.name, "set")).collect();
        let all_set = mapping(&set);
        let mut names: Vec<String> = Vec::new();
        for s in *strings {
            let e = interpolate(s, &all_set).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            names.extend(e.uses.into_iter().map(|u| u.name));
        }
        names.sort();
        names.dedup();
        let mut expected_names: Vec<&str> = expected.iter().map(|v| v.name).collect();
        expected_names.sort();
        assert_eq!(names, expected_names, "strings {strings:?}");

        for v in *expected {
            let reference = v.reference;
            assert!(strings.iter().any(|s| s.contains(reference)), "{reference:?} is written");
            // Missing: the default, or an error when required.
            match interpolate(reference, &mapping(&[])) {
                Err(InterpolationError::Required { name, .. }) => {
                    assert!(v.required, "{reference:?}");
                    assert_eq!(name, v.name);
                }
                Ok(e) => {
                    assert!(!v.required, "{reference:?} must be required");
                    assert_eq!(e.value, v.default, "{reference:?} unset");
                }
                Err(e) => panic!("{reference:?}: {e}"),
            }
            // Set: the presence value when there is one.
            if !v.presence.is_empty() {
                let set = interpolate(reference, &mapping(&[(v.name, "set")])).expect("valid");
                assert_eq!(set.value, v.presence, "{reference:?} set");
            }
        }
    }
}

#[test]
fn substitution_function_choice() {
    // compose-go checks which operator it picks for `${…}`'s content; copili's choice shows in
    // the result, so each content is expanded with VARNAME unset, empty and set.
    let cases = [
        ("VARNAME:?val?ue", ":?"),
        ("VARNAME?val:?ue", "?"),
        ("VARNAME?va-lu+e:?e", "?"),
        ("VARNAME?va+lu-e:?e", "?"),
        ("VARNAME:-value", ":-"),
        ("VARNAME-va:-lu:?e", "-"),
        ("VARNAME-va+lu?e", "-"),
        ("VARNAME-va?lu+e", "-"),
        ("VARNAME:+va:?lu:-e", ":+"),
        ("VARNAME+va:+lue", "+"),
        ("VARNAME+va?lu-e", "+"),
        ("VARNAME+va-lu?e", "+"),
    ];
    for (content, symbol) in cases {
        let arg = &content["VARNAME".len() + symbol.len()..];
        let template = format!("${{{content}}}");
        for state in [None, Some(""), Some("v")] {
            let vars = match state {
                Some(value) => mapping(&[("VARNAME", value)]),
                None => mapping(&[]),
            };
            let got = interpolate(&template, &vars).map(|e| e.value);
            let unset_or_empty = state.is_none_or(str::is_empty);
            let value = state.unwrap_or("").to_string();
            let expected: Result<String, ()> = match symbol {
                ":?" if unset_or_empty => Err(()),
                "?" if state.is_none() => Err(()),
                ":-" if unset_or_empty => Ok(arg.to_string()),
                "-" if state.is_none() => Ok(arg.to_string()),
                ":+" => Ok(if unset_or_empty { String::new() } else { arg.to_string() }),
                "+" => Ok(if state.is_some() { arg.to_string() } else { String::new() }),
                _ => Ok(value),
            };
            match (&got, &expected) {
                (Err(InterpolationError::Required { message, .. }), Err(())) => assert_eq!(message, arg, "{template}"),
                (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{template} with {state:?}"),
                _ => panic!("{template} with {state:?}: got {got:?}, expected {expected:?}"),
            }
        }
    }
}

#[test]
fn forms_named_by_copili_issue_12() {
    // Not compose-go vectors: the forms the issue names, with compose's behaviour.
    for kept in ["sh -c 'n=$(wc -l < f)'", "a $ b", "grep '^id$'", "$1", "echo $? $# $@ $*"] {
        expect(&[(kept, kept)]);
    }
    for invalid in ["${", "${}", "${1X}", "${HOST:x}"] {
        assert!(matches!(substitute(invalid), Err(InterpolationError::Syntax { .. })), "{invalid:?}");
    }
    expect(&[("$$FOO $FOO ${FOO}", "$FOO first first")]);
}
