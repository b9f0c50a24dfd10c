//! The console examples of `README.md` and `docs/*.md`, run as tests against the real binary
//! with trycmd, so that the documentation cannot drift from what copili does.
//!
//! A ```` ```console ```` block holds `$ COMMAND` lines, each followed by what it prints
//! (standard output and standard error together, as a terminal shows them), optionally by a
//! `? CODE` line for a non-zero exit code. In the expected output, `[..]` stands for the rest of
//! a line (or a part of it) and a line `...` for any number of lines; the documents use them
//! only for what varies from run to run: run ids, times, durations, paths. `[CWD]` is the
//! working directory of the example.
//!
//! Every document is run from a copy: a temporary directory holding the document, its inputs
//! as `<stem>.in/` — `tests/fixtures/docs/<stem>/` and the repository's `examples/` — and an
//! empty `<stem>.out/`, which makes trycmd run each document in a fresh copy of its inputs
//! (a sandbox) so that logs, reports and run states do not pile up in the repository.
//!
//! The blocks are split between two test targets: `docs` runs those that need no container
//! engine, `docs_engine` those that do ([`needs_engine`]); in the copy given to trycmd the
//! other target's blocks are marked `console,ignore`. Line numbers in trycmd's messages are
//! those of the original document. `TRYCMD=overwrite cargo test -p copili-e2e --test docs`
//! writes the real output back into the original documents (review the diff: keep the
//! wildcards that stand for what varies).

use std::path::{Path, PathBuf};

use copili_e2e::{copili_binary, repo_root};

/// The documents whose console blocks are run: the README and every `docs/*.md`.
pub fn documents() -> Vec<PathBuf> {
    let mut documents = vec![PathBuf::from("README.md")];
    let docs = repo_root().join("docs");
    let mut in_docs: Vec<PathBuf> = std::fs::read_dir(&docs)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", docs.display()))
        .map(|entry| entry.expect("a directory entry can be read").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .map(|path| Path::new("docs").join(path.file_name().expect("a file has a name")))
        .collect();
    in_docs.sort();
    documents.extend(in_docs);
    documents
}

/// A fenced code block of a Markdown document.
#[derive(Debug, Clone)]
pub struct Block {
    /// The index (0-based) of its opening fence line.
    pub open: usize,
    /// The info string of the opening fence, trimmed.
    pub info: String,
    /// Its lines between the fences.
    pub body: Vec<String>,
}

impl Block {
    /// The command lines (`$ ` lines, without the prompt).
    pub fn commands(&self) -> Vec<&str> {
        self.body.iter().filter_map(|line| line.strip_prefix("$ ")).collect()
    }

    /// Whether it is a console transcript (the info strings trycmd runs).
    pub fn is_console(&self) -> bool {
        let lang = self.info.split(',').next().unwrap_or_default();
        lang == "console" || lang == "trycmd"
    }
}

/// The fenced code blocks of `text`, in order (backtick fences, as the documents use).
pub fn blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let ticks = line.chars().take_while(|&c| c == '`').count();
        if ticks < 3 {
            continue;
        }
        let fence = &line[..ticks];
        let mut block = Block { open: index, info: line[ticks..].trim().to_string(), body: Vec::new() };
        for (_, line) in lines.by_ref() {
            if line.starts_with(fence) && line[ticks..].trim().is_empty() {
                break;
            }
            block.body.push(line.to_string());
        }
        blocks.push(block);
    }
    blocks
}

/// Whether a console block needs a container engine: it runs `copili run`, `service` or
/// `clean` (other than `run --dry-run`), `copili plan` (which asks the engine whether each
/// image is present, unless `--engine none`), or an engine's client or a process tool
/// directly.
pub fn needs_engine(block: &Block) -> bool {
    block.commands().iter().any(|command| {
        let words: Vec<String> = shlex_words(command);
        let program = words.iter().position(|w| !w.contains('=')).map(|i| words[i].as_str());
        match program {
            Some("podman" | "docker" | "ps" | "kill") => true,
            Some("copili") => {
                let subcommand = words.iter().skip_while(|w| *w != "copili").nth(1).map(String::as_str);
                let dry_run = words.iter().any(|w| w == "--dry-run");
                let no_engine = words.windows(2).any(|w| w[0] == "--engine" && w[1] == "none")
                    || words.iter().any(|w| w == "--engine=none" || w == "COPILI_ENGINE=none");
                match subcommand {
                    Some("run" | "service" | "clean") => !dry_run,
                    Some("plan") => !no_engine,
                    _ => false,
                }
            }
            _ => false,
        }
    })
}

/// The words of a command line, split as a POSIX shell would (quotes, backslashes), without
/// expanding anything; trycmd splits `$ ` lines the same way.
fn shlex_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Which of the two test targets runs a document's blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// The blocks that need no engine (`tests/docs.rs`).
    NoEngine,
    /// The blocks that need an engine (`tests/docs_engine.rs`).
    Engine,
}

