//! GitHub tokens. Classic ones — `ghp_` (personal), `gho_` (OAuth), `ghu_` (user-to-server),
//! `ghs_` (server-to-server), `ghr_` (refresh) — are 30 random base62 characters and a
//! 6-character base62 CRC32 of them, which is checked, so nothing but a real token fires.
//! Fine-grained personal tokens are `github_pat_`, 22 characters, `_`, 59 characters.

use super::{alphanumeric, apart_before, random_looking, token};

pub(super) const SEEDS: &[&str] = &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"];

const RANDOM: usize = 30;
const CHECKSUM: usize = 6;

pub(super) fn find(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if !apart_before(bytes, at) {
        return None;
    }
    if bytes[at..].starts_with(b"github_pat_") {
        let body = at + "github_pat_".len();
        let first = super::run(bytes, body, 22, alphanumeric);
        if first != body + 22 || bytes.get(first) != Some(&b'_') {
            return None;
        }
        let end = token(bytes, first + 1, 59, 59, alphanumeric)?;
        return (end == first + 60 && random_looking(&bytes[body..end], 3.5)).then_some((at, end));
    }
    let body = at + 4;
    let end = token(
        bytes,
        body,
        RANDOM + CHECKSUM,
        RANDOM + CHECKSUM,
        alphanumeric,
    )?;
    let (random, checksum) = bytes[body..end].split_at(RANDOM);
    (base62(checksum)? == crc32(random)).then_some((at, end))
}

/// A base62 number (`0-9A-Za-z`), as GitHub writes the checksum (zero-padded to 6).
fn base62(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        let value = match d {
            b'0'..=b'9' => d - b'0',
            b'A'..=b'Z' => d - b'A' + 10,
            b'a'..=b'z' => d - b'a' + 36,
            _ => return None,
        };
        Some(n * 62 + u64::from(value))
    })
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
pub(super) fn crc32(bytes: &[u8]) -> u64 {
    let mut crc = u32::MAX;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    u64::from(!crc)
}
