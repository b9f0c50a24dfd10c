//! Everything the binary writes to standard output and standard error goes through here, so
//! that no write can panic (`println!` panics when stdout cannot be written: `> /dev/full`)
//! and every command treats a stdout that fails the same way:
//!
//! - A closed pipe (`copili plan F | head -1`) is not an error. Rust ignores SIGPIPE, so the
//!   write returns EPIPE instead of the signal ending the process; from then on, output is
//!   discarded and copili exits with the code it would have exited with, as ripgrep does
//!   (0, for the commands whose only job is their output; a run goes on to its end).
//! - Any other error (a full disk) is said once, on standard error, as `error: cannot write to
//!   standard output: …`; from then on, output is discarded, and a command that would have
//!   exited 0 exits 1 ([`finish`]). A run goes on to its end: its containers do not depend on
//!   its console.
//! - A standard error that cannot be written is ignored: there is nowhere left to say so.
//!
//! [`outln!`] and [`errln!`] are `println!` and `eprintln!` made so; [`Stdout`] is the writer
//! for everything else (the console reporter, the JSON of `plan`, clap's help).

use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

/// What became of standard output.
enum State {
    /// Writes go through.
    Open,
    /// The reader went away (EPIPE): not an error, output is discarded.
    Closed,
    /// It could not be written (and that was said): output is discarded, the exit code is 1.
    Failed,
}

static STDOUT: Mutex<State> = Mutex::new(State::Open);

/// Standard output as a writer that never panics and records its first error (see the
/// module's documentation). Once stdout has failed or closed, every write returns an error
/// at once, so that a long output stops early.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        through(|out| out.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        through(Write::flush)
    }
}

/// Runs `op` on the locked standard output unless it has failed or closed before; records
/// its error.
fn through(op: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>) -> io::Result<()> {
    let mut state = STDOUT.lock().unwrap_or_else(PoisonError::into_inner);
    if !matches!(*state, State::Open) {
        return Err(io::Error::new(io::ErrorKind::BrokenPipe, "standard output is no longer written"));
    }
    let result = op(&mut io::stdout().lock());
    if let Err(e) = &result {
        if e.kind() == io::ErrorKind::BrokenPipe {
            *state = State::Closed;
        } else {
            *state = State::Failed;
            eprint(&format!("error: cannot write to standard output: {}\n", describe(e)));
        }
    }
    result
}

/// An IO error's message without the ` (os error N)` Rust appends.
fn describe(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Writes `text` to standard output (see the module's documentation for errors).
pub(crate) fn print(text: &str) {
    let _ = Stdout.write_all(text.as_bytes());
}

/// Writes to a buffered standard output. An error of the output itself is handled as
/// [`print`]'s; any other error `write` returns (a serializer's) is returned.
///
/// The writer is a concrete type, not `dyn Write`: serde_json writes a plan's JSON in many
/// small pieces, and a virtual call for each was 5 % of `plan --format json`'s instructions.
pub(crate) fn print_with(write: impl FnOnce(&mut io::BufWriter<Stdout>) -> io::Result<()>) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, Stdout);
    let result = write(&mut out).and_then(|()| out.flush());
    match result {
        Err(_) if !matches!(*STDOUT.lock().unwrap_or_else(PoisonError::into_inner), State::Open) => Ok(()),
        other => other,
    }
}

/// Writes `text` to standard error; an error is ignored (there is nowhere to report it).
pub(crate) fn eprint(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Clap's styled text, with its colours when it goes to a terminal (standard error if
/// `stderr`, else standard output) and `NO_COLOR` is not set.
pub(crate) fn styled(text: &clap::builder::StyledStr, stderr: bool) -> String {
    use std::io::IsTerminal as _;
    let terminal = if stderr { io::stderr().is_terminal() } else { io::stdout().is_terminal() };
    if terminal && std::env::var_os("NO_COLOR").is_none() {
        text.ansi().to_string()
    } else {
        text.to_string()
    }
}

/// The exit code once the command is done: `code`, or 1 instead of 0 when standard output
/// could not be written. Flushes what is left.
pub(crate) fn finish(code: i32) -> i32 {
    let _ = Stdout.flush();
    match *STDOUT.lock().unwrap_or_else(PoisonError::into_inner) {
        State::Failed if code == copili::exit_code::SUCCESS => copili::exit_code::FAILURE,
        _ => code,
    }
}

/// Writes copili's own text to standard output: characters from a file, the environment or an
/// engine that would act on a terminal are escaped ([`copili::model::escape`]).
pub(crate) fn print_own(text: &str) {
    print(&copili::model::escape::escape_controls_in_lines(text));
}

/// Writes copili's own text to standard error, escaped like [`print_own`]'s.
pub(crate) fn eprint_own(text: &str) {
    eprint(&copili::model::escape::escape_controls_in_lines(text));
}

/// `println!` to [`Stdout`], never panicking; for copili's own text ([`print_own`]).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::print_own(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!`, never panicking; for copili's own text ([`eprint_own`]).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::eprint_own(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, outln};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_numbers_are_left_out() {
        assert_eq!(describe(&io::Error::from_raw_os_error(28)), "No space left on device");
        assert_eq!(describe(&io::Error::other("odd")), "odd");
    }
}
