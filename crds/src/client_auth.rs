//! Governance of who calls a Backend: `spec.policies.apiKeyAuthentication`,
//! `jwtAuthentication`, `authorization` and `rateLimit`.
//!
//! Field names follow agentgateway's `AgentgatewayPolicy` traffic policy, so a platform team
//! reading either project's docs recognises them; agw places them in the Backend's own
//! `spec.policies`. Where agentgateway's field is a CEL expression or an external service,
//! agw declares it with a schema that keeps any JSON so the compiler can refuse it by name.
//! Owns the shape only; what is valid is the compiler's (`agw_policy::compile`) to decide.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema;

/// `apiKeyAuthentication.mode` values agw implements.
pub const API_KEY_MODES: &[&str] = &["Strict"];
/// `jwtAuthentication.mode` values agw implements (agentgateway's `Optional` and
/// `Permissive` would let requests without a token spend the provider key).
pub const JWT_MODES: &[&str] = &["Strict"];
/// `rateLimit.local[].unit` values: agentgateway's, and `Days` for daily budgets.
pub const RATE_LIMIT_UNITS: &[&str] = &["Seconds", "Minutes", "Hours", "Days"];
/// `rateLimit.local[].per` values: one budget per identity, or one for the whole Backend.
pub const RATE_LIMIT_SUBJECTS: &[&str] = &["Backend", "Identity"];

/// `spec.policies.apiKeyAuthentication`: clients present a gateway key, never the provider's.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyAuthentication {
    /// `Strict` (the default): a request without a valid key gets 401. agentgateway's
    /// `Optional` and `Permissive` would let keyless requests spend the provider key, and
    /// are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Strict", "Optional", "Permissive"]))]
    pub mode: Option<String>,
    /// A Secret in the Backend's namespace whose every entry is one identity: the entry's
    /// key is the identity name, its value `{"keyHash": "sha256:<hex>", "metadata":
    /// {"groups": [...]}}` (or `{"key": "<key>"}`, or the bare key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalSecretRef>,
    /// Secrets in the Backend's namespace selected by label, each read as `secretRef` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_selector: Option<SecretSelector>,
    /// agentgateway's ConfigMap-held key hashes. Not supported by agw: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub config_map_selector: Option<serde_json::Value>,
    /// agentgateway's custom key location. Not supported by agw: keys are read from
    /// `x-api-key` or `Authorization: Bearer`, where Claude Code sends them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub location: Option<serde_json::Value>,
}

/// `spec.policies.jwtAuthentication`: clients present a JWT their identity provider signed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuthentication {
    /// `Strict` (the default): a request without a valid token gets 401. agentgateway's
    /// `Optional` and `Permissive` are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Strict", "Optional", "Permissive"]))]
    pub mode: Option<String>,
    /// Token issuers; a token is checked against the provider whose `issuer` is its `iss`.
    #[serde(default)]
    pub providers: Vec<JwtProvider>,
}

/// One token issuer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtProvider {
    /// The token's `iss`, exactly.
    pub issuer: String,
    /// Accepted `aud` values; a token must name one of them. Required by agw (agentgateway
    /// accepts any audience when unset): a token minted for another service must not pass.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Where the verification keys come from: exactly one source.
    #[serde(default)]
    pub jwks: Jwks,
    /// agw's addition: claims the token must carry with exactly these (string) values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
    /// agw's addition: the claim naming the identity (default `sub`), as `authorization`
    /// and `rateLimit` see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_claim: Option<String>,
    /// agw's addition: a claim holding the identity's groups (a string or a list of strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<String>,
}

/// A JSON Web Key Set source: `remote`, `inline`, or (agw's addition) a Secret or ConfigMap key.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Jwks {
    /// Fetched by the proxy, cached, refreshed when a token names an unknown `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteJwks>,
    /// The JWKS JSON itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
    /// A key of a Secret in the Backend's namespace holding the JWKS JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalKeyRef>,
    /// A key of a ConfigMap in the Backend's namespace holding the JWKS JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalKeyRef>,
}

/// A JWKS URL.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteJwks {
    /// `https://…` (or `http://` for a loopback or in-cluster issuer).
    pub uri: String,
    /// How long a fetched set is used before it is fetched again (`5m`, the default, or
    /// more; humantime syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_duration: Option<String>,
    /// agentgateway's Service or Backend reference. Not supported by agw: use `uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub backend_ref: Option<serde_json::Value>,
}

/// One key of a Secret or ConfigMap in the Backend's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalKeyRef {
    /// Name of the object.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key holding the JWKS (default `jwks.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A Secret in the Backend's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Secrets chosen by their labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretSelector {
    /// Labels every selected Secret carries.
    pub match_labels: BTreeMap<String, String>,
}

/// `spec.policies.authorization`: which identities may use the Backend (403 otherwise).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// Allow rules; a request is allowed when one rule matches it, denied with 403
    /// `permission_error` otherwise. agw's declarative replacement for agentgateway's CEL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<AuthorizationRule>,
    /// agentgateway's CEL rule. Not supported by agw: use `rules`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub policy: Option<serde_json::Value>,
    /// agentgateway's rule action. Not supported by agw: `rules` only allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub action: Option<serde_json::Value>,
}

/// One allow rule: who (identities or groups) and, optionally, which models.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationRule {
    /// Identity names this rule allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
    /// Groups this rule allows (an identity's `metadata.groups`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Models the rule allows, exact or with one trailing `*` (`claude-haiku-*`); any model
    /// when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
}

/// `spec.policies.rateLimit`: requests and tokens per unit of time.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// Limits kept in each proxy replica's memory; every one applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local: Vec<LocalRateLimit>,
    /// agentgateway's external rate-limit service. Not supported by agw: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub global: Option<serde_json::Value>,
    /// agentgateway's CEL-conditional limits. Not supported by agw: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub conditional: Option<serde_json::Value>,
}

/// One limit: `requests` or `tokens` per `unit`, for each identity or the whole Backend.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalRateLimit {
    /// Requests allowed per unit; the next one gets 429 `rate_limit_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub requests: Option<i64>,
    /// Tokens (input, cache and output, from the provider's `usage`) allowed per unit.
    /// Counted when a response ends, so the request that crosses the limit completes and
    /// the following ones get 429 until the unit ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub tokens: Option<i64>,
    /// `Seconds`, `Minutes`, `Hours` or `Days` (agw's addition, for daily budgets); windows
    /// are aligned to UTC (a day starts at 00:00 UTC).
    #[schemars(extend("enum" = ["Seconds", "Minutes", "Hours", "Days"]))]
    pub unit: String,
    /// agw's addition: `Identity` keeps one budget per authenticated identity, `Backend`
    /// (the default, as in agentgateway) one shared budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Backend", "Identity"]))]
    pub per: Option<String>,
    /// agw's addition: the limit applies only to these identities (each with its own
    /// budget; needs `per: Identity`). Every identity when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
    /// agentgateway's burst allowance. Not supported by agw: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub burst: Option<serde_json::Value>,
}
