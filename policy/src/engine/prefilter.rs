//! Byte-level prechecks that keep builtin candidate automata off most of a text.
//!
//! A builtin candidate such as `\d(?:[ -]?\d){12,18}` starts with a class, so no literal
//! prefilter applies and a plain search runs its automaton over every byte. Instead, two facts
//! are read off the candidate pattern itself, so they cannot drift from it:
//! - its [`Alphabet`], every byte a match can contain: a match lies inside one maximal run of
//!   alphabet bytes, a *window*;
//! - its [`Trigger`]: a byte every match contains (`@` for e-mail), or the number of ASCII
//!   digits every match contains at least.
//!
//! Only windows holding enough trigger bytes are searched ([`super::windows`]). No match can
//! cross a window's edge (the byte there is outside the alphabet), so searching the windows
//! left to right finds exactly the matches, with the same leftmost-first choices, that a
//! search of the whole text finds: the precheck changes speed, never results.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Bytes rare enough in prompts to be worth seeking when every match contains one.
const RARE_BYTES: &[u8] = b"@";

/// Bytes that can occur in a match. Any non-ASCII member stands for all non-ASCII bytes, so
/// windows always start and end on character boundaries.
#[derive(Clone, Debug)]
pub(super) struct Alphabet([bool; 256]);

impl Alphabet {
    /// The empty alphabet.
    pub(super) fn empty() -> Self {
        Self([false; 256])
    }

    /// Every byte a match of `hir` can contain (a superset).
    pub(super) fn of(hir: &Hir) -> Self {
        let mut alphabet = Self::empty();
        alphabet.add_hir(hir);
        alphabet
    }

    /// Whether `byte` can occur in a match.
    pub(super) fn contains(&self, byte: u8) -> bool {
        self.0[usize::from(byte)]
    }

    /// Whether some non-ASCII byte can occur in a match (then all can).
    pub(super) fn has_non_ascii(&self) -> bool {
        self.0[0x80]
    }

    /// Adds every byte of `other`.
    pub(super) fn extend(&mut self, other: &Self) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine |= theirs;
        }
    }

    /// Adds `bytes` (an inclusive range).
    pub(super) fn add_range(&mut self, first: u8, last: u8) {
        if last >= 0x80 {
            self.0[0x80..].fill(true);
        }
        for byte in first..=last.min(0x7f) {
            self.0[usize::from(byte)] = true;
        }
    }

    fn add_hir(&mut self, hir: &Hir) {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(literal) => {
                for &byte in &literal.0 {
                    self.add_range(byte, byte);
                }
            }
            HirKind::Class(Class::Bytes(class)) => {
                for range in class.iter() {
                    self.add_range(range.start(), range.end());
                }
            }
            HirKind::Class(Class::Unicode(class)) => {
                for range in class.iter() {
                    let last = u8::try_from(u32::from(range.end())).unwrap_or(0xff);
                    let first = u8::try_from(u32::from(range.start())).unwrap_or(0xff);
                    self.add_range(first, last);
                }
            }
            HirKind::Repetition(rep) => self.add_hir(&rep.sub),
            HirKind::Capture(capture) => self.add_hir(&capture.sub),
            HirKind::Concat(parts) | HirKind::Alternation(parts) => {
                for part in parts {
                    self.add_hir(part);
                }
            }
        }
    }
}

/// What every match of a pattern contains, to find the windows worth searching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Trigger {
    /// This (ASCII) byte, at least once.
    Byte(u8),
    /// At least this many ASCII digits (never 0).
    Digits(usize),
    /// Nothing known: search the whole text.
    Whole,
}

impl Trigger {
    /// What every match of `hir` contains.
    pub(super) fn of(hir: &Hir) -> Self {
        if hir.properties().minimum_len().is_none_or(|len| len == 0) {
            return Self::Whole; // matches the empty string, or nothing at all
        }
        if let Some(&byte) = RARE_BYTES
            .iter()
            .find(|&&byte| min_count(hir, &|b| b == byte) > 0)
        {
            return Self::Byte(byte);
        }
        match min_count(hir, &|b| b.is_ascii_digit()) {
            0 => Self::Whole,
            digits => Self::Digits(digits),
        }
    }
}

/// The fewest bytes satisfying `wanted` (an ASCII-only predicate) in any match of `hir`.
fn min_count(hir: &Hir, wanted: &dyn Fn(u8) -> bool) -> usize {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 0,
        HirKind::Literal(literal) => literal.0.iter().filter(|&&b| wanted(b)).count(),
        HirKind::Class(Class::Bytes(class)) => usize::from(
            class
                .iter()
                .all(|r| r.end() < 0x80 && (r.start()..=r.end()).all(wanted)),
        ),
        HirKind::Class(Class::Unicode(class)) => usize::from(class.iter().all(|r| {
            let (Ok(first), Ok(last)) = (
                u8::try_from(u32::from(r.start())),
                u8::try_from(u32::from(r.end())),
            ) else {
                return false;
            };
            last < 0x80 && (first..=last).all(wanted)
        })),
        HirKind::Repetition(rep) => usize::try_from(rep.min)
            .unwrap_or(usize::MAX)
            .saturating_mul(min_count(&rep.sub, wanted)),
        HirKind::Capture(capture) => min_count(&capture.sub, wanted),
        HirKind::Concat(parts) => parts
            .iter()
            .fold(0, |sum, part| sum.saturating_add(min_count(part, wanted))),
        HirKind::Alternation(parts) => parts
            .iter()
            .map(|part| min_count(part, wanted))
            .min()
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins::candidate_pattern;
    use crate::bundle::Builtin;
    use crate::engine::matcher::builtin_hir;

    fn hir(builtin: Builtin) -> Hir {
        builtin_hir(candidate_pattern(builtin).expect("a pattern builtin"), "t").expect("parses")
    }

    #[test]
    fn triggers_are_read_off_the_candidates() {
        let triggers = Builtin::PII.map(|b| Trigger::of(&hir(b)));
        assert_eq!(
            triggers,
            [
                Trigger::Digits(13),
                Trigger::Byte(b'@'),
                Trigger::Digits(9),
                Trigger::Digits(8),
                Trigger::Digits(9),
            ]
        );
        let empty = builtin_hir("a*", "t").expect("parses");
        assert_eq!(Trigger::of(&empty), Trigger::Whole);
    }

    #[test]
    fn alphabets_cover_case_folded_letters() {
        let email = Alphabet::of(&hir(Builtin::Email));
        assert!(email.contains(b'k') && email.contains(b'@') && email.contains(0xe2));
        assert!(!email.contains(b' '));
        let phone = Alphabet::of(&hir(Builtin::PhoneNumber));
        assert!(b"0123456789+() .-".iter().all(|&b| phone.contains(b)));
        assert!(!phone.contains(b'a') && !phone.contains(0xe2));
    }
}
