//! The copili binary.
fn main() {}
