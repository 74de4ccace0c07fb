//! Payment card numbers: 13–19 digits, single spaces or dashes between groups, a known
//! issuer prefix and a valid Luhn checksum.

pub(super) const CANDIDATE: &str = r"(?-u:\d)(?:[ -]?(?-u:\d)){12,18}";

pub(super) fn validate(candidate: &str) -> bool {
    let digits = super::digits(candidate);
    (13..=19).contains(&digits.len())
        && known_issuer(&digits)
        && super::luhn(&digits)
        && !repetitive(&digits)
}

fn prefix(digits: &[u8], len: usize) -> u32 {
    digits
        .iter()
        .take(len)
        .fold(0, |acc, &d| acc * 10 + u32::from(d))
}

fn known_issuer(digits: &[u8]) -> bool {
    let (p1, p2, p3, p4) = (
        prefix(digits, 1),
        prefix(digits, 2),
        prefix(digits, 3),
        prefix(digits, 4),
    );
    let len = digits.len();
    match p1 {
        4 => matches!(len, 13 | 16 | 19),              // Visa
        5 => (51..=55).contains(&p2) && len == 16,     // Mastercard
        2 => (2221..=2720).contains(&p4) && len == 16, // Mastercard 2-series
        3 => {
            (matches!(p2, 34 | 37) && len == 15)                                     // Amex
                || ((3528..=3589).contains(&p4) && (16..=19).contains(&len))        // JCB
                || ((matches!(p2, 36 | 38) || (300..=305).contains(&p3)) && (14..=19).contains(&len)) // Diners
        }
        6 => {
            (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3)) && (16..=19).contains(&len) // Discover
                || (p2 == 62 && (16..=19).contains(&len)) // UnionPay
        }
        _ => false,
    }
}

/// `4111 1111 1111 1111` is a famous test number and real; `0000…` or `5555555555554444`
/// pass Luhn but so do many padded IDs. Only all-same-digit runs are excluded.
fn repetitive(digits: &[u8]) -> bool {
    digits.iter().all(|&d| d == digits[0])
}
