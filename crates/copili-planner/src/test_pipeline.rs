//! The pipeline of a YAML text, for the planner's unit tests.

use copili_model::{load, EnvFile, Input, LoadOptions, Pipeline};

/// `text` loaded without a `.env` file; a test fails on an invalid one, with its diagnostics.
pub(crate) fn pipeline(text: &str) -> Pipeline {
    let options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
    match load(Input::Text(text), &options) {
        Ok(p) => p,
        Err(d) => panic!("{d}"),
    }
}
