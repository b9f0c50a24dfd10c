//! No secret value in any message: a property test over the real binary.
//!
//! Each case writes a marker secret into one secret position of a pipeline — a registry
//! password, an `env_vars` value (mapping and `KEY=VALUE` list form, on a container or a
//! sidecar), a build argument, a `--set-env` value — in one of the ways people write values
//! (plain, quoted, block scalars, multi-line, inside other text), in YAML (block or flow) or
//! JSON, then adds random mistakes around it: the secret key twice, a misspelt secret key, the
//! value in the wrong type, errors elsewhere in the container, syntax errors nearby, the file
//! cut off after the secret. Every command that reads the pipeline then runs on it —
//! `validate`, `plan` (text and JSON), `graph` (DOT, Mermaid, SVG), `export argo` (the Workflow;
//! the secrets manifest is the one place the value belongs), `run --dry-run --report-html` (and
//! its page) — and neither
//! their output nor their messages may hold the marker, or any 8 characters of it.

use std::path::Path;

use copili_e2e::{copili, run, Output};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

/// The secret every case hides: letters and digits only, so that any quoting style takes it.
const MARKER: &str = "Qz7xSecretMarker9Kw";

/// A document under construction, written out by [`render`] in the case's syntax.
#[derive(Debug, Clone)]
enum Doc {
    Map(Vec<(String, Doc)>),
    Seq(Vec<Doc>),
    Str(String, Style),
    /// Written as is: a number, a boolean, or text a test means to be wrong.
    Raw(String),
}

/// How a string is written (YAML; JSON always uses `"…"`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    /// `|` followed by the text on the next lines.
    Literal,
    /// `>` followed by the text on the next lines.
    Folded,
    /// `"…` broken over two lines.
    DoubleMultiLine,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Syntax {
    YamlBlock,
    YamlFlow,
    Json,
    JsonOneLine,
}

/// Where the secret goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Position {
    Password {
        sidecar: bool,
    },
    EnvMap {
        sidecar: bool,
    },
    EnvList {
        sidecar: bool,
    },
    BuildArgs,
    /// `run --set-env KEY=VALUE`.
    SetEnv,
}

/// A mistake added around the secret.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mistake {
    /// The secret's key a second time, the marker in the second value.
    DuplicateKey,
    /// A near miss of the secret property (`image_reg_pasword`, `env_var`, …).
    Misspelt(usize),
    /// The value as a list or a mapping.
    WrongType(bool),
    /// Errors elsewhere in the same container, so that their snippets show nearby lines.
    ErrorsNearby,
    /// A line the parser cannot read, right after the secret.
    SyntaxErrorAfter,
    /// A tab in the indentation of the next line.
    TabAfter,
    /// The file ends right after the marker.
    CutAfterMarker,
    /// An unclosed bracket further down.
    UnclosedBracket,
}

#[derive(Debug, Clone)]
struct Case {
    syntax: Syntax,
    position: Position,
    style: Style,
    /// Text around the marker in the value.
    around: (String, String),
    mistakes: Vec<Mistake>,
    /// How the `--set-env` argument is written (for [`Position::SetEnv`]).
    set_env_form: usize,
}

fn misspellings(position: Position) -> &'static [&'static str] {
    match position {
        Position::Password { .. } => {
            &["image_reg_pasword", "image_reg_passwd", "Image_Reg_Password", "image-reg-password", "image_reg_passw0rd"]
        }
        Position::EnvMap { .. } | Position::EnvList { .. } => {
            &["env_var", "envvars", "env-vars", "Env_Vars", "environment", "env_varss"]
        }
        Position::BuildArgs => &["arg", "build_args", "Args"],
        Position::SetEnv => &["env_vars"],
    }
}

fn value(case: &Case) -> String {
    format!("{}{MARKER}{}", case.around.0, case.around.1)
}

fn secret_value(case: &Case, text: String) -> Doc {
    let text = Doc::Str(text, case.style);
    match case.mistakes.iter().find_map(|m| match m {
        Mistake::WrongType(as_map) => Some(*as_map),
        _ => None,
    }) {
        Some(true) => Doc::Map(vec![("nested".into(), text)]),
        Some(false) => Doc::Seq(vec![text]),
        None => text,
    }
}

