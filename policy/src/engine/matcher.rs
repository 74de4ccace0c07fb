//! Builds the automata for a backend's guards.
//!
//! One multi-pattern automaton holds every custom pattern and builtin candidate of every
//! guard; `which_overlapping_matches` answers, in a single pass over a text, which of them
//! occur anywhere (overlapping, so one guard's match can never hide another's). The common
//! case — nothing matches — ends there. Only when something matched are the individual
//! detectors run again to find spans (Mask) or to validate builtin candidates.
//!
//! Patterns are parsed exactly as the compiler judged them (same parser settings) and then
//! rewritten so a literal space matches any run of whitespace, or none: after format
//! characters are removed, "CREDIT\u{200b}CARD" reads "CREDITCARD", and squeezing the
//! space out of a phrase must not slip past its guard either.

use regex_automata::MatchKind;
use regex_automata::dfa::{self, StartKind, dense};
use regex_automata::meta::{self, Regex};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look, Repetition};

use crate::limits::Limits;

/// Why automata could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct BuildError {
    /// Field path of the offending detector (or the guard).
    pub path: String,
    /// What failed.
    pub reason: String,
}

/// The parser configuration the compiler judges patterns with and the engine builds them with,
/// so both agree on what a pattern means.
pub fn parser(limits: &Limits) -> regex_syntax::Parser {
    regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .unicode(true)
        .utf8(true)
        .nest_limit(limits.max_nesting)
        .build()
}

