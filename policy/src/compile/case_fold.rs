//! When judging a pattern's case-sensitive translation is as good as judging the one the
//! engine builds.
//!
//! The engine matches case-insensitively, and translating a pattern that way is what makes
//! admission of a large policy slow: every letter becomes a class, and every class is
//! case-folded against Unicode's tables. All the judge's verdicts but one (syntax, empty match,
//! length check, wildcard core) are the same for both translations, since case folding maps
//! every character to a non-empty set containing it and leaves structure alone. The one that
//! differs is size, and [`nfa_bound::folded_nfa_bytes`](super::nfa_bound::folded_nfa_bytes)
//! bounds it from the case-sensitive translation when this module says the difference is local:
//!
//! - an ASCII literal character becomes a class of its case variants (at most three);
//! - a class changes only at the 54 characters whose case orbits hold ASCII letters (the ASCII
//!   letters, `ſ` U+017F and the Kelvin sign U+212A), because the pattern's classes are built
//!   from ASCII items (also alternations of ASCII characters, which become classes) and Perl
//!   classes (`\w`, `\d`, `\s`), which are closed under case folding, and folding or negating
//!   two sets that differ only on whole orbits keeps them so.
//!
//! Anything else (non-ASCII literals, `\p{…}`, set operations in brackets, `(?-i)` regions that
//! make two equal-looking pieces translate differently) is judged on the real translation.

use regex_syntax::ast::{Ast, ClassSet, ClassSetItem, Flag, Flags, FlagsItemKind, GroupKind};

/// Whether the case-insensitive translation of `ast` differs from its case-sensitive one only
/// in the ways the module doc lists. Recursion depth is bounded by the parser's nest limit.
pub(super) fn folds_locally(ast: &Ast) -> bool {
    match ast {
        Ast::Empty(_) | Ast::Dot(_) | Ast::Assertion(_) | Ast::ClassPerl(_) => true,
        Ast::Literal(literal) => literal.c.is_ascii(),
        Ast::ClassUnicode(_) => false,
        Ast::Flags(set) => !turns_case_off(&set.flags),
        Ast::ClassBracketed(class) => set_folds_locally(&class.kind),
        Ast::Repetition(rep) => folds_locally(&rep.ast),
        Ast::Group(group) => {
            let flags_ok = match &group.kind {
                GroupKind::NonCapturing(flags) => !turns_case_off(flags),
                GroupKind::CaptureIndex(_) | GroupKind::CaptureName { .. } => true,
            };
            flags_ok && folds_locally(&group.ast)
        }
        Ast::Alternation(alt) => alt.asts.iter().all(folds_locally),
        Ast::Concat(concat) => concat.asts.iter().all(folds_locally),
    }
}

/// `(?-i)`, `(?s-i:…)` and the like: an `i` after the negation sign.
fn turns_case_off(flags: &Flags) -> bool {
    let mut negated = false;
    flags.items.iter().any(|item| match item.kind {
        FlagsItemKind::Negation => {
            negated = true;
            false
        }
        FlagsItemKind::Flag(Flag::CaseInsensitive) => negated,
        FlagsItemKind::Flag(_) => false,
    })
}

fn set_folds_locally(set: &ClassSet) -> bool {
    match set {
        ClassSet::Item(item) => item_folds_locally(item),
        ClassSet::BinaryOp(_) => false,
    }
}

fn item_folds_locally(item: &ClassSetItem) -> bool {
    match item {
        ClassSetItem::Empty(_) | ClassSetItem::Ascii(_) | ClassSetItem::Perl(_) => true,
        ClassSetItem::Literal(literal) => literal.c.is_ascii(),
        ClassSetItem::Range(range) => range.start.c.is_ascii() && range.end.c.is_ascii(),
        ClassSetItem::Unicode(_) => false,
        ClassSetItem::Bracketed(class) => set_folds_locally(&class.kind),
        ClassSetItem::Union(union) => union.items.iter().all(item_folds_locally),
    }
}

#[cfg(test)]
mod tests {
    use regex_syntax::ast::parse::Parser;

    use super::folds_locally;

    fn local(pattern: &str) -> bool {
        let ast = Parser::new()
            .parse(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"));
        folds_locally(&ast)
    }

    #[test]
    fn ascii_items_and_perl_classes_fold_locally() {
        for pattern in [
            r"(project|codename)[- ]?7\b",
            r"\d{3}-\d{2}-\d{4}",
            r"sk-ant-[A-Za-z0-9_-]{20,}",
            r"[^\s\W]+",
            "[[:^alpha:]]x",
            "(?i)k|s|x",
            "(?s:.)+",
            "(?x) a b # comment",
        ] {
            assert!(local(pattern), "{pattern}");
        }
    }

    #[test]
    fn unicode_classes_set_operations_and_case_off_regions_do_not() {
        for pattern in [
            r"\p{Greek}",
            "[à-ÿ]",
            "[ß]",
            "straße",
            "é|b",
            r"\x{e9}",
            r"[\w--a]",
            "(?-i)abc",
            "(?s-i:a)b",
            "x(?i-s:y)(?-i)z",
        ] {
            assert!(!local(pattern), "{pattern}");
        }
    }
}
