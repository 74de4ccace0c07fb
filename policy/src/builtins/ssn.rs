//! US Social Security Numbers: `AAA-GG-SSSS` or `AAA GG SSSS` with a valid area, group and
//! serial; nine bare digits only right after an explicit "SSN" / "social security" mention.

pub(super) const CANDIDATE: &str =
    r"(?-u:\d){3}-(?-u:\d){2}-(?-u:\d){4}|(?-u:\d){3} (?-u:\d){2} (?-u:\d){4}|(?-u:\d){9}";

/// The separated forms alone: the candidates that validate with no mention before them.
pub(super) const SEPARATED: &str =
    r"(?-u:\d){3}-(?-u:\d){2}-(?-u:\d){4}|(?-u:\d){3} (?-u:\d){2} (?-u:\d){4}";

/// How far back (in bytes) an "SSN" mention makes nine bare digits count.
const CONTEXT_WINDOW: usize = 32;

pub(super) fn validate(candidate: &str, before: &str) -> bool {
    let digits = super::digits(candidate);
    if digits.len() != 9 || !valid_parts(&digits) {
        return false;
    }
    let separated = candidate.len() == 11;
    separated || mentioned(before)
}

/// The high bit of each byte of `word` that is `s` or `S`, and no other bit.
fn esses(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = ONES * 0x7f;
    const CASE: u64 = ONES * 0x20;
    const ESS: u64 = ONES * b's' as u64;
    // Zero exactly where a byte, lowercased, is `s`; no carry crosses a byte.
    let x = (word | CASE) ^ ESS;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

fn valid_parts(d: &[u8]) -> bool {
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    let group = u32::from(d[3]) * 10 + u32::from(d[4]);
    let serial = d[5..].iter().fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

pub(super) fn mentioned(before: &str) -> bool {
    let mut start = before.len().saturating_sub(CONTEXT_WINDOW);
    while !before.is_char_boundary(start) {
        start += 1;
    }
    let window = &before.as_bytes()[start..];
    // The byte after the `s` tells the phrases apart, and most `s` bytes start neither.
    let at_phrase = |at: usize| {
        let phrase: &[u8] = match window.get(at + 1).map(|b| b | 0x20) {
            Some(b's') => b"ssn",
            Some(b'o') => b"social security",
            _ => return false,
        };
        window
            .get(at..at + phrase.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(phrase))
    };
    // Compared in place, ignoring ASCII case, at each `s`: the engine asks this for every run
    // of digits that could be bare SSN digits, so it must not allocate, and it looks for the
    // `s` bytes 8 at a time.
    let (words, tail) = window.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let mut esses = esses(u64::from_le_bytes(*word));
        while esses != 0 {
            if at_phrase(8 * i + esses.trailing_zeros() as usize / 8) {
                return true;
            }
            esses &= esses - 1;
        }
    }
    let offset = 8 * words.len();
    (0..tail.len()).any(|i| tail[i] | 0x20 == b's' && at_phrase(offset + i))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn esses_are_every_s_of_either_case(
            bytes in proptest::array::uniform8(prop_oneof![any::<u8>(), Just(b's'), Just(b'S')])
        ) {
            let naive = (0..8).filter(|&i| bytes[i] | 0x20 == b's').fold(0, |bits, i| bits | 0x80 << (8 * i));
            prop_assert_eq!(esses(u64::from_le_bytes(bytes)), naive);
        }

        #[test]
        fn a_mention_counts_within_the_context_window(
            lead in "[a-zS ]{0,40}", mention in prop_oneof![Just("SSN"), Just("social Security"), Just("sn")], gap in 0usize..40,
        ) {
            let before = format!("{lead}{mention}{}", " ".repeat(gap));
            let naive = before
                .char_indices()
                .filter(|&(at, _)| at + CONTEXT_WINDOW >= before.len())
                .any(|(at, _)| ["ssn", "social security"].iter().any(|p| {
                    before.get(at..at + p.len()).is_some_and(|w| w.eq_ignore_ascii_case(p))
                }));
            prop_assert_eq!(mentioned(&before), naive);
        }
    }
}
