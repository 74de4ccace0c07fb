//! `promptGuard.{request,response}[].webhook` → the bundle's [`WebhookCall`].
//!
//! Shaped as agentgateway's webhook guard (`backendRef`, `headers`, `forwardHeaderMatches`,
//! `failureMode`), plus agw's `url` (the standalone proxy has no Services to name) and
//! `timeout`. Where the checker is ([`webhook_target`](super::webhook_target)) is decided here
//! for the operator and the standalone proxy alike: a Service `backendRef` becomes its
//! in-cluster DNS name and port. This module must not do I/O or judge regex guards.

use agw_crds::{FAILURE_MODES, HEADER_MATCH_TYPES, PromptGuardRule, WebhookGuard};

use super::webhook_target::{self, Target};
use crate::bundle::{GuardScope, WebhookCall, WebhookHeader};
use crate::diagnostics::{Diagnostic, FieldPath};

/// Time allowed per call when `timeout` is omitted.
pub const DEFAULT_WEBHOOK_TIMEOUT_MS: u32 = 5_000;
/// Longest `timeout` accepted.
pub const MAX_WEBHOOK_TIMEOUT_MS: u32 = 60_000;

/// Headers the proxy sets itself or that describe one hop; a checker call never takes them
/// from the spec.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
];
/// Client credentials: the checker never sees them (the provider key is never in a request
/// the proxy reads, and a gateway key is the caller's secret).
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "cookie",
    "set-cookie",
];

/// Which direction a webhook guard checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// `promptGuard.request`: POSTs to `<path>/request`.
    Request,
    /// `promptGuard.response`: POSTs to `<path>/response`.
    Response,
}

impl Phase {
    fn suffix(self) -> &'static str {
        match self {
            Self::Request => "/request",
            Self::Response => "/response",
        }
    }
}

/// The guard's webhook call, when it has one; `namespace` is the Backend's.
pub(super) fn compile(
    rule: &PromptGuardRule,
    phase: Phase,
    path: &FieldPath,
    namespace: &str,
    findings: &mut Vec<Diagnostic>,
) -> Option<WebhookCall> {
    let webhook = rule.webhook.as_ref()?;
    let path = path.field("webhook");
    if rule.regex.is_some() {
        findings.push(
            Diagnostic::error(
                &path,
                "webhook-with-regex",
                "a guard has one detector: `regex` or `webhook`, not both",
            )
            .with_hint("split it into two guards; they run in order"),
        );
    }
    // Every field is judged, even when the target is not valid: all errors at once.
    let target = webhook_target::resolve(webhook, &path, namespace, findings);
    let resolved = target.is_some();
    let call = call(webhook, target.unwrap_or_default(), phase, &path, findings);
    resolved.then_some(call)
}

