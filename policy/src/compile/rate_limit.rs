//! `spec.policies.rateLimit` → bundle [`Limit`]s: `requests` or `tokens` per unit, for each
//! identity or the whole Backend. Owns the units, the defaults and what cannot work (a limit
//! per identity without identities, both or neither amount); must not keep any state (that is
//! the proxy's).

use agw_crds::RateLimit;
use agw_crds::client_auth::{RATE_LIMIT_SUBJECTS, RATE_LIMIT_UNITS};

use super::UNSUPPORTED_FIELD;
use crate::bundle::{Limit, LimitKind, LimitSubject};
use crate::diagnostics::{Diagnostic, FieldPath};

/// Most limits a Backend may declare (agentgateway's bound).
pub const MAX_LIMITS: usize = 16;

pub(super) fn compile(
    spec: &RateLimit,
    authenticated: bool,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<Limit> {
    for (name, present, what) in [
        (
            "global",
            spec.global.is_some(),
            "an external rate-limit service",
        ),
        (
            "conditional",
            spec.conditional.is_some(),
            "CEL-conditional limits",
        ),
    ] {
        if present {
            findings.push(
                Diagnostic::error(
                    path.field(name),
                    UNSUPPORTED_FIELD,
                    format!("not supported by agw: `{name}` ({what})"),
                )
                .with_hint("use `local` limits; each proxy replica keeps its own count"),
            );
        }
    }
    if spec.local.is_empty() && spec.global.is_none() && spec.conditional.is_none() {
        findings.push(
            Diagnostic::error(path.field("local"), "rate-limit-empty", "no limits").with_hint(
                "e.g. `local: [{tokens: 1000000, unit: Days, per: Identity}]`, or remove rateLimit",
            ),
        );
    }
    if spec.local.len() > MAX_LIMITS {
        findings.push(Diagnostic::error(
            path.field("local"),
            "too-many-limits",
            format!("{} limits; at most {MAX_LIMITS}", spec.local.len()),
        ));
    }
    let limits: Vec<(usize, Limit)> = spec
        .local
        .iter()
        .enumerate()
        .filter_map(|(i, local)| {
            let at = path.field("local").index(i);
            let kind = amount(local.requests, local.tokens, &at, findings);
            let window = window_seconds(&local.unit, &at, findings);
            let per = subject(local.per.as_deref(), authenticated, &at, findings);
            if local.burst.is_some() {
                findings.push(
                    Diagnostic::error(at.field("burst"), UNSUPPORTED_FIELD, "not supported by agw: `burst`")
                        .with_hint("limits are fixed windows; raise the amount or shorten the unit"),
                );
            }
            let (kind, amount) = kind?;
            let per = per?;
            if !local.identities.is_empty() && per != LimitSubject::Identity {
                findings.push(
                    Diagnostic::error(at.field("identities"), "limit-identities-need-per-identity", "`identities` gives each listed identity its own budget, which needs `per: Identity`")
                        .with_hint("add `per: Identity`"),
                );
            }
            let limit = Limit {
                kind,
                amount,
                window_seconds: window?,
                per,
                identities: local.identities.clone(),
            };
            Some((i, limit))
        })
        .collect();
    duplicates(&limits, path, findings);
    limits.into_iter().map(|(_, limit)| limit).collect()
}

fn overlap(a: &[String], b: &[String]) -> bool {
    a.is_empty() || b.is_empty() || a.iter().any(|x| b.contains(x))
}

/// Two limits on the same count (kind, unit and subject) for the same identity would share
/// one counter; the smaller amount would always win, so the other is a mistake.
fn duplicates(limits: &[(usize, Limit)], path: &FieldPath, findings: &mut Vec<Diagnostic>) {
    for (n, (i, limit)) in limits.iter().enumerate() {
        let same = |(_, other): &&(usize, Limit)| {
            (other.kind, other.window_seconds, other.per)
                == (limit.kind, limit.window_seconds, limit.per)
                && overlap(&other.identities, &limit.identities)
        };
        if let Some((first, _)) = limits[..n].iter().find(same) {
            findings.push(
                Diagnostic::error(
                    path.field("local").index(*i),
                    "duplicate-rate-limit",
                    format!(
                        "limits {first} and {i} count the same thing per the same unit and subject"
                    ),
                )
                .with_hint("keep one of them"),
            );
        }
    }
}

fn amount(
    requests: Option<i64>,
    tokens: Option<i64>,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Option<(LimitKind, u64)> {
    let (kind, field, value) = match (requests, tokens) {
        (Some(value), None) => (LimitKind::Requests, "requests", value),
        (None, Some(value)) => (LimitKind::Tokens, "tokens", value),
        _ => {
            findings.push(Diagnostic::error(
                path,
                "rate-limit-amount",
                "set exactly one of `requests` and `tokens`",
            ));
            return None;
        }
    };
    match u64::try_from(value) {
        Ok(amount) if amount >= 1 => Some((kind, amount)),
        _ => {
            findings.push(Diagnostic::error(
                path.field(field),
                "rate-limit-amount",
                format!("{field} must be at least 1, not {value}"),
            ));
            None
        }
    }
}

fn window_seconds(unit: &str, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> Option<u64> {
    match unit {
        "Seconds" => Some(1),
        "Minutes" => Some(60),
        "Hours" => Some(3600),
        "Days" => Some(86_400),
        other => {
            findings.push(Diagnostic::error(
                path.field("unit"),
                "invalid-rate-limit-unit",
                format!(
                    "unknown unit {other:?}; use one of {}",
                    RATE_LIMIT_UNITS.join(", ")
                ),
            ));
            None
        }
    }
}

fn subject(
    per: Option<&str>,
    authenticated: bool,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Option<LimitSubject> {
    match per {
        None | Some("Backend") => Some(LimitSubject::Backend),
        Some("Identity") if authenticated => Some(LimitSubject::Identity),
        Some("Identity") => {
            findings.push(
                Diagnostic::error(path.field("per"), "limit-without-identities", "a limit per identity needs identities, and no client authentication is configured")
                    .with_hint("add `apiKeyAuthentication`, or use `per: Backend`"),
            );
            None
        }
        Some(other) => {
            findings.push(Diagnostic::error(
                path.field("per"),
                "invalid-rate-limit-subject",
                format!(
                    "unknown value {other:?}; use one of {}",
                    RATE_LIMIT_SUBJECTS.join(", ")
                ),
            ));
            None
        }
    }
}
