//! Finding the windows of a text worth searching for a builtin candidate.
//!
//! A window is a maximal run of alphabet bytes ([`Alphabet`]) holding trigger bytes. Two
//! finders, both exact:
//! - [`around`] seeks each trigger byte (rare, like `@`) with `memchr`, or each digit with a
//!   test the compiler vectorizes, then extends left and right byte by byte;
//! - [`DigitFinder`] serves digit triggers. Digits are everywhere in logs, code and JSON, so it
//!   classifies 64 bytes at a time into bit masks (alphabet, digit; see [`crate::bytemask`]),
//!   and looks with bit operations only at runs at least as long as the digits a window
//!   needs.

use super::prefilter::Alphabet;
use crate::bytemask::{BLOCK, DIGITS, Ranges};

/// A maximal run of alphabet bytes holding at least one trigger byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Window {
    /// Start byte (inclusive).
    pub start: usize,
    /// End byte (exclusive).
    pub end: usize,
    /// How many trigger bytes it holds.
    pub triggers: usize,
}

/// The trigger bytes [`around`] seeks.
#[derive(Clone, Copy, Debug)]
pub(super) enum Seed {
    /// One byte.
    Byte(u8),
    /// Any ASCII digit.
    Digit,
}

impl Seed {
    fn matches(self, byte: u8) -> bool {
        match self {
            Self::Byte(seed) => byte == seed,
            Self::Digit => byte.is_ascii_digit(),
        }
    }

    /// The first trigger at or after `from`. A single byte is sought with `memchr`, whose
    /// vector search runs many times faster than a byte loop over text that lacks it.
    fn find(self, text: &[u8], from: usize) -> Option<usize> {
        match self {
            Self::Byte(seed) => memchr::memchr(seed, text.get(from..)?).map(|i| from + i),
            Self::Digit => find(text, from, &|b: u8| b.is_ascii_digit()),
        }
    }
}

/// The windows of `text` around each trigger byte, left to right. Trigger bytes must belong
/// to `alphabet`.
pub(super) fn around<'a>(
    text: &'a [u8],
    alphabet: &'a Alphabet,
    trigger: Seed,
) -> impl Iterator<Item = Window> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        let seed = trigger.find(text, from)?;
        let mut start = seed;
        while start > from && alphabet.contains(text[start - 1]) {
            start -= 1;
        }
        let mut end = seed;
        let mut triggers = 0;
        while let Some(&byte) = text.get(end).filter(|&&b| alphabet.contains(b)) {
            triggers += usize::from(trigger.matches(byte));
            end += 1;
        }
        from = end.max(seed + 1);
        Some(Window {
            start,
            end,
            triggers,
        })
    })
}

/// The first position at or after `from` whose byte satisfies `wanted`. Blocks without one
/// are skipped with a branch-free test the compiler vectorizes.
fn find(text: &[u8], from: usize, wanted: &impl Fn(u8) -> bool) -> Option<usize> {
    const BLOCK: usize = 32;
    let rest = text.get(from..)?;
    let mut offset = from;
    for block in rest.chunks(BLOCK) {
        if block.iter().fold(false, |seen, &b| seen | wanted(b)) {
            return block.iter().position(|&b| wanted(b)).map(|i| offset + i);
        }
        offset += block.len();
    }
    None
}

/// How many byte ranges (digits included) a [`DigitFinder`] tests: more would cost speed;
/// an alphabet needing more is covered a little generously (gaps between ranges merged).
const RANGES: usize = 5;

/// Windows of an ASCII alphabet that holds the digits, triggered by digits.
#[derive(Clone, Debug)]
pub(super) struct DigitFinder {
    /// Covers the alphabet.
    members: Ranges<RANGES>,
    /// The same bytes as a table: one byte tested in one step.
    covered: [bool; 256],
    /// The widest range of bytes outside the alphabet (letters, usually): a block holding
    /// one ends every run that enters it, whatever else it holds.
    breaks: Option<Ranges<1>>,
}

impl DigitFinder {
    /// A finder for `alphabet`, or `None` when it holds non-ASCII bytes.
    pub(super) fn new(alphabet: &Alphabet) -> Option<Self> {
        if alphabet.has_non_ascii() {
            return None;
        }
        let mut ranges =
            ranges_of((0..0x80u8).filter(|&b| alphabet.contains(b) || b.is_ascii_digit()));
        while ranges.len() > RANGES {
            let narrowest = (1..ranges.len())
                .min_by_key(|&i| ranges[i].0 - ranges[i - 1].1)
                .unwrap_or(1);
            let (_, last) = ranges.remove(narrowest);
            ranges[narrowest - 1].1 = last;
        }
        let members = Ranges::new(&ranges)?;
        let covered = std::array::from_fn(|b| u8::try_from(b).is_ok_and(|b| members.contains(b)));
        let breaks = widest_gap(&covered).and_then(|gap| Ranges::new(&[gap]));
        Some(Self {
            members,
            covered,
            breaks,
        })
    }

