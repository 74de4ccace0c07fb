//! Placeholder until the cli crate lands.
fn main() {}
