//! `Backend.spec`: an Anthropic provider, its routes, prompt guards and auth.
//!
//! Enumerated strings (route types, guard actions, builtins, scopes) are plain `String`s in
//! Rust on purpose: the compiler reports an unknown value with its field path and the list
//! of valid ones, which serde's "unknown variant" error cannot do. The OpenAPI schema still
//! declares the enums where the apiserver should reject a typo before anything else runs.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema;

/// Desired state of a Backend: where requests go and which policies apply on the way.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    kube(
        group = "agentgateway.dev",
        version = "v1alpha1",
        kind = "Backend",
        plural = "backends",
        category = "agentgateway",
        namespaced,
        status = "crate::status::BackendStatus",
        doc = "An Anthropic API backend guarded by agw: provider, routes, prompt guards and auth.",
        printcolumn = r#"{"name":"Accepted","type":"string","jsonPath":".status.conditions[?(@.type==\"Accepted\")].status"}"#,
        printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
        printcolumn = r#"{"name":"Model","type":"string","jsonPath":".spec.ai.provider.anthropic.model"}"#,
        printcolumn = r#"{"name":"Guards","type":"integer","jsonPath":".status.guards"}"#,
        printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
    )
)]
#[serde(rename_all = "camelCase")]
pub struct BackendSpec {
    /// The AI provider this Backend sends requests to.
    pub ai: AiBackend,
    /// Policies applied to requests on their way to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<BackendPolicies>,
}

// The spec of an `AgentgatewayBackend` is exactly a `BackendSpec`: agentgateway's live docs
// render the tutorial's kind as `AgentgatewayBackend`, so agw serves that kind too, with the
// same schema (`serde`/`schemars` transparent), the same compiler verdict and the same
// operator. It owns the short name `agbe`, as in agentgateway. The doc line below is the
// schema's description, kept identical to `BackendSpec`'s so the two CRDs explain alike.
/// Desired state of a Backend: where requests go and which policies apply on the way.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    kube(
        group = "agentgateway.dev",
        version = "v1alpha1",
        kind = "AgentgatewayBackend",
        plural = "agentgatewaybackends",
        shortname = "agbe",
        category = "agentgateway",
        namespaced,
        status = "crate::status::BackendStatus",
        doc = "agentgateway's name for an agw Backend: the same schema, compiler and operator.",
        printcolumn = r#"{"name":"Accepted","type":"string","jsonPath":".status.conditions[?(@.type==\"Accepted\")].status"}"#,
        printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
        printcolumn = r#"{"name":"Model","type":"string","jsonPath":".spec.ai.provider.anthropic.model"}"#,
        printcolumn = r#"{"name":"Guards","type":"integer","jsonPath":".status.guards"}"#,
        printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
    )
)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct AgentgatewayBackendSpec(pub BackendSpec);

/// `spec.ai`: the AI provider.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AiBackend {
    /// The provider and where to reach it.
    pub provider: AiProvider,
}

/// `spec.ai.provider`: which provider, and an optional endpoint override.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AiProvider {
    /// Anthropic's Messages API. `{}` lets clients choose the model.
    pub anthropic: AnthropicProvider,
    /// Host to connect to instead of `api.anthropic.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub host: Option<String>,
    /// Port to connect to; defaults to 443. TLS is used on 443, or when `policies.tls` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Path prefix prepended to every upstream request path, e.g. `/anthropic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `spec.ai.provider.anthropic`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnthropicProvider {
    /// Pins every request to this model (the request's `model` is replaced). Omit to let the
    /// client choose; a pinned model that differs from the client's can surface as misleading
    /// upstream errors, which the proxy annotates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub model: Option<String>,
}

/// `spec.policies`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendPolicies {
    /// AI-specific policies: routes and prompt guards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai: Option<AiPolicies>,
    /// Where the provider API key comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<BackendAuth>,
    /// TLS to the upstream; present means TLS even on a port other than 443.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<BackendTls>,
    /// Clients authenticate with gateway keys; off (anyone who reaches the proxy) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_authentication: Option<crate::client_auth::ApiKeyAuthentication>,
    /// Clients authenticate with JWTs from an identity provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_authentication: Option<crate::client_auth::JwtAuthentication>,
    /// Which authenticated identities may use this Backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<crate::client_auth::Authorization>,
    /// Request and token limits, per identity or for the Backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<crate::client_auth::RateLimit>,
}

/// `spec.policies.ai`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AiPolicies {
    /// Request path → route type. A key is an exact path (`/v1/messages`) or `*`, the
    /// fallback; the query string is ignored when matching. Without routes:
    /// `/v1/messages` → Messages, `/v1/messages/count_tokens` → AnthropicTokenCount,
    /// `*` → Passthrough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::route_map")]
    pub routes: Option<BTreeMap<String, String>>,
    /// Guards evaluated on prompts (and, later, responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_guard: Option<PromptGuard>,
    /// Audit capture: present means the proxy records each request's text as sent upstream
    /// (after masking) and the response text to its audit log. Off when absent: the text of
    /// prompts and answers is then never written anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditCapture>,
    /// Prompt enrichment: messages prepended or appended to every Messages and token-count
    /// request. Role `system` goes into the request's `system` (as text blocks of their own,
    /// so the client's blocks and their `cache_control` stay untouched); `user` and
    /// `assistant` go into `messages`. Guards see the enriched prompt, as in agentgateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptEnrichment>,
    /// Top-level request fields set when the client's request lacks them, e.g.
    /// `{field: temperature, value: 0.2}`; any JSON value. Messages routes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub defaults: Option<Vec<FieldDefault>>,
    /// Top-level request fields always set, replacing the client's value, e.g.
    /// `{field: max_tokens, value: 4096}` to cap cost; any JSON value. Messages routes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub overrides: Option<Vec<FieldDefault>>,
    /// Friendly model name → provider model, e.g. `{fast: claude-haiku-4-5}`. A key may hold
    /// `*` wildcards (`claude-3-*`); an exact key wins, then the longest pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 64))]
    pub model_aliases: Option<BTreeMap<String, String>>,
    /// agentgateway's CEL request transformations. Not supported by agw: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub transformations: Option<serde_json::Value>,
    /// agentgateway's CEL transformations after provider translation. Not supported by agw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub final_transformations: Option<serde_json::Value>,
    /// agentgateway's automatic prompt caching (AWS Bedrock). Not supported by agw: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub prompt_caching: Option<serde_json::Value>,
}

