//! `spec.policies.ai.modelAliases` → the bundle's model aliases.
//!
//! As in agentgateway, a request's model is looked up once: an exact alias first, then the
//! most specific (longest) `*` pattern. Because resolution is one step, an alias whose target
//! is itself an alias would stop half-way (or swap names, for a cycle): refused, naming the
//! chain. Owns: alias validity and pattern order. Must not: rewrite requests.

use std::collections::BTreeMap;

use crate::bundle::{AliasPattern, ModelAliases};
use crate::diagnostics::{Diagnostic, FieldPath};

pub(super) fn compile(
    spec: Option<&BTreeMap<String, String>>,
    pinned: bool,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> ModelAliases {
    let Some(spec) = spec.filter(|s| !s.is_empty()) else {
        return ModelAliases::default();
    };
    let mut aliases = ModelAliases::default();
    for (name, target) in spec {
        if entry_ok(name, target, &path.key(name), findings) {
            if name.contains('*') {
                aliases.patterns.push(AliasPattern {
                    pattern: name.clone(),
                    target: target.clone(),
                });
            } else {
                aliases.exact.insert(name.clone(), target.clone());
            }
        }
    }
    // Longest pattern first; the map iterated in byte order and the sort is stable.
    aliases
        .patterns
        .sort_by_key(|p| std::cmp::Reverse(p.pattern.len()));
    for (name, target) in spec {
        if let Some(next) = aliases
            .resolve(target)
            .filter(|next| *next != target.as_str())
        {
            let hint = if next == name {
                "a cycle: point each alias at a provider model".to_owned()
            } else {
                format!("point {name:?} at the provider model directly ({next:?})")
            };
            findings.push(
                Diagnostic::error(
                    path.key(name),
                    "model-alias-chain",
                    format!("{name:?} → {target:?}, which is itself an alias of {next:?}; aliases resolve in one step, so requests for {name:?} would be sent as {target:?}"),
                )
                .with_hint(hint),
            );
        }
    }
    if pinned {
        findings.push(
            Diagnostic::warning(
                path,
                "model-aliases-unused",
                "`spec.ai.provider.anthropic.model` pins every request's model, so no alias ever applies",
            )
            .with_hint("remove the pinned model to let clients choose through aliases, or remove `modelAliases`"),
        );
    }
    aliases
}

fn entry_ok(name: &str, target: &str, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> bool {
    let problem = if name.trim().is_empty() {
        "the alias name is empty".to_owned()
    } else if target.trim().is_empty() {
        format!("alias {name:?} has an empty target model")
    } else if target.contains('*') {
        format!("target {target:?} contains `*`; only alias names may be patterns")
    } else if name == target {
        format!("{name:?} is an alias of itself")
    } else if name.trim() != name || target.trim() != target {
        format!("{name:?} → {target:?} has surrounding whitespace")
    } else {
        return true;
    };
    findings.push(
        Diagnostic::error(path, "invalid-model-alias", problem)
            .with_hint("map a friendly name (or a `*` pattern) to a provider model, e.g. `fast: claude-haiku-4-5`"),
    );
    false
}
