//! `spec.policies.ai.promptGuard.response` and `promptGuard.streaming` → the bundle's
//! response guards.
//!
//! A response guard is shaped as agentgateway's `PromptguardResponse` (`response` message
//! and status, `regex` with `matches`, `builtins`, `action`) and judged by the same pattern
//! and builtin rules as a request guard (shared with [`guards`](super::guards)). What only
//! responses need is decided here: which parts of a response a guard may inspect, the
//! response's own default message, and, when `streaming: Enabled`, that every match fits the
//! proxy's hold-back window, so a guard on a stream can always decide before text is sent.
//! This module must not decide anything about request guards.

use agw_crds::{PromptGuard, PromptGuardRule, STREAMING_MODES};

use super::Limits;
use super::guard_rule::{detectors_of, rejection};
use super::regex_safety::Judge;
use super::webhook::{self, Phase};
use crate::bundle::{Detector, Guard, GuardScope};
use crate::diagnostics::{Diagnostic, FieldPath};

/// Bytes of model text the proxy holds back per content block of a stream before sending
/// it, so a match split across deltas is still caught whole.
pub const STREAM_WINDOW_BYTES: usize = 512;
/// Longest match (in bytes, as the pattern is written) a response guard may have when
/// streams are guarded. Half the window: the rest is context on either side of a match
/// (a word boundary, the character after a card number, an `SSN` mention before it).
pub const MAX_STREAM_MATCH_BYTES: usize = STREAM_WINDOW_BYTES / 2;
/// Rejection message of a response guard that does not set one (agentgateway's words).
pub const DEFAULT_RESPONSE_MESSAGE: &str = "The response was rejected due to inappropriate content";
/// Scopes a response guard accepts: the model's text and its tool calls' input.
const RESPONSE_SCOPES: &[&str] = &["Messages", "ToolInput"];

/// Compiles the response guards; returns them and whether they apply to streams.
pub(super) fn compile(
    spec: &PromptGuard,
    path: &FieldPath,
    judge: &mut Judge,
    namespace: &str,
    findings: &mut Vec<Diagnostic>,
) -> (Vec<Guard>, bool) {
    let streaming = streaming(spec, path, findings);
    let phase_path = path.field("response");
    let limits = *judge.limits();
    if spec.response.len() > limits.max_guards {
        findings.push(Diagnostic::error(
            &phase_path,
            "too-many-guards",
            format!(
                "{} guards, over the limit of {}",
                spec.response.len(),
                limits.max_guards
            ),
        ));
    }
    let guards = spec
        .response
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let item = phase_path.index(i);
            let mut guard = compile_guard(format!("response[{i}]"), rule, &item, judge, findings);
            guard.webhook = webhook::compile(rule, Phase::Response, &item, namespace, findings);
            if guard.webhook.is_some() {
                webhook::check_scope(guard.scope, Phase::Response, &item.field("scope"), findings);
                if streaming {
                    findings.push(streamed_webhook(&item.field("webhook")));
                }
            }
            if streaming {
                check_fits_window(&guard, rule, &item.field("regex"), findings);
            }
            guard
        })
        .collect();
    (guards, streaming)
}

