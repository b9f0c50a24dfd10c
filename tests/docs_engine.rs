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
    run_documents(Suite::Engine, |cases| {
        cases.env("CONTAINERS_CONF", setup.get("CONTAINERS_CONF"));
        // copili first, for `env … copili`; /usr/sbin for netavark's iptables.
        let copili_dir = copili_e2e::copili_binary().parent().expect("the binary is in a directory");
        cases.env(
            "PATH",
            format!("{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", copili_dir.display()),
        );
        cases.timeout(std::time::Duration::from_secs(180));
    });
}