/// The key of the secret property, and the entries that carry the secret.
fn secret_entries(case: &Case) -> Option<(String, Doc)> {
    let misspelt = case.mistakes.iter().find_map(|m| match m {
        Mistake::Misspelt(i) => Some(*i),
        _ => None,
    });
    let spelling = |canonical: &str| match misspelt {
        Some(i) => misspellings(case.position)[i % misspellings(case.position).len()].to_string(),
        None => canonical.to_string(),
    };
    let value = value(case);
    Some(match case.position {
        Position::Password { .. } => (spelling("image_reg_password"), secret_value(case, value)),
        Position::EnvMap { .. } => (
            spelling("env_vars"),
            Doc::Map(vec![("PLAIN".into(), Doc::Raw("1".into())), ("DB_PASSWORD".into(), secret_value(case, value))]),
        ),
        Position::EnvList { .. } => (
            spelling("env_vars"),
            Doc::Seq(vec![
                Doc::Str("PLAIN=1".into(), Style::Plain),
                secret_value(case, format!("DB_PASSWORD={value}")),
            ]),
        ),
        Position::BuildArgs => (spelling("args"), Doc::Map(vec![("TOKEN".into(), secret_value(case, value))])),
        Position::SetEnv => return None,
    })
}

/// The pipeline of a case.
fn pipeline(case: &Case) -> Doc {
    let entry = secret_entries(case);
    let duplicate = case.mistakes.contains(&Mistake::DuplicateKey);
    let mut secret_map = Vec::new();
    if let Some((key, value)) = &entry {
        if duplicate {
            // The first one is fine; the second holds the marker too, and is the one reported.
            match value {
                Doc::Map(entries) => {
                    let mut entries = entries.clone();
                    entries.push(entries[entries.len() - 1].clone());
                    secret_map.push((key.clone(), Doc::Map(entries)));
                }
                _ => secret_map.push((key.clone(), value.clone())),
            }
        }
        secret_map.push((key.clone(), value.clone()));
    }
    let noise = |entries: &mut Vec<(String, Doc)>| {
        if case.mistakes.contains(&Mistake::ErrorsNearby) {
            entries.push(("tag".into(), Doc::Str(".bad".into(), Style::Plain)));
            entries.push(("retries".into(), Doc::Str("lots".into(), Style::Plain)));
            entries.push(("dependancies".into(), Doc::Seq(vec![Doc::Str("x".into(), Style::Plain)])));
        }
    };
    let mut first = vec![
        ("name".into(), Doc::Str("first".into(), Style::Plain)),
        ("image_repo".into(), Doc::Str("registry.example.com/loaders/first".into(), Style::Plain)),
    ];
    let mut sidecar = vec![
        ("name".into(), Doc::Str("cache".into(), Style::Plain)),
        ("image_repo".into(), Doc::Str("redis".into(), Style::Plain)),
    ];
    let mut second = vec![
        ("name".into(), Doc::Str("second".into(), Style::Plain)),
        ("image_repo".into(), Doc::Str("busybox".into(), Style::Plain)),
        ("dependencies".into(), Doc::Seq(vec![Doc::Str("first".into(), Style::Plain)])),
    ];
    match case.position {
        Position::Password { sidecar: true }
        | Position::EnvMap { sidecar: true }
        | Position::EnvList { sidecar: true } => {
            sidecar.extend(secret_map);
            noise(&mut sidecar);
        }
        Position::Password { sidecar: false }
        | Position::EnvMap { sidecar: false }
        | Position::EnvList { sidecar: false } => {
            first.extend(secret_map);
            noise(&mut first);
        }
        Position::BuildArgs => {
            let mut build = vec![("context".into(), Doc::Str(".".into(), Style::Plain))];
            build.extend(secret_map);
            second.push(("build".into(), Doc::Map(build)));
            noise(&mut second);
        }
        Position::SetEnv => noise(&mut first),
    }
    first.push(("command".into(), Doc::Seq(vec![Doc::Str("true".into(), Style::Plain)])));
    first.push(("sidecars".into(), Doc::Seq(vec![Doc::Map(sidecar)])));
    if case.mistakes.contains(&Mistake::UnclosedBracket) {
        second.push(("labels".into(), Doc::Raw("[team=data".into())));
    }
    Doc::Map(vec![("nightly".into(), Doc::Seq(vec![Doc::Map(first), Doc::Map(second)]))])
}

