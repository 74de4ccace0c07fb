//! Builtin detectors: a cheap candidate pattern found by the automaton, then a validator
//! that turns away look-alikes (order numbers, timestamps, UUIDs, versions, hashes), so a
//! builtin does not cry wolf on source code and logs.

mod ca_sin;
mod credit_card;
mod email;
mod phone;
mod ssn;

use crate::bundle::Builtin;

/// The candidate pattern the engine searches for `builtin` (case-insensitive, Unicode off
/// for digits so `\d` means ASCII digits).
pub fn candidate_pattern(builtin: Builtin) -> &'static str {
    match builtin {
        Builtin::CreditCard => credit_card::CANDIDATE,
        Builtin::Email => email::CANDIDATE,
        Builtin::Ssn => ssn::CANDIDATE,
        Builtin::PhoneNumber => phone::CANDIDATE,
        Builtin::CaSin => ca_sin::CANDIDATE,
    }
}

/// Whether the candidate `text[start..end]` really is a `builtin`; `text` gives context.
pub fn validate(builtin: Builtin, text: &str, start: usize, end: usize) -> bool {
    let Some(candidate) = text.get(start..end) else {
        return false;
    };
    if !standalone(text, start, end) {
        return false;
    }
    match builtin {
        Builtin::CreditCard => credit_card::validate(candidate),
        Builtin::Email => email::validate(candidate),
        Builtin::Ssn => ssn::validate(candidate, &text[..start]),
        Builtin::PhoneNumber => phone::validate(candidate),
        Builtin::CaSin => ca_sin::validate(candidate),
    }
}

/// A candidate glued to more letters, digits or number punctuation is part of something
/// else (a hash, an ID, a version string, a URL path), not a value on its own.
fn standalone(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let continues_number = |c: Option<char>, next: Option<char>| {
        matches!(c, Some('.' | '-' | '/' | ':')) && next.is_some_and(|n| n.is_ascii_digit())
    };
    let after_next = text[end..].chars().nth(1);
    let before_prev = text[..start].chars().rev().nth(1);
    !glued(before)
        && !glued(after)
        && !continues_number(after, after_next)
        && !continues_number(before, before_prev)
}

/// Digits of a candidate, ignoring separators.
pub(crate) fn digits(candidate: &str) -> Vec<u8> {
    candidate
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// The Luhn checksum used by payment cards and Canadian SINs.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests;
