use super::*;

fn refusal(pattern: &str) -> Refusal {
    judge(pattern, &Limits::default()).expect_err(pattern)
}

#[test]
fn plain_phrases_and_nested_quantifiers_are_accepted() {
    for pattern in ["credit card", "(a+)+$", r"\bdrop\s+database\b", "(?-i)SSN"] {
        assert_eq!(
            judge(pattern, &Limits::default()),
            Ok(Judged::Regex { simpler: None }),
            "{pattern}"
        );
    }
}

#[test]
fn look_around_names_the_construct_and_position() {
    let r = refusal("foo(?=bar)");
    assert_eq!(r.code, "unsupported-regex-feature");
    assert!(
        r.message.starts_with("lookahead at character 4"),
        "{}",
        r.message
    );
    assert!(refusal("(?<!x)y").message.starts_with("lookbehind"));
}

#[test]
fn backreference_possessive_and_atomic_are_unsupported() {
    assert!(refusal(r"(a)\1").message.starts_with("a backreference"));
    assert!(
        refusal("a*+")
            .message
            .starts_with("a possessive quantifier"),
        "{:?}",
        refusal("a*+")
    );
    assert!(
        refusal("(?>a)").message.starts_with("an atomic group"),
        "{:?}",
        refusal("(?>a)")
    );
}

#[test]
fn blow_ups_are_too_large() {
    assert_eq!(refusal("a{1000}{1000}").code, "regex-too-large");
    assert_eq!(refusal(r"\p{L}{500}").code, "regex-too-large");
}

#[test]
fn empty_matches_are_refused() {
    for pattern in ["", "a*", "x|", "^", r"\b"] {
        assert_eq!(refusal(pattern).code, "regex-matches-empty", "{pattern:?}");
    }
}

#[test]
fn length_patterns_become_length_checks() {
    let limits = Limits::default();
    assert_eq!(
        judge(".{4000,}", &limits),
        Ok(Judged::MinLength {
            chars: 4000,
            across_lines: false
        })
    );
    for pattern in [
        r"[\s\S]{50000,}",
        "(?s).{50000,}",
        "^(?s:.{50000,})$",
        "(.{50000,})",
    ] {
        let judged = judge(pattern, &limits);
        assert!(
            matches!(judged, Ok(Judged::MinLength { chars: 50000, .. })),
            "{pattern}: {judged:?}"
        );
    }
}

#[test]
fn wildcard_wrapped_patterns_get_a_simpler_equivalent() {
    assert_eq!(
        judge(".*secret.*", &Limits::default()),
        Ok(Judged::Regex {
            simpler: Some("secret".into())
        })
    );
}

#[test]
fn limits_are_reported_with_values() {
    let r = refusal(&"a".repeat(5000));
    assert_eq!(r.code, "regex-too-long");
    assert!(r.message.contains("5000 bytes") && r.message.contains("4096"));
    let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
    assert_eq!(refusal(&deep).code, "regex-too-deep");
}

#[test]
fn syntax_errors_carry_a_position() {
    let r = refusal("credit (card");
    assert_eq!(r.code, "invalid-regex");
    assert!(r.message.contains("character"), "{}", r.message);
}
