//! Everything that can stop a command of the binary, in one type: [`CliError`]. A command
//! returns it, and [`CliError::report`] alone words it on standard error and
//! [`CliError::exit_code`] alone picks the exit code (`copili::exit_code`), as cargo-nextest's
//! `ExpectedError` does. A cause is shown with its whole chain (`error: the state file … is
//! corrupt: expected value at line 1 column 1`), as ripgrep shows an error with `{:#}`.
//!
//! Not here: what does not stop a command — a warning, a note, a reporter that could not write
//! its file during a run — is said where it happens and the command goes on.

use std::error::Error as StdError;
use std::io;
use std::path::PathBuf;

use copili::exit_code;
use copili::export::argo::ExportError;
use copili::planner::Backend;
use copili::Diagnostics;
use copili_runtime::lock::LockError;
use copili_runtime::runner::MissingNetwork;
use copili_runtime::EngineError;
use copili_state::StateError;

use crate::output;

/// Appends one of copili's own lines to `out`, as `errln!` would say it.
macro_rules! own {
    ($out:expr, $($arg:tt)*) => {
        $out.push_str(&copili::model::escape::escape_controls_in_lines(&format!("{}\n", format_args!($($arg)*))))
    };
}

/// Why a command stopped before doing what it was asked.
#[derive(Debug)]
pub(crate) enum CliError {
    /// The pipeline, its `.env` file or an argument naming part of it is invalid: every
    /// problem found, located, and the file they are blamed on (`-` for standard input).
    Invalid {
        /// The errors and warnings, in reading order.
        diagnostics: Diagnostics,
        /// The pipeline file as given on the command line.
        file: String,
    },
    /// The pipeline file is invalid, said by its diagnostics alone (`clean FILE`, which only
    /// reads the pipeline's name).
    Diagnostics(Diagnostics),
    /// The containers use options `backend` cannot carry (`devices` on a swarm, …): each is
    /// shown, located, before anything is created or written.
    Refused {
        /// One error per option refused.
        diagnostics: Diagnostics,
        /// The pipeline file as given on the command line.
        file: String,
        /// What refuses them.
        backend: Backend,
    },
    /// A command line clap accepts but copili does not (an empty `--name`, a malformed
    /// `--set-env`, `--engine none` for a command that needs an engine): the whole message,
    /// naming the option. Never holds a secret value.
    Usage(String),
    /// The pipeline could not be read from standard input.
    Stdin(io::Error),
    /// The pipeline cannot be exported with these options (a schedule Argo cannot take, a
    /// namespace Kubernetes refuses, …).
    Export(ExportError),
    /// The container engine `--engine` names cannot be used: no client, not executable.
    EngineMissing {
        /// What `--engine` said.
        engine: String,
        /// Why not.
        source: EngineError,
    },
    /// The container engine does not answer its first command.
    EngineSilent {
        /// The engine's name.
        engine: String,
        /// Its answer.
        source: EngineError,
    },
    /// The container engine could not say which networks exist.
    NetworksUnlisted {
        /// The engine's name.
        engine: String,
        /// Its answer.
        source: EngineError,
    },
    /// Networks the containers join (`networks`) do not exist on the engine.
    NetworksMissing {
        /// The engine's name.
        engine: String,
        /// Each container and the network it misses; never empty.
        missing: Vec<MissingNetwork>,
    },
    /// The pipeline's lock is held by a running run, or cannot be used.
    Lock(LockError),
    /// The run state cannot be read (or its directory created).
    State(StateError),
    /// `--resume` (or the state) cannot say what to run.
    Resume(String),
    /// SIGINT and SIGTERM cannot be watched (the run would not be stoppable).
    Signals(io::Error),
    /// The container engine failed a command (`clean`'s removals).
    Engine(EngineError),
    /// A file the command writes (documents, a Secrets manifest, a man page) could not be.
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// A directory the command writes into could not be created.
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The run could not start (`cause`), and the `--report` saying so was written; what the
    /// report could not write is said after the cause.
    NotStarted {
        /// Why the run did not start.
        cause: Box<CliError>,
        /// The report's write errors, each a warning.
        report_errors: Vec<String>,
    },
    /// Service mode stopped on an error of its own.
    Service(copili::service::ServiceError),
    /// The lock file is missing or invalid.
    LockFile(copili_runtime::airgap::LockFileError),
    /// `--locked` (or a bundle): images on the host are not the locked ones; one line per image
    /// naming its containers and both identities, then what to do. Nothing was started.
    NotLocked {
        /// One line each.
        lines: Vec<String>,
        /// What to do.
        help: String,
    },
    /// Images could not be had (`copili lock`): one line each.
    Images(Vec<String>),
    /// A bundle could not be written, or was refused, or could not be loaded.
    Bundle(copili_runtime::airgap::BundleError),
    /// Images were loaded, but are not all the locked ones: one line each; the pipeline was not
    /// unpacked.
    LoadedNotLocked(Vec<String>),
    /// The dashboard cannot serve: an address it refuses (usage) or cannot bind.
    Ui(copili::ui::UiError),
    /// A bug: a panic caught at the edge, a value copili made itself that would not serialize.
    Internal(String),
}

