//! Slack tokens — `xoxb-` (bot), `xoxp-` (user), `xoxa-`, `xoxr-` (refresh), `xoxs-`,
//! `xoxe-`/`xoxe.xoxp-` (rotating), `xapp-` (app-level): dash-separated parts with digits — and
//! incoming webhook URLs, `hooks.slack.com/services/T…/B…/…`.

use super::{alphanumeric, apart_before, random_looking, run, token};

pub(super) const SEEDS: &[&str] = &[
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "xoxs-",
    "xoxe-",
    "xoxe.",
    "xapp-",
    "hooks.slack.com/services/",
];

const WEBHOOK: &str = "hooks.slack.com/services/";

fn class(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.')
}

pub(super) fn find(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if bytes[at..].starts_with(WEBHOOK.as_bytes()) {
        return webhook(bytes, at);
    }
    if !apart_before(bytes, at) {
        return None;
    }
    let body = at + 5;
    let end = token(bytes, body, 20, 256, class)?;
    let value = &bytes[body..end];
    (value.contains(&b'-') && value.iter().any(u8::is_ascii_digit) && random_looking(value, 3.0))
        .then_some((at, end))
}

/// `T` + workspace ID, `/B` + bot ID, `/` + 24 characters of secret.
fn webhook(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let upper = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    let mut at_part = at + WEBHOOK.len();
    for lead in [b'T', b'B'] {
        if bytes.get(at_part) != Some(&lead) {
            return None;
        }
        let end = run(bytes, at_part + 1, 16, upper);
        if end - at_part < 8 || bytes.get(end) != Some(&b'/') {
            return None;
        }
        at_part = end + 1;
    }
    let end = token(bytes, at_part, 24, 24, alphanumeric)?;
    random_looking(&bytes[at_part..end], 3.0).then_some((at, end))
}
