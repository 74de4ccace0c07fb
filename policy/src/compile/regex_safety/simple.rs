//! Verdicts read from the AST alone, for the patterns most policies are made of.
//!
//! Translating a pattern costs as much as parsing it, and for a pattern built only from ASCII
//! literals, Perl classes (`\d`, `\w`, `\s`), non-negated brackets of ASCII items, assertions,
//! groups without flags, alternations and repetitions, nothing it would tell is needed:
//! translation cannot fail (no `\p{…}`, no `(?-u)`), no length check or wildcard wrapper can
//! hide in it unless an unbounded repetition sits at its top (those go the full way), every
//! class in it matches something, so whether it matches the empty string follows from its
//! shape, and [`nfa_bound::ast`] bounds its automaton. Property tests compare every verdict with
//! the full path's.

use regex_syntax::ast::{Ast, RepetitionKind, RepetitionRange};

use crate::compile::nfa_bound;

/// What the AST alone says: `None` when the full path must judge.
pub(super) enum Quick {
    /// An automaton well under the size limit.
    Regex,
    /// It matches the empty string.
    MatchesEmpty,
}

/// Judges `ast` when it is simple and its folded bound is at most `size_ok_below` bytes.
pub(super) fn judge(ast: &Ast, size_ok_below: u64) -> Option<Quick> {
    if has_outer_unbounded_repetition(ast) {
        return None;
    }
    // The bound covers exactly the simple subset: `None` outside it.
    let bytes = nfa_bound::ast::folded_nfa_bytes(ast)?;
    if matches_empty(ast) {
        return Some(Quick::MatchesEmpty);
    }
    (bytes <= size_ok_below).then_some(Quick::Regex)
}

/// Where length checks and wildcard wrappers are recognised: the top of the pattern, through
/// groups and concatenations.
fn has_outer_unbounded_repetition(ast: &Ast) -> bool {
    match ast {
        Ast::Repetition(rep) => matches!(
            rep.op.kind,
            RepetitionKind::ZeroOrMore
                | RepetitionKind::OneOrMore
                | RepetitionKind::Range(RepetitionRange::AtLeast(_))
        ),
        Ast::Group(group) => has_outer_unbounded_repetition(&group.ast),
        Ast::Concat(concat) => concat.asts.iter().any(has_outer_unbounded_repetition),
        _ => false,
    }
}

/// Whether the shortest match is empty, for ASTs whose classes all match something.
fn matches_empty(ast: &Ast) -> bool {
    match ast {
        Ast::Empty(_) | Ast::Assertion(_) | Ast::Flags(_) => true,
        Ast::Literal(_)
        | Ast::Dot(_)
        | Ast::ClassPerl(_)
        | Ast::ClassUnicode(_)
        | Ast::ClassBracketed(_) => false,
        Ast::Group(group) => matches_empty(&group.ast),
        Ast::Repetition(rep) => {
            let min = match &rep.op.kind {
                RepetitionKind::ZeroOrOne | RepetitionKind::ZeroOrMore => 0,
                RepetitionKind::OneOrMore => 1,
                RepetitionKind::Range(
                    RepetitionRange::Exactly(n)
                    | RepetitionRange::AtLeast(n)
                    | RepetitionRange::Bounded(n, _),
                ) => *n,
            };
            min == 0 || matches_empty(&rep.ast)
        }
        Ast::Concat(concat) => concat.asts.iter().all(matches_empty),
        Ast::Alternation(alt) => alt.asts.iter().any(matches_empty),
    }
}
