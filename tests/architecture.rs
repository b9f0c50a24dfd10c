//! The architecture invariants of `docs/ARCHITECTURE.md` that a reading of the source tree can
//! check, as tests (after rust-analyzer's `tidy.rs`): the runtime never prints, a secret's value
//! is read only in the modules listed here, only the runtime spawns processes, and no source
//! file grows past [`MAX_LINES`] lines of code outside its tests.
//!
//! The checks read `crates/*/src` (and `xtask/src` for the length) as text, line by line, with
//! `#[cfg(test)]` items left out (a test may print, expose a secret or run a command), and
//! comments left out of the pattern checks. They rely on rustfmt's layout (`cargo fmt --check`
//! is part of CI): an attribute on a line of its own, an item's closing brace at its indentation.
//! A failure names the file and line, and what to do.

use std::fs;
use std::path::{Path, PathBuf};

use copili_e2e::repo_root;

/// The most lines a source file may have outside its `#[cfg(test)]` items.
const MAX_LINES: usize = 500;

/// Files allowed to be longer than [`MAX_LINES`] outside their tests, each with why: none since
/// issue 13 split them. The test fails on an entry that no longer applies, so that the list
/// only shrinks.
const KNOWN_LONG_FILES: &[&str] = &[];

/// The modules that may call `Secret::expose`, with why: each hands a value to the one thing
/// that needs it, never to a message, a command line or a report. An entry is a module path: a
/// file (`PATH.rs`) or a directory of modules (`PATH/…`).
const EXPOSE_ALLOWED: &[(&str, &str)] = &[
    (
        "crates/copili-runtime/src/cli_engine",
        "writes env values to the 0600 env file or the client's environment, and a registry \
         password to `login --password-stdin`; build args into the client's environment",
    ),
    (
        "crates/copili-runtime/src/swarm",
        "hands the env values that cannot go in a file to the docker client's environment",
    ),
    ("crates/copili-runtime/src/images", "an empty password counts as none; build args enter the build's content hash"),
    (
        "crates/copili/src/export/argo",
        "env values and registry passwords go only into the Secret manifest (or `value`s with --plain-env)",
    ),
    ("crates/copili/src/run_state", "env values enter the state file's spec hash, so that a changed value reruns"),
    (
        "crates/copili-planner/src/outputs",
        "env values are searched for `${{ steps.NAME.outputs.KEY }}`; messages name the expression only",
    ),
    (
        "crates/copili-runtime/src/runner/outputs",
        "a step's outputs are put into the dependent's env values, which stay `Secret`s",
    ),
];

/// The crate that alone may spawn processes.
const SPAWNING_CRATE: &str = "crates/copili-runtime/src";

/// A Rust source file of the tree, its path relative to the repository root with `/`.
struct SourceFile {
    path: String,
    text: String,
}

/// Every `.rs` file under `dir` (relative to the root), sorted by path, without the files that
/// are test modules (`#[cfg(test)] mod tests;` declared in their parent).
fn source_files(dir: &str) -> Vec<SourceFile> {
    let root = repo_root();
    let mut paths = Vec::new();
    collect_rust_files(&root.join(dir), &mut paths);
    paths.sort();
    let mut files: Vec<SourceFile> = paths
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let relative = path.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
            SourceFile { path: relative, text }
        })
        .collect();
    let test_modules: Vec<String> =
        files.iter().flat_map(|file| out_of_line_test_modules(&file.path, &file.text)).collect();
    files.retain(|file| {
        !test_modules
            .iter()
            .any(|module| file.path == format!("{module}.rs") || file.path.starts_with(&format!("{module}/")))
    });
    files
}

fn collect_rust_files(dir: &Path, paths: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rust_files(&path, paths);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            paths.push(path);
        }
    }
}

