//! Placeholder until the operator crate lands.
fn main() {}
