//! Builtin detectors. Personal data: a cheap candidate pattern found by the automaton, then a
//! validator that turns away look-alikes (order numbers, timestamps, UUIDs, versions, hashes),
//! so a builtin does not cry wolf on source code and logs. Credentials ([`credentials`]):
//! literal seeds found by the engine, then a finder that reads the token after each.

mod ca_sin;
pub mod credentials;
mod credit_card;
mod email;
mod phone;
mod ssn;

use crate::bundle::Builtin;

/// The candidate pattern the engine searches for `builtin` (case-insensitive, Unicode off
/// for digits so `\d` means ASCII digits); `None` for a credential, found from its seeds
/// ([`credentials::seeds`]) instead.
pub fn candidate_pattern(builtin: Builtin) -> Option<&'static str> {
    match builtin {
        Builtin::CreditCard => Some(credit_card::CANDIDATE),
        Builtin::Email => Some(email::CANDIDATE),
        Builtin::Ssn => Some(ssn::CANDIDATE),
        Builtin::PhoneNumber => Some(phone::CANDIDATE),
        Builtin::CaSin => Some(ca_sin::CANDIDATE),
        _ => None,
    }
}

/// The part of `builtin`'s candidate pattern that can validate whatever precedes it. A
/// candidate outside it (nine bare digits for `Ssn`) validates only where
/// [`context_before`] holds for the text before it.
pub fn context_free_candidate(builtin: Builtin) -> Option<&'static str> {
    match builtin {
        Builtin::Ssn => Some(ssn::SEPARATED),
        other => candidate_pattern(other),
    }
}

/// Whether `before`, the text before a candidate, gives the context that candidates outside
/// [`context_free_candidate`] need. It holds for `before` whenever it holds for `before`
/// followed by digits and ` .-()+` separators, so the engine can ask once at the start of a
/// run of those for every candidate in it.
pub fn context_before(builtin: Builtin, before: &str) -> bool {
    match builtin {
        Builtin::Ssn => ssn::mentioned(before),
        _ => true,
    }
}

/// Whether the candidate `text[start..end]` really is a `builtin`; `text` gives context.
///
/// Every builtin requires a candidate to stand apart from its neighbours, first of all
/// [`starts_apart`]; the engine relies on this to skip text where no candidate can.
pub fn validate(builtin: Builtin, text: &str, start: usize, end: usize) -> bool {
    let Some(candidate) = text.get(start..end) else {
        return false;
    };
    if !starts_apart(text, start) || !ends_apart(text, end) {
        return false;
    }
    match builtin {
        Builtin::CreditCard => credit_card::validate(candidate),
        Builtin::Email => email::validate(candidate),
        Builtin::Ssn => ssn::validate(candidate, &text[..start]),
        Builtin::PhoneNumber => phone::validate(candidate),
        Builtin::CaSin => ca_sin::validate(candidate),
        _ => false,
    }
}

/// Whether a candidate starting at `start` is not glued to what precedes it: letters, digits
/// or number punctuation make it part of something else (a hash, an ID, a version string, a
/// URL path), not a value on its own. `false` when `start` is not a character boundary.
pub fn starts_apart(text: &str, start: usize) -> bool {
    // The common case, decided on bytes: the byte before is ASCII, so it is the last
    // character, and the byte before that is an ASCII digit exactly when the character is.
    let bytes = text.as_bytes();
    if let Some(&last) = start.checked_sub(1).and_then(|i| bytes.get(i))
        && last.is_ascii()
        && text.is_char_boundary(start)
    {
        let glued = last.is_ascii_alphanumeric() || last == b'_';
        let continues = matches!(last, b'.' | b'-' | b'/' | b':')
            && start >= 2
            && bytes[start - 2].is_ascii_digit();
        return !glued && !continues;
    }
    starts_apart_by_chars(text, start)
}

/// [`starts_apart`] by its definition, on characters.
fn starts_apart_by_chars(text: &str, start: usize) -> bool {
    let Some(before) = text.get(..start) else {
        return false;
    };
    let mut chars = before.chars().rev();
    let (last, previous) = (chars.next(), chars.next());
    !glued(last) && !continues_number(last, previous)
}

/// Whether a candidate ending at `end` is not glued to what follows it.
fn ends_apart(text: &str, end: usize) -> bool {
    let Some(after) = text.get(end..) else {
        return false;
    };
    let mut chars = after.chars();
    let (first, next) = (chars.next(), chars.next());
    !glued(first) && !continues_number(first, next)
}

fn glued(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// `.`, `-`, `/` or `:` with a digit on its far side: `1.2.3`, `2024-05-01`, `12:30`.
fn continues_number(c: Option<char>, beyond: Option<char>) -> bool {
    matches!(c, Some('.' | '-' | '/' | ':')) && beyond.is_some_and(|n| n.is_ascii_digit())
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
