//! Phone numbers: NANP (`(415) 555-2671`, `415-555-2671`, `+1 415 555 2671`) with valid
//! area and exchange codes, and E.164 (`+447911123456`). Bare ten-digit runs are not
//! phone numbers here: too many IDs and timestamps look like them.

pub(super) const CANDIDATE: &str = r"\+(?-u:\d){8,15}|(?:\+1[ .\-]?)?(?:\((?-u:\d){3}\) ?|(?-u:\d){3}[ .\-])(?-u:\d){3}[ .\-](?-u:\d){4}|\+1(?-u:\d){10}";

pub(super) fn validate(candidate: &str) -> bool {
    let digits = super::digits(candidate);
    if candidate.starts_with('+') && !candidate.starts_with("+1") {
        return (8..=15).contains(&digits.len()) && digits[0] != 0;
    }
    let national = match digits.len() {
        11 if digits[0] == 1 => &digits[1..],
        10 => &digits[..],
        _ => return false,
    };
    let area_ok = (2..=9).contains(&national[0]) && !(national[1] == 1 && national[2] == 1);
    let exchange_ok = (2..=9).contains(&national[3]) && !(national[4] == 1 && national[5] == 1);
    area_ok && exchange_ok && consistent_separators(candidate)
}

/// `415-555.2671` mixes separators the way dates and versions do; real numbers don't.
fn consistent_separators(candidate: &str) -> bool {
    let body = candidate.trim_start_matches("+1").trim_start();
    let mut seps = body.chars().filter(|c| matches!(c, '-' | '.'));
    let first = seps.next();
    seps.all(|c| Some(c) == first)
}
