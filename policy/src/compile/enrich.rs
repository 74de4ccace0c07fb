//! `spec.policies.ai.prompt`, `defaults` and `overrides` → the bundle's request edits.
//!
//! Prompt enrichment follows agentgateway: role `system` becomes text blocks of the request's
//! `system`, `user`/`assistant` become messages. `defaults` and `overrides` name top-level
//! request fields (as agentgateway's do) and hold any JSON value.
//!
//! Owns: which of these are valid. Fields that carry the text guards read (`messages`,
//! `system`, `metadata`), the response protocol the client expects (`stream`) or the model
//! (`model`, which `provider.anthropic.model` and `modelAliases` decide) cannot be set, so a
//! default or override can neither change what the client gets back nor smuggle text past
//! the guards. Must not: edit requests (the proxy does).

use std::collections::BTreeMap;

use agw_crds::{FieldDefault, PromptEnrichment};
use serde_json::Value;

use crate::bundle::{FieldValue, PromptMessage, PromptRole};
use crate::diagnostics::{Diagnostic, FieldPath, closest};

const ROLES: [&str; 3] = ["system", "user", "assistant"];

/// Top-level fields `defaults`/`overrides` may not set, and what to use instead.
const RESERVED: [(&str, &str); 5] = [
    (
        "messages",
        "use `prompt.prepend`/`prompt.append` with role user or assistant; replacing the conversation would discard the client's prompt",
    ),
    (
        "system",
        "use `prompt.prepend` or `prompt.append` with role system: it adds blocks to the client's system prompt (string or blocks, cache_control kept), and the guards see them",
    ),
    (
        "metadata",
        "agw reads `metadata` for guards and the access log's user id; it cannot be set",
    ),
    (
        "stream",
        "the client chose streaming or not and reads the response accordingly; changing it breaks the client",
    ),
    (
        "model",
        "pin the model with `spec.ai.provider.anthropic.model`, or rename models with `modelAliases`",
    ),
];

