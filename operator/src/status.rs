//! What a reconcile observed, turned into `Backend.status`: conditions with reasons from
//! `agw_crds::conditions`, `observedGeneration` on the status and on each condition, and
//! `lastTransitionTime` carried over whenever a condition's status did not change — so a
//! reconcile that observes nothing new computes a status equal to the stored one and writes
//! nothing.

use agw_crds::BackendStatus;
use agw_crds::conditions::{reasons, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Longest condition message written; diagnostics for a huge spec are cut here.
const MAX_MESSAGE: usize = 8 * 1024;

/// Whether the spec compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acceptance {
    /// It compiled; warnings, if any, are reported in the message.
    Accepted {
        /// Compiler warnings rendered as `path: message (hint)`.
        warnings: Vec<String>,
    },
    /// It did not; the diagnostics, one per line.
    Invalid(String),
}

/// The gateway keys of `apiKeyAuthentication`, as read from the key Secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientKeys {
    /// No client authentication.
    NotConfigured,
    /// Every entry is a key; this many identities.
    Valid {
        /// Identities configured.
        identities: usize,
        /// JWT providers configured.
        jwt_providers: usize,
    },
    /// A JWT key set (Secret or ConfigMap key) is missing or unusable; why, never key material.
    InvalidJwks(String),
    /// A Secret is missing or an entry is not a key; why, naming entries, never values.
    Invalid(String),
}

/// Whether the auth Secret and key exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum References {
    /// No auth Secret is referenced.
    NoneNeeded,
    /// The Secret and its key exist.
    Resolved,
    /// The Secret does not exist.
    SecretNotFound {
        /// `namespace/name`.
        secret: String,
    },
    /// The Secret exists without the key.
    KeyNotFound {
        /// `namespace/name`.
        secret: String,
        /// The key.
        key: String,
    },
}

/// What the bundle Secret, Deployment and Service hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Programming {
    /// This generation's bundle was applied.
    Applied {
        /// The bundle digest.
        digest: String,
        /// Guards in the bundle.
        guards: i32,
    },
    /// The spec is invalid; the last good bundle (if any) stays in place.
    KeptLastGood {
        /// Its digest, from the previous status.
        digest: Option<String>,
        /// Its guard count.
        guards: Option<i32>,
    },
    /// The spec is valid but applying it failed (an apiserver refusal: quota, admission, an
    /// exhausted Service IP range); what was programmed before stays.
    ApplyFailed {
        /// What the apiserver said.
        message: String,
        /// Digest of what was programmed before, from the previous status.
        digest: Option<String>,
        /// Its guard count.
        guards: Option<i32>,
    },
}

/// The proxy Deployment's availability.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Availability {
    /// Pods available.
    pub available: i32,
    /// Pods wanted.
    pub desired: i32,
    /// Whether the Deployment exists at all.
    pub exists: bool,
}

/// Everything one reconcile observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// `metadata.generation` of the Backend.
    pub generation: Option<i64>,
    /// Compile result.
    pub acceptance: Acceptance,
    /// Auth references.
    pub references: References,
    /// The client key Secrets.
    pub clients: ClientKeys,
    /// What is programmed.
    pub programming: Programming,
    /// Deployment availability.
    pub availability: Availability,
}

/// The status to write, given the stored one and what was observed at `now`.
pub fn desired(previous: Option<&BackendStatus>, observed: &Observed, now: &Time) -> BackendStatus {
    let fresh = [
        accepted(observed),
        resolved_refs(observed),
        programmed(observed),
        ready(observed),
    ];
    let previous_conditions = previous
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let conditions = fresh
        .into_iter()
        .map(|condition| carry_transition_time(condition, previous_conditions, now))
        .collect();
    let (bundle_digest, guards) = match &observed.programming {
        Programming::Applied { digest, guards } => (Some(digest.clone()), Some(*guards)),
        Programming::KeptLastGood { digest, guards }
        | Programming::ApplyFailed { digest, guards, .. } => (digest.clone(), *guards),
    };
    let count = |n: usize| Some(i32::try_from(n).unwrap_or(i32::MAX));
    let (identities, jwt_providers) = match observed.clients {
        ClientKeys::Valid {
            identities,
            jwt_providers,
        } => (count(identities), count(jwt_providers).filter(|n| *n > 0)),
        ClientKeys::NotConfigured | ClientKeys::Invalid(_) | ClientKeys::InvalidJwks(_) => {
            (None, None)
        }
    };
    BackendStatus {
        observed_generation: observed.generation,
        bundle_digest,
        guards,
        identities,
        jwt_providers,
        conditions,
    }
}

/// The status of an object whose name a namesake of the other Backend kind owns: every
/// condition `False` with reason `NameConflict`, nothing programmed (no digest, no guards).
pub fn conflicted(
    previous: Option<&BackendStatus>,
    generation: Option<i64>,
    message: &str,
    now: &Time,
) -> BackendStatus {
    let previous_conditions = previous
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let conditions = [
        types::ACCEPTED,
        types::RESOLVED_REFS,
        types::PROGRAMMED,
        types::READY,
    ]
    .into_iter()
    .map(|type_| Condition {
        type_: type_.to_owned(),
        status: "False".to_owned(),
        reason: reasons::NAME_CONFLICT.to_owned(),
        message: truncate(message.to_owned()),
        observed_generation: generation,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    })
    .map(|condition| carry_transition_time(condition, previous_conditions, now))
    .collect();
    BackendStatus {
        observed_generation: generation,
        bundle_digest: None,
        guards: None,
        identities: None,
        jwt_providers: None,
        conditions,
    }
}

