//! A cheap, exact "nothing here" for a builtin's candidate search in a window.
//!
//! Digits are everywhere in logs and JSON, so digit windows ([`super::windows`]) are many
//! and short, and a candidate search of each costs more in set-up than in reading. Most hold
//! no candidate that could pass validation: `1714567890` holds `\d{9}` twice, but both are
//! glued to a neighbouring digit, and every builtin turns away a glued candidate
//! ([`crate::builtins::validate`]). A gate is one automaton per builtin that reads a window
//! once for a candidate with a byte that may leave it apart on each side; only when it
//! fires does the real search run. It accepts a superset of what the search keeps, so it
//! changes speed, never results (and stands aside when it cannot be sure).

use regex_automata::Anchored;
use regex_automata::MatchKind;
use regex_automata::dfa::{Automaton as _, StartKind, dense};
use regex_automata::nfa::thompson;
use regex_automata::util::primitives::StateID;
use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, HirKind, Repetition};

use super::matcher::BuildError;
use super::windows::Window;
use crate::compile::Limits;

/// A candidate's gate automaton and its start state.
#[derive(Debug)]
pub(super) struct Gate {
    dfa: dense::DFA<Vec<u32>>,
    start: StateID,
}

impl Gate {
    /// The gate of one candidate, or `None` when it could not be exact (look-around in the
    /// candidate, or no start state shared by every position) or would be too large.
    pub(super) fn build(candidate: &Hir, path: &str) -> Result<Option<Self>, BuildError> {
        if !candidate.properties().look_set().is_empty() {
            return Ok(None);
        }
        let limit = Some(Limits::default().max_compiled_bytes);
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .which_captures(thompson::WhichCaptures::None)
                    .utf8(false)
                    .nfa_size_limit(limit),
            )
            .build_from_hir(&gate_hir(candidate))
            .map_err(|e| BuildError {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let built = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .start_kind(StartKind::Unanchored)
                    .dfa_size_limit(Some(GATE_SIZE_LIMIT))
                    .determinize_size_limit(Some(GATE_SIZE_LIMIT)),
            )
            .build_from_nfa(&nfa);
        // Too large a gate is no gate: the search runs unguarded, as it would without one.
        let Ok(dfa) = built else { return Ok(None) };
        Ok(dfa
            .universal_start_state(Anchored::No)
            .map(|start| Self { dfa, start }))
    }

    /// Whether a candidate that can pass validation may lie in `window`.
    pub(super) fn may_match(&self, text: &[u8], window: Window) -> bool {
        let dfa = &self.dfa;
        let mut state = dfa.next_state(self.start, APART);
        let inside = text.get(window.start..window.end).unwrap_or(&[]);
        for &byte in inside.iter().chain(std::iter::once(&APART)) {
            state = dfa.next_state(state, byte);
            if dfa.is_special_state(state)
                && (dfa.is_match_state(state) || dfa.is_quit_state(state))
            {
                return true;
            }
        }
        let last = dfa.next_eoi_state(state);
        dfa.is_match_state(last) || dfa.is_quit_state(last)
    }
}

/// The most memory a gate may take, and its build: a gate is worth a few microseconds per
/// text, and some candidates (`\d(?:[ -]?\d){12,18}` with any neighbour) would take far more
/// states than that is worth; those go without.
const GATE_SIZE_LIMIT: usize = 16 * 1024;

/// A byte that leaves a candidate apart from its neighbours, read before and after a window:
/// the bytes really there are outside the window's alphabet, so they are never digits, and
/// whether they glue is left to the validator.
const APART: u8 = b' ';