fn streaming(spec: &PromptGuard, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> bool {
    let field = path.field("streaming");
    let enabled = match spec.streaming.as_deref().map(str::trim) {
        None => false,
        Some("Enabled") => true,
        Some(other) => {
            findings.push(
                Diagnostic::error(
                    &field,
                    "invalid-streaming-mode",
                    format!("unknown streaming mode {other:?}"),
                )
                .with_hint(format!(
                    "valid modes: {} (omit the field to leave streamed responses unguarded)",
                    STREAMING_MODES.join(", ")
                )),
            );
            false
        }
    };
    if spec.streaming.is_none() && !spec.response.is_empty() {
        let hint = if spec.response.iter().any(|r| r.webhook.is_some()) {
            "webhook guards check whole JSON replies only; add `regex` response guards and `promptGuard.streaming: Enabled` to guard streams"
        } else {
            "set `promptGuard.streaming: Enabled`"
        };
        findings.push(
            Diagnostic::warning(
                &field,
                "response-guards-skip-streams",
                "response guards do not apply to streamed responses unless `streaming: Enabled`; Claude Code always streams",
            )
            .with_hint(hint),
        );
    }
    if enabled && spec.response.is_empty() {
        findings.push(Diagnostic::warning(
            &field,
            "streaming-without-response-guards",
            "`streaming: Enabled` has no effect without response guards",
        ));
    }
    enabled
}

fn compile_guard(
    id: String,
    rule: &PromptGuardRule,
    path: &FieldPath,
    judge: &mut Judge,
    findings: &mut Vec<Diagnostic>,
) -> Guard {
    let limits = *judge.limits();
    let (action, detectors) = detectors_of(rule, path, judge, findings);
    let mut reject = rejection(rule, &path.field("response"), &limits, findings);
    if rule
        .response
        .as_ref()
        .and_then(|r| r.message.as_deref())
        .is_none_or(|m| m.trim().is_empty())
    {
        DEFAULT_RESPONSE_MESSAGE.clone_into(&mut reject.message);
    }
    Guard {
        id,
        action,
        reject,
        scope: scope(rule.scope.as_deref(), &path.field("scope"), findings),
        detectors,
        webhook: None,
    }
}

/// A checker needs the whole reply, and a guarded stream sends text as it comes: a response
/// webhook guard on streams would have to hold the whole reply back (no first token before
/// the last), so it is refused rather than made to pass unchecked text.
fn streamed_webhook(path: &FieldPath) -> Diagnostic {
    Diagnostic::error(
        path,
        "webhook-on-stream",
        "a response webhook guard needs the whole reply, so it cannot guard streams (`streaming: Enabled`)",
    )
    .with_hint("check streamed replies with `regex` guards; put the webhook on `request`, or drop `streaming` to check JSON replies only")
}

/// A response carries the model's text (`Messages`) and tool calls (`ToolInput`); the
/// request-only scopes name nothing in it.
fn scope(names: Option<&[String]>, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> GuardScope {
    let mut scope = GuardScope {
        system: false,
        messages: names.is_none(),
        tool_results: false,
        tool_use: false,
    };
    let Some(names) = names else {
        return scope;
    };
    if names.is_empty() {
        findings.push(
            Diagnostic::error(
                path,
                "empty-scope",
                "scope is empty, so the guard inspects nothing",
            )
            .with_hint("omit `scope` for the default (Messages)"),
        );
    }
    for (i, name) in names.iter().enumerate() {
        match name.trim() {
            "Messages" => scope.messages = true,
            "ToolInput" => scope.tool_use = true,
            other => findings.push(
                Diagnostic::error(
                    path.index(i),
                    "invalid-response-scope",
                    format!("scope {other:?} does not apply to a response"),
                )
                .with_hint(format!(
                    "a response guard inspects the model's text and tool calls: {}",
                    RESPONSE_SCOPES.join(", ")
                )),
            ),
        }
    }
    scope
}

/// With streams guarded, every detector must have a bounded match that fits the window,
/// or a guard could see a match only after its beginning was sent.
fn check_fits_window(
    guard: &Guard,
    rule: &PromptGuardRule,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) {
    for detector in &guard.detectors {
        let (source, max) = match detector {
            Detector::Regex(regex) => {
                let max = crate::engine::matcher::parser(&Limits::default())
                    .parse(&regex.pattern)
                    .ok()
                    .and_then(|hir| hir.properties().maximum_len());
                (&regex.path, max)
            }
            // A length check fires on a whole text: no window can hold it.
            Detector::MinLength(length) => (&length.path, None),
            // Builtins are bounded by their validators (the longest, Email, at 318 bytes).
            Detector::Builtin(_) => continue,
        };
        let patterns = rule.regex.as_ref().map_or(0, |r| r.matches.len());
        let Some(i) = index_of(source).filter(|&i| i < patterns) else {
            continue;
        };
        let item = path.field("matches").index(i);
        if max.is_none_or(|m| m > MAX_STREAM_MATCH_BYTES) {
            findings.push(
                Diagnostic::error(
                    item,
                    "stream-match-unbounded",
                    match max {
                        Some(m) => format!("a match can be {m} bytes long, over the {MAX_STREAM_MATCH_BYTES}-byte limit for guarding streams"),
                        None => format!("a match can be of any length, so a stream guard could not decide within its {STREAM_WINDOW_BYTES}-byte window"),
                    },
                )
                .with_hint("bound repetitions (`[a-z]{1,40}` rather than `[a-z]+`), or drop `streaming: Enabled`"),
            );
        }
    }
}

/// The index in `...matches[<i>]`.
fn index_of(path: &str) -> Option<usize> {
    path.rsplit_once("matches[")
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .and_then(|i| i.parse().ok())
}
