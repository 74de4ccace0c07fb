//! Judges a custom pattern before any automaton is built.
//!
//! agw matches with finite automata (linear time in the text), so catastrophic backtracking
//! cannot happen and `(a+)+$` is fine. What can go wrong instead is syntax the engine does not
//! have (look-around, backreferences, possessive and atomic groups), automata too large to
//! build (`a{1000}{1000}`, `\p{L}{500}`), and patterns that match everywhere (`a*`). Each is
//! reported with the construct, its position and a hint. Pure length patterns (`.{4000,}`)
//! are recognised here and become a length check instead of an automaton.

use std::collections::HashMap;

use regex_automata::nfa::thompson;
use regex_syntax::Error as SyntaxError;
use regex_syntax::ast::{self, Ast};
use regex_syntax::hir::translate::{Translator, TranslatorBuilder};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

use self::simple::Quick;
use self::syntax_error::{describe_syntax_error, position};
use super::{Limits, case_fold, nfa_bound};

/// What a custom pattern turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judged {
    /// A regex the engine will build.
    Regex {
        /// A simpler pattern that matches the same texts, when this one is needlessly broad.
        simpler: Option<String>,
    },
    /// A pure length pattern: at least `chars` characters (of the text, or of one line).
    MinLength {
        /// Minimum characters.
        chars: u64,
        /// Whether `.` also matched newlines.
        across_lines: bool,
    },
}

/// Why a pattern was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Stable diagnostic code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Refusal {
    fn new(code: &'static str, message: String, hint: impl Into<Option<String>>) -> Self {
        Self {
            code,
            message,
            hint: hint.into(),
        }
    }
}

/// Parses `pattern` the way the engine will (case-insensitive, Unicode) and judges it.
pub fn judge(pattern: &str, limits: &Limits) -> Result<Judged, Refusal> {
    Judge::new(limits).judge(pattern)
}

/// Judges many patterns with the same limits, reusing the parser, the translators and the NFA
/// compiler (and their allocations) from one pattern to the next. One per compiled spec.
///
/// Patterns are translated case-sensitively, which is several times cheaper than the engine's
/// case-insensitive translation and gives the same verdicts (see [`case_fold`]); the
/// case-insensitive one is produced only when the size check needs it.
#[derive(Debug)]
pub struct Judge {
    limits: Limits,
    parser: ast::parse::Parser,
    case_sensitive: Translator,
    case_insensitive: Translator,
    nfa: Option<thompson::Compiler>,
    /// Verdicts by pattern text: a pattern repeated within one spec is judged once.
    judged: HashMap<String, Result<Judged, Refusal>>,
}

impl Judge {
    /// A judge for patterns under `limits`.
    pub fn new(limits: &Limits) -> Self {
        Self {
            limits: *limits,
            parser: ast::parse::ParserBuilder::new()
                .nest_limit(limits.max_nesting)
                .build(),
            case_sensitive: translator(false),
            case_insensitive: translator(true),
            nfa: None,
            judged: HashMap::new(),
        }
    }

    /// The limits patterns are judged under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Judges one pattern, exactly as [`judge`] does.
    pub fn judge(&mut self, pattern: &str) -> Result<Judged, Refusal> {
        if let Some(verdict) = self.judged.get(pattern) {
            return verdict.clone();
        }
        let verdict = self.judge_afresh(pattern);
        self.judged.insert(pattern.to_owned(), verdict.clone());
        verdict
    }

    fn judge_afresh(&mut self, pattern: &str) -> Result<Judged, Refusal> {
        let limits = self.limits;
        if pattern.len() > limits.max_pattern_bytes {
            return Err(Refusal::new(
                "regex-too-long",
                format!(
                    "pattern is {} bytes, over the limit of {} bytes",
                    pattern.len(),
                    limits.max_pattern_bytes
                ),
                "split it into several shorter patterns".to_owned(),
            ));
        }
        if is_plain_phrase(pattern) {
            // No metacharacter: it means itself, cannot match empty, and its automaton grows
            // linearly with a length already bounded above. Most patterns in large policies
            // look like this, and skipping the parse keeps admission of a 200-phrase Backend
            // fast.
            return Ok(Judged::Regex { simpler: None });
        }
        let ast = self.parse(pattern)?;
        match simple::judge(&ast, self.safe_bound()) {
            Some(Quick::Regex) => return Ok(Judged::Regex { simpler: None }),
            Some(Quick::MatchesEmpty) => return Err(matches_empty()),
            None => {}
        }
        let sensitive = Self::translate(&mut self.case_sensitive, pattern, &ast, &limits)?;
        // Length checks and wildcard wrappers are recognised by an unbounded repetition of any
        // character, and case folding can complete a near-universal class into one
        // (`(?:[^a]|[b-z]|A)+`), so patterns of that shape are read as the engine reads them.
        let engine = if has_outer_unbounded_repetition(&sensitive) {
            Some(Self::translate(
                &mut self.case_insensitive,
                pattern,
                &ast,
                &limits,
            )?)
        } else {
            None
        };
        let shape = engine.as_ref().unwrap_or(&sensitive);
        if let Some(judged) = as_length_check(shape) {
            return Ok(judged);
        }
        let simpler = simpler_equivalent(pattern, shape);
        if sensitive.properties().minimum_len() == Some(0) {
            return Err(matches_empty());
        }
        self.check_size(pattern, &ast, &sensitive, engine)?;
        Ok(Judged::Regex { simpler })
    }