/// What the gate looks for instead of `candidate`: a superset of the candidates that can pass
/// validation. Every builtin turns away a candidate glued to its neighbours
/// ([`crate::builtins::validate`]), so the candidate must be preceded and followed by a
/// byte that may leave it apart; bounded repetitions become unbounded (`{12,18}` → `{12,}`),
/// which matches more and keeps the automaton small.
fn gate_hir(candidate: &Hir) -> Hir {
    let number_punct = || bytes(&[(b'.', b'.'), (b'-', b'-'), (b'/', b'/'), (b':', b':')]);
    let not_digit = || negate(&[(b'0', b'9')]);
    // Not a letter, digit, `_` nor number punctuation; any non-ASCII byte may belong to a
    // character that is none of these.
    let not_glued_nor_punct = || {
        negate(&[
            (b'-', b'.'),
            (b'/', b'/'),
            (b'0', b':'),
            (b'A', b'Z'),
            (b'_', b'_'),
            (b'a', b'z'),
        ])
    };
    let before = Hir::alternation(vec![
        not_glued_nor_punct(),
        Hir::concat(vec![not_digit(), number_punct()]),
    ]);
    let after = Hir::alternation(vec![
        not_glued_nor_punct(),
        Hir::concat(vec![number_punct(), not_digit()]),
    ]);
    Hir::concat(vec![before, unbounded(candidate.clone()), after])
}

fn ranges(list: &[(u8, u8)]) -> Vec<ClassBytesRange> {
    list.iter()
        .map(|&(a, b)| ClassBytesRange::new(a, b))
        .collect()
}

fn bytes(list: &[(u8, u8)]) -> Hir {
    Hir::class(Class::Bytes(ClassBytes::new(ranges(list))))
}

fn negate(list: &[(u8, u8)]) -> Hir {
    let mut class = ClassBytes::new(ranges(list));
    class.negate();
    Hir::class(Class::Bytes(class))
}

/// `hir` with every bounded repetition `{m,n}` (m < n) made `{m,}`: a superset.
fn unbounded(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            max: if rep.max == Some(rep.min) {
                rep.max
            } else {
                None
            },
            sub: Box::new(unbounded(*rep.sub)),
            ..rep
        }),
        HirKind::Concat(parts) => Hir::concat(parts.into_iter().map(unbounded).collect()),
        HirKind::Alternation(parts) => Hir::alternation(parts.into_iter().map(unbounded).collect()),
        HirKind::Capture(mut capture) => {
            capture.sub = Box::new(unbounded(*capture.sub));
            Hir::capture(capture)
        }
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(literal) => Hir::literal(literal.0),
        HirKind::Class(class) => Hir::class(class),
        HirKind::Look(look) => Hir::look(look),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::builtins::{candidate_pattern, validate};
    use crate::bundle::Builtin;
    use crate::engine::matcher::{build, builtin_hir};

    fn gate(builtin: Builtin) -> Option<Gate> {
        let hir = builtin_hir(candidate_pattern(builtin), "t").expect("parses");
        Gate::build(&hir, "t").expect("builds")
    }

    fn whole(text: &str) -> Window {
        Window {
            start: 0,
            end: text.len(),
            triggers: 0,
        }
    }

    #[test]
    fn glued_candidates_do_not_open_the_gate() {
        let ssn = gate(Builtin::Ssn).expect("small enough");
        for text in ["1714567890", "x123456789", "1.123456789", "123456789_"] {
            assert!(!ssn.may_match(text.as_bytes(), whole(text)), "{text:?}");
        }
        for text in ["123456789", "-123-45-6789.", " 123 45 6789 "] {
            assert!(ssn.may_match(text.as_bytes(), whole(text)), "{text:?}");
        }
    }

    proptest! {
        /// Wherever the search keeps a candidate, the gate is open.
        #[test]
        fn the_gate_is_open_wherever_a_candidate_validates(
            text in "([0-9]{1,5}[ .()+\\-/:]?|[a-zé_]{1,3}|SSN ){0,12}",
            builtin in proptest::sample::select(Builtin::ALL.to_vec()),
        ) {
            static GATES: std::sync::OnceLock<Vec<Option<Gate>>> = std::sync::OnceLock::new();
            let gates = GATES.get_or_init(|| Builtin::ALL.iter().map(|&b| gate(b)).collect());
            let index = Builtin::ALL.iter().position(|&b| b == builtin).unwrap_or(0);
            let Some(gate) = &gates[index] else { return Ok(()) };
            let hir = builtin_hir(candidate_pattern(builtin), "t").expect("parses");
            let re = build(&[hir], "t").expect("builds");
            let kept = re
                .find_iter(&text)
                .any(|m| validate(builtin, &text, m.start(), m.end()));
            if kept {
                prop_assert!(gate.may_match(text.as_bytes(), whole(&text)));
            }
        }
    }
}
