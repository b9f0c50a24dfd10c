//! The console examples of `README.md` and `docs/*.md` that need no container engine, run
//! against the real binary (see `doc_examples.rs` for the format and how to update them), and
//! the check that every console block of the documents is run by this target or by
//! `docs_engine`.

#[path = "doc_examples.rs"]
mod doc_examples;

use doc_examples::{blocks, documents, run_documents, Suite};

#[test]
fn console_examples_without_an_engine() {
    run_documents(Suite::NoEngine, |cases| {
        // No engine is looked for: examples that would find one run in `docs_engine`.
        cases.env("PATH", "/nonexistent");
        // `~` in the examples' volumes.
        cases.env("HOME", "/home/kg");
    });
}

/// Every ```` ```console ```` block is run (trycmd skips one whose info string says `ignore`,
/// and indented ones), and no other kind of block holds a `$ copili` transcript, except
/// ```` ```text ````: the marker of a recorded session that cannot be run (one that needs a
/// second terminal, job control or a killed process), whose text says so.
#[test]
fn every_console_block_is_run() {
    let mut problems = Vec::new();
    for document in documents() {
        let path = copili_e2e::repo_root().join(&document);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for block in blocks(&text) {
            let place = format!("{}:{}", document.display(), block.open + 1);
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
                    "{place}: a ```{} block with `$ copili` lines looks like a transcript but is not run: make \
                     it ```console (and true), or ```text for a recorded session that cannot be run (say \
                     why in the text)",
                    block.info
                ));
            }
        }
    }
    assert!(problems.is_empty(), "documentation blocks that no test runs:\n{}", problems.join("\n"));
}