/// Conditions whose status or reason differs from the stored one (or is new), and `Accepted`
/// when only its message did: that message is the compiler's verdict on the spec just written,
/// so a new mistake while the reason stays `InvalidSpec` is news. These get an Event.
pub fn transitions<'a>(
    previous: Option<&BackendStatus>,
    next: &'a BackendStatus,
) -> Vec<&'a Condition> {
    let previous = previous
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    next.conditions
        .iter()
        .filter(|c| {
            previous
                .iter()
                .find(|p| p.type_ == c.type_)
                .is_none_or(|p| {
                    p.status != c.status
                        || p.reason != c.reason
                        || (c.type_ == types::ACCEPTED && p.message != c.message)
                })
        })
        .collect()
}

fn accepted(observed: &Observed) -> Condition {
    match &observed.acceptance {
        Acceptance::Accepted { warnings } if warnings.is_empty() => condition(
            observed,
            types::ACCEPTED,
            true,
            reasons::ACCEPTED,
            "the spec compiled".to_owned(),
        ),
        Acceptance::Accepted { warnings } => condition(
            observed,
            types::ACCEPTED,
            true,
            reasons::ACCEPTED,
            format!("the spec compiled with warnings:\n{}", warnings.join("\n")),
        ),
        Acceptance::Invalid(diagnostics) => condition(
            observed,
            types::ACCEPTED,
            false,
            reasons::INVALID_SPEC,
            diagnostics.clone(),
        ),
    }
}

fn resolved_refs(observed: &Observed) -> Condition {
    let (ok, reason, message) = match &observed.references {
        References::NoneNeeded => (
            true,
            reasons::RESOLVED_REFS,
            "no auth Secret is referenced".to_owned(),
        ),
        References::Resolved => (
            true,
            reasons::RESOLVED_REFS,
            "the auth Secret and key exist".to_owned(),
        ),
        References::SecretNotFound { secret } => (
            false,
            reasons::SECRET_NOT_FOUND,
            format!(
                "Secret {secret} not found; create it and the proxy starts without further action"
            ),
        ),
        References::KeyNotFound { secret, key } => (
            false,
            reasons::KEY_NOT_FOUND,
            format!(
                "Secret {secret} has no key {key:?}; add it or set spec.policies.auth.secretRef.key"
            ),
        ),
    };
    // The provider key comes first: without it no request can succeed at all.
    if let (true, ClientKeys::InvalidJwks(why)) = (ok, &observed.clients) {
        let message = format!("JWT key sets: {why}; proxies keep the last valid configuration");
        return condition(
            observed,
            types::RESOLVED_REFS,
            false,
            reasons::INVALID_JWKS,
            message,
        );
    }
    if let (true, ClientKeys::Invalid(why)) = (ok, &observed.clients) {
        let message = format!("client keys: {why}; proxies keep the last valid keys");
        return condition(
            observed,
            types::RESOLVED_REFS,
            false,
            reasons::INVALID_CLIENT_KEYS,
            message,
        );
    }
    condition(observed, types::RESOLVED_REFS, ok, reason, message)
}

fn programmed(observed: &Observed) -> Condition {
    match &observed.programming {
        Programming::Applied { digest, .. } => condition(
            observed,
            types::PROGRAMMED,
            true,
            reasons::PROGRAMMED,
            format!("bundle {digest} applied to the bundle Secret, Deployment and Service"),
        ),
        Programming::KeptLastGood {
            digest: Some(digest),
            ..
        } => condition(
            observed,
            types::PROGRAMMED,
            false,
            reasons::INVALID_SPEC,
            format!("the spec is invalid; proxies keep serving the last valid bundle {digest}"),
        ),
        Programming::ApplyFailed { message, .. } => condition(
            observed,
            types::PROGRAMMED,
            false,
            reasons::APPLY_FAILED,
            format!(
                "applying the bundle Secret, Deployment and Service failed (retrying): {message}"
            ),
        ),
        Programming::KeptLastGood { digest: None, .. } => condition(
            observed,
            types::PROGRAMMED,
            false,
            reasons::INVALID_SPEC,
            "the spec is invalid and no valid bundle was ever programmed".to_owned(),
        ),
    }
}

fn ready(observed: &Observed) -> Condition {
    let Availability {
        available,
        desired,
        exists,
    } = observed.availability;
    if !exists {
        return condition(
            observed,
            types::READY,
            false,
            reasons::PENDING,
            "the proxy Deployment does not exist yet".to_owned(),
        );
    }
    let ok = available > 0;
    let reason = if ok {
        reasons::DEPLOYMENT_AVAILABLE
    } else {
        reasons::DEPLOYMENT_UNAVAILABLE
    };
    let message = format!("{available}/{desired} proxy replicas available");
    condition(observed, types::READY, ok, reason, message)
}

fn condition(
    observed: &Observed,
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: truncate(message),
        observed_generation: observed.generation,
        // Set by carry_transition_time.
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    }
}

pub(crate) fn carry_transition_time(
    mut condition: Condition,
    previous: &[Condition],
    now: &Time,
) -> Condition {
    condition.last_transition_time = previous
        .iter()
        .find(|p| p.type_ == condition.type_ && p.status == condition.status)
        .map_or_else(|| now.clone(), |p| p.last_transition_time.clone());
    condition
}

pub(crate) fn truncate(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str(" …(truncated)");
    }
    message
}

#[cfg(test)]
mod tests;