impl CliError {
    /// The documented exit code of this error (`docs/cli.md`, "Exit codes").
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            CliError::Invalid { .. }
            | CliError::Diagnostics(_)
            | CliError::Refused { .. }
            | CliError::Usage(_)
            | CliError::Stdin(_)
            | CliError::Export(_)
            | CliError::LockFile(_)
            | CliError::NotLocked { .. } => exit_code::INVALID_INPUT,
            CliError::Bundle(copili_runtime::airgap::BundleError::Damaged { .. }) => exit_code::INVALID_INPUT,
            CliError::Bundle(copili_runtime::airgap::BundleError::Interrupted) => 130,
            CliError::Bundle(_) | CliError::Images(_) | CliError::LoadedNotLocked(_) => exit_code::FAILURE,
            CliError::Ui(copili::ui::UiError::NeedsToken { .. } | copili::ui::UiError::EmptyToken) => {
                exit_code::INVALID_INPUT
            }
            CliError::EngineMissing { .. } | CliError::EngineSilent { .. } | CliError::NetworksUnlisted { .. } => {
                exit_code::ENGINE_UNAVAILABLE
            }
            CliError::NetworksMissing { .. }
            | CliError::Lock(_)
            | CliError::State(_)
            | CliError::Resume(_)
            | CliError::Signals(_)
            | CliError::Engine(_)
            | CliError::Write { .. }
            | CliError::CreateDir { .. }
            | CliError::Service(_)
            | CliError::Ui(_) => exit_code::FAILURE,
            CliError::NotStarted { cause, .. } => cause.exit_code(),
            CliError::Internal(_) => exit_code::INTERNAL,
        }
    }

    /// Says the error on standard error, every line of it.
    pub(crate) fn report(&self) {
        output::eprint(&self.to_text());
    }

    /// The error as [`report`](CliError::report) says it: the one place the binary words an
    /// error that stopped a command. Diagnostics as they are (they escape what they quote);
    /// copili's own lines with the characters that would act on a terminal escaped.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        match self {
            CliError::Invalid { diagnostics, file } => {
                out.push_str(&diagnostics.to_string());
                own!(out, "\n{}", invalid_summary(diagnostics, file));
            }
            CliError::Diagnostics(diagnostics) => out.push_str(&diagnostics.to_string()),
            CliError::Refused { diagnostics, file, backend } => {
                out.push_str(&diagnostics.to_string());
                let (verb, name) = match backend {
                    Backend::Swarm => ("run on", "Docker Swarm"),
                    Backend::Argo => ("be exported to", "Argo Workflows"),
                };
                let errors = plural(diagnostics.error_count(), "error");
                own!(out, "\nerror: `{}` cannot {verb} {name}: {errors}", shown_file(file));
            }
            CliError::Usage(message) | CliError::Resume(message) => own!(out, "error: {message}"),
            CliError::Stdin(source) => own!(out, "error: cannot read the pipeline from standard input: {source}"),
            CliError::EngineMissing { engine, source } => {
                own!(out, "error: container engine `{engine}` unavailable: {}", engine_said(source));
            }
            CliError::EngineSilent { engine, source } => {
                own!(out, "error: container engine `{engine}` does not answer: {}", engine_said(source));
            }
            CliError::NetworksUnlisted { engine, source } => {
                own!(out, "error: container engine `{engine}` could not list networks: {}", engine_said(source));
            }
            CliError::NetworksMissing { engine, missing } => {
                let client = if engine.contains("podman") { "podman" } else { "docker" };
                for m in missing {
                    own!(out, "error: container `{}`: network `{}` does not exist on {engine}", m.container, m.network);
                }
                let first = missing.first().map_or("NETWORK", |m| m.network.as_str());
                own!(
                    out,
                    "help: `networks` joins networks made outside copili: create it first (`{client} network create {first}`), \
                     or start the stack that makes it; `{client} network ls` lists those there are"
                );
            }
            CliError::Export(source) => own!(out, "error: {}", chain(source)),
            CliError::Lock(source) => own!(out, "error: {}", chain(source)),
            CliError::State(source) => {
                own!(out, "error: {}", chain(source));
                own!(out, "help: move the file away to start with an empty state, or pass --state-dir");
            }
            CliError::Signals(source) => own!(out, "error: {}", chain(source)),
            CliError::Service(source) => own!(out, "error: {}", chain(source)),
            CliError::LockFile(source) => own!(out, "error: {}", chain(source)),
            CliError::NotLocked { lines, help } => {
                for line in lines {
                    own!(out, "error: {line}");
                }
                own!(out, "help: {help}");
            }
            CliError::Images(lines) => {
                for line in lines {
                    own!(out, "error: {line}");
                }
                own!(out, "error: no lock file written");
            }
            CliError::Bundle(source) => own!(out, "error: {}", chain(source)),
            CliError::LoadedNotLocked(lines) => {
                for line in lines {
                    own!(out, "error: {line}");
                }
                own!(out, "error: the images are loaded, but not the locked ones: the pipeline was not unpacked");
            }
            CliError::Ui(source) => own!(out, "error: {}", chain(source)),
            CliError::Engine(source) => own!(out, "error: {}", engine_said(source)),
            CliError::Write { path, source } => own!(out, "error: cannot write {}: {source}", path.display()),
            CliError::CreateDir { path, source } => own!(out, "error: cannot create {}: {source}", path.display()),
            CliError::NotStarted { cause, report_errors } => {
                out.push_str(&cause.to_text());
                for error in report_errors {
                    own!(out, "warning: {error}");
                }
            }
            CliError::Internal(what) => {
                own!(out, "error: internal error: {what}");
                own!(out, "note: this is a bug in copili; please report it, with the command that met it");
            }
        }
        out
    }

    /// The error a panic caught at the edge stands for, with the panic's message.
    pub(crate) fn from_panic(payload: &(dyn std::any::Any + Send)) -> CliError {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        CliError::Internal(format!("copili panicked: {message}"))
    }

    /// An internal failure: `what` went wrong in a way only a bug explains.
    pub(crate) fn internal(what: &str, error: impl std::fmt::Display) -> CliError {
        CliError::Internal(format!("{what}: {error}"))
    }
}

