//! The console examples of `README.md` and `docs/*.md` that need no container engine, run
//! against the real binary (see `doc_examples.rs` for the format and how to update them), and
//! the check that every console block of the documents is run by this target or by
//! `docs_engine`.

#[path = "doc_examples.rs"]
mod doc_examples;

use doc_examples::{documents, run_documents, unrun_blocks, Suite};

#[test]
fn console_examples_without_an_engine() {
    run_documents(Suite::NoEngine, |cases| {
        // No engine is looked for: examples that would find one run in `docs_engine`.
        cases.env("PATH", "/nonexistent");
        // `~` in the examples' volumes.
        cases.env("HOME", "/home/kg");
    });
}

/// Every ```` ```console ```` block of the documents is run: see
/// [`doc_examples::unrun_blocks`].
#[test]
fn every_console_block_is_run() {
    let mut problems = Vec::new();
    for document in documents() {
        let path = copili_e2e::repo_root().join(&document);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        problems.extend(unrun_blocks(&document.display().to_string(), &text));
    }
    assert!(problems.is_empty(), "documentation blocks that no test runs:\n{}", problems.join("\n"));
}
