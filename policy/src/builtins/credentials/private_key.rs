//! Private key blocks: PEM (`-----BEGIN RSA PRIVATE KEY-----`, `EC`, `DSA`, `ENCRYPTED`,
//! PKCS#8 with no algorithm), OpenSSH (`-----BEGIN OPENSSH PRIVATE KEY-----`) and PGP
//! (`-----BEGIN PGP PRIVATE KEY BLOCK-----`), masked whole, armour lines included.
//!
//! The body may hold base64, line breaks written as real newlines or as `\n` escapes (a key
//! inside a JSON service-account file), and header lines (`Proc-Type: 4,ENCRYPTED`). It needs
//! 64 or more base64 characters, so docs with `...` in place of a key do not fire. A block
//! with no `-----END` line (output cut short) is masked to where its body stops: most of a
//! key is as bad as all of it. The body stops at the first `-----`, where any later block
//! starts, so no byte is read twice for one text.

use super::contains;

pub(super) const SEEDS: &[&str] = &["-----BEGIN "];

const DASHES: &[u8] = b"-----";
const MIN_BASE64: usize = 64;
/// Longest armour label we read (`ENCRYPTED PRIVATE KEY`, `PGP PRIVATE KEY BLOCK`).
const MAX_LABEL: usize = 40;

fn body_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'+' | b'/' | b'=' | b'\\' | b':' | b',' | b'.' | b'-' | b' '
        )
        || byte.is_ascii_whitespace()
}

pub(super) fn find(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let label_start = at + "-----BEGIN ".len();
    let label_end = label(bytes, label_start)?;
    if !contains(&bytes[label_start..label_end], b"PRIVATE KEY") {
        return None;
    }
    let body_start = label_end + DASHES.len();
    let mut end = body_start;
    let mut base64 = 0;
    while end < bytes.len() && body_byte(bytes[end]) && !bytes[end..].starts_with(DASHES) {
        base64 +=
            usize::from(bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'+' | b'/'));
        end += 1;
    }
    if base64 < MIN_BASE64 {
        return None;
    }
    if bytes[end..].starts_with(b"-----END ")
        && let Some(close) = label(bytes, end + "-----END ".len())
    {
        return Some((at, close + DASHES.len()));
    }
    // Cut short: up to the body's last non-blank byte.
    while end > body_start && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    Some((at, end))
}

/// The end of an armour label (uppercase words) at `from`, where `-----` follows it.
fn label(bytes: &[u8], from: usize) -> Option<usize> {
    let end = super::run(bytes, from, MAX_LABEL, |b| {
        b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' '
    });
    (end > from && bytes[end..].starts_with(DASHES)).then_some(end)
}