/// Parses a custom pattern as the compiler did and rewrites spaces to `\s+`. A plain phrase
/// (no regex syntax at all) that starts with a letter or digit must start a word, so `SSN`
/// does not fire on `classname` while `credit card` still catches `credit cards`.
pub fn custom_hir(pattern: &str, path: &str) -> Result<Hir, BuildError> {
    let limits = Limits::default();
    let hir = parser(&limits).parse(pattern).map_err(|e| BuildError {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let hir = flex_spaces(hir);
    if is_plain_phrase(pattern) && pattern.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Ok(Hir::concat(vec![Hir::look(Look::WordAscii), hir]));
    }
    Ok(hir)
}

/// Text with no regex metacharacters: what users write when they mean "this phrase".
pub fn is_plain_phrase(pattern: &str) -> bool {
    !pattern.is_empty()
        && !pattern.contains([
            '\\', '.', '^', '$', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|',
        ])
}

/// Parses a builtin candidate pattern (ASCII digits, case-insensitive).
pub fn builtin_hir(pattern: &str, path: &str) -> Result<Hir, BuildError> {
    regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .build()
        .parse(pattern)
        .map_err(|e| BuildError {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

/// Builds one automaton over several patterns, with the compiler's size limit, for finding
/// spans (leftmost-first).
pub fn build(hirs: &[Hir], path: &str) -> Result<Regex, BuildError> {
    build_with(hirs, path, MatchKind::LeftmostFirst)
}

/// Builds the scan automaton: every pattern is reported wherever it occurs, overlapping.
pub fn build_scan(hirs: &[Hir], path: &str) -> Result<Regex, BuildError> {
    build_with(hirs, path, MatchKind::All)
}

fn build_with(hirs: &[Hir], path: &str, kind: MatchKind) -> Result<Regex, BuildError> {
    let config = meta::Config::new()
        .match_kind(kind)
        .nfa_size_limit(Some(
            Limits::default()
                .max_compiled_bytes
                .saturating_mul(hirs.len().max(1)),
        ))
        .utf8_empty(true);
    meta::Builder::new()
        .configure(config)
        .syntax(syntax::Config::new())
        .build_many_from_hir(hirs)
        .map_err(|e| BuildError {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

/// Builds a fully compiled (dense, forward and reverse) DFA regex for one small pattern, such
/// as a builtin candidate: searched many times over short windows, it needs no cache and has
/// next to no per-search cost. Leftmost-first, like [`build`].
pub fn build_dense(hir: &Hir, path: &str) -> Result<dfa::regex::Regex, BuildError> {
    let error = |e: &dyn std::fmt::Display| BuildError {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let limit = Some(Limits::default().max_compiled_bytes);
    let nfa = |reverse: bool| {
        thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .reverse(reverse)
                    .which_captures(thompson::WhichCaptures::None)
                    .nfa_size_limit(limit),
            )
            .build_many_from_hir(std::slice::from_ref(hir))
            .map_err(|e| error(&e))
    };
    let config = dense::Config::new().dfa_size_limit(limit);
    let forward = dense::Builder::new()
        .configure(config.clone())
        .build_from_nfa(&nfa(false)?)
        .map_err(|e| error(&e))?;
    let reverse = dense::Builder::new()
        .configure(
            config
                .prefilter(None)
                .specialize_start_states(false)
                .start_kind(StartKind::Anchored)
                .match_kind(MatchKind::All),
        )
        .build_from_nfa(&nfa(true)?)
        .map_err(|e| error(&e))?;
    Ok(dfa::regex::Builder::new().build_from_dfas(forward, reverse))
}

/// Rewrites every literal space into `\s*`, so "credit card" matches "credit\n\tcard".
fn flex_spaces(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Literal(literal) => split_spaces(&literal.0),
        HirKind::Concat(parts) => Hir::concat(parts.into_iter().map(flex_spaces).collect()),
        HirKind::Alternation(parts) => {
            Hir::alternation(parts.into_iter().map(flex_spaces).collect())
        }
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            sub: Box::new(flex_spaces(*rep.sub)),
            ..rep
        }),
        HirKind::Capture(mut capture) => {
            capture.sub = Box::new(flex_spaces(*capture.sub));
            Hir::capture(capture)
        }
        HirKind::Class(class) => Hir::class(class),
        HirKind::Look(look) => Hir::look(look),
        HirKind::Empty => Hir::empty(),
    }
}

fn split_spaces(bytes: &[u8]) -> Hir {
    if !bytes.contains(&b' ') {
        return Hir::literal(bytes);
    }
    let mut parts = Vec::new();
    for (i, chunk) in bytes.split(|b| *b == b' ').enumerate() {
        if i > 0 && !matches!(parts.last(), Some(h) if is_whitespace_run(h)) {
            parts.push(whitespace_run());
        }
        if !chunk.is_empty() {
            parts.push(Hir::literal(chunk));
        }
    }
    Hir::concat(parts)
}

fn whitespace_run() -> Hir {
    let class = ClassUnicode::new([
        ClassUnicodeRange::new('\t', '\r'),
        ClassUnicodeRange::new(' ', ' '),
        ClassUnicodeRange::new('\u{85}', '\u{85}'),
        ClassUnicodeRange::new('\u{A0}', '\u{A0}'),
        ClassUnicodeRange::new('\u{2000}', '\u{200A}'),
        ClassUnicodeRange::new('\u{2028}', '\u{2029}'),
        ClassUnicodeRange::new('\u{3000}', '\u{3000}'),
    ]);
    Hir::repetition(Repetition {
        min: 0,
        max: None,
        greedy: true,
        sub: Box::new(Hir::class(Class::Unicode(class))),
    })
}

fn is_whitespace_run(hir: &Hir) -> bool {
    matches!(hir.kind(), HirKind::Repetition(r) if r.min == 0 && r.max.is_none() && matches!(r.sub.kind(), HirKind::Class(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_match_whitespace_runs_case_insensitively() {
        let re = build(&[custom_hir("credit card", "p").expect("parses")], "p").expect("builds");
        for text in ["Credit Card", "CREDIT\n\tcard", "credit   card"] {
            assert!(re.is_match(text), "{text:?}");
        }
        assert!(re.is_match("creditcard"));
        assert!(!re.is_match("credit-card"));
    }

    #[test]
    fn plain_phrases_start_a_word() {
        let re = build(&[custom_hir("SSN", "p").expect("parses")], "p").expect("builds");
        assert!(re.is_match("my ssn is"));
        assert!(!re.is_match("a className here"));
        let re = build(&[custom_hir("credit card", "p").expect("parses")], "p").expect("builds");
        assert!(re.is_match("what are credit cards?"));
    }

    #[test]
    fn case_sensitivity_can_be_turned_back_on() {
        let re = build(&[custom_hir("(?-i)SSN", "p").expect("parses")], "p").expect("builds");
        assert!(re.is_match("my SSN"));
        assert!(!re.is_match("lessness"));
    }
}
