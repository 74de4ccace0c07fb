//! Gates against the candidates they are read from.

use proptest::prelude::*;
use regex_automata::Input;
use regex_automata::meta::Regex;

use super::*;
use crate::bundle::Builtin;

fn candidate_pattern(builtin: Builtin) -> &'static str {
    crate::builtins::candidate_pattern(builtin).expect("a pattern builtin")
}

fn context_free_candidate(builtin: Builtin) -> &'static str {
    crate::builtins::context_free_candidate(builtin).expect("a pattern builtin")
}
use crate::engine::matcher::{self, builtin_hir};
use crate::engine::prefilter::Alphabet;

const DIGIT_BUILTINS: [Builtin; 4] = [
    Builtin::CreditCard,
    Builtin::Ssn,
    Builtin::PhoneNumber,
    Builtin::CaSin,
];

/// The separators of every digit builtin, as a scanner with all of them has.
fn separators() -> Separators {
    let mut alphabet = Alphabet::empty();
    for builtin in DIGIT_BUILTINS {
        alphabet.extend(&Alphabet::of(&hir(candidate_pattern(builtin))));
    }
    Separators::of(&alphabet).expect("few ASCII separators")
}

fn hir(pattern: &str) -> Hir {
    builtin_hir(pattern, "t").expect("parses")
}

fn admits(pattern: &str, window: &str) -> bool {
    let separators = separators();
    Gate::of(&hir(pattern), &separators).admits(&Summary::of(window.as_bytes(), None, &separators))
}

#[test]
fn summaries_count_digits_others_separators_and_the_longest_run() {
    let separators = separators();
    let summary = Summary::of("12-345 6→".as_bytes(), None, &separators);
    assert_eq!(
        (summary.digits, summary.others, summary.run),
        (6, 2 + "→".len(), 3)
    );
    let bit = |byte: u8| separators.bit[usize::from(byte)];
    assert_eq!(summary.present, bit(b'-') | bit(b' '));
    assert_eq!(separators.bytes, b" ()+-.");
}

/// Without an "SSN" mention before them: nine bare digits could be an SSN only with one.
#[test]
fn log_numbers_pass_no_digit_builtin() {
    for window in [
        "2024-05-01",
        "192.168.100.200",
        "1714567890 ",
        " 200 ",
        "1.2.3 ",
    ] {
        for builtin in DIGIT_BUILTINS {
            assert!(
                !admits(context_free_candidate(builtin), window),
                "{builtin:?} admits {window:?}"
            );
        }
    }
}

#[test]
fn real_values_pass_their_builtin() {
    for (builtin, value) in [
        (Builtin::CreditCard, "4111 1111 1111 1111"),
        (Builtin::CreditCard, "378282246310005"),
        (Builtin::Ssn, "123-45-6789"),
        (Builtin::Ssn, " 123456789"),
        (Builtin::PhoneNumber, "(415) 555-2671"),
        (Builtin::PhoneNumber, "+447911123456"),
        (Builtin::PhoneNumber, "415.555.2671"),
        (Builtin::CaSin, "046 454 286"),
    ] {
        assert!(admits(candidate_pattern(builtin), value), "{value:?}");
    }
}

#[test]
fn wide_or_non_ascii_alphabets_have_no_separators() {
    assert!(Separators::of(&Alphabet::of(&hir("[0-9a-z]+"))).is_none());
    assert!(Separators::of(&Alphabet::of(&hir("é[0-9]"))).is_none());
}

/// Every match the candidate finds from any start position.
fn matches(re: &Regex, text: &str) -> Vec<(usize, usize)> {
    (0..=text.len())
        .filter(|&at| text.is_char_boundary(at))
        .filter_map(|at| re.find(Input::new(text).range(at..)))
        .map(|m| (m.start(), m.end()))
        .collect()
}

proptest! {
    /// The weakest gate passes every window some gate passes.
    #[test]
    fn the_weakest_gate_passes_what_any_passes(text in "([0-9]{1,12}|[ .()+\\-]{1,3}|[a-z]){0,12}") {
        let separators = separators();
        let gates: Vec<Gate> = DIGIT_BUILTINS
            .map(|b| Gate::of(&hir(candidate_pattern(b)), &separators))
            .to_vec();
        let weakest = Gate::weakest(gates.iter()).expect("some gates");
        let summary = Summary::of(text.as_bytes(), None, &separators);
        if gates.iter().any(|gate| gate.admits(&summary)) {
            prop_assert!(weakest.admits(&summary));
        }
    }

    /// The word-at-a-time summary agrees with the byte loop, on any bytes (digits, separators,
    /// Unicode digits such as `٣` and `３`, other multibyte text) and across the 8-byte
    /// words and the 64-byte limit.
    #[test]
    fn summaries_by_words_agree_with_bytes(
        text in "([0-9]{1,12}|[ .()+\\-]{1,3}|[a-z/:]{1,2}|[٠-٩０-９]|\\PC){0,40}",
        cut in 0usize..80,
    ) {
        let separators = separators();
        let bytes = &text.as_bytes()[..cut.min(text.len())];
        prop_assert_eq!(Summary::of(bytes, None, &separators), Summary::by_bytes(bytes, &separators));
    }

    /// The gate is a necessary condition: the bytes of any match pass it (and so does any
    /// window holding them, which has at least as much of everything).
    #[test]
    fn every_match_passes_its_gate(
        text in "([0-9]{1,5}|[ .()+\\-]{1,2}|[a-z:=]{1,3}|→){0,30}",
    ) {
        let separators = separators();
        for builtin in DIGIT_BUILTINS {
            let hir = hir(candidate_pattern(builtin));
            let re = matcher::build(std::slice::from_ref(&hir), "t").expect("builds");
            let gate = Gate::of(&hir, &separators);
            for (start, end) in matches(&re, &text) {
                let summary = Summary::of(&text.as_bytes()[start..end], None, &separators);
                prop_assert!(gate.admits(&summary), "{:?} on {:?}", builtin, &text[start..end]);
            }
        }
    }
}
