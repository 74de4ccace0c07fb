//! What one guard rule says, in either phase: its action and detectors (`regex`, judged by
//! [`regex_safety`](super::regex_safety); builtin names resolved case-insensitively) and its
//! rejection (`response` message and status, with agentgateway's and agw's defaults).
//!
//! Owns the parts the request phase ([`guards`](super::guards)) and the response phase
//! ([`response_guards`](super::response_guards)) share, so neither imports the other. Must not
//! decide a phase's own rules (scopes, streaming).

use agw_crds::{GUARD_ACTIONS, PromptGuardRule, RegexGuard};

use super::regex_safety::{Judge, Judged};
use super::{Limits, unsupported};
use crate::bundle::{Builtin, Detector, GuardAction, MinLengthDetector, RegexDetector, Rejection};
use crate::diagnostics::{Diagnostic, FieldPath, closest};

/// Rejection message used when a guard does not set one: agentgateway's default, word for word.
pub const DEFAULT_REJECT_MESSAGE: &str = "The request was rejected due to inappropriate content";
/// Rejection status used when a guard does not set one. agentgateway defaults to 403, but Claude
/// Code shows a 403 as an authentication failure and hides the message, while it prints a 400
/// as `API Error: 400 <message>` and stops: the tutorial relies on the user reading the message.
pub const DEFAULT_REJECT_STATUS: u16 = 400;

/// A guard's action and detectors: its `regex` (a `webhook` guard has none: its checker
/// decides); other kinds are refused by name, and a guard with none is an error. Shared by
/// both phases.
pub(super) fn detectors_of(
    rule: &PromptGuardRule,
    path: &FieldPath,
    judge: &mut Judge,
    findings: &mut Vec<Diagnostic>,
) -> (GuardAction, Vec<Detector>) {
    unsupported::guard_kinds(rule, path, findings);
    if !unsupported::has_detector(rule) {
        findings.push(
            Diagnostic::error(path, "missing-detector", "guard has no detector")
                .with_hint("add `regex:` with `matches` or `builtins`, or a `webhook:`"),
        );
    }
    match &rule.regex {
        Some(regex) => regex_detectors(regex, &path.field("regex"), judge, findings),
        None => (GuardAction::Mask, Vec::new()),
    }
}

fn regex_detectors(
    regex: &RegexGuard,
    regex_path: &FieldPath,
    judge: &mut Judge,
    findings: &mut Vec<Diagnostic>,
) -> (GuardAction, Vec<Detector>) {
    let action = parse_action(
        regex.action.as_deref(),
        &regex_path.field("action"),
        findings,
    );
    let mut detectors = patterns(
        &regex.matches,
        &regex_path.field("matches"),
        judge,
        findings,
    );
    detectors.extend(builtins(
        &regex.builtins,
        &regex_path.field("builtins"),
        findings,
    ));
    if regex.matches.is_empty() && regex.builtins.is_empty() {
        findings.push(
            Diagnostic::error(
                regex_path,
                "empty-guard",
                "guard has neither `matches` nor `builtins`, so it never fires",
            )
            .with_hint("add a phrase to `matches` or a builtin such as `CreditCard`"),
        );
    }
    (action, detectors)
}