impl From<LockError> for CliError {
    fn from(error: LockError) -> CliError {
        CliError::Lock(error)
    }
}

impl From<StateError> for CliError {
    fn from(error: StateError) -> CliError {
        CliError::State(error)
    }
}

/// Runs a command, and turns a panic in it into [`CliError::Internal`]: a bug ends with its own
/// exit code and a line saying it is one, not with Rust's 101. (The panic's own message, with
/// its location, has been printed by then by the default hook.)
pub(crate) fn catching_panics(command: impl FnOnce() -> Result<i32, CliError>) -> Result<i32, CliError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(command))
        .unwrap_or_else(|payload| Err(CliError::from_panic(&*payload)))
}

/// An error and all its causes, `: `-separated, as anyhow's `{:#}` shows them; a cause a
/// message already ends with (a library that words its cause itself) is not said twice.
pub(crate) fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// The last line of an invalid input's report: blames the pipeline file only for errors found
/// in it (not for arguments or `.env`).
fn invalid_summary(diagnostics: &Diagnostics, file: &str) -> String {
    let errors = diagnostics.error_count();
    let warnings = diagnostics.items.len() - errors;
    let file = shown_file(file);
    let in_file = diagnostics.errors().any(|d| d.source.as_ref().is_some_and(|s| s.name == file));
    let mut summary = if in_file {
        format!("error: `{file}` is not a valid pipeline: {}", plural(errors, "error"))
    } else {
        format!("error: aborting because of {}", plural(errors, "error"))
    };
    if warnings > 0 {
        summary.push_str(&format!(", {}", plural(warnings, "warning")));
    }
    summary
}

