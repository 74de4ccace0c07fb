//! A per-window test that keeps a digit builtin's automaton off windows it cannot match in.
//!
//! The digit finder ([`super::windows`]) yields every window with enough digits for some
//! digit-triggered candidate. In logs and JSON most such windows are timestamps, IP addresses,
//! UUID pieces and counters (`2024-05-01`, `192.168.100.200`, `1714567890`): enough digits,
//! but not the shape of any candidate, and searching each of them with each candidate's
//! automaton cost more than finding them. Three more facts are read off the candidate pattern
//! itself, so they cannot drift from it, for every set of separator bytes a window may hold:
//! among matches made only of digits and those separators, the fewest digits, the fewest
//! separator bytes, and the shortest longest run of consecutive digits. A window short of any
//! of them holds no match, so skipping it changes speed, never results.

use regex_syntax::hir::{Class, Hir, HirKind};

use super::prefilter::Alphabet;
use crate::bytemask::DIGITS;

/// More separator bytes than this get no tables (2^N entries each); every window passes.
const MAX_SEPARATORS: usize = 8;

/// The separator bytes (ASCII, not digits) of the digit candidates' alphabet, numbered: a
/// window's set of them is a small number that indexes each [`Gate`]'s table directly.
#[derive(Clone, Debug)]
pub(super) struct Separators {
    bytes: Vec<u8>,
    /// For each ASCII byte, `1 << its number`, or 0 when it is no separator.
    bit: [u8; 128],
}

impl Separators {
    /// The separators of `alphabet`, or `None` when it holds non-ASCII bytes or too many.
    pub(super) fn of(alphabet: &Alphabet) -> Option<Self> {
        if alphabet.has_non_ascii() {
            return None;
        }
        let bytes: Vec<u8> = (0..0x80u8)
            .filter(|&b| alphabet.contains(b) && !b.is_ascii_digit())
            .collect();
        if bytes.len() > MAX_SEPARATORS {
            return None;
        }
        let mut bit = [0u8; 128];
        for (i, &byte) in bytes.iter().enumerate() {
            bit[usize::from(byte)] = 1 << i;
        }
        Some(Self { bytes, bit })
    }
}

/// What a window must hold for one candidate pattern to match inside it.
#[derive(Clone, Debug)]
pub(super) struct Gate {
    /// Indexed by the set of separators a window holds (see [`Separators`]); `None` where no
    /// match can be made of digits and that set.
    needs: Vec<Option<Needs>>,
}

/// The least digits, other bytes and longest digit run of a match, in the 4 bytes a gate
/// reads per window (saturated: a window of more than 255 digits passes any count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Needs {
    digits: u8,
    others: u8,
    run: u8,
}

impl Needs {
    fn of(stats: Stats) -> Self {
        let narrow = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
        Self {
            digits: narrow(stats.digits),
            others: narrow(stats.others),
            run: narrow(stats.run),
        }
    }

    fn met_by(self, window: &Summary) -> bool {
        window.digits >= usize::from(self.digits)
            && window.others >= usize::from(self.others)
            && window.run >= usize::from(self.run)
    }
}

/// The digits, other bytes, separators and longest digit run of a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Summary {
    /// Bit `i` set when separator `i` occurs.
    present: u8,
    digits: usize,
    others: usize,
    /// The longest run of consecutive ASCII digits.
    run: usize,
}

