//! Stripe secret (`sk_live_`, `sk_test_`) and restricted (`rk_live_`, `rk_test_`) keys, and
//! webhook signing secrets (`whsec_`). Publishable keys (`pk_`) are public by design.

use super::{alphanumeric, apart_before, random_looking, token};

pub(super) const SEEDS: &[&str] = &["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"];

pub(super) fn find(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if !apart_before(bytes, at) {
        return None;
    }
    let seed = SEEDS
        .iter()
        .find(|s| bytes[at..].starts_with(s.as_bytes()))?;
    let body = at + seed.len();
    let end = token(bytes, body, 20, 247, alphanumeric)?;
    random_looking(&bytes[body..end], 3.5).then_some((at, end))
}