fn call(
    webhook: &WebhookGuard,
    target: Target,
    phase: Phase,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> WebhookCall {
    WebhookCall {
        host: target.host,
        port: target.port,
        tls: target.tls,
        path: format!("{}{}", target.path, phase.suffix()),
        headers: headers(webhook, &path.field("headers"), findings),
        forward_headers: forward_headers(webhook, &path.field("forwardHeaderMatches"), findings),
        fail_open: fail_open(
            webhook.failure_mode.as_deref(),
            &path.field("failureMode"),
            findings,
        ),
        timeout_ms: timeout(webhook.timeout.as_deref(), &path.field("timeout"), findings),
    }
}

/// The scopes a webhook guard may read: a response webhook sees the reply's text only.
pub(super) fn check_scope(
    scope: GuardScope,
    phase: Phase,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) {
    if phase == Phase::Response && scope.tool_use {
        findings.push(
            Diagnostic::error(
                path,
                "webhook-scope",
                "a response webhook guard checks the reply's text (`Messages`); `ToolInput` is not sent to checkers",
            )
            .with_hint("use a `regex` guard with scope ToolInput for tool-call input"),
        );
    }
}

fn fail_open(mode: Option<&str>, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> bool {
    match mode.map(str::trim) {
        None | Some("FailClosed") => false,
        Some("FailOpen") => true,
        Some(other) => {
            findings.push(
                Diagnostic::error(
                    path,
                    "invalid-failure-mode",
                    format!("unknown failure mode {other:?}"),
                )
                .with_hint(format!("valid modes: {}", FAILURE_MODES.join(", "))),
            );
            false
        }
    }
}

fn timeout(value: Option<&str>, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> u32 {
    let Some(value) = value else {
        return DEFAULT_WEBHOOK_TIMEOUT_MS;
    };
    match webhook_target::duration_ms(value.trim()) {
        Some(ms) if (1..=u64::from(MAX_WEBHOOK_TIMEOUT_MS)).contains(&ms) => {
            u32::try_from(ms).unwrap_or(MAX_WEBHOOK_TIMEOUT_MS)
        }
        Some(ms) => {
            findings.push(Diagnostic::error(
                path,
                "invalid-timeout",
                format!("timeout {value:?} is {ms} ms; it must be between 1ms and 60s"),
            ));
            DEFAULT_WEBHOOK_TIMEOUT_MS
        }
        None => {
            findings.push(
                Diagnostic::error(
                    path,
                    "invalid-timeout",
                    format!("{value:?} is not a duration"),
                )
                .with_hint("write a Gateway API duration such as `500ms`, `2s` or `1m`"),
            );
            DEFAULT_WEBHOOK_TIMEOUT_MS
        }
    }
}

fn headers(
    webhook: &WebhookGuard,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<WebhookHeader> {
    let Some(headers) = &webhook.headers else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, expression) in headers {
        let item = path.field(name);
        let Some(name) = header_name(name, &item, findings) else {
            continue;
        };
        match cel_string_literal(expression) {
            Some(value) if valid_header_value(&value) => out.push(WebhookHeader { name, value }),
            Some(_) => findings.push(Diagnostic::error(
                &item,
                "invalid-header-value",
                "the value holds characters a header cannot carry (control characters)",
            )),
            None => findings.push(
                Diagnostic::error(
                    &item,
                    "unsupported-cel-expression",
                    format!("{expression:?} is a CEL expression agw does not evaluate"),
                )
                .with_hint("agw evaluates CEL string literals only: write the value quoted, e.g. '\"Bearer abc\"'"),
            ),
        }
    }
    out
}

fn forward_headers(
    webhook: &WebhookGuard,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<WebhookHeader> {
    let mut out = Vec::new();
    for (i, matcher) in webhook.forward_header_matches.iter().enumerate() {
        let item = path.index(i);
        match matcher.match_type.as_deref().map(str::trim) {
            None | Some("Exact") => {}
            Some("RegularExpression") => {
                findings.push(
                    Diagnostic::error(
                        item.field("type"),
                        "unsupported-header-match",
                        "not supported by agw: `RegularExpression` header matches for webhook guards",
                    )
                    .with_hint("use `type: Exact`"),
                );
                continue;
            }
            Some(other) => {
                findings.push(
                    Diagnostic::error(
                        item.field("type"),
                        "invalid-header-match",
                        format!("unknown header match type {other:?}"),
                    )
                    .with_hint(format!("valid types: {}", HEADER_MATCH_TYPES.join(", "))),
                );
                continue;
            }
        }
        if let Some(name) = header_name(&matcher.name, &item.field("name"), findings) {
            out.push(WebhookHeader {
                name,
                value: matcher.value.clone(),
            });
        }
    }
    out
}

/// A header name the spec may set or forward, lower-cased.
fn header_name(name: &str, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> Option<String> {
    let lower = name.trim().to_ascii_lowercase();
    let token = !lower.is_empty()
        && lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        findings.push(Diagnostic::error(
            path,
            "invalid-header-name",
            format!("{name:?} is not a header name"),
        ));
        return None;
    }
    if CREDENTIAL_HEADERS.contains(&lower.as_str()) {
        findings.push(
            Diagnostic::error(
                path,
                "webhook-credential-header",
                format!("{lower:?} carries a client credential, which a checker never receives"),
            )
            .with_hint("a checker that needs a token of its own gets it from `headers`"),
        );
        return None;
    }
    if RESERVED_HEADERS.contains(&lower.as_str()) {
        findings.push(Diagnostic::error(
            path,
            "reserved-header",
            format!("{lower:?} is set by the proxy for each call"),
        ));
        return None;
    }
    Some(lower)
}

fn valid_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// The string a CEL string literal (`"…"` or `'…'`, with `\\`, `\"`, `\'` escapes) stands
/// for; `None` for any other expression.
fn cel_string_literal(expression: &str) -> Option<String> {
    let expression = expression.trim();
    let quote = expression
        .chars()
        .next()
        .filter(|q| *q == '"' || *q == '\'')?;
    let inner = expression.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('\\' | '"' | '\'') => out.push(e),
                _ => return None,
            },
            c if c == quote => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
