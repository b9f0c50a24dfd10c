//! The exit codes of the `copili` binary, documented and stable.

/// Everything went as asked.
pub const SUCCESS: i32 = 0;
/// A container failed or was cancelled (from the runtime on).
pub const FAILURE: i32 = 1;
/// Invalid input: a pipeline file, a `.env` file or the command line.
pub const INVALID_INPUT: i32 = 2;
/// The container engine is missing or does not answer (from the runtime on).
pub const ENGINE_UNAVAILABLE: i32 = 3;
