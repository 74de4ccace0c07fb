//! Who and which: the request id (the client's `x-request-id` when well formed, a fresh one
//! otherwise) and the client's identity as far as it can be logged — a short SHA-256 of the
//! key it presented, never the key. Must not keep or return any part of a key.

use http::HeaderMap;
use http::header::{self, HeaderValue};
use sha2::{Digest as _, Sha256};

/// The request id header, read from clients, echoed to them and sent upstream.
pub const REQUEST_ID: &str = "x-request-id";
/// Longest client request id honoured.
pub const MAX_REQUEST_ID: usize = 128;
/// Claude Code's per-session header.
pub const SESSION_HEADER: &str = "x-claude-code-session-id";

/// The client's id when it is 1–128 characters of `A-Z a-z 0-9 - _ . : / + =` (UUIDs,
/// ULIDs, base64, `trace:span` styles); otherwise a new random one. A client cannot smuggle
/// spaces, quotes or control characters into log lines through it.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| well_formed(v))
        .map_or_else(generate, str::to_owned)
}

fn well_formed(id: &str) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

/// 128 random bits as 32 hex digits: unique per request, not a secret.
fn generate() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// The id as a header value (always valid: [`request_id`] only returns visible ASCII).
pub fn header_value(id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(id).ok()
}

/// `sha256:` and the first 16 hex digits of the SHA-256 of the key in `x-api-key` or
/// `Authorization: Bearer`: enough to tell clients apart and to match a known key by hashing
/// it the same way, not enough to recover it.
pub fn key_hash(headers: &HeaderMap) -> Option<String> {
    let key = headers
        .get("x-api-key")
        .or_else(|| headers.get(header::AUTHORIZATION))?
        .as_bytes();
    let key = key
        .strip_prefix(b"Bearer ")
        .or_else(|| key.strip_prefix(b"bearer "))
        .unwrap_or(key);
    if key.is_empty() {
        return None;
    }
    let digest = Sha256::digest(key);
    let mut out = String::with_capacity(23);
    out.push_str("sha256:");
    for byte in &digest[..8] {
        use std::fmt::Write as _;
        let _ = write!(out, "{byte:02x}");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_well_formed_client_id_is_kept() {
        let id = "0f6b2c1e-6a9d-4d7e-9a51-3c2f1b0e7d88";
        assert_eq!(request_id(&headers(&[(REQUEST_ID, id)])), id);
    }

    #[test]
    fn a_malformed_or_huge_client_id_is_replaced() {
        let huge = "a".repeat(MAX_REQUEST_ID + 1);
        for bad in ["", "has space", "quote\"d", "tab\there", huge.as_str()] {
            let id = request_id(&headers(&[(REQUEST_ID, bad)]));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        let exact = "b".repeat(MAX_REQUEST_ID);
        assert_eq!(request_id(&headers(&[(REQUEST_ID, &exact)])), exact);
    }

    #[test]
    fn generated_ids_differ() {
        let empty = HeaderMap::new();
        assert_ne!(request_id(&empty), request_id(&empty));
    }

    #[test]
    fn the_key_is_hashed_never_kept() {
        let key = "sk-ant-api03-secret";
        let by_header = key_hash(&headers(&[("x-api-key", key)])).unwrap();
        let bearer = format!("Bearer {key}");
        let by_bearer = key_hash(&headers(&[("authorization", &bearer)])).unwrap();
        // The same key gives the same identity whichever header carried it.
        assert_eq!(by_header, by_bearer);
        // echo -n sk-ant-api03-secret | sha256sum
        assert_eq!(by_header, "sha256:9ab0981f54490dd8");
        assert!(!by_header.contains("secret"));
        assert_eq!(key_hash(&HeaderMap::new()), None);
    }
}
