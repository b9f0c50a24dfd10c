//! Helpers for the end-to-end tests: the real `copili` binary, run in a clean environment from
//! the repository root, and its output made stable for snapshots.
//!
//! Cargo builds the binaries of the package under test for its integration tests, but this
//! crate tests another package's binary, so [`copili`] builds it itself (once per test
//! process; a no-op when it is up to date).
//!
//! For the tests on real engines (`engines.rs`, `images.rs`, `service.rs`): the engines of
//! `cargo xtask setup` ([`Engine`]), one test per engine and scenario ([`engine_tests!`]), a
//! test's identity and directory ([`Scene`]), processes in flight ([`Running`]), and what they
//! read of copili's console ([`assert_output_line`], [`assert_finished`], [`assert_summary`],
//! …), its JSON report ([`read_report`], …) and its RFC 3339 times ([`parse_rfc3339`], …).
//!
//! One module per job: `binary` builds and finds the binary (and the copy the rootless user
//! runs), `output` captures what a command printed and redacts it, `engines` knows what `cargo
//! xtask setup` prepared and drives each engine variant, `processes` follows a process in
//! flight, `samplers` watches every process's command line, `registry` is the test registry and
//! images, `console` and `report` read copili's console and JSON report, `rfc3339` its times,
//! `scene` is one engine test's identity and directory, and `browser` is headless Chromium
//! for the pages copili writes and serves ([`Browser`], [`Page`], [`artifact_path`]). Everything is re-exported here: the
//! test targets use `copili_e2e::NAME`.

mod binary;
mod browser;
mod console;
mod engines;
mod output;
mod processes;
mod registry;
mod report;
mod rfc3339;
mod samplers;
mod scene;

pub use binary::{copili, copili_binary, fixture, repo_root, rootless_copili_binary};
pub use browser::{artifact_path, file_url, Browser, Page, CHROMIUM};
pub use console::{
    all_output, assert_finished, assert_no_output_from, assert_output_line, assert_summary, is_output_line,
    output_line_text, summary_row,
};
pub use engines::{engine_setup, Engine, EngineSetup, Leftovers, RUN_TIMEOUT};
pub use output::{redact, run, run_with_stdin, Output};
pub use processes::{wait_until, Running};
pub use registry::{
    build_test_image_variant, manifest_requests, push_image, registry_address, registry_password, registry_user,
    remove_test_image_variant,
};
pub use report::{assert_reason, assert_report_status, read_report, report_entry, report_item};
pub use rfc3339::{format_rfc3339, is_rfc3339, parse_rfc3339, unix_now};
pub use samplers::{CmdlineSampler, CmdlineSamples};
pub use scene::{FakeEngine, Scene};
