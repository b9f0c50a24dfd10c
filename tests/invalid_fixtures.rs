//! Every malformed pipeline in `tests/fixtures/invalid/` is refused by `copili validate` with
//! exit code 2 and a located, helpful message on stderr (snapshotted in `tests/snapshots/`).
//!
//! A fixture may have siblings with the same stem: `<stem>.args` (extra arguments, one per
//! line) and `<stem>.env` (given as `--env-file`).

use std::path::{Path, PathBuf};

use copili_e2e::{copili, redact, repo_root, run, Output};

/// The fixtures, relative to this file (as `insta::glob!` takes them).
const FIXTURES: &str = "fixtures/invalid/*.{yaml,yml,json}";

/// A secret written in some fixtures: it must never be printed.
const SECRET: &str = "hunter2";

/// Where a fixture's error is located, when not in the fixture itself.
enum Location {
    /// In the fixture: `--> <fixture>:<line>:<column>`.
    InFixture,
    /// In another file, e.g. the `.env` file.
    InFile(&'static str),
    /// In the fixture, but at no line: `--> <fixture>` alone.
    FileOnly,
    /// Nowhere: the problem is not in a file (a missing file, a command-line argument).
    Nowhere,
}

/// The exceptions to "located in the fixture".
fn expected_location(fixture: &str) -> Location {
    match fixture {
        // The error is in the `.env` file (shown without a snippet: it may hold secrets).
        "dotenv-malformed-line.yaml" => Location::InFile("dotenv-malformed-line.env"),
        // An empty file has no line to point at.
        "empty-file.yaml" => Location::FileOnly,
        // A file that does not exist has no line.
        "env-file-missing.yaml" => Location::Nowhere,
        // Names given on the command line.
        "only-unknown-name.yaml" | "skip-unknown-name.yaml" => Location::Nowhere,
        _ => Location::InFixture,
    }
}

/// The arguments of `copili validate` for a fixture, the path relative to the repository root.
fn arguments(path: &Path) -> Vec<String> {
    let relative = path.strip_prefix(repo_root()).expect("fixtures are inside the repository");
    let mut args = vec!["validate".to_string(), relative.display().to_string()];
    let args_file = path.with_extension("args");
    if args_file.exists() {
        let text = std::fs::read_to_string(&args_file).expect("the .args file is readable");
        args.extend(text.lines().filter(|line| !line.is_empty()).map(str::to_string));
    }
    let env_file = path.with_extension("env");
    if env_file.exists() {
        let env_relative = env_file.strip_prefix(repo_root()).expect("inside the repository");
        args.extend(["--env-file".to_string(), env_relative.display().to_string()]);
    }
    args
}

/// Whether `text` has `…/<file>:<line>:<column>` after a `-->`.
fn has_location_in(text: &str, file: &str) -> bool {
    let needle = format!("/{file}:");
    text.lines().filter_map(|line| line.trim_start().strip_prefix("--> ")).any(|place| {
        let Some(start) = place.find(&needle) else { return false };
        let mut rest = place[start + needle.len()..].splitn(2, ':');
        let (Some(line), Some(column)) = (rest.next(), rest.next()) else { return false };
        let column: String = column.chars().take_while(char::is_ascii_digit).collect();
        line.parse::<u32>().is_ok_and(|l| l > 0) && column.parse::<u32>().is_ok_and(|c| c > 0)
    })
}

/// The problems of one fixture's run, empty when it behaves.
fn problems(fixture: &str, output: &Output) -> Vec<String> {
    let mut problems = Vec::new();
    let (stdout, stderr) = (output.stdout(), output.stderr());
    if output.code() != Some(2) {
        problems.push(format!("exit code {:?}, expected 2", output.code()));
    }
    if !stdout.is_empty() {
        problems.push("stdout is not empty".to_string());
    }
    if stderr.trim().is_empty() {
        problems.push("stderr is empty".to_string());
    }
    if stdout.contains(SECRET) || stderr.contains(SECRET) {
        problems.push(format!("the secret `{SECRET}` is printed"));
    }
    match expected_location(fixture) {
        Location::InFixture if !has_location_in(&stderr, fixture) => {
            problems.push(format!("no `--> {fixture}:LINE:COLUMN` in stderr"));
        }
        Location::InFile(file) if !has_location_in(&stderr, file) => {
            problems.push(format!("no `--> {file}:LINE:COLUMN` in stderr"));
        }
        Location::FileOnly
            if !stderr
                .lines()
                .any(|l| l.trim_start().strip_prefix("--> ").is_some_and(|p| p.ends_with(&format!("/{fixture}")))) =>
        {
            problems.push(format!("no `--> {fixture}` in stderr"));
        }
        Location::Nowhere if stderr.contains("-->") => {
            problems.push("a location is shown, but this fixture is listed as having none".to_string());
        }
        _ => {}
    }
    problems
}

#[test]
fn every_invalid_fixture_is_refused_with_a_located_message() {
    let mut failures: Vec<String> = Vec::new();
    insta::glob!(FIXTURES, |path| {
        let fixture = path.file_name().and_then(|n| n.to_str()).expect("fixture names are UTF-8").to_string();
        let args = arguments(path);
        let output = run(copili().args(&args));
        for problem in problems(&fixture, &output) {
            failures.push(format!("{fixture}: {problem}\n{}", output.describe()));
        }
        insta::with_settings!({ description => format!("copili {}", args.join(" ")), omit_expression => true }, {
            insta::assert_snapshot!("validate", redact(&output.stderr()));
        });
    });
    assert!(failures.is_empty(), "{} problem(s):\n\n{}", failures.len(), failures.join("\n\n"));
}

/// The fixtures, found as the glob finds them.
fn fixture_paths() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invalid");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the fixture directory is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| ["yaml", "yml", "json"].contains(&e)))
        .collect();
    paths.sort();
    paths
}

#[test]
fn there_are_at_least_forty_fixtures() {
    let n = fixture_paths().len();
    assert!(n >= 40, "only {n} invalid fixtures");
}

#[test]
fn every_args_and_env_file_belongs_to_a_fixture() {
    // A typo in a sibling's name would silently run the fixture without its arguments.
    let fixtures = fixture_paths();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invalid");
    for entry in std::fs::read_dir(&dir).expect("the fixture directory is readable") {
        let path = entry.expect("a directory entry").path();
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if ["args", "env"].contains(&extension) {
            assert!(
                fixtures.iter().any(|f| f.with_extension(extension) == path),
                "{} has no fixture of the same stem",
                path.display()
            );
        }
    }
}

#[test]
fn the_secret_check_is_not_vacuous() {
    // The run above asserts that `hunter2` is never printed; that only means something if
    // fixtures hold it on a line an error is reported for.
    let with_secret: Vec<String> = fixture_paths()
        .iter()
        .filter(|p| String::from_utf8_lossy(&std::fs::read(p).expect("readable")).contains(SECRET))
        .map(|p| p.display().to_string())
        .collect();
    assert!(with_secret.len() >= 2, "fixtures holding the secret: {with_secret:?}");
    for path in &with_secret {
        let output = run(copili().arg("validate").arg(path));
        assert_eq!(output.code(), Some(2), "{}", output.describe());
        assert!(output.stderr().contains("****"), "the masked secret is not shown:\n{}", output.describe());
        assert!(!output.stderr().contains(SECRET), "{}", output.describe());
    }
}