fn yaml_string(text: &str, style: Style, indent: usize) -> String {
    let pad = " ".repeat(indent + 2);
    match style {
        Style::Plain => text.to_string(),
        Style::Single => format!("'{text}'"),
        Style::Double => format!("\"{text}\""),
        Style::Literal => format!("|\n{pad}{text}"),
        Style::Folded => format!(">\n{pad}{text}"),
        Style::DoubleMultiLine => format!("\"first line\n{pad}{text}\""),
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Writes a document; a mapping's entries in order, duplicates and all.
fn render(doc: &Doc, syntax: Syntax) -> String {
    match syntax {
        Syntax::YamlBlock => {
            let mut out = String::new();
            block(doc, 0, &mut out);
            out
        }
        Syntax::YamlFlow => match doc {
            // The pipeline's list in block style, each container on one line.
            Doc::Map(entries) => {
                let mut out = String::new();
                for (key, value) in entries {
                    out.push_str(&format!("{key}:\n"));
                    if let Doc::Seq(items) = value {
                        for item in items {
                            out.push_str(&format!("  - {}\n", flow(item)));
                        }
                    }
                }
                out
            }
            _ => flow(doc),
        },
        Syntax::Json => {
            let mut out = String::new();
            json(doc, 0, true, &mut out);
            out.push('\n');
            out
        }
        Syntax::JsonOneLine => {
            let mut out = String::new();
            json(doc, 0, false, &mut out);
            out
        }
    }
}

fn block(doc: &Doc, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match doc {
        Doc::Map(entries) => {
            for (key, value) in entries {
                match value {
                    Doc::Map(_) | Doc::Seq(_) => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        block(value, indent + 2, out);
                    }
                    Doc::Str(text, style) => {
                        out.push_str(&format!("{pad}{key}: {}\n", yaml_string(text, *style, indent)))
                    }
                    Doc::Raw(text) => out.push_str(&format!("{pad}{key}: {text}\n")),
                }
            }
        }
        Doc::Seq(items) => {
            for item in items {
                match item {
                    Doc::Map(_) => {
                        let mut inner = String::new();
                        block(item, indent + 2, &mut inner);
                        let inner = inner.strip_prefix(&" ".repeat(indent + 2)).unwrap_or(&inner).to_string();
                        out.push_str(&format!("{pad}- {inner}"));
                    }
                    Doc::Seq(_) => {
                        out.push_str(&format!("{pad}-\n"));
                        block(item, indent + 2, out);
                    }
                    Doc::Str(text, style) => {
                        out.push_str(&format!("{pad}- {}\n", yaml_string(text, *style, indent + 2)))
                    }
                    Doc::Raw(text) => out.push_str(&format!("{pad}- {text}\n")),
                }
            }
        }
        Doc::Str(text, style) => out.push_str(&format!("{pad}{}\n", yaml_string(text, *style, indent))),
        Doc::Raw(text) => out.push_str(&format!("{pad}{text}\n")),
    }
}

fn flow(doc: &Doc) -> String {
    match doc {
        Doc::Map(entries) => {
            let items: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {}", flow(v))).collect();
            format!("{{{}}}", items.join(", "))
        }
        Doc::Seq(items) => format!("[{}]", items.iter().map(flow).collect::<Vec<_>>().join(", ")),
        // Flow style takes quoted scalars only where plain ones could hold `,` or `}`.
        Doc::Str(text, Style::Single) => format!("'{text}'"),
        Doc::Str(text, Style::Plain) => text.to_string(),
        Doc::Str(text, _) => format!("\"{text}\""),
        Doc::Raw(text) => text.clone(),
    }
}

fn json(doc: &Doc, indent: usize, pretty: bool, out: &mut String) {
    let (nl, pad, inner) =
        if pretty { ("\n", " ".repeat(indent), " ".repeat(indent + 2)) } else { ("", String::new(), String::new()) };
    match doc {
        Doc::Map(entries) => {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                out.push_str(if i == 0 {
                    nl
                } else {
                    if pretty {
                        ",\n"
                    } else {
                        ", "
                    }
                });
                out.push_str(&format!("{inner}{}: ", json_string(key)));
                json(value, indent + 2, pretty, out);
            }
            out.push_str(&format!("{nl}{pad}}}"));
        }
        Doc::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 {
                    nl
                } else {
                    if pretty {
                        ",\n"
                    } else {
                        ", "
                    }
                });
                out.push_str(&inner);
                json(item, indent + 2, pretty, out);
            }
            out.push_str(&format!("{nl}{pad}]"));
        }
        Doc::Str(text, _) => out.push_str(&json_string(text)),
        Doc::Raw(text) => out.push_str(text),
    }
}

