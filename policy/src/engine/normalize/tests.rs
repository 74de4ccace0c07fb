//! Normalization and the offset map, against the straightforward per-byte definition.

use proptest::prelude::*;

use super::*;

/// Every character through NFKC, format characters dropped, and for every output byte the
/// original character's range: what normalization means, one byte at a time.
fn by_definition(original: &str) -> (String, Vec<(usize, usize)>) {
    let mut text = String::new();
    let mut origin = Vec::new();
    for (start, c) in original.char_indices() {
        if is_format(c) {
            continue;
        }
        for out in std::iter::once(c).nfkc() {
            text.push(out);
            origin.extend(std::iter::repeat_n(
                (start, start + c.len_utf8()),
                out.len_utf8(),
            ));
        }
    }
    (text, origin)
}

fn assert_matches_definition(original: &str) {
    let n = Normalized::new(original);
    let (text, origin) = by_definition(original);
    assert_eq!(n.text(), text, "{original:?}");
    if original.is_ascii() {
        return;
    }
    for start in 0..=text.len() {
        for end in start..=text.len() + 1 {
            let expected = if start < end && end <= origin.len() {
                (origin[start].0, origin[end - 1].1)
            } else {
                (start, start)
            };
            assert_eq!(
                n.original_span(start, end),
                expected,
                "{original:?} {start}..{end}"
            );
        }
    }
}

#[test]
fn ascii_is_borrowed() {
    let n = Normalized::new("plain text");
    assert!(matches!(n.text, Cow::Borrowed(_)));
    assert_eq!(n.original_span(1, 3), (1, 3));
}

#[test]
fn text_that_is_already_normal_is_borrowed() {
    let original = "     1→fn main() {} // café — naïve 日本語 ✓ 😀";
    let n = Normalized::new(original);
    assert!(matches!(n.text, Cow::Borrowed(_)));
    assert!(n.changes.is_empty());
    assert_matches_definition(original);
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
    assert_matches_definition(original);
}

#[test]
fn expansions_and_removals_map_back() {
    for original in [
        "\u{200b}",
        "a\u{200b}\u{200b}ｂ…\u{fb01}x\u{a0}y",
        "\u{feff}ｃard ㍱ é\u{301} e\u{301}",
        "…",
        "ab\u{ad}",
    ] {
        assert_matches_definition(original);
    }
}

proptest! {
    #[test]
    fn agrees_with_the_definition(
        original in "([a-z →é…\u{200b}\u{ad}\u{fb01}\u{301}\u{a0}]|[ｃｒ]|\\PC){0,24}"
    ) {
        assert_matches_definition(&original);
    }
}

proptest::proptest! {
    /// The word-at-a-time search finds the first non-ASCII byte a byte loop finds, from any
    /// start, across 8- and 64-byte edges.
    #[test]
    fn next_non_ascii_agrees_with_a_byte_loop(
        text in "([a-z0-9 ]{0,70}|→|é|\\PC){0,12}",
        from in 0usize..200,
    ) {
        let bytes = text.as_bytes();
        let naive = bytes.get(from..).and_then(|rest| {
            rest.iter().position(|&b| b >= 0x80).map(|i| from + i)
        });
        proptest::prop_assert_eq!(super::next_non_ascii(bytes, from), naive);
    }
}
