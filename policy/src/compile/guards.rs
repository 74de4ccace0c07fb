//! `spec.policies.ai.promptGuard` → the bundle's [`GuardSet`].
//!
//! Each guard gets a stable id (`request[0]`) used in the `agw-guard` header, logs and
//! metrics. Patterns are judged by [`regex_safety`](super::regex_safety); builtin names are
//! resolved case-insensitively (`SSN` is `Ssn`); defaults are filled in (action `Mask`,
//! status 400, scope system prompt + messages) so the proxy never guesses.

use agw_crds::{GUARD_SCOPES, LEGACY_GUARD_SCOPES, PromptGuard, PromptGuardRule};

use super::guard_rule::{detectors_of, rejection};
use super::regex_safety::Judge;
use super::{Limits, webhook};
use crate::bundle::{Guard, GuardScope, GuardSet};
use crate::diagnostics::{Diagnostic, FieldPath};

pub(super) fn compile(
    spec: Option<&PromptGuard>,
    path: &FieldPath,
    limits: &Limits,
    namespace: &str,
    findings: &mut Vec<Diagnostic>,
) -> GuardSet {
    let Some(spec) = spec else {
        return GuardSet::default();
    };
    let mut judge = Judge::new(limits);
    let request = compile_phase(&spec.request, path, &mut judge, namespace, findings);
    let (response, streaming) =
        super::response_guards::compile(spec, path, &mut judge, namespace, findings);
    let set = GuardSet {
        request,
        response,
        streaming,
    };
    let total: usize = spec
        .request
        .iter()
        .chain(&spec.response)
        .map(|g| g.regex.as_ref().map_or(0, |r| r.matches.len()))
        .sum();
    if total > limits.max_patterns_per_backend {
        findings.push(
            Diagnostic::error(
                path,
                "too-many-patterns",
                format!(
                    "{total} patterns in all guards, over the limit of {}",
                    limits.max_patterns_per_backend
                ),
            )
            .with_hint("merge phrases into alternations (`a|b|c`) or use builtins"),
        );
    }
    set
}

fn compile_phase(
    rules: &[PromptGuardRule],
    path: &FieldPath,
    judge: &mut Judge,
    namespace: &str,
    findings: &mut Vec<Diagnostic>,
) -> Vec<Guard> {
    let limits = *judge.limits();
    let phase_path = path.field("request");
    if rules.len() > limits.max_guards {
        findings.push(Diagnostic::error(
            &phase_path,
            "too-many-guards",
            format!(
                "{} guards, over the limit of {}",
                rules.len(),
                limits.max_guards
            ),
        ));
    }
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            compile_guard(
                format!("request[{i}]"),
                rule,
                &phase_path.index(i),
                (judge, namespace),
                findings,
            )
        })
        .collect()
}

fn compile_guard(
    id: String,
    rule: &PromptGuardRule,
    path: &FieldPath,
    (judge, namespace): (&mut Judge, &str),
    findings: &mut Vec<Diagnostic>,
) -> Guard {
    let limits = *judge.limits();
    let (action, detectors) = detectors_of(rule, path, judge, findings);
    let webhook = webhook::compile(rule, webhook::Phase::Request, path, namespace, findings);
    Guard {
        id,
        action,
        reject: rejection(rule, &path.field("response"), &limits, findings),
        scope: scope(rule.scope.as_deref(), &path.field("scope"), findings),
        detectors,
        webhook,
    }
}

fn scope(names: Option<&[String]>, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> GuardScope {
    let Some(names) = names else {
        return GuardScope::default();
    };
    let mut scope = GuardScope {
        system: false,
        messages: false,
        tool_results: false,
        tool_use: false,
    };
    for (i, name) in names.iter().enumerate() {
        let written = name.trim();
        let canonical = match LEGACY_GUARD_SCOPES.iter().find(|(old, _)| *old == written) {
            Some((old, new)) => {
                findings.push(
                    Diagnostic::warning(
                        path.index(i),
                        "legacy-scope",
                        format!("scope {old:?} is agw's old spelling of {new:?}"),
                    )
                    .with_hint(format!(
                        "write {new:?}, agentgateway's name; {old:?} still works"
                    )),
                );
                *new
            }
            None => written,
        };
        match canonical {
            "SystemPrompt" => scope.system = true,
            "Messages" => scope.messages = true,
            "ToolOutput" => scope.tool_results = true,
            "ToolInput" => scope.tool_use = true,
            other => findings.push(
                Diagnostic::error(
                    path.index(i),
                    "invalid-scope",
                    format!("unknown scope {other:?}"),
                )
                .with_hint(format!("valid scopes: {}", GUARD_SCOPES.join(", "))),
            ),
        }
    }
    if names.is_empty() {
        findings.push(
            Diagnostic::error(
                path,
                "empty-scope",
                "scope is empty, so the guard inspects nothing",
            )
            .with_hint("omit `scope` for the default (SystemPrompt, Messages)"),
        );
    }
    scope
}