/// The text of a case: the rendered document with the text-level mistakes applied.
fn text(case: &Case) -> String {
    let mut text = render(&pipeline(case), case.syntax);
    let marker_line = text.lines().position(|l| l.contains(MARKER));
    if let Some(at) = marker_line {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let indent: String = lines[at].chars().take_while(|c| c.is_whitespace()).collect();
        if case.mistakes.contains(&Mistake::SyntaxErrorAfter) {
            lines.insert(at + 1, format!("{indent}: broken : [line"));
        }
        if case.mistakes.contains(&Mistake::TabAfter) {
            lines.insert(at + 1, format!("{indent}\tdesc: tabbed"));
        }
        text = lines.join("\n") + "\n";
        if case.mistakes.contains(&Mistake::CutAfterMarker) {
            if let Some(end) = text.rfind(MARKER) {
                text.truncate(end + MARKER.len());
            }
        }
    }
    text
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let syntax =
        prop_oneof![Just(Syntax::YamlBlock), Just(Syntax::YamlFlow), Just(Syntax::Json), Just(Syntax::JsonOneLine)];
    let position = prop_oneof![
        any::<bool>().prop_map(|sidecar| Position::Password { sidecar }),
        any::<bool>().prop_map(|sidecar| Position::EnvMap { sidecar }),
        any::<bool>().prop_map(|sidecar| Position::EnvList { sidecar }),
        Just(Position::BuildArgs),
        Just(Position::SetEnv),
    ];
    let style = prop_oneof![
        Just(Style::Plain),
        Just(Style::Single),
        Just(Style::Double),
        Just(Style::Literal),
        Just(Style::Folded),
        Just(Style::DoubleMultiLine),
    ];
    let around = prop_oneof![
        Just((String::new(), String::new())),
        Just(("pre-".to_string(), "-post".to_string())),
        Just(("a b ".to_string(), " c".to_string())),
        Just(("x".repeat(150), String::new())),
        Just(("${HOME}/".to_string(), "$$".to_string())),
    ];
    let mistake = prop_oneof![
        Just(Mistake::DuplicateKey),
        (0usize..6).prop_map(Mistake::Misspelt),
        any::<bool>().prop_map(Mistake::WrongType),
        Just(Mistake::ErrorsNearby),
        Just(Mistake::SyntaxErrorAfter),
        Just(Mistake::TabAfter),
        Just(Mistake::CutAfterMarker),
        Just(Mistake::UnclosedBracket),
    ];
    (syntax, position, style, around, prop::collection::vec(mistake, 0..4), 0usize..4).prop_map(
        |(syntax, position, style, around, mistakes, set_env_form)| {
            // Block scalars exist in block YAML only; JSON writes every string alike.
            let style = match (syntax, style) {
                (Syntax::YamlBlock, style) => style,
                (Syntax::YamlFlow, Style::Literal | Style::Folded | Style::DoubleMultiLine) => Style::Double,
                (_, style) => style,
            };
            Case { syntax, position, style, around, mistakes, set_env_form }
        },
    )
}

/// The `--set-env` arguments of a case.
fn set_env_args(case: &Case) -> Vec<String> {
    if case.position != Position::SetEnv {
        return Vec::new();
    }
    let value = value(case);
    let arg = match case.set_env_form {
        0 => format!("TOKEN={value}"),
        1 => format!("={value}"),
        2 => format!("BAD NAME={value}"),
        _ => format!("TOKEN={value}\nX=1"),
    };
    vec!["--set-env".to_string(), arg]
}

/// Every 8 characters of the marker: a cut snippet must not show part of it either.
fn leaks(text: &str) -> Option<String> {
    let chars: Vec<char> = MARKER.chars().collect();
    chars.windows(8).map(|w| w.iter().collect::<String>()).find(|piece| text.contains(piece.as_str()))
}

fn check_output(what: &str, output: &Output, case_text: &str) -> Result<(), TestCaseError> {
    for (stream, text) in [("stdout", output.stdout()), ("stderr", output.stderr())] {
        if let Some(piece) = leaks(&text) {
            return Err(TestCaseError::fail(format!(
                "`{piece}` of the secret is in the {stream} of `{what}`\n--- pipeline:\n{case_text}\n--- {stream}:\n{text}"
            )));
        }
        if text.contains("panicked") {
            return Err(TestCaseError::fail(format!("`{what}` panicked\n{case_text}\n{text}")));
        }
    }
    Ok(())
}