/// The crate source directories, `crates/<crate>/src`, sorted.
fn crate_source_dirs() -> Vec<String> {
    let crates = repo_root().join("crates");
    let mut dirs: Vec<String> = fs::read_dir(&crates)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", crates.display()))
        .map(|entry| entry.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| crates.join(name).join("src").is_dir())
        .map(|name| format!("crates/{name}/src"))
        .collect();
    dirs.sort();
    assert!(dirs.iter().any(|dir| dir == SPAWNING_CRATE), "no {SPAWNING_CRATE}: {dirs:?}");
    dirs
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The lines of `text` outside `#[cfg(test)]` items, with their numbers (from 1).
///
/// An item under `#[cfg(test)]` (after any further attributes and doc comments) ends on its own
/// line when that line ends with `;` or holds a whole `{ … }`, else at the first later line of
/// its indentation that starts with `}`.
fn non_test_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    let mut idx = 0;
    while idx < lines.len() {
        if lines[idx].trim() != "#[cfg(test)]" {
            kept.push((idx + 1, lines[idx]));
            idx += 1;
            continue;
        }
        let indent = indentation(lines[idx]);
        let mut item = idx + 1;
        while item < lines.len() && {
            let line = lines[item].trim_start();
            line.starts_with("#[") || line.starts_with("///") || line.starts_with("//")
        } {
            item += 1;
        }
        let Some(first) = lines.get(item) else { break };
        let first = first.trim_end();
        let one_line = first.ends_with(';') || (first.ends_with('}') && first.contains('{'));
        let end = if one_line {
            item
        } else {
            (item + 1..lines.len())
                .find(|&later| indentation(lines[later]) == indent && lines[later].trim_start().starts_with('}'))
                .unwrap_or(lines.len() - 1)
        };
        idx = end + 1;
    }
    kept
}

/// The lines of code outside `#[cfg(test)]` items and outside comments.
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    non_test_lines(text).into_iter().filter(|(_, line)| !line.trim_start().starts_with("//")).collect()
}

/// The modules a file declares as `#[cfg(test)] mod NAME;`, as paths without `.rs` (`a/b/tests`
/// for `mod tests;` in `a/b.rs` or `a/b/mod.rs`).
fn out_of_line_test_modules(path: &str, text: &str) -> Vec<String> {
    let (parent, file_name) = path.rsplit_once('/').unwrap_or(("", path));
    let module_dir = match file_name {
        "mod.rs" | "lib.rs" | "main.rs" => parent.to_string(),
        other => format!("{parent}/{}", other.trim_end_matches(".rs")),
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut modules = Vec::new();
    for (idx, line) in lines.iter().enumerate() {
        if line.trim() != "#[cfg(test)]" {
            continue;
        }
        let declaration = lines[idx + 1..].iter().map(|line| line.trim()).find(|line| !line.starts_with("#["));
        let name = declaration
            .and_then(|line| line.strip_prefix("pub(crate) ").or(Some(line)))
            .and_then(|line| line.strip_prefix("mod "))
            .and_then(|line| line.strip_suffix(';'));
        if let Some(name) = name {
            modules.push(format!("{module_dir}/{name}"));
        }
    }
    modules
}

/// Whether `line` uses the macro `name!` (not another macro whose name ends with `name`).
fn uses_macro(line: &str, name: &str) -> bool {
    let needle = format!("{name}!");
    line.match_indices(&needle)
        .any(|(at, _)| !line[..at].chars().next_back().is_some_and(|before| before.is_alphanumeric() || before == '_'))
}

/// The print macros of std, and `dbg!`.
const PRINT_MACROS: [&str; 5] = ["println", "eprintln", "print", "eprint", "dbg"];

/// Whether `line` uses a print macro; the first one found.
fn print_macro(line: &str) -> Option<&'static str> {
    PRINT_MACROS.into_iter().find(|name| uses_macro(line, name))
}

/// Whether `line` brings in a way to spawn a process: `std::process::Command` (by path or in an
/// import list on that line), or duct.
fn spawns_processes(line: &str) -> bool {
    let names_command = |text: &str| {
        text.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|word| word == "Command" || word == "Child")
    };
    line.contains("process::Command")
        || line.contains("process::Child")
        || line.split_once("process::{").is_some_and(|(_, rest)| names_command(rest))
        || line.contains("duct::")
        || line.trim_start().starts_with("use duct")
        || uses_macro(line, "cmd")
}

