//! Google API keys: `AIza` and 35 characters of base64url (39 in all).

use super::{apart_before, base64url, random_looking, token};

pub(super) const SEEDS: &[&str] = &["AIza"];

pub(super) fn find(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let body = at + 4;
    let end = token(bytes, body, 35, 35, base64url)?;
    (apart_before(bytes, at) && end == body + 35 && random_looking(&bytes[body..end], 3.5))
        .then_some((at, end))
}