    /// Parses to an AST, so constructs that regex syntax accepts with another meaning, like the
    /// possessive-looking `a*+` (a nested repetition), can be refused before translation.
    fn parse(&mut self, pattern: &str) -> Result<Ast, Refusal> {
        let limits = &self.limits;
        let ast = self
            .parser
            .parse(pattern)
            .map_err(|e| describe_syntax_error(pattern, &SyntaxError::Parse(e), limits))?;
        if let Some(span) = find_possessive(&ast) {
            return Err(Refusal::new(
                "unsupported-regex-feature",
                format!("a possessive quantifier at {} is not supported", position(span)),
                "drop the extra `+`: `a*` instead of `a*+`; agw matches in linear time and has no backtracking constructs"
                    .to_owned(),
            ));
        }
        Ok(ast)
    }

    /// Both translations refuse the same patterns: case folding only adds characters to
    /// literals and classes, which changes neither which Unicode data is needed nor whether a
    /// byte class stays valid UTF-8.
    fn translate(
        translator: &mut Translator,
        pattern: &str,
        ast: &Ast,
        limits: &Limits,
    ) -> Result<Hir, Refusal> {
        translator
            .translate(pattern, ast)
            .map_err(|e| describe_syntax_error(pattern, &SyntaxError::Translate(e), limits))
    }

    /// A size bound at or below this is far enough under the limit (a quarter of it) that the
    /// NFA need not be built to know it fits.
    fn safe_bound(&self) -> u64 {
        (self.limits.max_compiled_bytes / 4) as u64
    }

    /// Refuses a pattern whose forward Thompson NFA (without captures) exceeds the engine's
    /// size limit: that is what the limit bounds, and it is several times cheaper than a whole
    /// meta regex. The NFA is built only when a conservative bound ([`nfa_bound`]) comes within
    /// a quarter of the limit; below that it cannot fail. The bound is computed from the
    /// case-sensitive translation when [`case_fold`] allows and the engine's translation is
    /// not at hand already, else from the engine's.
    fn check_size(
        &mut self,
        pattern: &str,
        ast: &Ast,
        sensitive: &Hir,
        engine: Option<Hir>,
    ) -> Result<(), Refusal> {
        let limit = self.limits.max_compiled_bytes;
        let quarter = self.safe_bound();
        let hir = match engine {
            Some(hir) => hir,
            None if case_fold::folds_locally(ast)
                && nfa_bound::folded_nfa_bytes(sensitive) <= quarter =>
            {
                return Ok(());
            }
            None => {
                let limits = self.limits;
                Self::translate(&mut self.case_insensitive, pattern, ast, &limits)?
            }
        };
        if nfa_bound::nfa_bytes(&hir) <= quarter {
            return Ok(());
        }
        let config = thompson::Config::new()
            .nfa_size_limit(Some(limit))
            .which_captures(thompson::WhichCaptures::None)
            .shrink(false);
        let compiler = self.nfa.get_or_insert_with(thompson::Compiler::new);
        match compiler.configure(config).build_from_hir(&hir) {
            Ok(_) => Ok(()),
            Err(_) => Err(Refusal::new(
                "regex-too-large",
                format!(
                    "pattern compiles to an automaton over the limit of {} KiB",
                    limit / 1024
                ),
                "large counted repetitions (`a{1000}`) and big Unicode classes (`\\p{L}`) multiply in size; \
                 use smaller counts, or `.{N,}` alone for a length limit"
                    .to_owned(),
            )),
        }
    }
}

fn matches_empty() -> Refusal {
    Refusal::new(
        "regex-matches-empty",
        "pattern matches the empty string, so it would match every prompt".to_owned(),
        "require at least one character, e.g. `a+` instead of `a*`, and remove empty alternatives like `x|`"
            .to_owned(),
    )
}

