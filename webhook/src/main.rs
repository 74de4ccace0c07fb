//! Placeholder until the webhook crate lands.
fn main() {}
