//! Fields agentgateway has and agw does not implement, refused by name.
//!
//! The API types declare them (their schema keeps any JSON), so the apiserver does not prune
//! them and the webhook, the operator's status and `agwctl lint` can all say "not supported by
//! agw: …" at the field's path. A user must never believe a guard or a transformation is on
//! when agw would ignore it.
//!
//! Owns: the list of such fields and their messages. Must not: refuse a field agw implements;
//! when agw learns one of these, its entry goes.

use agw_crds::{AiPolicies, PromptGuardRule};
use serde_json::Value;

use crate::diagnostics::{Diagnostic, FieldPath};

/// Code of a field agw knows of and does not implement.
pub const UNSUPPORTED_FIELD: &str = "unsupported-field";

const NOT_IGNORED: &str =
    "remove it: agw refuses what it does not implement rather than silently ignore it";

/// `spec.policies.ai`'s unsupported fields.
pub(super) fn ai_policies(ai: &AiPolicies, path: &FieldPath, findings: &mut Vec<Diagnostic>) {
    let fields: [(&str, &Option<Value>, &str); 3] = [
        (
            "transformations",
            &ai.transformations,
            "CEL request transformations",
        ),
        (
            "finalTransformations",
            &ai.final_transformations,
            "CEL request transformations",
        ),
        (
            "promptCaching",
            &ai.prompt_caching,
            "automatic prompt caching (AWS Bedrock)",
        ),
    ];
    for (name, value, what) in fields {
        if value.is_some() {
            findings.push(refusal(&path.field(name), name, what, NOT_IGNORED));
        }
    }
}

/// One guard's detector kinds other than `regex` and `webhook`.
pub(super) fn guard_kinds(
    rule: &PromptGuardRule,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) {
    let kinds: [(&str, &Option<Value>, &str); 3] = [
        (
            "openAIModeration",
            &rule.openai_moderation,
            "OpenAI Moderations guards",
        ),
        (
            "bedrockGuardrails",
            &rule.bedrock_guardrails,
            "AWS Bedrock Guardrails guards",
        ),
        (
            "googleModelArmor",
            &rule.google_model_armor,
            "Google Model Armor guards",
        ),
    ];
    for (name, value, what) in kinds {
        if value.is_some() {
            let hint = "use a `regex` guard (`matches` and `builtins` such as CreditCard, Email, Ssn), which agw enforces in the proxy, or a `webhook` guard calling your checker";
            findings.push(refusal(&path.field(name), name, what, hint));
        }
    }
}

/// Whether the guard names any detector kind, supported or not (so a guard with only an
/// unsupported kind is not also reported as having no detector).
pub(super) fn has_detector(rule: &PromptGuardRule) -> bool {
    rule.regex.is_some()
        || rule.webhook.is_some()
        || rule.openai_moderation.is_some()
        || rule.bedrock_guardrails.is_some()
        || rule.google_model_armor.is_some()
}

fn refusal(path: &FieldPath, name: &str, what: &str, hint: &str) -> Diagnostic {
    Diagnostic::error(
        path,
        UNSUPPORTED_FIELD,
        format!("not supported by agw: `{name}` ({what})"),
    )
    .with_hint(hint)
}