/// Letters, digits, spaces and punctuation that has no meaning in a regex outside a class,
/// with at least one letter or digit.
fn is_plain_phrase(pattern: &str) -> bool {
    pattern.chars().any(char::is_alphanumeric)
        && pattern
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || ",'\"-_:;!/@%=<>&~`".contains(c))
}

fn translator(case_insensitive: bool) -> Translator {
    TranslatorBuilder::new()
        .case_insensitive(case_insensitive)
        .unicode(true)
        .utf8(true)
        .build()
}

/// A `+` applied directly to another repetition (`a*+`, `a++`, `a{2}+`), which Perl-style
/// engines read as possessive. Recursion depth is bounded by the parser's nest limit.
fn find_possessive(node: &Ast) -> Option<ast::Span> {
    match node {
        Ast::Repetition(rep) => {
            let nested = matches!(*rep.ast, Ast::Repetition(_));
            if nested && rep.op.kind == ast::RepetitionKind::OneOrMore && rep.greedy {
                return Some(rep.op.span);
            }
            find_possessive(&rep.ast)
        }
        Ast::Group(group) => find_possessive(&group.ast),
        Ast::Alternation(alt) => alt.asts.iter().find_map(find_possessive),
        Ast::Concat(concat) => concat.asts.iter().find_map(find_possessive),
        _ => None,
    }
}

/// An unbounded repetition at the top of the pattern, inside captures and concatenations only:
/// where [`as_length_check`] and [`simpler_equivalent`] look.
fn has_outer_unbounded_repetition(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Repetition(rep) => rep.max.is_none(),
        HirKind::Capture(capture) => has_outer_unbounded_repetition(&capture.sub),
        HirKind::Concat(parts) => parts.iter().any(has_outer_unbounded_repetition),
        _ => false,
    }
}

/// `.{N,}`, `(?s).{N,}`, `[\s\S]{N,}`, optionally in a group or between `^`/`$` anchors
/// (dot-all only, where anchors change nothing).
fn as_length_check(hir: &Hir) -> Option<Judged> {
    let core = match hir.kind() {
        HirKind::Concat(parts) => {
            let mut inner = parts
                .iter()
                .filter(|h| !matches!(h.kind(), HirKind::Look(Look::Start | Look::End)));
            let only = inner.next()?;
            if inner.next().is_some() {
                return None;
            }
            let anchored = parts.len() > 1;
            let judged = as_length_check(only)?;
            return match judged {
                Judged::MinLength {
                    across_lines: false,
                    ..
                } if anchored => None,
                other => Some(other),
            };
        }
        HirKind::Capture(capture) => return as_length_check(&capture.sub),
        HirKind::Repetition(rep) if rep.max.is_none() && rep.min > 0 => rep,
        _ => return None,
    };
    let across_lines = any_char_class(&core.sub)?;
    Some(Judged::MinLength {
        chars: u64::from(core.min),
        across_lines,
    })
}

/// `Some(true)` for a class of every character, `Some(false)` for every character but `\n`.
fn any_char_class(hir: &Hir) -> Option<bool> {
    let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
        return None;
    };
    let mut missing = class.clone();
    missing.negate();
    match missing.ranges() {
        [] => Some(true),
        [only] if only.start() == '\n' && only.end() == '\n' => Some(false),
        _ => None,
    }
}

/// `.*foo.*` searches exactly like `foo` (matching is unanchored), but under Mask it would
/// mask whole lines; suggest the core when the pattern is wrapped in unbounded wildcards.
fn simpler_equivalent(pattern: &str, hir: &Hir) -> Option<String> {
    let HirKind::Concat(parts) = hir.kind() else {
        return None;
    };
    let is_wildcard = |h: &Hir| matches!(h.kind(), HirKind::Repetition(r) if r.min == 0 && r.max.is_none() && any_char_class(&r.sub).is_some());
    let leading = parts.first().is_some_and(is_wildcard);
    let trailing = parts.last().is_some_and(is_wildcard);
    if !leading && !trailing {
        return None;
    }
    let mut core = pattern;
    for wildcard in [".*?", ".*", "(?s:.*)", "[\\s\\S]*"] {
        if leading {
            core = core.strip_prefix(wildcard).unwrap_or(core);
        }
        if trailing {
            core = core.strip_suffix(wildcard).unwrap_or(core);
        }
    }
    (core != pattern && !core.is_empty()).then(|| core.to_owned())
}

mod simple;
mod syntax_error;
#[cfg(test)]
mod tests;