/// `spec.policies.ai.prompt`: agentgateway's prompt enrichment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptEnrichment {
    /// Messages put before the client's prompt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prepend: Vec<PromptMessage>,
    /// Messages put after the client's prompt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub append: Vec<PromptMessage>,
}

/// One message of prompt enrichment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptMessage {
    /// `system`, `user` or `assistant` (case-insensitive: agentgateway's docs write `SYSTEM`).
    pub role: String,
    /// The text.
    pub content: String,
}

/// One entry of `defaults` or `overrides`: a top-level request JSON field and its value.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldDefault {
    /// Name of the top-level field of the request body, e.g. `max_tokens`.
    #[schemars(length(min = 1, max = 256))]
    pub field: String,
    /// The value: any JSON (number, string, boolean, object, array, null).
    #[schemars(schema_with = "schema::any_json")]
    pub value: serde_json::Value,
}

/// `spec.policies.ai.audit`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditCapture {
    /// Most bytes of request text, and of response text, kept per record (1024 to 1048576,
    /// default 65536); longer text is cut and the record marked `truncated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<i64>,
}

/// `spec.policies.ai.promptGuard`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptGuard {
    /// `Enabled`: response guards also apply to streamed (SSE) responses, Mask included,
    /// with a bounded hold-back window. Omitted: as in agentgateway, streamed responses pass
    /// unguarded (Claude Code always streams, so the compiler warns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Enabled"]))]
    pub streaming: Option<String>,
    /// Guards on requests, evaluated in order; the first `Reject` that matches wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request: Vec<PromptGuardRule>,
    /// Guards on model output (`content[].text`, and `tool_use` input with scope
    /// `ToolInput`), evaluated in order; the first `Reject` that matches wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response: Vec<PromptGuardRule>,
}

/// One prompt guard: a detector and what to do when it fires.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptGuardRule {
    /// The response sent to the client when this guard rejects a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<GuardResponse>,
    /// The regex detector: custom patterns and builtins (the one detector agw implements).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<RegexGuard>,
    /// An external checker called over HTTP with the guard's scoped texts (agentgateway's
    /// guardrail webhook wire format); it answers pass, mask or reject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<crate::webhook_guard::WebhookGuard>,
    /// agentgateway's OpenAI Moderations guard. Not supported by agw: refused.
    #[serde(
        default,
        rename = "openAIModeration",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "schema::unsupported")]
    pub openai_moderation: Option<serde_json::Value>,
    /// agentgateway's AWS Bedrock Guardrails guard. Not supported by agw: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub bedrock_guardrails: Option<serde_json::Value>,
    /// agentgateway's Google Model Armor guard. Not supported by agw: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub google_model_armor: Option<serde_json::Value>,
    /// Parts of a Messages request this guard inspects. Default: `[SystemPrompt, Messages]`
    /// (system prompt and message text). Add `ToolOutput` / `ToolInput` to inspect tool
    /// results and tool-call input. agw's older `System`, `ToolResults` and `ToolUse` still
    /// work, with a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::scope_list")]
    pub scope: Option<Vec<String>>,
}

/// `response` of a guard.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardResponse {
    /// Message returned to the client in Anthropic's error format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// HTTP status of the rejection; default 400, which Claude Code shows as
    /// `API Error: 400 <message>` without retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 400, max = 599))]
    pub status_code: Option<i32>,
}

/// `regex` of a guard.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegexGuard {
    /// `Reject` the request, or `Mask` the matched text (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Reject", "Mask"]))]
    pub action: Option<String>,
    /// Custom patterns (Rust regex syntax, matched case-insensitively on normalized text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
    /// Builtin detectors: personal data `CreditCard`, `Email`, `Ssn`, `PhoneNumber`, `CaSin`;
    /// credentials `AwsAccessKey`, `GitHubToken`, `GitLabToken`, `SlackToken`, `StripeKey`,
    /// `AnthropicKey`, `OpenAiKey`, `GoogleApiKey`, `PrivateKey`, `Jwt`, `KubeconfigToken`, or
    /// `Secrets` for all credentials (names are case-insensitive: `SSN` means `Ssn`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builtins: Vec<String>,
}

/// `spec.policies.auth`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendAuth {
    /// The Secret key holding the provider API key (a leading `Bearer ` is stripped).
    pub secret_ref: SecretKeyRef,
}

/// A key of a Secret in the Backend's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret; defaults to `Authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub key: Option<String>,
}

impl SecretKeyRef {
    /// Key used when `key` is omitted, as in the tutorial's Secret.
    pub const DEFAULT_KEY: &'static str = "Authorization";

    /// The key, with the default applied.
    pub fn key_or_default(&self) -> &str {
        self.key.as_deref().unwrap_or(Self::DEFAULT_KEY)
    }
}

/// `spec.policies.tls`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendTls {
    /// Server name to verify and send as SNI; defaults to the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub sni: Option<String>,
}
