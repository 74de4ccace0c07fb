//! A cheap upper bound of the memory the engine's Thompson NFA builder uses for a pattern.
//!
//! The size limit is enforced by building the forward NFA (`regex_safety::check_size`), which
//! costs several microseconds a pattern. Almost every real pattern is orders of magnitude under
//! the limit, so the bound is computed first from the HIR and the NFA is built only when the
//! bound comes near the limit. The bound follows regex-automata 0.4's compiler: every HIR node
//! adds at most the states and transitions counted here, each state is charged at least the
//! size of the builder's state type, and repetitions multiply their body. A test compares it
//! with the builder's real peak usage (found by bisecting the size limit) on many patterns.

use regex_syntax::hir::{Class, Hir, HirKind};
use regex_syntax::utf8::Utf8Sequences;

/// Bytes charged per NFA state; the builder's `State` is 32 bytes in regex-automata 0.4.
const STATE: u64 = 64;
/// Bytes of one sparse transition (the builder's `Transition` is 8 bytes).
const TRANSITION: u64 = 16;
/// Bytes of one union alternate (a `StateID`, 4 bytes).
const ALTERNATE: u64 = 8;
/// The unanchored `(?s-u:.)*?` prefix, the match state and the pattern's own bookkeeping.
const OVERHEAD: u64 = 16 * STATE + 8 * TRANSITION + 8 * ALTERNATE;

/// An upper bound, in bytes, of the NFA builder's memory for `hir` compiled forward without
/// captures. Saturates instead of overflowing.
pub(super) fn nfa_bytes(hir: &Hir) -> u64 {
    OVERHEAD.saturating_add(node(hir))
}

fn node(hir: &Hir) -> u64 {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => STATE,
        HirKind::Literal(literal) => literal_bytes(literal.0.len()),
        HirKind::Class(Class::Bytes(class)) => class_bytes(class.ranges().len()),
        HirKind::Class(Class::Unicode(class)) if class.is_ascii() => {
            class_bytes(class.ranges().len())
        }
        HirKind::Class(Class::Unicode(class)) => {
            let sequences: u64 = class
                .iter()
                .map(|r| Utf8Sequences::new(r.start(), r.end()).count() as u64)
                .sum();
            // One sparse state per trie node (at most 4 a sequence) plus the target, and at
            // most one transition per byte range of each sequence.
            (2 + 4 * sequences) * STATE + 4 * sequences * TRANSITION
        }
        HirKind::Capture(capture) => node(&capture.sub).saturating_add(2 * STATE),
        HirKind::Concat(parts) => parts
            .iter()
            .fold(STATE, |sum, part| sum.saturating_add(node(part))),
        HirKind::Alternation(alternatives) => alternation(alternatives),
        HirKind::Repetition(rep) => {
            // Every copy of the body gets at most one union (two alternates) and one empty
            // state; a bounded repetition has `max` copies, an unbounded one `max(min, 1)`.
            let copies = u64::from(rep.max.unwrap_or(rep.min).max(1));
            let per_copy = node(&rep.sub).saturating_add(2 * STATE + 2 * ALTERNATE);
            copies
                .saturating_mul(per_copy)
                .saturating_add(3 * STATE + 4 * ALTERNATE)
        }
    }
}

/// One byte-range state per byte; an empty literal is one empty state.
fn literal_bytes(len: usize) -> u64 {
    (len as u64).max(1) * STATE
}

/// A sparse state with one transition per range, and its empty end state.
fn class_bytes(ranges: usize) -> u64 {
    2 * STATE + ranges as u64 * TRANSITION
}

/// A union over the alternatives and an empty end state. When every alternative is a literal
/// the compiler builds a trie instead: per trie node a union, per transition a range or sparse
/// state, with at most two alternates per transition; charged on top of the generic cost.
fn alternation(alternatives: &[Hir]) -> u64 {
    let mut sum = 2 * STATE + alternatives.len() as u64 * ALTERNATE;
    for alternative in alternatives {
        sum = sum.saturating_add(node(alternative));
        if let HirKind::Literal(literal) = alternative.kind() {
            let len = literal.0.len() as u64 + 1;
            sum = sum.saturating_add(len * (3 * STATE + TRANSITION + 4 * ALTERNATE));
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use regex_automata::nfa::thompson;

    use super::*;
    use crate::compile::Limits;
    use crate::compile::regex_safety::parser;

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

    mod generated {
        use proptest::prelude::*;

        fn pattern() -> impl Strategy<Value = String> {
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
                "",
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
        }
    }
}