/// The `(path:line: text)` of every line of code of `files` that `matches`.
fn findings(files: &[SourceFile], matches: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let lines = code_lines(&file.text);
        // A multi-line `use std::process::{…};` list: joined, so that a name on a line of its own
        // is seen with its path.
        let mut in_list: Option<(usize, String)> = None;
        for (number, line) in lines {
            if let Some((start, mut joined)) = in_list.take() {
                joined.push_str(line.trim());
                if line.contains('}') {
                    if matches(&joined) {
                        found.push(format!("{}:{start}: {joined}", file.path));
                    }
                } else {
                    in_list = Some((start, joined));
                }
                continue;
            }
            if line.trim_end().ends_with('{') && line.trim_start().starts_with("use ") {
                in_list = Some((number, line.trim().to_string()));
                continue;
            }
            if matches(line) {
                found.push(format!("{}:{number}: {}", file.path, line.trim()));
            }
        }
    }
    found
}

/// Whether `path` is in the module `module` (the file `module.rs` or a file under `module/`).
fn in_module(path: &str, module: &str) -> bool {
    path == format!("{module}.rs") || path.starts_with(&format!("{module}/"))
}

#[test]
fn the_runtime_never_prints() {
    let files = source_files("crates/copili-runtime/src");
    assert!(files.len() > 5, "too few runtime files found: the scan is broken");
    let found = findings(&files, |line| print_macro(line).is_some());
    assert!(
        found.is_empty(),
        "the runtime never prints (docs/ARCHITECTURE.md): its output is RunEvents and Outcomes, worded by \
         the reporters of crates/copili; found:\n{}",
        found.join("\n")
    );
}

#[test]
fn secrets_are_exposed_only_in_the_listed_modules() {
    let files: Vec<SourceFile> = crate_source_dirs().iter().flat_map(|dir| source_files(dir)).collect();
    let found = findings(&files, |line| line.contains(".expose()"));
    let path_of = |finding: &str| finding.split_once(':').map_or(String::new(), |(path, _)| path.to_string());
    let unlisted: Vec<&String> = found
        .iter()
        .filter(|finding| !EXPOSE_ALLOWED.iter().any(|(module, _)| in_module(&path_of(finding), module)))
        .collect();
    assert!(
        unlisted.is_empty(),
        "`Secret::expose` is called outside the modules allowed to read a secret's value; pass the \
         `Secret` on to where the value is handed over, or add the module to EXPOSE_ALLOWED in \
         tests/architecture.rs (saying why) and to docs/ARCHITECTURE.md:\n{}",
        unlisted.iter().map(|finding| finding.as_str()).collect::<Vec<_>>().join("\n")
    );
    let stale: Vec<&str> = EXPOSE_ALLOWED
        .iter()
        .map(|(module, _)| *module)
        .filter(|module| !found.iter().any(|finding| in_module(&path_of(finding), module)))
        .collect();
    assert!(
        stale.is_empty(),
        "these modules no longer call `Secret::expose`: remove them from EXPOSE_ALLOWED in \
         tests/architecture.rs and from docs/ARCHITECTURE.md: {stale:?}"
    );
}

#[test]
fn only_the_runtime_spawns_processes() {
    let dirs = crate_source_dirs();
    let files: Vec<SourceFile> =
        dirs.iter().filter(|dir| *dir != SPAWNING_CRATE).flat_map(|dir| source_files(dir)).collect();
    let found = findings(&files, spawns_processes);
    assert!(
        found.is_empty(),
        "only {SPAWNING_CRATE} spawns processes (docs/ARCHITECTURE.md); move this behind the `Engine` \
         trait or another runtime API:\n{}",
        found.join("\n")
    );
    // The check sees what it looks for: the runtime does spawn.
    assert!(!findings(&source_files(SPAWNING_CRATE), spawns_processes).is_empty(), "no spawning found in the runtime");
}

