//! Turns regex-syntax's errors into refusals that name the construct, its position and a fix.

use regex_syntax::Error as SyntaxError;
use regex_syntax::ast::{self, ErrorKind};

use super::Refusal;
use crate::compile::Limits;

pub(super) fn describe_syntax_error(pattern: &str, err: &SyntaxError, limits: &Limits) -> Refusal {
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

pub(super) fn position(span: ast::Span) -> String {
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