    /// Windows with at least `min_digits` digits (at least 1), left to right.
    #[cfg(test)]
    pub(super) fn windows(&self, text: &[u8], min_digits: usize) -> Vec<Window> {
        let mut out = Vec::new();
        self.for_each_window(text, min_digits, |window, _| out.push(window));
        out
    }

    /// Hands `found` each window with at least `min_digits` digits (at least 1), left to
    /// right, as soon as it ends: callers that keep few of them store no list of all. With
    /// each window of at most 64 bytes come its digits as bits (bit `i` for byte
    /// `start + i`), which the finder has at hand anyway.
    pub(super) fn for_each_window(
        &self,
        text: &[u8],
        min_digits: usize,
        found: impl FnMut(Window, Option<u64>),
    ) {
        let min_digits = min_digits.max(1);
        let mut scan = Scan {
            blocks: Blocks::new(text),
            long: u32::try_from(min_digits.min(BLOCK)).unwrap_or(1),
            min_digits,
            open: None,
            digits: [0; 2],
            base: 0,
            found,
        };
        // Each block's digits are classified once, a block ahead: no second pass, no buffer.
        let mut next_digits = scan.blocks.mask(0, &DIGITS);
        let mut alphabet_of_next = None;
        for k in 0..scan.blocks.len() {
            let block_digits = next_digits;
            next_digits = scan.blocks.mask(k + 1, &DIGITS);
            // A window holds a digit: none can start in a block without digits unless it runs
            // on into the next block (which then starts with an alphabet byte).
            let runs_on = text.get((k + 1) * BLOCK).is_some_and(|&b| self.covers(b));
            if scan.open.is_none() && block_digits == 0 && next_digits == 0 && !runs_on {
                alphabet_of_next = None;
                continue;
            }
            // Too few digits here and in the next block: a window starting here would have to
            // run through the whole next block, which cannot when that block breaks runs (or
            // is the text's last).
            let few =
                ((block_digits.count_ones() + next_digits.count_ones()) as usize) < min_digits;
            if scan.open.is_none() && few && self.ends_runs_after(&scan.blocks, k) {
                alphabet_of_next = None;
                continue;
            }
            let alphabet = alphabet_of_next
                .take()
                .unwrap_or_else(|| scan.blocks.mask(k, &self.members));
            let next_alphabet = scan.blocks.mask(k + 1, &self.members);
            alphabet_of_next = Some(next_alphabet);
            scan.digits = [scan.digits[1], block_digits];
            scan.base = k * BLOCK;
            scan.block(alphabet, next_alphabet);
        }
        if let Some((start, seen)) = scan.open {
            scan.push(start, text.len(), seen);
        }
    }

    /// Whether no run of the alphabet starting in block `k` reaches past block `k + 1`.
    fn ends_runs_after(&self, blocks: &Blocks<'_>, k: usize) -> bool {
        k + 2 >= blocks.len()
            || self
                .breaks
                .is_some_and(|breaks| blocks.mask(k + 1, &breaks) != 0)
    }

    /// Whether the finder counts `byte` as part of a window.
    fn covers(&self, byte: u8) -> bool {
        self.covered[usize::from(byte)]
    }
}

/// The longest range of bytes that `covered` leaves out, if any.
fn widest_gap(covered: &[bool; 256]) -> Option<(u8, u8)> {
    ranges_of((0..=u8::MAX).filter(|&b| !covered[usize::from(b)]))
        .into_iter()
        .max_by_key(|&(first, last)| last - first)
}

/// Increasing `bytes` as inclusive ranges of consecutive values.
fn ranges_of(bytes: impl Iterator<Item = u8>) -> Vec<(u8, u8)> {
    let mut ranges: Vec<(u8, u8)> = Vec::new();
    for byte in bytes {
        match ranges.last_mut() {
            Some((_, last)) if *last + 1 == byte => *last = byte,
            _ => ranges.push((byte, byte)),
        }
    }
    ranges
}

/// A text cut into blocks of 64 bytes, the last one padded.
struct Blocks<'a> {
    full: &'a [[u8; BLOCK]],
    rest: &'a [u8],
}

impl<'a> Blocks<'a> {
    fn new(text: &'a [u8]) -> Self {
        let (full, rest) = text.as_chunks::<BLOCK>();
        Self { full, rest }
    }

    fn len(&self) -> usize {
        self.full.len() + usize::from(!self.rest.is_empty())
    }

