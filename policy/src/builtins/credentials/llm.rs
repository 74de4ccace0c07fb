//! Model provider keys. Anthropic: `sk-ant-`, a kind and version (`api03`, `admin01`, `oat01`),
//! `-` and the key (93 characters ending `AA` today; 32 or more accepted). OpenAI: `sk-`
//! (optionally `proj-`, `svcacct-`, `admin-`) and a key that carries `T3BlbkFJ` — "OpenAI" in
//! base64 — which every OpenAI key has and random text all but never does.

use super::{apart_before, base64url, random_looking, run, token};

pub(super) const ANTHROPIC_SEEDS: &[&str] = &["sk-ant-"];
pub(super) const OPENAI_SEEDS: &[&str] = &["sk-"];

const OPENAI_MARKER: &[u8] = b"T3BlbkFJ";

pub(super) fn find_anthropic(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if !apart_before(bytes, at) || !bytes[at..].starts_with(b"sk-ant-") {
        return None;
    }
    let kind = at + "sk-ant-".len();
    let letters = run(bytes, kind, 8, |b| b.is_ascii_lowercase());
    let version = run(bytes, letters, 2, |b| b.is_ascii_digit());
    if letters == kind || version != letters + 2 || bytes.get(version) != Some(&b'-') {
        return None;
    }
    let body = version + 1;
    let end = token(bytes, body, 32, 512, base64url)?;
    random_looking(&bytes[body..end], 3.5).then_some((at, end))
}

pub(super) fn find_openai(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if !apart_before(bytes, at) || bytes[at..].starts_with(b"sk-ant-") {
        return None;
    }
    let body = at + "sk-".len();
    let end = token(bytes, body, 40, 512, base64url)?;
    let key = &bytes[body..end];
    (super::contains(key, OPENAI_MARKER) && random_looking(key, 3.5)).then_some((at, end))
}
