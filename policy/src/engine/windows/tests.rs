//! Both finders against a byte-by-byte definition of windows.

use proptest::prelude::*;

use super::*;

fn alphabet(bytes: &[u8]) -> Alphabet {
    let mut alphabet = Alphabet::empty();
    for &byte in bytes {
        alphabet.add_range(byte, byte);
    }
    alphabet
}

/// Maximal runs of `member` bytes with at least `min` digits, one byte at a time.
fn by_definition(text: &[u8], member: impl Fn(u8) -> bool, min: usize) -> Vec<Window> {
    of_triggers(text, member, |b| b.is_ascii_digit(), min)
}

/// Maximal runs of `member` bytes with at least `min` (at least 1) `trigger` bytes.
fn of_triggers(
    text: &[u8],
    member: impl Fn(u8) -> bool,
    trigger: impl Fn(u8) -> bool,
    min: usize,
) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in 0..=text.len() {
        if text.get(end).is_some_and(|&b| member(b)) {
            continue;
        }
        let triggers = text[start..end].iter().filter(|&&b| trigger(b)).count();
        if triggers >= min.max(1) {
            out.push(Window {
                start,
                end,
                triggers,
            });
        }
        start = end + 1;
    }
    out
}

#[test]
fn around_finds_maximal_runs_with_a_trigger() {
    let alphabet = alphabet(b"0123456789 -");
    let text = b"id 12 34x 5--6 end 7";
    let found: Vec<_> = around(text, &alphabet, Seed::Digit).collect();
    let spans: Vec<&[u8]> = found.iter().map(|w| &text[w.start..w.end]).collect();
    assert_eq!(spans, [&b" 12 34"[..], b" 5--6 ", b" 7"]);
    assert_eq!(found[0].triggers, 4);
}

#[test]
fn digit_finder_covers_wide_alphabets_generously() {
    let finder = DigitFinder::new(&alphabet(b"0123456789 !#%')+-/:<")).expect("ascii");
    for byte in b"0123456789 !#%')+-/:<" {
        assert!(finder.covers(*byte), "{}", char::from(*byte));
    }
    assert!(!finder.covers(b'a') && !finder.covers(b'\n'));
    assert!(DigitFinder::new(&alphabet(b"0123456789\xe2")).is_none());
}

#[test]
fn digit_finder_handles_block_edges() {
    let finder = DigitFinder::new(&alphabet(b"0123456789 -")).expect("ascii");
    let mut text = "x".repeat(60);
    text.push_str("1234-5678 9012 3456");
    text.push_str(&" ".repeat(200));
    text.push_str("9 8 7 6 5 4 3 2 1 0 1 2 3");
    for min in [1, 8, 13, 16, 17, 64, 70] {
        assert_eq!(
            finder.windows(text.as_bytes(), min),
            by_definition(text.as_bytes(), |b| finder.covers(b), min),
            "min {min}"
        );
    }
}

proptest! {
    #[test]
    fn digit_finder_agrees_with_the_definition(
        text in "([0-9]{1,12}|[ .()+\\-]{1,3}|[a-z:=]{1,4}| {1,70}|[0-9 ]{60,140}){0,40}",
        min in 1usize..80,
    ) {
        let finder = DigitFinder::new(&alphabet(b"0123456789 .()+-")).expect("ascii");
        prop_assert_eq!(
            finder.windows(text.as_bytes(), min),
            by_definition(text.as_bytes(), |b| finder.covers(b), min)
        );
    }

    #[test]
    fn digit_finder_gives_the_digits_of_every_short_window(
        text in "([0-9]{1,12}|[ .()+\\-]{1,3}|[a-z:=]{1,4}| {1,70}|[0-9 ]{60,140}){0,40}",
        min in 1usize..80,
    ) {
        let finder = DigitFinder::new(&alphabet(b"0123456789 .()+-")).expect("ascii");
        let bytes = text.as_bytes();
        let mut checked = Ok(());
        finder.for_each_window(bytes, min, |window, digits| {
            let expected = (window.end - window.start <= 64).then(|| {
                (window.start..window.end)
                    .filter(|&i| bytes[i].is_ascii_digit())
                    .fold(0u64, |bits, i| bits | 1 << (i - window.start))
            });
            if checked.is_ok() && digits != expected {
                checked = Err(format!("{window:?}: {digits:?} != {expected:?}"));
            }
        });
        prop_assert_eq!(checked, Ok(()));
    }

    #[test]
    fn around_a_byte_agrees_with_the_definition(text in "([a-z@.]{1,6}|[ \\-@]{1,3}|é){0,30}") {
        let alphabet = alphabet(b"abcdefghijklmnopqrstuvwxyz@.");
        let found: Vec<Window> = around(text.as_bytes(), &alphabet, Seed::Byte(b'@')).collect();
        let expected = of_triggers(text.as_bytes(), |b| alphabet.contains(b), |b| b == b'@', 1);
        prop_assert_eq!(found, expected);
    }

    #[test]
    fn around_agrees_with_the_definition(text in "([0-9]{1,12}|[ \\-]{1,3}|[a-z]{1,4}){0,30}") {
        let alphabet = alphabet(b"0123456789 -");
        let found: Vec<Window> = around(text.as_bytes(), &alphabet, Seed::Digit).collect();
        prop_assert_eq!(found, by_definition(text.as_bytes(), |b| alphabet.contains(b), 1));
    }
}
