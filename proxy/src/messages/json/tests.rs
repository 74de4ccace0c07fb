//! The reader against serde_json's verdicts.

use proptest::prelude::*;

use super::specials::{Specials, find_special};
use super::*;

fn valid(text: &str) -> bool {
    let mut reader = Reader::new(text);
    reader.skip().and_then(|()| reader.end()).is_ok()
}

#[test]
fn accepts_and_rejects_what_serde_json_does() {
    let cases = [
        r#"{"a":[1,-0.5e+3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{}}"#,
        " [ ] ",
        "0",
        r#""é \ud83d\ude00""#,
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "{\"a\" 1}",
        "{1:2}",
        "01",
        "1.",
        "1e",
        "-",
        "tru",
        "\"a\u{1}\"",
        "\"\\x\"",
        "\"\\u12g4\"",
        "\"abc",
        "{} x",
        "",
        "[",
        "{\"a\":",
        "nul",
    ];
    for case in cases {
        let expected = serde_json::from_str::<serde::de::IgnoredAny>(case).is_ok();
        assert_eq!(valid(case), expected, "{case:?}");
    }
}

#[test]
fn every_truncation_and_byte_swap_is_judged_as_serde_json_judges_it() {
    let body = r#"{"a": [1, -2.5E-3, "x\"\u00e9y", {"b": null}], "c": true, "d": {}}"#;
    let agree = |text: &str| {
        let expected = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
        assert_eq!(valid(text), expected, "{text:?}");
    };
    for end in 0..=body.len() {
        agree(&body[..end]);
    }
    for at in 0..body.len() {
        for swap in [
            "", " ", ",", ":", "\"", "\\", "]", "}", "0", "e", "\n", "\u{1}",
        ] {
            agree(&format!("{}{swap}{}", &body[..at], &body[at + 1..]));
        }
    }
}

#[test]
fn strings_report_their_spans_and_escapes() {
    let text = r#"{"k":["plain", "with \"quote\"", {"n": "deep"}], "z": 1}"#;
    let mut reader = Reader::new(text);
    let mut found = Vec::new();
    reader.value_strings(|s| found.push(s)).expect("valid");
    let literals: Vec<(&str, bool)> = found
        .iter()
        .map(|s| (&text[s.start..s.end], s.escaped))
        .collect();
    assert_eq!(
        literals,
        [
            ("\"plain\"", false),
            (r#""with \"quote\"""#, true),
            ("\"deep\"", false)
        ]
    );
}

#[test]
fn long_runs_find_the_first_special_byte() {
    for at in [0, 1, 15, 16, 17, 40, 63, 64, 65, 99, 127, 128, 149] {
        let mut bytes = vec![b'a'; 150];
        bytes[at] = b'\\';
        assert_eq!(Specials::default().find(&bytes, 0), at);
        assert_eq!(find_special(&bytes, 0), at);
    }
    assert_eq!(Specials::default().find(&[b'a'; 37], 0), 37);
    assert_eq!(Specials::default().find(&[b'a'; 37], 37), 37);
}

/// Bodies of plain bytes with specials and their neighbours (`!`, `#`, `[`, `]`, 0x20,
/// 0x7f, non-ASCII) here and there, where an off-by-one in a class or a block would show.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => Just(b'a'),
        1 => proptest::sample::select(b"\"!#[]\\ \x1f\x00\n\x7f\x80\xff".to_vec()),
        1 => any::<u8>(),
    ];
    proptest::collection::vec(byte, 0..300)
}

proptest! {
    /// One `Specials` answers a sequence of searches as the reader makes them (mostly
    /// forward, restarting inside the block it has classified) and in any other order.
    #[test]
    fn the_block_search_finds_what_a_byte_loop_finds(
        bytes in bodies(),
        starts in proptest::collection::vec(0usize..310, 1..20),
    ) {
        let mut specials = Specials::default();
        let mut forward = Specials::default();
        let mut from = 0;
        for start in starts {
            prop_assert_eq!(specials.find(&bytes, start), find_special(&bytes, start));
            // The reader's way: from just past the last special byte found.
            let found = forward.find(&bytes, from);
            prop_assert_eq!(found, find_special(&bytes, from));
            from = found + 1;
        }
    }
}

#[test]
fn positions_count_lines_and_columns() {
    assert_eq!(line_column("ab\ncd", 4), (2, 1));
    assert_eq!(line_column("abc", 3), (1, 3));
}

#[test]
fn text_decodes_in_the_same_pass_as_serde_json_would() {
    for literal in [
        r#""plain é""#,
        r#""a\"b\\c\/d\be\ff\ng\rh\ti""#,
        r#""\u00e9\u4e2D \ud83d\ude00!\n""#,
        r#""\\u0041""#,
        r#""""#,
    ] {
        let mut reader = Reader::new(literal);
        let (span, text) = reader.text().expect("valid");
        let expected: String = serde_json::from_str(literal).expect("valid");
        assert_eq!(text, expected, "{literal}");
        assert_eq!(
            span,
            Reader::new(literal).string().expect("valid"),
            "{literal}"
        );
        assert_eq!(matches!(text, Cow::Borrowed(_)), !literal.contains('\\'));
    }
    // Lone surrogates are refused, in decoded and skipped strings alike.
    for lone in [
        r#""x\ud800\u0041""#,
        r#""\udc00""#,
        r#""\ud800""#,
        r#""\ud800\ud800""#,
    ] {
        assert!(Reader::new(lone).text().is_err(), "{lone}");
        assert!(Reader::new(lone).string().is_err(), "{lone}");
    }
    // The second half of a pair is validated too.
    assert!(Reader::new(r#""\ud83d\u12""#).text().is_err());
}
