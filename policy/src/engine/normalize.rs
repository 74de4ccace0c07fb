//! Normalization before matching, with a map back to the original text.
//!
//! Matching must not be fooled by presentation: "CREDIT\u{200b}CARD", "ｃｒｅｄｉｔ card" and
//! "credit\n\tcard" all mean "credit card". Case is handled by case-insensitive automata and
//! whitespace runs by patterns whose spaces match `\s*` (see `matcher`), so pure ASCII text —
//! nearly all of a Claude Code request — is matched in place without a copy. Other text is
//! rewritten per character with NFKC and format characters (zero-width, bidi controls, soft
//! hyphen) removed, recording for every output byte the original character it came from, so
//! Mask replaces the original span.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization as _;

/// Text prepared for matching.
#[derive(Debug)]
pub struct Normalized<'a> {
    text: Cow<'a, str>,
    /// For each byte of `text`: the original byte range of the character it came from.
    origin: Option<Vec<(u32, u32)>>,
}

impl<'a> Normalized<'a> {
    /// Normalizes `original`; borrows it when nothing needs to change.
    pub fn new(original: &'a str) -> Self {
        if original.is_ascii() {
            return Self {
                text: Cow::Borrowed(original),
                origin: None,
            };
        }
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len());
        for (start, c) in original.char_indices() {
            if is_format(c) {
                continue;
            }
            let range = (offset(start), offset(start + c.len_utf8()));
            for out in std::iter::once(c).nfkc() {
                text.push(out);
                origin.extend(std::iter::repeat_n(range, out.len_utf8()));
            }
        }
        Self {
            text: Cow::Owned(text),
            origin: Some(origin),
        }
    }

    /// The text to match on.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The original byte range covering normalized bytes `start..end` (whole characters).
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        match &self.origin {
            None => (start, end),
            Some(origin) if start < end && end <= origin.len() => {
                (origin[start].0 as usize, origin[end - 1].1 as usize)
            }
            Some(_) => (start, start),
        }
    }
}

/// Byte offsets fit in u32: request bodies are capped far below 4 GiB.
fn offset(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Unicode general category Cf (format), the characters that change nothing visible.
pub fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_borrowed() {
        let n = Normalized::new("plain text");
        assert!(matches!(n.text, Cow::Borrowed(_)));
        assert_eq!(n.original_span(1, 3), (1, 3));
    }

    #[test]
    fn fullwidth_and_zero_width_map_back_to_the_original() {
        let original = "x ｃｒｅ\u{200b}dit";
        let n = Normalized::new(original);
        assert_eq!(n.text(), "x credit");
        let (start, end) = n.original_span(2, 8);
        assert_eq!(
            &original[start..end],
            "ｃｒｅ\u{200b}dit".trim_start_matches('x')
        );
    }
}
