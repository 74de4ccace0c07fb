//! Canadian Social Insurance Numbers: `046 454 286` or `046-454-286`, Luhn-valid, first
//! digit not 8 (never assigned to people). Bare nine digits are not matched: they are everywhere.

pub(super) const CANDIDATE: &str =
    r"(?-u:\d){3}-(?-u:\d){3}-(?-u:\d){3}|(?-u:\d){3} (?-u:\d){3} (?-u:\d){3}";

pub(super) fn validate(candidate: &str) -> bool {
    let digits = super::digits(candidate);
    digits.len() == 9 && digits[0] != 8 && super::luhn(&digits)
}