    /// The bit mask of block `k` by `class`; bytes past the end of the text are never set.
    #[expect(
        clippy::inline_always,
        reason = "a per-block step of the finder's loop: left out of line it cost 5% (callgrind)"
    )]
    #[inline(always)]
    fn mask<const N: usize>(&self, k: usize, class: &Ranges<N>) -> u64 {
        match self.full.get(k) {
            Some(block) => class.mask(block),
            None if k == self.full.len() => class.mask_prefix(self.rest),
            None => 0,
        }
    }
}

/// State of [`DigitFinder::for_each_window`] between blocks.
struct Scan<'a, F> {
    blocks: Blocks<'a>,
    /// Every window is at least this long (bytes).
    long: u32,
    min_digits: usize,
    /// A run that reached the end of the previous block: its start and digits so far.
    open: Option<(usize, u32)>,
    /// Digit masks of the block before the current one, and of the current one.
    digits: [u64; 2],
    /// Where the current block starts.
    base: usize,
    found: F,
}

impl<F: FnMut(Window, Option<u64>)> Scan<'_, F> {
    fn push(&mut self, start: usize, end: usize, digits: u32) {
        let triggers = digits as usize;
        if triggers >= self.min_digits {
            let window = Window {
                start,
                end,
                triggers,
            };
            let bits = self.digit_bits(window);
            (self.found)(window, bits);
        }
    }

    /// The digits of `window` as bits, when it is at most 64 bytes long and starts in the
    /// current block or the one before.
    fn digit_bits(&self, window: Window) -> Option<u64> {
        let len = window.end - window.start;
        // From the start of the block before the current one (which may precede the text).
        let offset = (window.start + BLOCK).checked_sub(self.base)?;
        if len > BLOCK || offset >= 2 * BLOCK {
            return None;
        }
        let both = u128::from(self.digits[1]) << BLOCK | u128::from(self.digits[0]);
        let bits = u64::try_from((both >> offset) & u128::from(u64::MAX)).unwrap_or(0);
        Some(
            bits & u64::MAX
                .checked_shr(u32::try_from(BLOCK - len).ok()?)
                .unwrap_or(0),
        )
    }

    /// Finds the windows ending in the current block, or leaves one open past it.
    fn block(&mut self, alphabet: u64, next_alphabet: u64) {
        let (base, digits) = (self.base, self.digits[1]);
        let mut from = 0;
        if let Some((start, seen)) = self.open.take() {
            let Some(end) = first_zero(alphabet, 0) else {
                self.open = Some((start, seen + digits.count_ones()));
                return;
            };
            self.push(start, base + end as usize, seen + between(digits, 0, end));
            from = end;
        }
        // Only runs starting a long enough stretch matter; the next block says whether a
        // stretch goes on past this one.
        let mut starts = long_stretches(alphabet, next_alphabet, self.long) & (u64::MAX << from);
        while starts != 0 {
            let at = starts.trailing_zeros();
            let start = last_zero_below(alphabet, at).map_or(0, |zero| zero + 1);
            let Some(end) = first_zero(alphabet, at) else {
                self.open = Some((base + start as usize, between(digits, start, 64)));
                return;
            };
            let digits = between(digits, start, end);
            self.push(base + start as usize, base + end as usize, digits);
            starts &= u64::MAX << end;
        }
    }
}

/// Bits `at` where bits `at..at + len` of `mask` followed by `next` are all set (`len` ≤ 64).
fn long_stretches(mask: u64, next: u64, len: u32) -> u64 {
    // A 128-bit word as two halves: every shift is below 64 (at most `len / 2`), so no
    // shift needs the branch or select a `u128` shift by a variable amount compiles to.
    let (mut low, mut high) = (mask, next);
    let mut covered = 1;
    while covered < len {
        let shift = covered.min(len - covered);
        low &= (low >> shift) | (high << (64 - shift));
        high &= high >> shift;
        covered += shift;
    }
    low
}

fn first_zero(mask: u64, from: u32) -> Option<u32> {
    let zeros = !mask & (u64::MAX << from);
    (zeros != 0).then(|| zeros.trailing_zeros())
}

fn last_zero_below(mask: u64, below: u32) -> Option<u32> {
    let zeros = !mask & !(u64::MAX << below);
    (zeros != 0).then(|| zeros.ilog2())
}

/// Set bits of `mask` in `start..end` (`start` < 64, `end` ≤ 64).
fn between(mask: u64, start: u32, end: u32) -> u32 {
    let below_end = if end >= 64 {
        u64::MAX
    } else {
        !(u64::MAX << end)
    };
    (mask & below_end & (u64::MAX << start)).count_ones()
}

#[cfg(test)]
mod tests;
