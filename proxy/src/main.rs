//! Placeholder until the proxy crate lands.
fn main() {}
