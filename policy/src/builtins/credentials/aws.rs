//! AWS access keys: a key ID (`AKIA`, `ASIA`, `ABIA`, `ACCA` or `A3T?` and 16 characters of
//! base32, `[A-Z2-7]`), and a 40-character secret access key where it follows its key name
//! (`aws_secret_access_key = …`, `AWS_SECRET_ACCESS_KEY=…`, `"SecretAccessKey": "…"`). A bare
//! 40-character base64 run is not matched: git SHAs, hashes and blobs look the same.
//!
//! AWS's documented example keys (`AKIAIOSFODNN7EXAMPLE`, `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`)
//! do not fire: they fill docs, SDK tests and fixtures, and grant nothing.

use super::{alphanumeric, apart_before, base64, random_looking, run, token};

pub(super) const SEEDS: &[&str] = &[
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "A3T",
    "secret_access_key",
    "SECRET_ACCESS_KEY",
    "SecretAccessKey",
    "secretAccessKey",
];

const ID_PREFIXES: &[&[u8]] = &[b"AKIA", b"ASIA", b"ABIA", b"ACCA"];

/// Bytes between a secret key's name and its value: quotes (escaped too), `=`, `:`, blanks.
const MAX_GAP: usize = 8;

pub(super) fn find(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let rest = &bytes[at..];
    if ID_PREFIXES.iter().any(|p| rest.starts_with(p)) || rest.starts_with(b"A3T") {
        key_id(bytes, at)
    } else {
        secret_key(bytes, at)
    }
}

fn base32(byte: u8) -> bool {
    byte.is_ascii_uppercase() || (b'2'..=b'7').contains(&byte)
}

fn key_id(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if !apart_before(bytes, at) {
        return None;
    }
    // `A3T` takes one more letter or digit; the others are four-letter prefixes.
    bytes
        .get(at + 3)
        .filter(|b| b.is_ascii_uppercase() || b.is_ascii_digit())?;
    let body = at + 4;
    let end = body + 16;
    (run(bytes, body, 16, base32) == end && super::apart_after(bytes, end, alphanumeric))
        .then_some(())?;
    random_looking(&bytes[at..end], 3.0).then_some((at, end))
}

fn secret_key(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let name_end = at
        + SEEDS
            .iter()
            .find(|s| bytes[at..].starts_with(s.as_bytes()))?
            .len();
    let gap_end = run(bytes, name_end, MAX_GAP, |b| {
        matches!(b, b'"' | b'\'' | b'\\' | b'=' | b':' | b' ' | b'\t')
    });
    // A name with no `=` or `:` after it is prose or code (`secret_access_key()`), no assignment.
    if !bytes[name_end..gap_end]
        .iter()
        .any(|b| matches!(b, b'=' | b':'))
    {
        return None;
    }
    let end = token(bytes, gap_end, 40, 40, base64)?;
    (end - gap_end == 40 && random_looking(&bytes[gap_end..end], 4.0)).then_some((gap_end, end))
}
