//! Normalization before matching, with a map back to the original text.
//!
//! Matching must not be fooled by presentation: "CREDIT\u{200b}CARD", "ｃｒｅｄｉｔ card" and
//! "credit\n\tcard" all mean "credit card". Case is handled by case-insensitive automata and
//! whitespace runs by patterns whose spaces match `\s*` (see `matcher`). Each character is
//! replaced by its NFKC form and format characters (zero-width, bidi controls, soft hyphen)
//! are removed. Nearly every character of a Claude Code request (ASCII, but also `→`, `—`,
//! accented letters) is its own NFKC form, so the text is matched in place, without a copy,
//! unless some character changes; then only the changed characters are recorded, and a
//! position in the copy maps back to the original character it came from, so Mask replaces
//! the original span.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization as _, is_nfkc_quick};

use crate::bytemask::Ranges;

/// Text prepared for matching.
#[derive(Debug)]
pub struct Normalized<'a> {
    original: &'a str,
    /// Whether `original` is pure ASCII (then offsets map to themselves, unchecked).
    ascii: bool,
    text: Cow<'a, str>,
    /// Characters replaced or removed, in order; the text between them is copied verbatim.
    changes: Vec<Change>,
}

/// One original character that normalization replaced (or removed: `len` 0).
#[derive(Clone, Copy, Debug)]
struct Change {
    /// Where its replacement starts in the normalized text, and its length in bytes.
    at: usize,
    len: usize,
    /// Its byte range in the original.
    from: usize,
    to: usize,
}

impl<'a> Normalized<'a> {
    /// Normalizes `original`; borrows it when nothing needs to change.
    pub fn new(original: &'a str) -> Self {
        let mut text = String::new();
        let mut changes = Vec::new();
        let mut copied = 0;
        let mut from = 0;
        let mut ascii = true;
        let mut unchanged = ['\0'; 4];
        let mut unchanged_next = 0;
        while let Some(start) = next_non_ascii(original.as_bytes(), from) {
            ascii = false;
            let Some(c) = original[start..].chars().next() else {
                break;
            };
            let end = start + c.len_utf8();
            from = end;
            // The same few characters recur (`→` on every line of a tool result).
            if unchanged.contains(&c) {
                continue;
            }
            let format = is_format(c);
            if !format && is_own_nfkc(c) {
                unchanged[unchanged_next % unchanged.len()] = c;
                unchanged_next += 1;
                continue;
            }
            if text.is_empty() {
                text.reserve(original.len());
            }
            text.push_str(&original[copied..start]);
            let at = text.len();
            if !format {
                text.extend(std::iter::once(c).nfkc());
            }
            changes.push(Change {
                at,
                len: text.len() - at,
                from: start,
                to: end,
            });
            copied = end;
        }
        if changes.is_empty() {
            return Self {
                original,
                ascii,
                text: Cow::Borrowed(original),
                changes,
            };
        }
        text.push_str(&original[copied..]);
        Self {
            original,
            ascii,
            text: Cow::Owned(text),
            changes,
        }
    }

    /// The text to match on.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The original byte range covering normalized bytes `start..end` (whole characters).
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        if self.ascii {
            return (start, end);
        }
        if start < end && end <= self.text.len() {
            (self.origin(start).0, self.origin(end - 1).1)
        } else {
            (start, start)
        }
    }

    /// The original character that normalized byte `at` came from.
    fn origin(&self, at: usize) -> (usize, usize) {
        let after = self.changes.partition_point(|c| c.at <= at);
        let (text_base, original_base) = match after.checked_sub(1).map(|i| self.changes[i]) {
            Some(change) if at < change.at + change.len => return (change.from, change.to),
            Some(change) => (change.at + change.len, change.to),
            None => (0, 0),
        };
        let start = self
            .original
            .floor_char_boundary(original_base + (at - text_base));
        let len = self.original[start..]
            .chars()
            .next()
            .map_or(0, char::len_utf8);
        (start, start + len)
    }
}

/// The bytes that are not ASCII.
const NON_ASCII: Ranges<1> = match Ranges::new(&[(0x80, 0xff)]) {
    Some(class) => class,
    None => unreachable!(),
};

/// The first byte at or after `from` that is not ASCII, found 64 bytes at a time
/// ([`Ranges::find`]). In Claude Code tool results a `→` comes every line, so the search
/// restarts often and must stay short.
fn next_non_ascii(bytes: &[u8], from: usize) -> Option<usize> {
    NON_ASCII.find(bytes, from)
}

/// Whether `c`, alone, is its own NFKC form.
fn is_own_nfkc(c: char) -> bool {
    is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes
        || std::iter::once(c).nfkc().eq(std::iter::once(c))
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
mod tests;