#[test]
fn source_files_stay_short() {
    let mut dirs = crate_source_dirs();
    dirs.push("xtask/src".to_string());
    let mut long = Vec::new();
    for file in dirs.iter().flat_map(|dir| source_files(dir)) {
        let n_lines = non_test_lines(&file.text).len();
        if n_lines > MAX_LINES {
            long.push((file.path, n_lines));
        }
    }
    let new: Vec<String> = long
        .iter()
        .filter(|(path, _)| !KNOWN_LONG_FILES.contains(&path.as_str()))
        .map(|(path, n_lines)| format!("{path}: {n_lines} lines"))
        .collect();
    assert!(
        new.is_empty(),
        "source files over {MAX_LINES} lines outside #[cfg(test)]: split them into modules of one job \
         each:\n{}",
        new.join("\n")
    );
    let stale: Vec<&str> =
        KNOWN_LONG_FILES.iter().copied().filter(|known| !long.iter().any(|(path, _)| path == known)).collect();
    assert!(
        stale.is_empty(),
        "these files are no longer over {MAX_LINES} lines (or are gone): remove them from KNOWN_LONG_FILES \
         in tests/architecture.rs: {stale:?}"
    );
}

#[test]
fn test_items_are_left_out() {
    let text = "\
fn kept() {}

#[cfg(test)]
fn helper() -> u32 {
    println!(\"left out\");
    1
}

#[cfg(test)]
use std::fmt;

#[cfg(test)]
#[allow(unused)]
/// Documented.
mod tests {
    fn inner() {
        if true {
        }
    }
}
#[cfg(test)]
mod more_tests;
fn also_kept() {
    println!(\"seen\");
}
";
    let kept: Vec<(usize, &str)> = non_test_lines(text);
    assert_eq!(
        kept,
        [
            (1, "fn kept() {}"),
            (2, ""),
            (8, ""),
            (11, ""),
            (23, "fn also_kept() {"),
            (24, "    println!(\"seen\");"),
            (25, "}")
        ]
    );
    assert_eq!(out_of_line_test_modules("crates/x/src/a.rs", text), ["crates/x/src/a/more_tests"]);
    assert_eq!(out_of_line_test_modules("crates/x/src/a/mod.rs", text), ["crates/x/src/a/more_tests"]);
    assert_eq!(code_lines("// println!(\"a comment\")\n    /// dbg!(x)\nlet x = 1;\n"), [(3, "let x = 1;")]);
}

#[test]
fn the_patterns_find_what_they_look_for() {
    assert_eq!(print_macro("    println!(\"{x}\");"), Some("println"));
    assert_eq!(print_macro("eprint!(\"x\")"), Some("eprint"));
    assert_eq!(print_macro("let y = dbg!(x);"), Some("dbg"));
    assert_eq!(print_macro("writeln!(out, \"x\")?;"), None);
    assert_eq!(print_macro("outln!(\"x\");"), None);

    assert!(spawns_processes("use std::process::Command;"));
    assert!(spawns_processes("use std::process::{Child, ExitStatus};"));
    assert!(spawns_processes("let mut command = std::process::Command::new(\"docker\");"));
    assert!(spawns_processes("use duct::cmd;"));
    assert!(spawns_processes("let handle = duct::cmd(program, args).start()?;"));
    assert!(spawns_processes("cmd!(\"docker\", \"ps\").run()?;"));
    assert!(!spawns_processes("use std::process::ExitCode;"));
    assert!(!spawns_processes("let pid = std::process::id();"));
    assert!(!spawns_processes("use std::process::{ExitCode, ExitStatus};"));

    let file = |text: &str| SourceFile { path: "crates/x/src/lib.rs".to_string(), text: text.to_string() };
    let listed = file("use std::process::{\n    Command,\n    ExitCode,\n};\nfn main() {}\n");
    assert_eq!(
        findings(&[listed], spawns_processes),
        ["crates/x/src/lib.rs:1: use std::process::{Command,ExitCode,};"]
    );

    assert!(in_module("crates/copili-runtime/src/cli_engine/auth.rs", "crates/copili-runtime/src/cli_engine"));
    assert!(!in_module("crates/copili-runtime/src/cli_engines.rs", "crates/copili-runtime/src/cli_engine"));
}
