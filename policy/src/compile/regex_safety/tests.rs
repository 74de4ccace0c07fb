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

/// The judge reads the case-sensitive translation; every verdict but size must be the one the
/// engine's case-insensitive translation gives (size is covered by `nfa_bound`'s tests).
mod translations_agree {
    use proptest::prelude::*;

    use super::*;
    use crate::compile::nfa_bound::tests::generated::pattern;

    fn translate(pattern: &str, case_insensitive: bool) -> Result<Hir, String> {
        let ast = ast::parse::Parser::new()
            .parse(pattern)
            .map_err(|e| e.to_string())?;
        translator(case_insensitive)
            .translate(pattern, &ast)
            .map_err(|e| format!("{:?} at {:?}", e.kind(), e.span()))
    }

    /// Both translations fail alike, match empty alike, and, where the judge reads the length
    /// check and the wildcard core from the case-sensitive one, agree on those too.
    fn assert_agree(pattern: &str) {
        let (sensitive, insensitive) = (translate(pattern, false), translate(pattern, true));
        let (Ok(sensitive), Ok(insensitive)) = (&sensitive, &insensitive) else {
            assert_eq!(sensitive.err(), insensitive.err(), "{pattern}");
            return;
        };
        let matches_empty = |hir: &Hir| hir.properties().minimum_len() == Some(0);
        assert_eq!(
            matches_empty(sensitive),
            matches_empty(insensitive),
            "{pattern}"
        );
        if !has_outer_unbounded_repetition(sensitive) {
            assert_eq!(
                as_length_check(sensitive),
                as_length_check(insensitive),
                "{pattern}"
            );
            assert_eq!(
                simpler_equivalent(pattern, sensitive),
                simpler_equivalent(pattern, insensitive),
                "{pattern}"
            );
        }
    }

    #[test]
    fn on_constructs_that_case_folding_touches() {
        for pattern in [
            ".*k.*",
            "(?s).{40,}",
            "[^\\n]{5,}",
            "(?-u:[^a])",
            "(?-u:\\xFF)",
            "[^\\s\\S]",
            "k?|s*",
            "\\p{Lu}+",
            "[[:^alpha:]]{3,}",
            "(?:(?:[^a]|[a-f]|S))+",
        ] {
            assert_agree(pattern);
        }
    }

    /// Where the AST alone decides, the engine's translation decides the same.
    fn assert_simple_agrees(pattern: &str) {
        let Ok(ast) = ast::parse::Parser::new().parse(pattern) else {
            return;
        };
        let Some(quick) = simple::judge(&ast, u64::MAX) else {
            return;
        };
        let hir = translate(pattern, true);
        let Ok(hir) = hir else {
            panic!("{pattern}: judged from its AST, but translation fails: {hir:?}");
        };
        assert_eq!(as_length_check(&hir), None, "{pattern}");
        assert_eq!(simpler_equivalent(pattern, &hir), None, "{pattern}");
        assert_eq!(
            matches!(quick, simple::Quick::MatchesEmpty),
            hir.properties().minimum_len() == Some(0),
            "{pattern}"
        );
    }

    #[test]
    fn common_patterns_are_judged_from_their_ast() {
        for pattern in [
            r"(project|codename)[- ]?7\b",
            r"\d{3}-\d{2}-\d{4}",
            r"\b(?:api|secret)[_-]?key\b",
        ] {
            let ast = ast::parse::Parser::new().parse(pattern);
            let quick = ast.ok().and_then(|a| simple::judge(&a, u64::MAX));
            assert!(matches!(quick, Some(simple::Quick::Regex)), "{pattern}");
            assert_simple_agrees(pattern);
        }
        for pattern in ["x?", r"\b", "(?:a|)", "(a*)(b?)"] {
            assert_simple_agrees(pattern);
            assert_eq!(
                judge(pattern, &Limits::default()).map_err(|r| r.code),
                Err("regex-matches-empty"),
                "{pattern}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn on_generated_patterns(pattern in pattern()) {
            assert_agree(&pattern);
            assert_simple_agrees(&pattern);
        }
    }
}
