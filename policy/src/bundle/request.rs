//! Request edits of a backend besides guards: prompt enrichment, field defaults and
//! overrides, model aliases — compiled from `spec.policies.ai.{prompt, defaults, overrides,
//! modelAliases}`.
//!
//! Owns: their bundle form and the alias lookup (so the proxy and `agwctl` resolve an alias
//! alike). Must not: validate (the compiler did) or touch request bytes (the proxy does).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the proxy changes in a request on its way upstream, besides guards.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestEdits {
    /// Messages put before the client's prompt, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prepend: Vec<PromptMessage>,
    /// Messages put after the client's prompt, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub append: Vec<PromptMessage>,
    /// Top-level fields set when the request lacks them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defaults: Vec<FieldValue>,
    /// Top-level fields always set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<FieldValue>,
    /// Model aliases.
    #[serde(default, skip_serializing_if = "ModelAliases::is_empty")]
    pub model_aliases: ModelAliases,
}

impl RequestEdits {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.prepend.is_empty()
            && self.append.is_empty()
            && self.defaults.is_empty()
            && self.overrides.is_empty()
            && self.model_aliases.is_empty()
    }

    /// Whether prompt enrichment adds anything.
    pub fn enriches(&self) -> bool {
        !self.prepend.is_empty() || !self.append.is_empty()
    }

    /// Whether defaults or overrides set anything.
    pub fn sets_fields(&self) -> bool {
        !self.defaults.is_empty() || !self.overrides.is_empty()
    }
}

/// One message of prompt enrichment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromptMessage {
    /// Where the text goes.
    pub role: PromptRole,
    /// The text (never empty: the provider refuses empty text blocks).
    pub content: String,
}

/// Role of an enrichment message.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PromptRole {
    /// A text block of the request's `system`.
    System,
    /// A `user` message of `messages`.
    User,
    /// An `assistant` message of `messages`.
    Assistant,
}

impl PromptRole {
    /// The role as the Messages API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// A top-level request field and its value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldValue {
    /// The field's key in the request body.
    pub field: String,
    /// Its value, any JSON.
    pub value: serde_json::Value,
}

/// Friendly model names → provider models. Resolution is one step, as in agentgateway: an
/// exact name first, then the longest matching pattern.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelAliases {
    /// Exact names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exact: BTreeMap<String, String>,
    /// `*` patterns, most specific (longest) first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<AliasPattern>,
}

/// A wildcard alias: `*` matches any run of characters, none included.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AliasPattern {
    /// The pattern, with at least one `*`.
    pub pattern: String,
    /// The model it stands for.
    pub target: String,
}

impl ModelAliases {
    /// Whether there are no aliases.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.patterns.is_empty()
    }

    /// The model `requested` stands for, if it is an alias.
    pub fn resolve(&self, requested: &str) -> Option<&str> {
        if let Some(target) = self.exact.get(requested) {
            return Some(target);
        }
        self.patterns
            .iter()
            .find(|p| wildcard_matches(&p.pattern, requested))
            .map(|p| p.target.as_str())
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
pub fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_runs_of_any_characters() {
        assert!(wildcard_matches("claude-*", "claude-sonnet-4-5"));
        assert!(wildcard_matches("claude-*", "claude-"));
        assert!(!wildcard_matches("claude-*", "claud"));
        assert!(wildcard_matches("*-haiku-*", "claude-3-5-haiku-latest"));
        assert!(!wildcard_matches("*-haiku-*", "claude-haiku"));
        assert!(wildcard_matches("a*b*a", "aba"));
        assert!(wildcard_matches("a*ba", "aba"));
        assert!(
            !wildcard_matches("ab*ba", "aba"),
            "prefix and suffix may not overlap"
        );
        assert!(wildcard_matches("*", ""));
        assert!(!wildcard_matches("exact", "exactly"));
    }

    #[test]
    fn an_exact_alias_wins_then_the_first_pattern() {
        let aliases = ModelAliases {
            exact: BTreeMap::from([("fast".to_owned(), "claude-haiku-4-5".to_owned())]),
            patterns: vec![
                AliasPattern {
                    pattern: "claude-3-5-*".to_owned(),
                    target: "claude-sonnet-4-5".to_owned(),
                },
                AliasPattern {
                    pattern: "claude-*".to_owned(),
                    target: "claude-opus-4-1".to_owned(),
                },
            ],
        };
        assert_eq!(aliases.resolve("fast"), Some("claude-haiku-4-5"));
        assert_eq!(
            aliases.resolve("claude-3-5-haiku"),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(aliases.resolve("claude-2"), Some("claude-opus-4-1"));
        assert_eq!(aliases.resolve("gpt-4"), None);
    }
}
