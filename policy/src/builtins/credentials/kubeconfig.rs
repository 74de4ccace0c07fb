//! Kubernetes credentials as kubeconfigs and `curl` commands carry them: the base64
//! `client-key-data` of a user (a private key), a user's `token` (in a kubeconfig's `user:`
//! section, YAML or JSON), and `Bearer` tokens. Only the value is masked: the text keeps its
//! `token:` and `Authorization: Bearer`, and still reads as a kubeconfig or a command.
//!
//! A `token` key counts only below a `user:` key seen within the 512 bytes before it, and its
//! value must look machine-made (letters and digits, 16 or more characters, some entropy),
//! so `token: string` in a TypeScript interface or `token: ${{ secrets.X }}` in a workflow do
//! not fire.

use super::{apart_before, base64, letters_and_digits, random_looking, run, token};

pub(super) const SEEDS: &[&str] = &["client-key-data", "token", "Bearer ", "bearer "];

/// How far back a `user:` key makes a `token:` a kubeconfig user's.
const USER_WINDOW: usize = 512;
/// Bytes between a key and its value: a closing quote, `:`, blanks, an opening quote.
const MAX_GAP: usize = 8;

/// RFC 6750's token68 characters (bearer tokens and service account JWTs).
fn token68(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

pub(super) fn find(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if !apart_before(bytes, at) {
        return None;
    }
    let rest = &bytes[at..];
    if rest.starts_with(b"client-key-data") {
        let value = value_after_key(bytes, at + "client-key-data".len())?;
        let end = token(bytes, value, 64, usize::MAX, base64)?;
        return Some((value, end));
    }
    if rest.starts_with(b"token") {
        let value = value_after_key(bytes, at + "token".len())?;
        return under_user(bytes, at)
            .then(|| secret(bytes, value, 16))
            .flatten();
    }
    // `Bearer ` / `bearer `: the value follows the single space.
    secret(bytes, at + "Bearer ".len(), 20)
}

/// After a key name: `:` (perhaps after a closing quote), blanks and an opening quote; the
/// value's start.
fn value_after_key(bytes: &[u8], name_end: usize) -> Option<usize> {
    let gap_end = run(bytes, name_end, MAX_GAP, |b| {
        matches!(b, b'"' | b'\'' | b'\\' | b':' | b' ' | b'\t')
    });
    let colon = bytes[name_end..gap_end].iter().position(|&b| b == b':')?;
    // Only a quote may come between the name and its colon: `token":` but not `tokens:`.
    bytes[name_end..name_end + colon]
        .iter()
        .all(|b| matches!(b, b'"' | b'\'' | b'\\'))
        .then_some(gap_end)
}

/// A token68 value of at least `min` characters that looks machine-made.
fn secret(bytes: &[u8], from: usize, min: usize) -> Option<(usize, usize)> {
    let end = token(bytes, from, min, usize::MAX, token68)?;
    let value = &bytes[from..end];
    (letters_and_digits(value) && random_looking(value, 3.0)).then_some((from, end))
}

/// Whether a `user:` (YAML) or `"user":` (JSON) key precedes `at` within [`USER_WINDOW`].
fn under_user(bytes: &[u8], at: usize) -> bool {
    let window = &bytes[at.saturating_sub(USER_WINDOW)..at];
    super::contains(window, b"user:") || super::contains(window, b"user\":")
}