impl Suite {
    fn runs(self, block: &Block) -> bool {
        block.is_console() && (needs_engine(block) == (self == Suite::Engine))
    }
}

/// Runs the console blocks of every document that `suite` runs, with trycmd; `configure`
/// adds the suite's environment and programs to the test cases.
pub fn run_documents(suite: Suite, configure: impl Fn(&trycmd::TestCases)) {
    let work = tempfile::Builder::new().prefix("copili-docs-").tempdir().expect("a temporary directory");
    let mut copies = Vec::new();
    for document in documents() {
        let original = repo_root().join(&document);
        let text =
            std::fs::read_to_string(&original).unwrap_or_else(|e| panic!("cannot read {}: {e}", original.display()));
        let blocks = blocks(&text);
        if !blocks.iter().any(|b| suite.runs(b)) {
            continue;
        }
        let stem = document.file_stem().and_then(|s| s.to_str()).expect("a UTF-8 document name");
        let copy = work.path().join(format!("{stem}.md"));
        let (rewritten, changed) = mark_other_blocks(&text, &blocks, suite);
        std::fs::write(&copy, rewritten).expect("the copy can be written");
        let inputs = work.path().join(format!("{stem}.in"));
        copy_dir(&repo_root().join("examples"), &inputs.join("examples"));
        let fixtures = repo_root().join("tests/fixtures/docs").join(stem);
        if fixtures.is_dir() {
            copy_dir(&fixtures, &inputs);
        }
        std::fs::create_dir_all(work.path().join(format!("{stem}.out"))).expect("the .out directory");
        copies.push((copy, original, changed));
    }
    assert!(!copies.is_empty(), "no document has a console block for {suite:?}: the harness finds nothing");

    let cases = trycmd::TestCases::new();
    cases.register_bin("copili", copili_binary());
    cases.env("LANG", "C");
    configure(&cases);
    for (copy, _, _) in &copies {
        cases.case(copy);
    }
    let overwrite = std::env::var("TRYCMD").is_ok_and(|v| v == "overwrite");
    if overwrite {
        // trycmd writes the real output into the copies; carry it back to the originals.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cases.run()));
        for (copy, original, changed) in &copies {
            let text = std::fs::read_to_string(copy).expect("the copy can be read");
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            for (index, line) in changed {
                lines[*index] = line.clone();
            }
            let mut text = lines.join("\n");
            text.push('\n');
            std::fs::write(original, text).expect("the original can be written");
        }
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    } else {
        cases.run();
    }
}

/// The document with the blocks that `suite` does not run marked so that trycmd skips them
/// (a console block of the other suite becomes `console,ignore`; a fence without an info
/// string, which trycmd would take for a transcript, becomes `text`), and the original lines
/// it changed. The number of lines stays the same.
fn mark_other_blocks(text: &str, blocks: &[Block], suite: Suite) -> (String, Vec<(usize, String)>) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut changed = Vec::new();
    for block in blocks {
        let marked = if block.info.is_empty() {
            "text"
        } else if block.is_console() && !suite.runs(block) {
            "console,ignore"
        } else {
            continue;
        };
        let line = &lines[block.open];
        let ticks = line.chars().take_while(|&c| c == '`').count();
        changed.push((block.open, line.clone()));
        lines[block.open] = format!("{}{marked}", &line[..ticks]);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    (text, changed)
}

/// Copies the directory `from` into `to` (created), recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("cannot list {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.expect("a directory entry can be read");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", entry.path().display(), target.display()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_with_their_info_strings() {
        let text = "a\n```console\n$ copili run x.yaml\nout\n```\n\n````yaml\n```\n````\n```\nbare\n```\n";
        let found = blocks(text);
        let infos: Vec<&str> = found.iter().map(|b| b.info.as_str()).collect();
        assert_eq!(infos, ["console", "yaml", ""]);
        assert_eq!(found[0].commands(), ["copili run x.yaml"]);
        assert_eq!(found[1].body, ["```"]);
    }

    #[test]
    fn engine_blocks_are_told_apart() {
        let block = |command: &str| Block { open: 0, info: "console".into(), body: vec![format!("$ {command}")] };
        assert!(needs_engine(&block("copili run kg.yaml --engine podman")));
        assert!(needs_engine(&block("PATH=/nonexistent copili run kg.yaml")));
        assert!(needs_engine(&block("copili clean --engine podman")));
        assert!(needs_engine(&block("podman ps -a --format '{{.Names}}'")));
        assert!(!needs_engine(&block("copili run kg.yaml --dry-run --engine docker")));
        assert!(needs_engine(&block("copili plan kg.yaml")));
        assert!(needs_engine(&block("WORDS=\"one two\" copili plan q.yaml")));
        assert!(!needs_engine(&block("copili plan kg.yaml --engine none")));
        assert!(!needs_engine(&block("copili validate kg.yaml")));
        assert!(!needs_engine(&block("copili graph kg.yaml --format mermaid")));
    }
}
