//! GitLab tokens: a published prefix per kind (`glpat-` personal, `gldt-` deploy, `glrt-`
//! runner, `glptt-` pipeline trigger, `glcbt-` CI build, `glft-` feed, `glimt-` incoming mail,
//! `gloas-` OAuth application secret, `glsoat-` service account, `glagent-` agent,
//! `GR1348941` runner registration) and at least 20 random characters.

use super::{apart_before, random_looking, token};

pub(super) const SEEDS: &[&str] = &[
    "glpat-",
    "gldt-",
    "glrt-",
    "glptt-",
    "glcbt-",
    "glft-",
    "glimt-",
    "gloas-",
    "glsoat-",
    "glagent-",
    "GR1348941",
];

fn class(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.')
}

pub(super) fn find(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if !apart_before(bytes, at) {
        return None;
    }
    let seed = SEEDS
        .iter()
        .find(|s| bytes[at..].starts_with(s.as_bytes()))?;
    let body = at + seed.len();
    let mut end = token(bytes, body, 20, 256, class)?;
    // A sentence may end right after a token.
    while end > body && bytes[end - 1] == b'.' {
        end -= 1;
    }
    (end - body >= 20 && random_looking(&bytes[body..end], 3.0)).then_some((at, end))
}
