//! The console examples of `README.md` and `docs/*.md` that need a container engine (`copili
//! run`, `plan` asking for images, `clean`, the engines' own clients), run against the real
//! binary and the engines of `cargo xtask setup`. See `doc_examples.rs` for the format and how
//! to update them; `docs.rs` runs the others.

#[path = "doc_examples.rs"]
#[allow(dead_code)] // shared with `docs.rs`, which uses the rest of it
mod doc_examples;

use copili_e2e::{engine_setup, Engine};
use doc_examples::{run_documents, Suite};

#[test]
fn console_examples_on_engines() {
    Engine::RootfulPodman.assert_ready();
    Engine::Docker.assert_ready();
    let setup = engine_setup();
    // Set in this process, which trycmd's commands inherit, and not with `TestCases::env`:
    // that would override what an example sets itself (`CONTAINERS_CONF=/nonexistent.conf
    // copili …`). copili's directory comes first for `env … copili`; /usr/sbin holds
    // netavark's iptables.
    let copili_dir = copili_e2e::copili_binary().parent().expect("the binary is in a directory");
    let path = format!("{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", copili_dir.display());
    std::env::set_var("PATH", path);
    std::env::set_var("CONTAINERS_CONF", setup.get("CONTAINERS_CONF"));
    // One document at a time: several run the same pipelines (the quickstart, `kg-nightly`),
    // whose lock and container names a parallel run would share. trycmd runs its cases on
    // rayon's global pool, which reads this when it starts.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    run_documents(Suite::Engine, |cases| {
        cases.timeout(std::time::Duration::from_secs(180));
    });
    // The pipelines the examples run (examples/quickstart.yaml and tests/fixtures/docs/*/):
    // every run removes what it started, as the documents say.
    for identity in ["ExmaplePipeline", "kg-nightly", "kg-link", "nightly", "notready", "mount", "p"] {
        Engine::RootfulPodman.assert_no_leftovers(identity);
    }
}
