//! The bundle's client policy of a backend: where gateway keys are mounted, who is allowed,
//! and the request and token limits. Plain data, like the rest of the bundle: it names the
//! directories the key Secrets are mounted at, never a key or a key hash.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Authentication, authorization and limits applied to a backend's clients.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientPolicy {
    /// Where gateway keys come from; empty means clients are not authenticated (then
    /// `allow` is empty and every limit is per backend).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_sources: Vec<KeySource>,
    /// JWT issuers whose tokens are accepted (with or instead of gateway keys); clients are
    /// authenticated when this or `key_sources` is not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwt_providers: Vec<JwtProvider>,
    /// Allow rules; `None` lets every authenticated identity in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<AllowRule>>,
    /// Limits; every one applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
}

impl ClientPolicy {
    /// Whether clients must present a credential: gateway keys, JWTs, or either.
    pub fn authenticates(&self) -> bool {
        !self.key_sources.is_empty() || !self.jwt_providers.is_empty()
    }
}

/// Secrets holding gateway keys, one entry per identity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeySource {
    /// Namespace of the Secrets.
    pub namespace: String,
    /// A named Secret, mounted at `dir` (one file per entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Secrets with these labels, each mounted at `dir/<secret>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Where the proxy reads the entries in a pod.
    pub dir: String,
}

/// One JWT issuer: how its tokens are checked and what identity they carry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtProvider {
    /// The `iss` a token must carry.
    pub issuer: String,
    /// A token's `aud` must name one of these.
    pub audiences: Vec<String>,
    /// Where the verification keys are.
    pub jwks: JwksSource,
    /// Claims a token must carry with exactly these string values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
    /// The claim naming the identity.
    pub identity_claim: String,
    /// The claim listing the identity's groups, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<String>,
}

/// A provider's key set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum JwksSource {
    /// The set itself (checked by the compiler).
    Inline(String),
    /// A Secret or ConfigMap key, mounted in the pod (or read from a standalone file).
    Mounted(MountedJwks),
    /// Fetched by the proxy from `uri`, kept `cacheSeconds`, refreshed on an unknown `kid`.
    #[serde(rename_all = "camelCase")]
    Remote {
        /// The URL.
        uri: String,
        /// How long a fetched set is used before the next fetch.
        cache_seconds: u64,
    },
}

/// A key set held in a Secret or ConfigMap key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MountedJwks {
    /// `Secret` or `ConfigMap`.
    pub kind: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The key holding the set.
    pub key: String,
    /// Where the object is mounted in a pod (one file per key).
    pub dir: String,
}

/// One allow rule; a request passes when its identity is named, or one of its groups is,
/// and its model matches (any, when `models` is empty).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowRule {
    /// Identity names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
    /// Group names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Model names, exact or ending in one `*` (a prefix).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
}

/// What a limit counts.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum LimitKind {
    /// Requests admitted.
    Requests,
    /// Tokens the provider reported in `usage` (input, cache and output).
    Tokens,
}

/// Whose budget a limit is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum LimitSubject {
    /// One budget shared by every client of the backend.
    Backend,
    /// One budget per authenticated identity.
    Identity,
}

/// A fixed-window limit: `amount` of `kind` per `window_seconds`, windows aligned to the Unix
/// epoch (so a day is a UTC day).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limit {
    /// Requests or tokens.
    pub kind: LimitKind,
    /// How many per window.
    pub amount: u64,
    /// Window length.
    pub window_seconds: u64,
    /// Per identity or per backend.
    pub per: LimitSubject,
    /// The identities the limit applies to (per identity); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
}

impl Limit {
    /// Whether this limit counts requests of `identity` (`None`: unauthenticated).
    pub fn applies_to(&self, identity: Option<&str>) -> bool {
        self.identities.is_empty()
            || identity.is_some_and(|id| self.identities.iter().any(|n| n == id))
    }
}
