//! The exit codes of the `copili` binary, documented and stable.

/// Everything went as asked.
pub const SUCCESS: i32 = 0;
/// A container failed (not with an allowed failure) or was cancelled (from the runtime on).
pub const FAILURE: i32 = 1;
/// Invalid input: a pipeline file, a `.env` file or the command line.
pub const INVALID_INPUT: i32 = 2;
/// The container engine is missing or does not answer (from the runtime on).
pub const ENGINE_UNAVAILABLE: i32 = 3;
/// An internal failure: a bug in copili (a panic caught at the edge, a value of copili's own
/// that would not serialize), never the input, an engine or a container. 70 is `EX_SOFTWARE`
/// of sysexits.h, far from the codes above and from 128 + a signal's number.
pub const INTERNAL: i32 = 70;