impl Summary {
    /// Summarizes a window's bytes. Windows are short: their digits become the bits of one
    /// word ([`crate::bytemask`]), so the longest run and the separators come from bit
    /// operations rather than a byte loop whose every step waits for the previous one.
    /// `digits`, when given, are those bits already.
    #[inline]
    pub(super) fn of(bytes: &[u8], digits: Option<u64>, separators: &Separators) -> Self {
        if bytes.len() > 64 {
            return Self::by_bytes(bytes, separators);
        }
        let digits = digits.unwrap_or_else(|| DIGITS.mask_prefix(bytes));
        let unused = u32::try_from(64 - bytes.len()).unwrap_or(64);
        let within = u64::MAX.checked_shr(unused).unwrap_or(0);
        let mut others = !digits & within;
        let mut summary = Self {
            present: 0,
            digits: digits.count_ones() as usize,
            others: others.count_ones() as usize,
            run: 0,
        };
        while others != 0 {
            let at = others.trailing_zeros() as usize;
            summary.present |= separators.bit[usize::from(bytes[at] & 0x7f)];
            others &= others - 1;
        }
        // Each step shortens every run by one: the steps until none is left are the longest.
        let mut runs = digits;
        while runs != 0 {
            runs &= runs >> 1;
            summary.run += 1;
        }
        summary
    }

    /// [`Self::of`] one byte at a time, for long windows. A non-ASCII byte (never in a window
    /// of an ASCII alphabet) may count as a separator: more separators only ever make a gate
    /// easier to pass.
    fn by_bytes(bytes: &[u8], separators: &Separators) -> Self {
        let (mut present, mut digits, mut run, mut longest) = (0, 0, 0, 0);
        for &byte in bytes {
            let digit = byte.is_ascii_digit();
            present |= separators.bit[usize::from(byte & 0x7f)];
            digits += usize::from(digit);
            run = (run + 1) * usize::from(digit);
            longest = longest.max(run);
        }
        Self {
            present,
            digits,
            others: bytes.len() - digits,
            run: longest,
        }
    }
}

impl Gate {
    /// The gate of the candidate `hir`, whose bytes are digits and `separators`.
    pub(super) fn of(hir: &Hir, separators: &Separators) -> Self {
        let needs = (0..1usize << separators.bytes.len())
            .map(|subset| {
                let mut allowed = [false; 128];
                allowed[usize::from(b'0')..=usize::from(b'9')].fill(true);
                for (i, &byte) in separators.bytes.iter().enumerate() {
                    allowed[usize::from(byte)] = subset & (1 << i) != 0;
                }
                stats(hir, &allowed).map(Needs::of)
            })
            .collect();
        Self { needs }
    }

    /// The gate any of `gates` (built on the same separators) passes: the smallest of their
    /// needs, one table lookup to turn away the many windows none of them admits.
    pub(super) fn weakest<'a>(gates: impl Iterator<Item = &'a Self>) -> Option<Self> {
        gates
            .map(|gate| gate.needs.clone())
            .reduce(|a, b| {
                a.into_iter()
                    .zip(b)
                    .map(|pair| match pair {
                        (Some(a), Some(b)) => Some(Needs {
                            digits: a.digits.min(b.digits),
                            others: a.others.min(b.others),
                            run: a.run.min(b.run),
                        }),
                        (a, b) => a.or(b),
                    })
                    .collect()
            })
            .map(|needs| Self { needs })
    }

    /// Whether a match could lie inside a window so summarized.
    pub(super) fn admits(&self, window: &Summary) -> bool {
        self.needs
            .get(usize::from(window.present))
            .copied()
            .flatten()
            .is_some_and(|needs| needs.met_by(window))
    }
}

/// Lower bounds over the matches of a pattern made only of allowed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stats {
    digits: usize,
    others: usize,
    /// Longest run of consecutive digits.
    run: usize,
    len: usize,
    /// Every such match is digits only (then its digits join its neighbours' runs).
    all_digits: bool,
}

const EMPTY: Stats = Stats {
    digits: 0,
    others: 0,
    run: 0,
    len: 0,
    all_digits: true,
};

