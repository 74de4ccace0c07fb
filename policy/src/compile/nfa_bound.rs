//! A cheap upper bound of the memory the engine's Thompson NFA builder uses for a pattern.
//!
//! The size limit is enforced by building the forward NFA (`regex_safety::check_size`), which
//! costs several microseconds a pattern. Almost every real pattern is orders of magnitude under
//! the limit, so the bound is computed first from the HIR and the NFA is built only when the
//! bound comes near the limit. The bound follows regex-automata 0.4's compiler: every HIR node
//! adds at most the states and transitions counted here, each state is charged at least the
//! size of the builder's state type, and repetitions multiply their body. A test compares it
//! with the builder's real peak usage (found by bisecting the size limit) on many patterns.
//!
//! [`folded_nfa_bytes`] bounds the case-insensitive translation from the case-sensitive one,
//! which is several times cheaper to produce; [`case_fold`](super::case_fold) says when that
//! is valid.

use regex_syntax::hir::{Class, ClassUnicode, Hir, HirKind};
use regex_syntax::utf8::Utf8Sequences;

/// Bytes charged per NFA state; the builder's `State` is 32 bytes in regex-automata 0.4.
const STATE: u64 = 64;
/// Bytes of one sparse transition (the builder's `Transition` is 8 bytes).
const TRANSITION: u64 = 16;
/// Bytes of one union alternate (a `StateID`, 4 bytes).
const ALTERNATE: u64 = 8;
/// The unanchored `(?s-u:.)*?` prefix, the match state and the pattern's own bookkeeping.
const OVERHEAD: u64 = 16 * STATE + 8 * TRANSITION + 8 * ALTERNATE;
/// The most characters an ASCII character's simple case folding orbit has (`k K` and the
/// Kelvin sign, `s S ſ`).
const FOLD_ORBIT: u64 = 3;
/// The most UTF-8 sequences case folding adds to a class built from ASCII items and Perl
/// classes: it changes only the 52 ASCII letters (one sequence each), `ſ` (splitting a two-byte
/// range adds at most 3) and the Kelvin sign (a three-byte range, at most 5).
const FOLD_EXTRA_SEQUENCES: u64 = 52 + 3 + 5;

/// How [`node`] reads the HIR.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// As the translation the NFA is built from.
    AsIs,
    /// As the case-sensitive translation of a pattern the NFA is built from case-insensitively.
    Folded,
}

/// An upper bound, in bytes, of the NFA builder's memory for `hir` compiled forward without
/// captures. Saturates instead of overflowing.
pub(super) fn nfa_bytes(hir: &Hir) -> u64 {
    OVERHEAD.saturating_add(node(hir, Reading::AsIs))
}

/// An upper bound of [`nfa_bytes`] of the case-insensitive translation of the pattern whose
/// case-sensitive translation is `hir`, for patterns that
/// [`folds_locally`](super::case_fold::folds_locally). The two translations have the same
/// shape except that literals and classes grow, and where the case-sensitive one factored a
/// common prefix out of an alternation, the case-insensitive one (whose pieces are equal
/// whenever the case-sensitive ones are) factored at least as much.
pub(super) fn folded_nfa_bytes(hir: &Hir) -> u64 {
    OVERHEAD.saturating_add(node(hir, Reading::Folded))
}

fn node(hir: &Hir, reading: Reading) -> u64 {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => STATE,
        HirKind::Literal(literal) => literal_bytes(literal.0.len(), reading),
        HirKind::Class(class) => class_node(class, reading),
        HirKind::Capture(capture) => node(&capture.sub, reading).saturating_add(CAPTURE),
        HirKind::Concat(parts) => parts
            .iter()
            .fold(STATE, |sum, part| sum.saturating_add(node(part, reading))),
        HirKind::Alternation(alternatives) => alternation(alternatives, reading),
        HirKind::Repetition(rep) => repetition_bytes(rep.min, rep.max, node(&rep.sub, reading)),
    }
}

/// The two capture states around a group's body.
const CAPTURE: u64 = 2 * STATE;

/// Every copy of the body gets at most one union (two alternates) and one empty state; a
/// bounded repetition has `max` copies, an unbounded one `max(min, 1)`.
fn repetition_bytes(min: u32, max: Option<u32>, body: u64) -> u64 {
    let copies = u64::from(max.unwrap_or(min).max(1));
    copies
        .saturating_mul(body.saturating_add(2 * STATE + 2 * ALTERNATE))
        .saturating_add(3 * STATE + 4 * ALTERNATE)
}

/// A union over `alternatives` and its empty end state.
fn union_bytes(alternatives: usize) -> u64 {
    2 * STATE + alternatives as u64 * ALTERNATE
}

/// The trie the compiler builds for an alternative that is a literal of `len` bytes: per trie
/// node a union, per transition a range or sparse state, at most two alternates per transition.
fn trie_bytes(len: u64) -> u64 {
    (len + 1).saturating_mul(3 * STATE + TRANSITION + 4 * ALTERNATE)
}

fn class_node(class: &Class, reading: Reading) -> u64 {
    let extra = match reading {
        Reading::AsIs => 0,
        Reading::Folded => FOLD_EXTRA_SEQUENCES,
    };
    match class {
        Class::Bytes(class) => class_bytes(class.ranges().len() as u64 + extra),
        Class::Unicode(class) if class.is_ascii() && reading == Reading::AsIs => {
            class_bytes(class.ranges().len() as u64)
        }
        Class::Unicode(class) => unicode_class_bytes(sequences(class).saturating_add(extra)),
    }
}

/// The UTF-8 sequences the compiler splits a Unicode class into.
fn sequences(class: &ClassUnicode) -> u64 {
    class
        .iter()
        .map(|r| Utf8Sequences::new(r.start(), r.end()).count() as u64)
        .sum()
}

/// One byte-range state per byte; an empty literal is one empty state. Folded, every byte is
/// an ASCII character that may have become a class of its case variants, one sequence each.
fn literal_bytes(len: usize, reading: Reading) -> u64 {
    let len = (len as u64).max(1);
    match reading {
        Reading::AsIs => len * STATE,
        Reading::Folded => {
            STATE.saturating_add(len.saturating_mul(unicode_class_bytes(FOLD_ORBIT)))
        }
    }
}

/// A sparse state with one transition per range, and its empty end state.
fn class_bytes(ranges: u64) -> u64 {
    2 * STATE + ranges * TRANSITION
}

/// One sparse state per trie node (at most 4 a sequence) plus the target, and at most one
/// transition per byte range of each sequence.
fn unicode_class_bytes(sequences: u64) -> u64 {
    (2 + 4 * sequences) * STATE + 4 * sequences * TRANSITION
}

/// A union over the alternatives. When every alternative is a literal the compiler builds a
/// trie instead; charged on top of the generic cost.
fn alternation(alternatives: &[Hir], reading: Reading) -> u64 {
    let mut sum = union_bytes(alternatives.len());
    for alternative in alternatives {
        sum = sum.saturating_add(node(alternative, reading));
        if let HirKind::Literal(literal) = alternative.kind() {
            sum = sum.saturating_add(trie_bytes(literal.0.len() as u64));
        }
    }
    sum
}

pub(super) mod ast;
#[cfg(test)]
pub(super) mod tests;
