//! Judges a custom pattern before any automaton is built.
//!
//! agw matches with finite automata (linear time in the text), so catastrophic backtracking
//! cannot happen and `(a+)+$` is fine. What can go wrong instead is syntax the engine does not
//! have (look-around, backreferences, possessive and atomic groups), automata too large to
//! build (`a{1000}{1000}`, `\p{L}{500}`), and patterns that match everywhere (`a*`). Each is
//! reported with the construct, its position and a hint. Pure length patterns (`.{4000,}`)
//! are recognised here and become a length check instead of an automaton.

use regex_automata::nfa::thompson;
use regex_syntax::ast::{self, Ast, ErrorKind};
use regex_syntax::hir::translate::TranslatorBuilder;
use regex_syntax::hir::{Class, Hir, HirKind, Look};
use regex_syntax::{Error as SyntaxError, ParserBuilder};

use super::Limits;

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
        // linearly with a length already bounded above. Most patterns in large policies look
        // like this, and skipping the parse keeps admission of a 200-phrase Backend fast.
        return Ok(Judged::Regex { simpler: None });
    }
    let hir = parse(pattern, limits)?;
    if let Some(judged) = as_length_check(&hir) {
        return Ok(judged);
    }
    if hir.properties().minimum_len() == Some(0) {
        return Err(Refusal::new(
            "regex-matches-empty",
            "pattern matches the empty string, so it would match every prompt".to_owned(),
            "require at least one character, e.g. `a+` instead of `a*`, and remove empty alternatives like `x|`"
                .to_owned(),
        ));
    }
    check_size(&hir, limits)?;
    Ok(Judged::Regex {
        simpler: simpler_equivalent(pattern, &hir),
    })
}

/// Letters, digits, spaces and punctuation that has no meaning in a regex outside a class,
/// with at least one letter or digit.
fn is_plain_phrase(pattern: &str) -> bool {
    pattern.chars().any(char::is_alphanumeric)
        && pattern
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || ",'\"-_:;!/@%=<>&~`".contains(c))
}

/// The parser configuration shared with the engine, so both agree on what a pattern means.
pub fn parser(limits: &Limits) -> regex_syntax::Parser {
    ParserBuilder::new()
        .case_insensitive(true)
        .unicode(true)
        .utf8(true)
        .nest_limit(limits.max_nesting)
        .build()
}

/// Parses in two steps (AST, then HIR) so constructs that regex syntax accepts with another
/// meaning, like the possessive-looking `a*+` (a nested repetition), can be refused first.
fn parse(pattern: &str, limits: &Limits) -> Result<Hir, Refusal> {
    let ast = ast::parse::ParserBuilder::new()
        .nest_limit(limits.max_nesting)
        .build()
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
    TranslatorBuilder::new()
        .case_insensitive(true)
        .unicode(true)
        .utf8(true)
        .build()
        .translate(pattern, &ast)
        .map_err(|e| describe_syntax_error(pattern, &SyntaxError::Translate(e), limits))
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

/// Builds the pattern's NFA with the engine's size limit; too large means refused. Only the
/// forward Thompson NFA, without captures: that is what the limit bounds, and it is several
/// times cheaper than a whole meta regex, which matters for admission latency on big policies.
fn check_size(hir: &Hir, limits: &Limits) -> Result<(), Refusal> {
    let config = thompson::Config::new()
        .nfa_size_limit(Some(limits.max_compiled_bytes))
        .which_captures(thompson::WhichCaptures::None)
        .shrink(false);
    match thompson::Compiler::new().configure(config).build_from_hir(hir) {
        Ok(_) => Ok(()),
        Err(_) => Err(Refusal::new(
            "regex-too-large",
            format!(
                "pattern compiles to an automaton over the limit of {} KiB",
                limits.max_compiled_bytes / 1024
            ),
            "large counted repetitions (`a{1000}`) and big Unicode classes (`\\p{L}`) multiply in size; \
             use smaller counts, or `.{N,}` alone for a length limit"
                .to_owned(),
        )),
    }
}

fn describe_syntax_error(pattern: &str, err: &SyntaxError, limits: &Limits) -> Refusal {
    let (kind, span) = match err {
        SyntaxError::Parse(e) => (Some(e.kind().clone()), *e.span()),
        SyntaxError::Translate(e) => (None, *e.span()),
        _ => (None, ast::Span::splat(ast::Position::new(0, 1, 1))),
    };
    let at = position(span);
    let rest = pattern.get(span.start.offset..).unwrap_or_default();
    let unsupported = |construct: &str, hint: &str| {
        Refusal::new(
            "unsupported-regex-feature",
            format!("{construct} at {at} is not supported"),
            format!("{hint}; agw matches in linear time and has no backtracking constructs"),
        )
    };
    match kind {
        Some(ErrorKind::UnsupportedLookAround) => {
            let construct = if rest.starts_with("(?<") {
                "lookbehind"
            } else {
                "lookahead"
            };
            unsupported(
                construct,
                "match the phrase itself, e.g. `credit card`, or split the check into two guards",
            )
        }
        Some(ErrorKind::UnsupportedBackreference) => unsupported(
            "a backreference",
            "spell out the repeated text, or list the variants as alternatives",
        ),
        Some(ErrorKind::NestLimitExceeded(_)) => Refusal::new(
            "regex-too-deep",
            format!(
                "pattern nests groups or repetitions deeper than the limit of {} (at {at})",
                limits.max_nesting
            ),
            "flatten the pattern".to_owned(),
        ),
        Some(ErrorKind::FlagUnrecognized) if rest.starts_with("(?>") || rest.starts_with('>') => {
            unsupported("an atomic group `(?>…)`", "use a plain group `(?:…)`")
        }
        _ => Refusal::new(
            "invalid-regex",
            format!("invalid pattern at {at}: {}", first_line(err)),
            None,
        ),
    }
}

fn position(span: ast::Span) -> String {
    if span.start.line <= 1 {
        format!("character {}", span.start.column)
    } else {
        format!("line {}, character {}", span.start.line, span.start.column)
    }
}

/// regex-syntax renders errors as a multi-line picture; the last line is the message.
fn first_line(err: &SyntaxError) -> String {
    let text = err.to_string();
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map_or(text.clone(), |l| l.trim_start_matches("error: ").to_owned())
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

#[cfg(test)]
mod tests {
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
}
