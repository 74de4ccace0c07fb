//! The text of a JSON string literal the reader has already validated.

use std::borrow::Cow;

use super::span::Str;

/// The text of `literal` in `body`: borrowed when it has no escape, decoded otherwise.
///
/// A lone UTF-16 surrogate (`"\ud800"`) decodes to U+FFFD instead of failing: a text the
/// guards cannot decode exactly must still be scanned, not skipped.
pub fn text(body: &str, literal: Str) -> Cow<'_, str> {
    let inner = body.get(literal.start + 1..literal.end - 1).unwrap_or("");
    if literal.escaped {
        Cow::Owned(decode(inner))
    } else {
        Cow::Borrowed(inner)
    }
}

fn decode(mut rest: &str) -> String {
    let mut out = String::with_capacity(rest.len());
    while let Some(at) = memchr::memchr(b'\\', rest.as_bytes()) {
        out.push_str(&rest[..at]);
        let used = escape(&rest[at + 1..], &mut out);
        rest = rest.get(at + 1 + used..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Decodes the escape at the start of `rest` (just after its backslash) into `out`; returns
/// the bytes used: 1, 5 for `\uXXXX`, or 11 for a surrogate pair `\uXXXX\uXXXX`.
pub fn escape(rest: &str, out: &mut String) -> usize {
    let simple = match rest.as_bytes().first() {
        Some(b'n') => '\n',
        Some(b't') => '\t',
        Some(b'r') => '\r',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'u') => {
            let (c, used) = unicode(&rest[1..]);
            out.push(c);
            return 1 + used;
        }
        // `"`, `\` and `/` stand for themselves; nothing else follows a validated backslash.
        Some(&other) if other.is_ascii() => char::from(other),
        _ => return 0,
    };
    out.push(simple);
    1
}

/// The character of `XXXX` (after `\u`), joined with a following `\uXXXX` low surrogate
/// when it is a high one; the number of bytes used.
fn unicode(rest: &str) -> (char, usize) {
    let Some(high) = hex4(rest) else {
        return (char::REPLACEMENT_CHARACTER, 0);
    };
    if let Some(c) = char::from_u32(high) {
        return (c, 4);
    }
    let low = rest
        .get(4..6)
        .filter(|s| *s == "\\u")
        .and_then(|_| hex4(&rest[6..]))
        .filter(|low| (0xDC00..0xE000).contains(low));
    match low {
        Some(low) if (0xD800..0xDC00).contains(&high) => {
            let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            (
                char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
                10,
            )
        }
        _ => (char::REPLACEMENT_CHARACTER, 4),
    }
}

fn hex4(text: &str) -> Option<u32> {
    text.get(..4)
        .and_then(|digits| u32::from_str_radix(digits, 16).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(literal: &str) -> String {
        let escaped = literal.contains('\\');
        text(
            literal,
            Str {
                start: 0,
                end: literal.len(),
                escaped,
            },
        )
        .into_owned()
    }

    #[test]
    fn decodes_like_serde_json() {
        for literal in [
            r#""plain é""#,
            r#""a\"b\\c\/d\be\ff\ng\rh\ti""#,
            r#""\u00e9\u4e2D \ud83d\ude00!""#,
            r#""\\u0041""#,
            r#""""#,
        ] {
            let expected: String = serde_json::from_str(literal).expect("valid");
            assert_eq!(decoded(literal), expected, "{literal}");
        }
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(decoded(r#""a\ud800b""#), "a\u{fffd}b");
        assert_eq!(decoded(r#""\udc00\ud800\u0041""#), "\u{fffd}\u{fffd}A");
        assert_eq!(decoded(r#""\ud800\ud800""#), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn unescaped_text_is_borrowed() {
        let body = r#"{"t":"hello"}"#;
        let literal = Str {
            start: 5,
            end: 12,
            escaped: false,
        };
        assert!(matches!(text(body, literal), Cow::Borrowed("hello")));
    }
}
