//! The rule bundle: the compiled, versioned form of a Backend (or Gateway) that a proxy loads.
//!
//! One bundle serves one proxy Deployment. It is plain data: ordered rules that pick a
//! backend by request path, and per backend the upstream, auth, routes and guards. It never
//! contains a secret, only the path of the file the key is mounted at. The JSON Schema of
//! this format is generated from these types (`bundle_schema_json`) and checked in at
//! `policy/bundle.schema.json`; the proxy validates every bundle against it before loading.

mod clients;
mod guards;
mod io;
mod request;
mod webhook;

use std::collections::BTreeMap;

pub use self::clients::{
    AllowRule, ClientPolicy, JwksSource, JwtProvider, KeySource, Limit, LimitKind, LimitSubject,
    MountedJwks,
};
pub use self::guards::{
    Builtin, CUSTOM_MASK, Detector, Guard, GuardAction, GuardScope, GuardSet, MinLengthDetector,
    RegexDetector, Rejection,
};
pub use self::io::{BundleError, MAX_BUNDLE_BYTES, SCHEMA_JSON, parse_bundle, schema_json};
pub use self::request::{
    AliasPattern, FieldValue, ModelAliases, PromptMessage, PromptRole, RequestEdits,
    wildcard_matches,
};
pub use self::webhook::{WebhookCall, WebhookHeader};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only bundle `apiVersion` this build reads and writes.
pub const BUNDLE_API_VERSION: &str = "bundle.agentgateway.dev/v1";

/// A compiled rule bundle.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bundle {
    /// Always [`BUNDLE_API_VERSION`]; a proxy refuses any other.
    pub api_version: String,
    /// The object this bundle was compiled from.
    pub source: BundleSource,
    /// Ordered request rules; the first that matches picks the backend.
    pub rules: Vec<Rule>,
    /// Backends by key `namespace/name`.
    pub backends: BTreeMap<String, BundleBackend>,
    /// `sha256:<hex>` over the canonical JSON of every other field.
    pub digest: String,
}

/// What a bundle was compiled from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleSource {
    /// Kind of the source object.
    pub kind: SourceKind,
    /// Namespace of the source object.
    pub namespace: String,
    /// Name of the source object.
    pub name: String,
    /// `metadata.generation` of the source object, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

/// Kinds a bundle can be compiled from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SourceKind {
    /// A Backend's own proxy: one rule `/` → that Backend.
    Backend,
    /// A Gateway's proxy: the rules of its HTTPRoutes.
    Gateway,
}

/// A request rule: a match and the backend it selects.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// When the rule applies.
    #[serde(rename = "match")]
    pub matches: RuleMatch,
    /// Key into [`Bundle::backends`]. Absent when the rule's backend could not be resolved
    /// (not found, not permitted, invalid): matching requests then get a 500 instead of
    /// falling through to a later rule and a backend with other guards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Replaces the matched `pathPrefix` before the backend's routes are matched and the
    /// request is forwarded (Gateway API `URLRewrite` with `ReplacePrefixMatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_prefix: Option<String>,
}

impl Rule {
    /// The rule every Backend's own proxy has: any path to `backend`.
    pub fn everything_to(backend: impl Into<String>) -> Self {
        Self {
            matches: RuleMatch {
                path_prefix: Some("/".to_owned()),
                ..RuleMatch::default()
            },
            backend: Some(backend.into()),
            replace_prefix: None,
        }
    }
}

/// Conditions of a rule; all present conditions must hold.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleMatch {
    /// Path prefix on segment boundaries (`/v1` matches `/v1` and `/v1/x`, not `/v10`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Exact path (query string excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_path: Option<String>,
    /// Host names (the `Host` header without port); empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// Request headers that must be present with exactly this value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
}

/// An exact header match.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderMatch {
    /// Header name, lower case.
    pub name: String,
    /// Exact value.
    pub value: String,
}

/// One backend: where to send requests and what to enforce on the way.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleBackend {
    /// The provider endpoint.
    pub upstream: Upstream,
    /// How the proxy authenticates to the provider; absent means requests go unauthenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// Route table: path suffixes, longest first (the longest match wins), then `*`.
    pub routes: Vec<Route>,
    /// Prompt guards.
    pub guards: GuardSet,
    /// Audit capture of request and response text; absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<Audit>,
    /// Client authentication, authorization and limits; absent means anyone who reaches
    /// the proxy, without limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<ClientPolicy>,
    /// Prompt enrichment, field defaults and overrides, model aliases; absent means none.
    #[serde(default, skip_serializing_if = "RequestEdits::is_empty")]
    pub request: RequestEdits,
}

/// Audit capture settings of a backend.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Audit {
    /// Most bytes of request text, and of response text, kept per record.
    pub max_bytes: u32,
}

/// The provider endpoint of a backend.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Upstream {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether to speak TLS to the upstream.
    pub tls: bool,
    /// Server name for TLS verification and SNI, when it differs from `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// Prefix prepended to every request path (`""` for none; never ends with `/`).
    pub path_prefix: String,
    /// Model that replaces the request's `model`, when pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Provider credentials: a header whose value is read from a mounted file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Auth {
    /// Header to set, e.g. `x-api-key`.
    pub header: String,
    /// File holding the key; re-read when it changes. A leading `Bearer ` is stripped.
    pub secret_file: String,
    /// The Secret this file is mounted from, for messages and status (never its content).
    pub secret: SecretKeyLocation,
}

/// Where an auth key lives in the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyLocation {
    /// Namespace of the Secret.
    pub namespace: String,
    /// Name of the Secret.
    pub name: String,
    /// Key within the Secret.
    pub key: String,
}

/// A route: an exact request path (or `*`) and how the proxy treats it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    /// Path suffix (the normalized request path ends with it), without query string, or `*`.
    pub path: String,
    /// Treatment of matching requests.
    #[serde(rename = "type")]
    pub route_type: RouteType,
}

/// How the proxy treats a request.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum RouteType {
    /// Anthropic Messages API: request guards apply, model pinning applies.
    Messages,
    /// Forwarded as is, streamed both ways.
    Passthrough,
    /// `/v1/messages/count_tokens`: request guards apply (the text leaves the network too).
    AnthropicTokenCount,
    /// Model listing: forwarded as is.
    Models,
}

impl RouteType {
    /// The name used in specs, bundles and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "Messages",
            Self::Passthrough => "Passthrough",
            Self::AnthropicTokenCount => "AnthropicTokenCount",
            Self::Models => "Models",
        }
    }

    /// Whether request guards inspect this route's bodies.
    pub fn is_guarded(self) -> bool {
        matches!(self, Self::Messages | Self::AnthropicTokenCount)
    }
}
