//! Tables of true positives and look-alikes per builtin, run through candidate + validator
//! exactly as the engine does.

use regex_automata::meta::Regex;

use super::*;

fn finds(builtin: Builtin, text: &str) -> Vec<String> {
    let re = Regex::new(candidate_pattern(builtin).expect("a pattern builtin"))
        .expect("candidate compiles");
    re.find_iter(text)
        .filter(|m| validate(builtin, text, m.start(), m.end()))
        .map(|m| text[m.range()].to_owned())
        .collect()
}

fn assert_table(builtin: Builtin, positives: &[&str], negatives: &[&str]) {
    for text in positives {
        assert_eq!(
            finds(builtin, &format!("value: {text} here")).len(),
            1,
            "{builtin:?} should match {text:?}"
        );
    }
    for text in negatives {
        assert!(
            finds(builtin, text).is_empty(),
            "{builtin:?} must not match {text:?}: {:?}",
            finds(builtin, text)
        );
    }
}

const LOOK_ALIKES: &[&str] = &[
    "order #100023456789 shipped",
    "2024-05-01T12:00:00Z",
    "epoch ms 1714567890123",
    "id 550e8400-e29b-41d4-a716-446655440000",
    "version 1.2.3.4 and v10.20.30",
    "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "ip 192.168.100.200",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "random 1234567890123456 digits",
];

#[test]
fn credit_cards() {
    assert_table(
        Builtin::CreditCard,
        &[
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "2223003122003222",
        ],
        &[
            LOOK_ALIKES,
            &[
                "4111 1111 1111 1112",
                "1111111111111111",
                "4111111111111111111111",
            ],
        ]
        .concat(),
    );
}

#[test]
fn emails() {
    assert_table(
        Builtin::Email,
        &["jane.doe@example.com", "ops+alerts@mail.corp.example.org"],
        &[
            LOOK_ALIKES,
            &["user@localhost", "git@github", "@decorator.attr", "a@b.c"],
        ]
        .concat(),
    );
}

#[test]
fn ssns() {
    assert_table(
        Builtin::Ssn,
        &["123-45-6789", "123 45 6789"],
        &[
            LOOK_ALIKES,
            &[
                "000-12-3456",
                "666-12-3456",
                "900-12-3456",
                "123-00-4567",
                "123-45-0000",
                "order 123456789",
            ],
        ]
        .concat(),
    );
    assert_eq!(finds(Builtin::Ssn, "my SSN is 123456789"), ["123456789"]);
}

#[test]
fn phone_numbers() {
    assert_table(
        Builtin::PhoneNumber,
        &[
            "(415) 555-2671",
            "415-555-2671",
            "+1 415 555 2671",
            "+447911123456",
            "415.555.2671",
        ],
        &[
            LOOK_ALIKES,
            &["4155552671", "115-555-2671", "415-555.2671", "2024-05-0112"],
        ]
        .concat(),
    );
}

#[test]
fn canadian_sins() {
    assert_table(
        Builtin::CaSin,
        &["046 454 286", "130-692-544"],
        &[LOOK_ALIKES, &["046 454 287", "846 454 286", "046454286"]].concat(),
    );
}

#[test]
fn luhn_checksum() {
    assert!(luhn(&digits("79927398713")));
    assert!(!luhn(&digits("79927398710")));
}

proptest::proptest! {
    /// The byte-level fast path of `starts_apart` agrees with its definition on characters.
    #[test]
    fn starts_apart_on_bytes_agrees_with_chars(
        text in "([0-9a-zé_.:/ \\-]|\\PC){0,12}",
        start in 0usize..40,
    ) {
        proptest::prop_assert_eq!(
            starts_apart(&text, start),
            starts_apart_by_chars(&text, start),
            "{:?} at {}", text, start
        );
    }
}

proptest::proptest! {
    /// What the engine relies on to skip bare digits: a validated candidate outside the
    /// context-free pattern has its context, and the context, once there, holds at the start
    /// of the run of digits and separators the candidate sits in.
    #[test]
    fn context_is_needed_outside_the_context_free_candidate_and_holds_earlier(
        before in "([a-z ]|SSN|Ssn|social security|→){0,12}",
        filler in "[0-9 .()+\\-]{0,40}",
        candidate in "[0-9]{9}|[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}",
    ) {
        let text = format!("{before}{filler}{candidate}");
        let start = text.len() - candidate.len();
        let free = Regex::new(&format!("^(?:{})$", context_free_candidate(Builtin::Ssn).expect("a pattern builtin")))
            .expect("compiles");
        if validate(Builtin::Ssn, &text, start, text.len()) && !free.is_match(&candidate) {
            proptest::prop_assert!(context_before(Builtin::Ssn, &text[..start]));
        }
        if context_before(Builtin::Ssn, &text[..start]) {
            proptest::prop_assert!(context_before(Builtin::Ssn, &before));
        }
    }
}

#[test]
fn the_ssn_candidate_is_its_context_free_part_or_nine_bare_digits() {
    assert_eq!(
        candidate_pattern(Builtin::Ssn).expect("a pattern builtin"),
        format!(
            "{}|(?-u:\\d){{9}}",
            context_free_candidate(Builtin::Ssn).expect("a pattern builtin")
        )
    );
    for builtin in [
        Builtin::CreditCard,
        Builtin::Email,
        Builtin::PhoneNumber,
        Builtin::CaSin,
    ] {
        assert_eq!(context_free_candidate(builtin), candidate_pattern(builtin));
        assert!(context_before(builtin, ""));
    }
    for builtin in Builtin::CREDENTIALS {
        assert_eq!(candidate_pattern(builtin), None, "{builtin:?}");
        assert!(!credentials::seeds(builtin).is_empty(), "{builtin:?}");
    }
}
