//! Who is calling: client authentication with gateway keys or JWTs, the allow list, and
//! request and token budgets (`spec.policies.apiKeyAuthentication`, `jwtAuthentication`,
//! `authorization`, `rateLimit`).
//!
//! Owns the decision to let a request reach the provider on behalf of an identity: 401
//! `authentication_error` for a missing or unknown key, 403 `permission_error` for an identity
//! the allow list does not name, 429 `rate_limit_error` for a spent budget — each before any
//! upstream call. Must not forward or log the client's credential (the request path replaces
//! it with the provider key), nor read tokens from responses itself (the access log's usage
//! tap hands them over at the end of each response).

#[cfg(test)]
mod bench;
mod gate;
pub mod jwt;
pub mod keys;
pub mod limiter;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use agw_policy::bundle::{AllowRule, ClientPolicy, Limit, LimitKind};
use http::HeaderMap;
use http::header::AUTHORIZATION;

pub use self::gate::Gate;
use self::jwt::JwtVerifier;
pub use self::keys::{Identity, KeyTable, KeysError};
use self::limiter::{Charges, Limiter};
use crate::access_log::record::Usage;
use crate::error::ProxyError;

/// A backend's client policy, ready for the request path.
#[derive(Debug)]
pub struct BackendClients {
    backend: Arc<str>,
    /// Accepted gateway keys; `None` when none are configured.
    keys: Option<KeyTable>,
    /// Accepted token issuers; `None` when none are configured.
    jwt: Option<JwtVerifier>,
    allow: Option<Vec<AllowRule>>,
    limits: Vec<Limit>,
    /// Whether an allow rule looks at the model (then the body's model is read).
    by_model: bool,
}

impl BackendClients {
    /// The policy of backend `key`, with its gateway keys and token issuers (both `None`:
    /// no authentication).
    pub fn new(
        key: &str,
        policy: &ClientPolicy,
        keys: Option<KeyTable>,
        jwt: Option<JwtVerifier>,
    ) -> Self {
        let by_model = policy
            .allow
            .iter()
            .flatten()
            .any(|rule| !rule.models.is_empty());
        Self {
            backend: Arc::from(key),
            keys,
            jwt,
            allow: policy.allow.clone(),
            limits: policy.limits.clone(),
            by_model,
        }
    }

    /// Gateway-key identities configured, when clients authenticate (with keys, tokens or
    /// both; token identities are not counted: the issuer knows them).
    pub fn identities(&self) -> Option<usize> {
        match (&self.keys, &self.jwt) {
            (None, None) => None,
            (keys, _) => Some(keys.as_ref().map_or(0, KeyTable::len)),
        }
    }

    /// Whether the allow list needs the request's model.
    pub fn needs_model(&self) -> bool {
        self.by_model
    }

    /// The caller's identity from `x-api-key` or `Authorization: Bearer` (where Claude Code
    /// sends `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN` and `apiKeyHelper` output): a
    /// gateway key, or a JWT of a configured issuer. `None` when this backend does not
    /// authenticate clients.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Arc<Identity>>, ProxyError> {
        if self.keys.is_none() && self.jwt.is_none() {
            return Ok(None);
        }
        let mut presented = false;
        let mut refused = None;
        for value in [headers.get("x-api-key"), headers.get(AUTHORIZATION)]
            .into_iter()
            .flatten()
        {
            let value = value.as_bytes();
            let credential = bearer(value).unwrap_or(value);
            if credential.is_empty() {
                continue;
            }
            presented = true;
            if let Some(identity) = self.keys.as_ref().and_then(|t| t.find(credential)) {
                return Ok(Some(identity));
            }
            if let Some(verifier) = self
                .jwt
                .as_ref()
                .filter(|_| jwt::looks_like_jwt(credential))
            {
                match verifier.verify(credential, unix_now()).await {
                    Ok(identity) => return Ok(Some(identity)),
                    Err(reason) => refused = Some(reason),
                }
            }
        }
        Err(match refused {
            Some(reason) => ProxyError::TokenRefused(reason),
            None => ProxyError::Unauthenticated { presented },
        })
    }

    /// Applies the allow list and the budgets to `identity` calling `model`; on success the
    /// returned ticket charges the response's tokens. Waits only on a shared budget store,
    /// and at most its call timeout.
    pub async fn admit(
        &self,
        limiter: &Arc<Limiter>,
        identity: Option<&Arc<Identity>>,
        model: Option<&str>,
    ) -> Result<Ticket, ProxyError> {
        if let Some(rules) = &self.allow {
            let allowed = identity.is_some_and(|id| rules.iter().any(|r| allows(r, id, model)));
            if !allowed {
                return Err(ProxyError::Forbidden {
                    identity: identity.map(|id| id.name.to_string()).unwrap_or_default(),
                    model: model.map(str::to_owned),
                });
            }
        }
        let name = identity.map(|id| &id.name);
        let charges = limiter
            .admit(&self.backend, name, &self.limits, unix_now())
            .await
            .map_err(|exceeded| ProxyError::RateLimited {
                retry_after: exceeded.retry_after,
                what: describe(&exceeded.limit),
            })?;
        Ok(Ticket {
            limiter: limiter.clone(),
            charges,
        })
    }
}

/// An admitted request's claim on its token budgets.
#[derive(Debug)]
pub struct Ticket {
    limiter: Arc<Limiter>,
    charges: Charges,
}

impl Ticket {
    /// Charges the tokens `usage` reports (input, cache reads and writes, and output) and
    /// returns how many.
    pub fn settle(self, usage: &Usage) -> u64 {
        let tokens = [
            usage.input,
            usage.cache_read,
            usage.cache_creation,
            usage.output,
        ]
        .iter()
        .flatten()
        .sum();
        self.limiter.charge(&self.charges, tokens, unix_now());
        tokens
    }
}

fn allows(rule: &AllowRule, identity: &Identity, model: Option<&str>) -> bool {
    let who = rule.identities.iter().any(|n| **n == *identity.name)
        || rule.groups.iter().any(|g| identity.groups.contains(g));
    who && (rule.models.is_empty()
        || model.is_some_and(|m| rule.models.iter().any(|p| matches_model(p, m))))
}

/// `claude-haiku-*` matches by prefix; anything else exactly.
fn matches_model(pattern: &str, model: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => model.starts_with(prefix),
        None => pattern == model,
    }
}

fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

fn describe(limit: &Limit) -> String {
    let what = match limit.kind {
        LimitKind::Requests => "requests",
        LimitKind::Tokens => "tokens",
    };
    let per = match limit.window_seconds {
        1 => "second".to_owned(),
        60 => "minute".to_owned(),
        3600 => "hour".to_owned(),
        86_400 => "day (UTC)".to_owned(),
        other => format!("{other} s"),
    };
    format!("{} {what} per {per}", limit.amount)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
