//! Arbitrary bytes as a pipeline file, through everything copili does with one short of
//! running it ([`copili_fuzz::check`]). The seed corpus is `fuzz/corpus/pipeline/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The binary refuses non-UTF-8 files before the loader sees them: as lossy text, the
    // mutations around the bad bytes still reach the loader.
    copili_fuzz::check(&String::from_utf8_lossy(data));
});
