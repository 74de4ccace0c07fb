//! The vocabulary of `Backend.spec`: the strings an enumerated field accepts.
//!
//! Owns the lists that the OpenAPI schema (`schema`) declares and the compiler checks against,
//! so both read one list. Must not depend on the spec types: it sits below them, which keeps
//! `spec` → `schema` → (this) pointing one way.

/// Route types a request path can map to (`spec.policies.ai.routes` values).
pub const ROUTE_TYPES: &[&str] = &["Messages", "Passthrough", "AnthropicTokenCount", "Models"];
/// Guard actions (`regex.action`); `Mask` is the default.
pub const GUARD_ACTIONS: &[&str] = &["Reject", "Mask"];
/// Values of `promptGuard.streaming`.
pub const STREAMING_MODES: &[&str] = &["Enabled"];
/// Parts of a Messages request a guard inspects (`scope`), spelled as agentgateway spells them;
/// `SystemPrompt` and `Messages` by default.
pub const GUARD_SCOPES: &[&str] = &["SystemPrompt", "Messages", "ToolInput", "ToolOutput"];
/// agw's earlier scope spellings and the canonical name each means; still accepted, with a
/// compiler warning naming the canonical spelling.
pub const LEGACY_GUARD_SCOPES: &[(&str, &str)] = &[
    ("System", "SystemPrompt"),
    ("ToolResults", "ToolOutput"),
    ("ToolUse", "ToolInput"),
];
