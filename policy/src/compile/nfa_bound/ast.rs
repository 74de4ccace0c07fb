//! The folded bound read straight from the AST, for patterns simple enough that their
//! translation can be skipped (see `regex_safety::simple`).
//!
//! It charges every AST node what [`node`](super::node) charges the HIR node it translates
//! to, read [`Folded`](super::Reading::Folded): translation only merges literals, collapses
//! alternations of characters into classes and factors common prefixes, all of which shrink the
//! automaton. A property test compares it with the builder on the case-insensitive translation.

use std::sync::OnceLock;

use regex_syntax::ast::{
    Ast, ClassBracketed, ClassPerl, ClassPerlKind, ClassSet, ClassSetItem, GroupKind,
    RepetitionKind, RepetitionRange,
};
use regex_syntax::hir::{Class, HirKind};

use super::{
    CAPTURE, FOLD_EXTRA_SEQUENCES, FOLD_ORBIT, OVERHEAD, STATE, repetition_bytes, sequences,
    trie_bytes, unicode_class_bytes, union_bytes,
};

/// Sequences charged for one ASCII class item (`[:punct:]` has the most ranges, four).
const ASCII_CLASS_SEQUENCES: u64 = 4;

/// An upper bound of the NFA builder's memory for the case-insensitive translation of `ast`,
/// or `None` for constructs this reading does not cover (`.`, flags, negated or non-ASCII
/// bracket items, `\p{…}`, non-ASCII literals).
pub(in crate::compile) fn folded_nfa_bytes(ast: &Ast) -> Option<u64> {
    Some(OVERHEAD.saturating_add(node(ast)?))
}

fn node(ast: &Ast) -> Option<u64> {
    Some(match ast {
        Ast::Empty(_) | Ast::Assertion(_) => STATE,
        Ast::Literal(literal) if literal.c.is_ascii() => unicode_class_bytes(FOLD_ORBIT),
        Ast::ClassPerl(class) => unicode_class_bytes(perl_sequences(class) + FOLD_EXTRA_SEQUENCES),
        Ast::ClassBracketed(class) => {
            unicode_class_bytes(bracket_sequences(class)?.saturating_add(FOLD_EXTRA_SEQUENCES))
        }
        Ast::Group(group) => match &group.kind {
            GroupKind::CaptureIndex(_) | GroupKind::CaptureName { .. } => {
                node(&group.ast)?.saturating_add(CAPTURE)
            }
            GroupKind::NonCapturing(flags) if flags.items.is_empty() => node(&group.ast)?,
            GroupKind::NonCapturing(_) => return None,
        },
        Ast::Concat(concat) => concat
            .asts
            .iter()
            .try_fold(STATE, |sum, part| Some(sum.saturating_add(node(part)?)))?,
        Ast::Alternation(alternation) => {
            let mut sum = union_bytes(alternation.asts.len());
            for alternative in &alternation.asts {
                // The HIR may hold this alternative as a literal, which gets a trie on top.
                sum = sum
                    .saturating_add(node(alternative)?)
                    .saturating_add(trie_bytes(nodes(alternative)));
            }
            sum
        }
        Ast::Repetition(rep) => {
            let (min, max) = match &rep.op.kind {
                RepetitionKind::ZeroOrOne => (0, Some(1)),
                RepetitionKind::ZeroOrMore => (0, None),
                RepetitionKind::OneOrMore => (1, None),
                RepetitionKind::Range(RepetitionRange::Exactly(n)) => (*n, Some(*n)),
                RepetitionKind::Range(RepetitionRange::AtLeast(n)) => (*n, None),
                RepetitionKind::Range(RepetitionRange::Bounded(min, max)) => (*min, Some(*max)),
            };
            repetition_bytes(min, max, node(&rep.ast)?)
        }
        Ast::Literal(_) | Ast::Dot(_) | Ast::Flags(_) | Ast::ClassUnicode(_) => return None,
    })
}

/// AST nodes under `ast`: at least the bytes of any literal it translates to.
fn nodes(ast: &Ast) -> u64 {
    match ast {
        Ast::Group(group) => 1 + nodes(&group.ast),
        Ast::Repetition(rep) => 1 + nodes(&rep.ast),
        Ast::Concat(concat) => 1 + concat.asts.iter().map(nodes).sum::<u64>(),
        Ast::Alternation(alt) => 1 + alt.asts.iter().map(nodes).sum::<u64>(),
        _ => 1,
    }
}

/// Sequences of a non-negated bracketed class: at most the sum over its items, since a union
/// only merges ranges.
fn bracket_sequences(class: &ClassBracketed) -> Option<u64> {
    if class.negated {
        return None;
    }
    match &class.kind {
        ClassSet::Item(item) => item_sequences(item),
        ClassSet::BinaryOp(_) => None,
    }
}

fn item_sequences(item: &ClassSetItem) -> Option<u64> {
    Some(match item {
        ClassSetItem::Empty(_) => 0,
        ClassSetItem::Literal(literal) if literal.c.is_ascii() => 1,
        ClassSetItem::Range(range) if range.start.c.is_ascii() && range.end.c.is_ascii() => 1,
        ClassSetItem::Ascii(ascii) if !ascii.negated => ASCII_CLASS_SEQUENCES,
        ClassSetItem::Perl(perl) => perl_sequences(perl),
        ClassSetItem::Bracketed(class) => bracket_sequences(class)?,
        ClassSetItem::Union(union) => union.items.iter().try_fold(0_u64, |sum, item| {
            Some(sum.saturating_add(item_sequences(item)?))
        })?,
        ClassSetItem::Literal(_)
        | ClassSetItem::Range(_)
        | ClassSetItem::Ascii(_)
        | ClassSetItem::Unicode(_) => return None,
    })
}

/// Sequences of the Unicode `\d`, `\s`, `\w` and their negations, counted once from the
/// classes regex-syntax itself builds.
fn perl_sequences(class: &ClassPerl) -> u64 {
    static COUNTS: OnceLock<[u64; 6]> = OnceLock::new();
    let counts = COUNTS.get_or_init(|| {
        [r"\d", r"\D", r"\s", r"\S", r"\w", r"\W"].map(|pattern| {
            match regex_syntax::Parser::new()
                .parse(pattern)
                .map(regex_syntax::hir::Hir::into_kind)
            {
                Ok(HirKind::Class(Class::Unicode(class))) => sequences(&class),
                // Cannot happen with the Unicode tables compiled in; charge the whole range.
                _ => 4 * 0x11_0000,
            }
        })
    });
    let kind = match class.kind {
        ClassPerlKind::Digit => 0,
        ClassPerlKind::Space => 2,
        ClassPerlKind::Word => 4,
    };
    counts[kind + usize::from(class.negated)]
}
