use regex_automata::nfa::thompson;

use super::*;
use crate::compile::Limits;
use crate::engine::matcher::parser;

/// The builder's peak memory for `hir`: the smallest size limit it builds under.
fn peak(hir: &Hir) -> u64 {
    let builds = |limit: u64| {
        let config = thompson::Config::new()
            .nfa_size_limit(usize::try_from(limit).ok())
            .which_captures(thompson::WhichCaptures::None)
            .shrink(false);
        thompson::Compiler::new()
            .configure(config)
            .build_from_hir(hir)
            .is_ok()
    };
    let (mut low, mut high) = (0_u64, 1_u64 << 32);
    while low < high {
        let mid = low + (high - low) / 2;
        if builds(mid) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    low
}

fn assert_bounded(pattern: &str) {
    let hir = parser(&Limits::default())
        .parse(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let (bound, actual) = (nfa_bytes(&hir), peak(&hir));
    assert!(
        bound >= actual,
        "{pattern}: bound {bound} < actual {actual}"
    );
}

/// Where [`folds_locally`](crate::compile::case_fold::folds_locally) allows it, the bound read
/// from the case-sensitive translation covers the builder on the case-insensitive one.
fn assert_folded_bounded(pattern: &str) {
    let Ok(ast) = regex_syntax::ast::parse::Parser::new().parse(pattern) else {
        return;
    };
    if !crate::compile::case_fold::folds_locally(&ast) {
        return;
    }
    let translate = |case_insensitive: bool| {
        regex_syntax::hir::translate::TranslatorBuilder::new()
            .case_insensitive(case_insensitive)
            .build()
            .translate(pattern, &ast)
    };
    let (Ok(sensitive), Ok(insensitive)) = (translate(false), translate(true)) else {
        return;
    };
    let (bound, actual) = (folded_nfa_bytes(&sensitive), peak(&insensitive));
    assert!(
        bound >= actual,
        "{pattern}: folded bound {bound} < actual {actual}"
    );
    if let Some(bound) = super::ast::folded_nfa_bytes(&ast) {
        assert!(
            bound >= actual,
            "{pattern}: AST bound {bound} < actual {actual}"
        );
    }
}

#[test]
fn folded_bound_covers_the_builder_on_varied_patterns() {
    for pattern in [
        r"(project|codename)[- ]?7\b",
        "k|s|x",
        "[^kKs]+",
        r"[\W\d]{3}k",
        "[[:^alpha:]s]",
        r"sk-ant-[A-Za-z0-9_-]{20,}",
        r"\d{3}-\d{2}-\d{4}",
        r"(?:\d|[\w-]|x){3}(ab|cd|e)?",
        "(?:kelvin|sigma){5}",
        "(?-u:[^k])",
    ] {
        assert_folded_bounded(pattern);
    }
}

#[test]
fn bound_covers_the_builder_on_varied_patterns() {
    for pattern in [
        "a",
        "credit card",
        r"(project|codename)[- ]?7\b",
        r"\bdrop\s+database\b",
        "(?-i)SSN|ssn|Ssn",
        "secret|kiss|foo|bar|",
        "(?-i:abc|abd|b|)",
        r"\w+",
        r"\p{L}{20}",
        r"[\p{Greek}\p{Cyrillic}]{3,9}",
        "(a|b|c)*x",
        "(?:a*)*",
        "((a|)+)+",
        "a{0,30}b{5}c{2,}",
        "(?s).{3}x",
        ".*k.*",
        r"[^\n]{10}\d{4}",
        r"(?-u:[\x00-\x7F]\w)+",
        "^$|^a$",
        r"\B\d{3}-\d{2}-\d{4}\b",
        r"(?i)straße|ǅ|ﬃ",
        "(?:(?:(?:x{2}){3}){4}){5}",
        r"[\s\S]{0,40}",
    ] {
        assert_bounded(pattern);
    }
}

#[test]
fn bound_of_a_blow_up_exceeds_the_limit() {
    let hir = parser(&Limits::default()).parse("a{1000}{1000}");
    let bound = hir.map(|h| nfa_bytes(&h)).unwrap_or_default();
    assert!(bound > 2 * 1024 * 1024, "{bound}");
}

/// Random patterns built from pieces that stress the bounds: literals with case variants
/// (`k`, `s`), ASCII, negated and Perl classes, Unicode classes, `(?-i)` regions, nesting.
pub(in crate::compile) mod generated {
    use proptest::prelude::*;

    pub(in crate::compile) fn pattern() -> impl Strategy<Value = String> {
        let leaf = prop::sample::select(vec![
            "a",
            "k",
            "s",
            "ab",
            "xyz",
            r"\d",
            r"\w",
            r"\s",
            ".",
            "[a-f]",
            "[^a]",
            r"\b",
            r"\B",
            "^",
            "$",
            "ß",
            "é",
            r"\p{Greek}",
            "(?-i:q)",
            "(?-i:k)",
            "",
            "K",
            "S",
            "k|s",
            "[^a-z]",
            "[[:^alpha:]]",
            r"\W",
            r"\D",
            r"[\w.-]",
            r"[^\s\d]",
            "[kKsS]",
            "(?-u:[a-z])",
            "(?-u:k)",
            "0",
            "-",
        ])
        .prop_map(str::to_owned);
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.join("")),
                prop::collection::vec(inner.clone(), 1..4)
                    .prop_map(|v| format!("(?:{})", v.join("|"))),
                (inner.clone(), 0_u32..4, 0_u32..4)
                    .prop_map(|(p, a, b)| { format!("(?:{p}){{{},{}}}", a.min(b), a.max(b)) }),
                (
                    inner.clone(),
                    prop::sample::select(vec!["*", "+", "?", "*?"])
                )
                    .prop_map(|(p, op)| format!("(?:{p}){op}")),
                inner.prop_map(|p| format!("({p})")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn bound_covers_the_builder(pattern in pattern()) {
            super::assert_bounded(&pattern);
        }

        #[test]
        fn folded_bound_covers_the_case_insensitive_builder(pattern in pattern()) {
            super::assert_folded_bounded(&pattern);
        }
    }
}
