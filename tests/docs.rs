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
    });
}

/// Every ```` ```console ```` block is run (trycmd skips one whose info string says
/// `ignore`), and no other kind of block holds a `$ copili` transcript that would not be.
#[test]
fn every_console_block_is_run() {
    let mut problems = Vec::new();
    for document in documents() {
        let path = copili_e2e::repo_root().join(&document);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for block in blocks(&text) {
            let place = format!("{}:{}", document.display(), block.open + 1);
            if block.is_console() {
                if block.info != "console" {
                    problems.push(format!("{place}: ```{} is not run: write ```console", block.info));
                }
                if block.commands().is_empty() {
                    problems.push(format!("{place}: a console block without a `$ ` command"));
                }
            } else if block.body.iter().any(|line| line.starts_with("$ ")) {
                problems.push(format!(
                    "{place}: a ```{} block with `$ ` lines is a transcript that is not run: make it \
                     ```console (and true) or drop the prompts",
                    block.info
                ));
            }
        }
    }
    assert!(problems.is_empty(), "documentation blocks that no test runs:\n{}", problems.join("\n"));
}
