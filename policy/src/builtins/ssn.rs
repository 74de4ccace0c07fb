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
    // Compared in place, ignoring ASCII case: the engine asks this for every run of digits
    // that could be bare SSN digits, so it must not allocate.
    let window = &before.as_bytes()[start..];
    (0..window.len())
        .filter(|&at| window[at] | 0x20 == b's')
        .any(|at| {
            [&b"ssn"[..], b"social security"].iter().any(|phrase| {
                window
                    .get(at..at + phrase.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(phrase))
            })
        })
}