/// [`Stats`] of `hir` restricted to `allowed` (ASCII) bytes; `None` when no match is.
fn stats(hir: &Hir, allowed: &[bool; 128]) -> Option<Stats> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(EMPTY),
        HirKind::Literal(literal) => literal_stats(&literal.0, allowed),
        HirKind::Class(class) => class_stats(class, allowed),
        HirKind::Capture(capture) => stats(&capture.sub, allowed),
        HirKind::Repetition(rep) => {
            let sub = stats(&rep.sub, allowed);
            let min = usize::try_from(rep.min).unwrap_or(usize::MAX);
            if min == 0 {
                return Some(Stats {
                    all_digits: sub.is_none_or(|s| s.all_digits),
                    ..EMPTY
                });
            }
            let sub = sub?;
            let len = sub.len.saturating_mul(min);
            Some(Stats {
                digits: sub.digits.saturating_mul(min),
                others: sub.others.saturating_mul(min),
                run: if sub.all_digits {
                    len.max(sub.run)
                } else {
                    sub.run
                },
                len,
                all_digits: sub.all_digits,
            })
        }
        HirKind::Concat(parts) => {
            let parts = parts
                .iter()
                .map(|part| stats(part, allowed))
                .collect::<Option<Vec<Stats>>>()?;
            Some(concat_stats(&parts))
        }
        HirKind::Alternation(branches) => branches
            .iter()
            .filter_map(|branch| stats(branch, allowed))
            .reduce(|a, b| Stats {
                digits: a.digits.min(b.digits),
                others: a.others.min(b.others),
                run: a.run.min(b.run),
                len: a.len.min(b.len),
                all_digits: a.all_digits && b.all_digits,
            }),
    }
}

fn literal_stats(bytes: &[u8], allowed: &[bool; 128]) -> Option<Stats> {
    if !bytes
        .iter()
        .all(|&b| allowed.get(usize::from(b)) == Some(&true))
    {
        return None;
    }
    let parts = bytes.iter().map(|&b| {
        let digit = b.is_ascii_digit();
        Stats {
            digits: usize::from(digit),
            others: usize::from(!digit),
            run: usize::from(digit),
            len: 1,
            all_digits: digit,
        }
    });
    Some(concat_stats(&parts.collect::<Vec<_>>()))
}

/// One byte: a digit, another byte, or (when the class allows both) either.
fn class_stats(class: &Class, allowed: &[bool; 128]) -> Option<Stats> {
    let ranges: Vec<(u32, u32)> = match class {
        Class::Bytes(class) => class
            .iter()
            .map(|r| (r.start().into(), r.end().into()))
            .collect(),
        Class::Unicode(class) => class
            .iter()
            .map(|r| (r.start().into(), r.end().into()))
            .collect(),
    };
    let members = ranges
        .into_iter()
        .flat_map(|(first, last)| first..=last.min(0x7f))
        .filter_map(|b| u8::try_from(b).ok())
        .filter(|&b| allowed[usize::from(b)]);
    let (mut digit, mut other) = (false, false);
    for byte in members {
        digit |= byte.is_ascii_digit();
        other |= !byte.is_ascii_digit();
    }
    match (digit, other) {
        (false, false) => None,
        (true, false) => Some(Stats {
            digits: 1,
            run: 1,
            len: 1,
            ..EMPTY
        }),
        (_, true) => Some(Stats {
            digits: 0,
            others: usize::from(!digit),
            run: 0,
            len: 1,
            all_digits: false,
        }),
    }
}

/// Sums of the parts; a run is at least the longest of theirs and at least the joined length
/// of adjacent digits-only parts.
fn concat_stats(parts: &[Stats]) -> Stats {
    let mut out = EMPTY;
    let mut joined = 0usize;
    for part in parts {
        out.digits = out.digits.saturating_add(part.digits);
        out.others = out.others.saturating_add(part.others);
        out.len = out.len.saturating_add(part.len);
        out.all_digits &= part.all_digits;
        joined = if part.all_digits {
            joined.saturating_add(part.len)
        } else {
            0
        };
        out.run = out.run.max(part.run).max(joined);
    }
    out
}

#[cfg(test)]
mod tests;
