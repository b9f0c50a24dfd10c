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
//! other target's blocks are marked `console,ignore`, and each block it runs gets an empty
//! line before its closing fence (trycmd's layout), so line numbers in trycmd's messages are
//! those of the copy. `TRYCMD=overwrite cargo test -p copili-e2e --test docs`
//! writes the real output back into the original documents (review the diff: keep the
//! wildcards that stand for what varies). `COPILI_DOCS_KEEP=1` keeps the copies, to look at.

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
    /// How far the fence is indented (in a list item); trycmd runs only unindented blocks.
    pub indent: usize,
    /// The info string of the opening fence, trimmed.
    pub info: String,
    /// Its lines between the fences.
    pub body: Vec<String>,
    /// The index of its closing fence line (the number of lines when it is not closed).
    pub close: usize,
}

impl Block {
    /// The command lines (`$ ` lines, without the prompt).
    pub fn commands(&self) -> Vec<&str> {
        self.body.iter().filter_map(|line| line.trim_start().strip_prefix("$ ")).collect()
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
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        let ticks = trimmed.chars().take_while(|&c| c == '`').count();
        if ticks < 3 {
            continue;
        }
        if trimmed[ticks..].contains('`') {
            // Not a fence (CommonMark): an inline code span such as ```` ```console ````.
            continue;
        }
        let fence = &trimmed[..ticks];
        let info = trimmed[ticks..].trim().to_string();
        let mut block = Block { open: index, indent, info, body: Vec::new(), close: text.lines().count() };
        for (at, line) in lines.by_ref() {
            let unindented = line.trim_start();
            if unindented.starts_with(fence) && unindented[ticks..].trim().is_empty() {
                block.close = at;
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
/// directly, or `jq` or `cat` (which read what a run wrote).
pub fn needs_engine(block: &Block) -> bool {
    block.commands().iter().any(|command| {
        let words: Vec<String> = shlex_words(command);
        let program = words.iter().position(|w| !w.contains('=')).map(|i| words[i].as_str());
        // `env [-u NAME] [NAME=VALUE]… copili …` runs copili.
        let program =
            if program == Some("env") && words.iter().any(|w| w == "copili") { Some("copili") } else { program };
        match program {
            Some("podman" | "docker" | "ps" | "kill" | "jq" | "cat") => true,
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

/// The blocks of `text` (the document `name`) that look like transcripts but that neither
/// target runs, one message each: a console block that trycmd skips (an info string other
/// than `console`, such as `console,ignore`; an indented fence, in a list item) or that has
/// no command, and a block of another kind holding `$ copili` lines — except ```` ```text ````,
/// the marker of a recorded session that cannot be run (one that needs a second terminal, job
/// control or a killed process), whose text must say so.
pub fn unrun_blocks(name: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for block in blocks(text) {
        let place = format!("{name}:{}", block.open + 1);
        if block.is_console() {
            if block.indent > 0 {
                problems.push(format!("{place}: trycmd does not run an indented console block"));
            }
            if block.info != "console" {
                problems.push(format!("{place}: ```{} is not run: write ```console", block.info));
            }
            if block.commands().is_empty() {
                problems.push(format!("{place}: a console block without a `$ ` command"));
            }
        } else if block.info != "text" && block.body.iter().any(|line| line.trim_start().starts_with("$ copili")) {
            problems.push(format!(
                "{place}: a ```{} block with `$ copili` lines looks like a transcript but is not run: make it \
                 ```console (and true), or ```text for a recorded session that cannot be run (say why in \
                 the text)",
                block.info
            ));
        }
    }
    problems
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
        let rewritten = mark_other_blocks(&text, &blocks, suite);
        std::fs::write(&copy, rewritten).expect("the copy can be written");
        let inputs = work.path().join(format!("{stem}.in"));
        copy_dir(&repo_root().join("examples"), &inputs.join("examples"));
        let fixtures = repo_root().join("tests/fixtures/docs").join(stem);
        if fixtures.is_dir() {
            copy_dir(&fixtures, &inputs);
        }
        std::fs::create_dir_all(work.path().join(format!("{stem}.out"))).expect("the .out directory");
        copies.push((copy, original));
    }
    if std::env::var_os("COPILI_DOCS_KEEP").is_some() {
        eprintln!("the documents' copies are kept in {}", work.keep().display());
    }
    assert!(!copies.is_empty(), "no document has a console block for {suite:?}: the harness finds nothing");

    // Variables copili reads that the host may have set; the examples set them themselves.
    for name in ["ENV", "COPILI_ENGINE"] {
        std::env::remove_var(name);
    }
    let cases = trycmd::TestCases::new();
    cases.register_bin("copili", copili_binary());
    for tool in ["cat", "env", "jq", "podman", "docker"] {
        if let Ok(path) = which(tool) {
            cases.register_bin(tool, path);
        }
    }
    cases.env("LANG", "C");
    configure(&cases);
    for (copy, _) in &copies {
        cases.case(copy);
    }
    let overwrite = std::env::var("TRYCMD").is_ok_and(|v| v == "overwrite");
    if overwrite {
        // trycmd writes the real output into the copies; carry it back to the originals.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cases.run()));
        for (copy, original) in &copies {
            let text = std::fs::read_to_string(copy).expect("the copy can be read");
            std::fs::write(original, unmark(&text)).expect("the original can be written");
        }
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    } else {
        cases.run();
    }
}

/// The document as trycmd is to read it: the blocks that `suite` does not run are marked so
/// that trycmd skips them (a console block of the other suite becomes `console,ignore`; a
/// fence without an info string, which trycmd would take for a transcript, becomes `text`),
/// and the blocks it runs get an empty line before their closing fence (trycmd takes the last
/// line break of a block for layout, and copili ends its output with one) and `/` for every
/// `\` in their expected output, as trycmd (snapbox) writes every `\` of the real output as
/// `/` before comparing (for Windows paths): the DOT graph's `\n` stays readable in the
/// document. `TRYCMD=overwrite` writes such lines back with `/`: restore the `\`.
fn mark_other_blocks(text: &str, blocks: &[Block], suite: Suite) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for block in blocks.iter().rev().filter(|b| b.indent == 0) {
        if suite.runs(block) {
            let close = block.close.min(lines.len());
            for line in &mut lines[block.open + 1..close] {
                if !line.starts_with("$ ") && !line.starts_with("? ") {
                    *line = line.replace('\\', "/");
                }
            }
            lines.insert(close, String::new());
            continue;
        }
        let marked = if block.info.is_empty() {
            BARE_FENCE
        } else if block.is_console() {
            OTHER_SUITE
        } else {
            continue;
        };
        let line = &lines[block.open];
        let ticks = line.chars().take_while(|&c| c == '`').count();
        lines[block.open] = format!("{}{marked}", &line[..ticks]);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The info string that marks, in a copy, a console block of the other suite.
const OTHER_SUITE: &str = "console,ignore,copili-other-suite";
/// The info string that marks, in a copy, a fence that had none.
const BARE_FENCE: &str = "text,copili-bare-fence";

/// Undoes [`mark_other_blocks`] on a copy that trycmd has rewritten.
fn unmark(text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for block in blocks(text).iter().rev().filter(|b| b.indent == 0) {
        let line = &lines[block.open];
        let ticks = line.chars().take_while(|&c| c == '`').count();
        if block.info == "console" && block.body.last().is_some_and(|l| l.is_empty()) {
            lines.remove(block.close - 1);
        } else if block.info == OTHER_SUITE {
            lines[block.open] = format!("{}console", &line[..ticks]);
        } else if block.info == BARE_FENCE {
            lines[block.open] = line[..ticks].to_string();
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The path of `program` on `PATH` (as a shell would find it).
fn which(program: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| format!("`{program}` is not on PATH"))
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
        let text = "a\n```console\n$ copili run x.yaml\nout\n```\n\n````yaml\n```\n````\n```\nbare\n```\n- item\n\n  ```console\n  $ copili\n  ```\n```` ```console ```` is code\n";
        let found = blocks(text);
        let infos: Vec<&str> = found.iter().map(|b| b.info.as_str()).collect();
        assert_eq!(infos, ["console", "yaml", "", "console"]);
        assert_eq!(found[3].indent, 2);
        assert_eq!(found[0].commands(), ["copili run x.yaml"]);
        assert_eq!(found[1].body, ["```"]);
    }

    #[test]
    fn blocks_that_would_not_run_are_found() {
        let run = "```console\n$ copili validate a.yaml\nok\n```\n```text\n$ copili run a.yaml &\n```\n";
        assert_eq!(unrun_blocks("d.md", run), Vec::<String>::new());
        let unrun = "```console,ignore\n$ copili x\n```\n- item\n\n  ```console\n  $ copili y\n  ```\n\
                     ```sh\n$ copili z\n```\n```\n$ copili w\n```\n```console\nno prompt\n```\n";
        let problems = unrun_blocks("d.md", unrun);
        let places: Vec<&str> = problems.iter().map(|p| p.split(": ").next().unwrap_or_default()).collect();
        assert_eq!(places, ["d.md:1", "d.md:6", "d.md:9", "d.md:12", "d.md:15"], "{problems:#?}");
    }

    #[test]
    fn engine_blocks_are_told_apart() {
        let block = |command: &str| Block {
            open: 0,
            indent: 0,
            info: "console".into(),
            body: vec![format!("$ {command}")],
            close: 2,
        };
        assert!(needs_engine(&block("copili run kg.yaml --engine podman")));
        assert!(needs_engine(&block("PATH=/nonexistent copili run kg.yaml")));
        assert!(needs_engine(&block("copili clean --engine podman")));
        assert!(needs_engine(&block("env -u CONTAINERS_CONF copili run kg.yaml")));
        assert!(needs_engine(&block("podman ps -a --format '{{.Names}}'")));
        assert!(!needs_engine(&block("copili run kg.yaml --dry-run --engine docker")));
        assert!(needs_engine(&block("copili plan kg.yaml")));
        assert!(needs_engine(&block("WORDS=\"one two\" copili plan q.yaml")));
        assert!(!needs_engine(&block("copili plan kg.yaml --engine none")));
        assert!(!needs_engine(&block("copili validate kg.yaml")));
        assert!(!needs_engine(&block("copili graph kg.yaml --format mermaid")));
    }
}