/// The prepend and append lists of `prompt`.
pub(super) fn prompt(
    spec: Option<&PromptEnrichment>,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> (Vec<PromptMessage>, Vec<PromptMessage>) {
    let Some(spec) = spec else {
        return (Vec::new(), Vec::new());
    };
    let prepend = messages(&spec.prepend, &path.field("prepend"), findings);
    let append = messages(&spec.append, &path.field("append"), findings);
    if prepend.is_empty() && append.is_empty() && spec.prepend.is_empty() && spec.append.is_empty()
    {
        findings.push(
            Diagnostic::warning(path, "empty-prompt-enrichment", "`prompt` adds nothing")
                .with_hint("list messages under `prepend` or `append`, or remove `prompt`"),
        );
    }
    if spec
        .append
        .last()
        .is_some_and(|m| role(&m.role) == Some(PromptRole::Assistant))
    {
        findings.push(
            Diagnostic::warning(
                path.field("append").index(spec.append.len() - 1),
                "assistant-prefill",
                "an appended assistant message ends the conversation: the model continues that text (a prefill), and requests with extended thinking are refused by the provider",
            )
            .with_hint("append a `user` message for instructions the model should follow"),
        );
    }
    (prepend, append)
}

fn messages(
    list: &[agw_crds::PromptMessage],
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<PromptMessage> {
    let mut out = Vec::new();
    for (index, message) in list.iter().enumerate() {
        let entry = path.index(index);
        let role = role(&message.role);
        if role.is_none() {
            let hint = match closest(&message.role.to_ascii_lowercase(), ROLES.iter().copied()) {
                Some(near) => format!("did you mean {near}? roles: system, user, assistant"),
                None => "roles: system, user, assistant (any case)".to_owned(),
            };
            findings.push(
                Diagnostic::error(
                    entry.field("role"),
                    "invalid-prompt-role",
                    format!("unknown role {:?}", message.role),
                )
                .with_hint(hint),
            );
        }
        if message.content.trim().is_empty() {
            findings.push(
                Diagnostic::error(
                    entry.field("content"),
                    "empty-prompt-content",
                    "the content is empty; the provider refuses empty text blocks",
                )
                .with_hint("write the text to add, or remove this message"),
            );
            continue;
        }
        if let Some(role) = role {
            out.push(PromptMessage {
                role,
                content: message.content.clone(),
            });
        }
    }
    out
}

/// A role, case-insensitively (agentgateway's docs write `SYSTEM` and `USER`).
pub(super) fn role(name: &str) -> Option<PromptRole> {
    match name.trim().to_ascii_lowercase().as_str() {
        "system" => Some(PromptRole::System),
        "user" => Some(PromptRole::User),
        "assistant" => Some(PromptRole::Assistant),
        _ => None,
    }
}

/// `defaults` and `overrides`, each checked on its own, then against each other.
pub(super) fn fields(
    defaults: Option<&[FieldDefault]>,
    overrides: Option<&[FieldDefault]>,
    ai_path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> (Vec<FieldValue>, Vec<FieldValue>) {
    let defaults_path = ai_path.field("defaults");
    let overrides_path = ai_path.field("overrides");
    let defaults = list(defaults.unwrap_or_default(), &defaults_path, findings);
    let overrides = list(overrides.unwrap_or_default(), &overrides_path, findings);
    let overridden: BTreeMap<&str, usize> = overrides
        .iter()
        .map(|(index, f)| (f.field.as_str(), *index))
        .collect();
    for (index, default) in &defaults {
        if let Some(at) = overridden.get(default.field.as_str()) {
            findings.push(
                Diagnostic::warning(
                    defaults_path.index(*index).field("field"),
                    "default-overridden",
                    format!(
                        "`overrides[{at}]` always sets {:?}, so this default never applies",
                        default.field
                    ),
                )
                .with_hint("remove the default, or the override"),
            );
        }
    }
    let strip = |v: Vec<(usize, FieldValue)>| -> Vec<FieldValue> {
        v.into_iter().map(|(_, f)| f).collect()
    };
    (strip(defaults), strip(overrides))
}

fn list(
    entries: &[FieldDefault],
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<(usize, FieldValue)> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let field_path = path.index(index).field("field");
        let name = entry.field.as_str();
        if let Some(first) = seen.insert(name, index) {
            findings.push(Diagnostic::error(
                &field_path,
                "duplicate-request-field",
                format!("{name:?} is already set by entry [{first}]"),
            ));
            continue;
        }
        if field_ok(name, &field_path, findings)
            && value_ok(
                name,
                &entry.value,
                &path.index(index).field("value"),
                findings,
            )
        {
            out.push((
                index,
                FieldValue {
                    field: name.to_owned(),
                    value: entry.value.clone(),
                },
            ));
        }
    }
    out
}

fn field_ok(name: &str, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> bool {
    if name.trim().is_empty() {
        findings.push(
            Diagnostic::error(path, "invalid-request-field", "the field name is empty")
                .with_hint("name a top-level field of the request body, e.g. `max_tokens`"),
        );
        return false;
    }
    if name.trim() != name || name.chars().any(char::is_control) {
        findings.push(
            Diagnostic::error(
                path,
                "invalid-request-field",
                format!("field name {name:?} has surrounding whitespace or control characters"),
            )
            .with_hint("write the request body's key exactly, e.g. `max_tokens`"),
        );
        return false;
    }
    if let Some((_, hint)) = RESERVED.iter().find(|(reserved, _)| *reserved == name) {
        findings.push(
            Diagnostic::error(
                path,
                "reserved-request-field",
                format!("{name:?} cannot be set by defaults or overrides"),
            )
            .with_hint(*hint),
        );
        return false;
    }
    true
}

/// Values of the sampling fields the Messages API defines must have its types, or every
/// request would fail upstream; other fields are the provider's to judge.
fn value_ok(name: &str, value: &Value, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> bool {
    let problem = match name {
        "max_tokens" if matches!(value.as_u64(), None | Some(0)) => {
            "`max_tokens` must be a positive integer"
        }
        "temperature" | "top_p" if !value.as_f64().is_some_and(|n| (0.0..=1.0).contains(&n)) => {
            "must be a number from 0 to 1"
        }
        "top_k" if value.as_u64().is_none() => "`top_k` must be a non-negative integer",
        "stop_sequences"
            if !value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)) =>
        {
            "`stop_sequences` must be a list of strings"
        }
        _ => return true,
    };
    findings.push(
        Diagnostic::error(
            path,
            "invalid-request-value",
            format!("{problem}, not {value}"),
        )
        .with_hint("YAML `value: 4096` is a number; `value: \"4096\"` is a string"),
    );
    false
}
