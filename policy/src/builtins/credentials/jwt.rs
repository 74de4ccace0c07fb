//! JSON Web Tokens: three base64url parts joined by dots, whose header decodes to a JSON
//! object naming its `alg` and whose payload decodes to a JSON object. Every JWT issuer
//! writes the header `{"` first, so it starts `eyJ`, the seed. Session cookies and ID tokens
//! that travel in logs and `curl` commands are what this catches; random dotted base64 is
//! turned away by the decode.

use serde_json::{Map, Value};

use super::{apart_after, base64url};

pub(super) const SEEDS: &[&str] = &["eyJ"];

/// The shortest header (`{"alg":"HS256"}` is 20 characters), payload and signature we take.
const MIN_PART: usize = 16;
/// The longest part read: a token is a header line or a cookie, not a document.
const MAX_PART: usize = 8192;

/// A JWT's characters: base64url and the dots between parts. A token glued to one of these
/// is part of a longer run, where no token starts.
fn class(byte: u8) -> bool {
    base64url(byte) || byte == b'.'
}

pub(super) fn find(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if at > 0 && class(bytes[at - 1]) && !super::after_escape(bytes, at) {
        return None;
    }
    let mut parts = [(0, 0); 3];
    let mut from = at;
    for (i, part) in parts.iter_mut().enumerate() {
        let end = super::run(bytes, from, MAX_PART, base64url);
        if end - from < MIN_PART {
            return None;
        }
        *part = (from, end);
        if i < 2 {
            if bytes.get(end) != Some(&b'.') {
                return None;
            }
            from = end + 1;
        } else if !apart_after(bytes, end, class) {
            return None;
        }
    }
    let header = object(&bytes[parts[0].0..parts[0].1])?;
    object(&bytes[parts[1].0..parts[1].1])?;
    header
        .get("alg")
        .is_some_and(Value::is_string)
        .then_some((at, parts[2].1))
}

/// The JSON object a base64url part decodes to.
fn object(part: &[u8]) -> Option<Map<String, Value>> {
    serde_json::from_slice(&decode_base64url(part)?).ok()
}

/// Decodes unpadded base64url; `None` for a length no encoding produces.
fn decode_base64url(part: &[u8]) -> Option<Vec<u8>> {
    if part.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(part.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for &byte in part {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}
