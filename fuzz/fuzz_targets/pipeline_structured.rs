//! Pipelines built from a structure (`copili_fuzz::structured::Document`), YAML or JSON, mostly
//! valid: libFuzzer mutates the structure, so planning, rendering and export see far more
//! pipelines that load than from bytes alone.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|document: copili_fuzz::structured::Document| {
    copili_fuzz::check(&document.render());
});
