//! The JSON Schema of the pipeline format.