/// The pipeline file as messages name it: standard input is `<stdin>`.
fn shown_file(file: &str) -> &str {
    if file == "-" {
        "<stdin>"
    } else {
        file
    }
}

/// `1 error`, `2 errors`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// An engine error on one line: a call killed at its bound in the reporters' words, any other
/// as the error says it.
fn engine_said(source: &EngineError) -> String {
    match source {
        EngineError::TimedOut { command, after } => copili::report::words::timed_out(command, *after),
        other => one_line(&other.to_string()),
    }
}

/// An engine's message on one line (engines print several).
pub(crate) fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_shows_every_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("the state file s.json is corrupt")]
        struct Outer(#[source] io::Error);
        let error = Outer(io::Error::other("expected value at line 1 column 1"));
        assert_eq!(chain(&error), "the state file s.json is corrupt: expected value at line 1 column 1");

        #[derive(Debug, thiserror::Error)]
        #[error("cannot use the lock file `l`: {0}")]
        struct SaysItsCause(#[source] io::Error);
        let error = SaysItsCause(io::Error::other("denied"));
        assert_eq!(chain(&error), "cannot use the lock file `l`: denied");
    }

    #[test]
    fn a_panic_is_an_internal_error_with_its_own_exit_code() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let caught = catching_panics(|| panic!("an invariant broke"));
        let formatted = catching_panics(|| panic!("{} broke", "it"));
        std::panic::set_hook(hook);
        let error = caught.expect_err("a panic is an error");
        assert_eq!(error.exit_code(), exit_code::INTERNAL);
        assert!(
            matches!(&error, CliError::Internal(what) if what == "copili panicked: an invariant broke"),
            "{error:?}"
        );
        assert!(matches!(formatted, Err(CliError::Internal(what)) if what == "copili panicked: it broke"));
        assert_ne!(exit_code::INTERNAL, exit_code::FAILURE);
        assert_ne!(exit_code::INTERNAL, exit_code::INVALID_INPUT);
        assert_eq!(catching_panics(|| Ok(exit_code::SUCCESS)).ok(), Some(exit_code::SUCCESS));
    }

    #[test]
    fn a_run_that_did_not_start_exits_as_its_cause() {
        let cause = CliError::EngineSilent {
            engine: "docker".into(),
            source: EngineError::NotFound { binary: "docker".into(), reason: "gone".into() },
        };
        let error = CliError::NotStarted { cause: Box::new(cause), report_errors: vec!["cannot write r".into()] };
        assert_eq!(error.exit_code(), exit_code::ENGINE_UNAVAILABLE);
    }

    /// An engine whose availability check was killed at its bound: one line naming the engine,
    /// the command and the bound; exit code 3.
    #[test]
    fn an_engine_that_does_not_answer_in_time_is_one_line() {
        let source = EngineError::TimedOut {
            command: "podman version --format {{.Client.Version}}".into(),
            after: std::time::Duration::from_secs(60),
        };
        let error = CliError::EngineSilent { engine: "podman".into(), source };
        assert_eq!(error.exit_code(), exit_code::ENGINE_UNAVAILABLE);
        assert_eq!(error.to_text().lines().count(), 1, "{}", error.to_text());
        insta::assert_snapshot!("engine_timed_out", error.to_text());
    }

    #[test]
    fn an_internal_error_says_it_is_a_bug() {
        let error = CliError::Internal("copili panicked: an invariant broke".into());
        insta::assert_snapshot!("internal", error.to_text());
    }

    #[test]
    fn a_state_file_error_says_its_cause() {
        let source = serde_json::from_str::<serde_json::Value>("{ not json").expect_err("not JSON");
        let error = CliError::State(StateError::Corrupt { path: ".copili/nightly.json".into(), source });
        insta::assert_snapshot!("state_corrupt", error.to_text());
    }

    #[test]
    fn own_lines_are_escaped_diagnostics_are_not_reworded() {
        let error = CliError::Usage("--label `a\u{1b}[31m`: expected KEY=VALUE".into());
        assert!(!error.to_text().contains('\u{1b}'), "{}", error.to_text());
        let error = CliError::Diagnostics(Diagnostics { items: Vec::new() });
        assert_eq!(error.to_text(), "");
    }

    #[test]
    fn one_line_joins_the_lines_of_an_engine_message() {
        assert_eq!(one_line("Error: no such thing\n\n  try again\n"), "Error: no such thing try again");
    }
}