pub(super) fn parse_action(
    action: Option<&str>,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> GuardAction {
    match action.map(str::trim) {
        None | Some("Mask") => GuardAction::Mask,
        Some("Reject") => GuardAction::Reject,
        Some(other) => {
            findings.push(
                Diagnostic::error(path, "invalid-action", format!("unknown action {other:?}"))
                    .with_hint(format!("valid actions: {}", GUARD_ACTIONS.join(", "))),
            );
            GuardAction::Mask
        }
    }
}

pub(super) fn patterns(
    matches: &[String],
    path: &FieldPath,
    judge: &mut Judge,
    findings: &mut Vec<Diagnostic>,
) -> Vec<Detector> {
    let limits = *judge.limits();
    if matches.len() > limits.max_patterns_per_guard {
        findings.push(
            Diagnostic::error(
                path,
                "too-many-patterns",
                format!(
                    "{} patterns in one guard, over the limit of {}",
                    matches.len(),
                    limits.max_patterns_per_guard
                ),
            )
            .with_hint("merge phrases into alternations (`a|b|c`) or use builtins"),
        );
        return Vec::new();
    }
    let mut detectors = Vec::new();
    for (i, pattern) in matches.iter().enumerate() {
        let item = path.index(i);
        match judge.judge(pattern) {
            Ok(Judged::Regex { simpler }) => {
                if let Some(simpler) = simpler {
                    findings.push(
                        Diagnostic::warning(
                            &item,
                            "needlessly-broad-regex",
                            format!("{pattern:?} matches the same prompts as {simpler:?}"),
                        )
                        .with_hint(format!(
                            "use `{simpler}`; with Mask the wildcards would mask whole lines"
                        )),
                    );
                }
                detectors.push(Detector::Regex(RegexDetector {
                    pattern: pattern.clone(),
                    path: item.to_string(),
                }));
            }
            Ok(Judged::MinLength {
                chars,
                across_lines,
            }) => {
                detectors.push(Detector::MinLength(MinLengthDetector {
                    chars,
                    across_lines,
                    path: item.to_string(),
                }));
            }
            Err(refusal) => {
                let mut diagnostic = Diagnostic::error(&item, refusal.code, refusal.message);
                diagnostic.hint = refusal.hint;
                findings.push(diagnostic);
            }
        }
    }
    detectors
}

pub(super) fn builtins(
    names: &[String],
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<Detector> {
    let mut seen = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let item = path.index(i);
        let Some(resolved) = Builtin::resolve(name) else {
            let known: Vec<&str> = Builtin::known_names().collect();
            let hint = match closest(name, known.iter().copied()) {
                Some(near) => format!("did you mean {near}? known builtins: {}", known.join(", ")),
                None => format!("known builtins: {}", known.join(", ")),
            };
            findings.push(
                Diagnostic::error(
                    &item,
                    "unknown-builtin",
                    format!("unknown builtin {name:?}"),
                )
                .with_hint(hint),
            );
            continue;
        };
        for &builtin in resolved {
            if !seen.contains(&builtin) {
                seen.push(builtin);
            } else if resolved.len() == 1 {
                // A group overlapping a builtin listed on its own is no mistake.
                findings.push(Diagnostic::warning(
                    &item,
                    "duplicate-builtin",
                    format!("{} is listed twice", builtin.name()),
                ));
            }
        }
    }
    seen.into_iter().map(Detector::Builtin).collect()
}

pub(super) fn rejection(
    rule: &PromptGuardRule,
    path: &FieldPath,
    limits: &Limits,
    findings: &mut Vec<Diagnostic>,
) -> Rejection {
    let response = rule.response.as_ref();
    let message = response
        .and_then(|r| r.message.as_deref())
        .map(str::trim)
        .filter(|m| !m.is_empty());
    if let Some(message) = message.filter(|m| m.len() > limits.max_message_bytes) {
        findings.push(Diagnostic::error(
            path.field("message"),
            "message-too-long",
            format!(
                "message is {} bytes, over the limit of {}",
                message.len(),
                limits.max_message_bytes
            ),
        ));
    }
    let status = match response.and_then(|r| r.status_code) {
        None => DEFAULT_REJECT_STATUS,
        Some(code) => u16::try_from(code).ok().filter(|c| (400..=599).contains(c)).unwrap_or_else(|| {
            findings.push(
                Diagnostic::error(path.field("statusCode"), "invalid-status-code", format!("status {code} is not an HTTP error status"))
                    .with_hint("use 400 (Claude Code shows it at once) or another 4xx/5xx; 5xx and 429 make clients retry"),
            );
            DEFAULT_REJECT_STATUS
        }),
    };
    Rejection {
        status,
        message: message.unwrap_or(DEFAULT_REJECT_MESSAGE).to_owned(),
    }
}