fn check_case(case: &Case) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let extension = match case.syntax {
        Syntax::Json | Syntax::JsonOneLine => "json",
        _ => "yaml",
    };
    let file = dir.path().join(format!("pipeline.{extension}"));
    let case_text = text(case);
    std::fs::write(&file, &case_text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\n").map_err(|e| TestCaseError::fail(e.to_string()))?;
    let file_arg = file.display().to_string();
    let workflow = dir.path().join("workflow.yaml");
    let manifest = dir.path().join("secrets.yaml");
    let mut commands: Vec<(String, Vec<String>)> = [
        vec!["validate"],
        vec!["plan", "--engine", "none"],
        vec!["plan", "--engine", "none", "--format", "json"],
        vec!["graph"],
        vec!["graph", "--format", "mermaid"],
        vec!["graph", "--format", "svg"],
    ]
    .into_iter()
    .map(|args| {
        let mut args: Vec<String> = args.into_iter().map(str::to_string).collect();
        args.insert(1, file_arg.clone());
        (args.join(" "), args)
    })
    .collect();
    let export: Vec<String> = ["export", "argo", &file_arg, "-o"]
        .iter()
        .map(|s| s.to_string())
        .chain([workflow.display().to_string(), "--secrets-manifest".into(), manifest.display().to_string()])
        .collect();
    commands.push(("export argo".into(), export));
    let page = dir.path().join("report.html");
    let mut dry_run: Vec<String> =
        ["run", &file_arg, "--dry-run", "--engine", "docker"].iter().map(|s| s.to_string()).collect();
    dry_run.extend(["--report-html".to_string(), page.display().to_string()]);
    dry_run.extend(set_env_args(case));
    commands.push(("run --dry-run".into(), dry_run));
    for (what, args) in &commands {
        let output = run(copili().args(args).current_dir(dir.path()).env_remove("COPILI_ENGINE"));
        check_output(what, &output, &case_text)?;
    }
    // The Workflow and the HTML report are output too; the secrets manifest is where the
    // value belongs.
    for (what, path) in [("the Workflow", &workflow), ("the HTML report", &page)] {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Some(piece) = leaks(&text) {
                return Err(TestCaseError::fail(format!("`{piece}` of the secret is in {what}\n{case_text}\n{text}")));
            }
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(160)
}

#[test]
fn no_secret_in_any_output() {
    let mut runner = proptest::test_runner::TestRunner::new(Config { cases: cases(), ..Config::default() });
    if let Err(error) = runner.run(&case_strategy(), |case| check_case(&case)) {
        panic!("{error}");
    }
}

/// The generator writes what it means to: a case without mistakes is a valid pipeline, in
/// every syntax and style, and the marker is where the case put it.
#[test]
fn cases_without_mistakes_are_valid_pipelines() {
    let mut runner = proptest::test_runner::TestRunner::new(Config { cases: 40, ..Config::default() });
    let strategy = case_strategy().prop_map(|mut case| {
        case.mistakes.clear();
        case.around = (String::new(), String::new());
        case
    });
    let result = runner.run(&strategy, |case| {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let file = dir.path().join(match case.syntax {
            Syntax::Json | Syntax::JsonOneLine => "p.json",
            _ => "p.yaml",
        });
        let text = text(&case);
        std::fs::write(&file, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let output = run(copili().arg("validate").arg(&file));
        prop_assert_eq!(output.code(), Some(0), "{}\n{}", text, output.describe());
        prop_assert_eq!(text.contains(MARKER), case.position != Position::SetEnv);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// `--set-env` errors name the variable, never its value (snapshotted).
#[test]
fn set_env_errors_mask_the_value() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart.yaml");
    let mut shown = Vec::new();
    for arg in ["=hunter2", "BAD NAME=hunter2", "\u{1b}[31m=hunter2"] {
        let output = run(copili().arg("run").arg(&file).args(["--dry-run", "--engine", "docker", "--set-env", arg]));
        assert_eq!(output.code(), Some(2), "{}", output.describe());
        assert!(!output.stderr().contains("hunter2"), "{}", output.describe());
        shown.push(output.stderr());
    }
    insta::assert_snapshot!(shown.join("---\n"));
}
