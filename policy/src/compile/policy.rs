//! `AgentgatewayPolicy.spec` → [`CompiledPolicy`]: the Gateways, listeners or HTTPRoutes it
//! targets and the client policy their traffic gets, or every diagnostic at once.
//!
//! The governance fields compile exactly as a Backend's do ([`super::client_auth`]); what a
//! policy adds is its targets and the rule for combining it with a Backend's own settings
//! ([`beneath`]). Must not decide which policy wins a listener (the operator's
//! Gateway program does, by age) or read a Secret.

use agw_crds::policy::{GATEWAY_API_GROUP, ROUTE_TARGET_KIND, TARGET_KIND};
use agw_crds::{AgentgatewayPolicySpec, TrafficPolicy};

use super::client_auth::{self, Governance, KeyPlace};
use super::{CompileOptions, UNSUPPORTED_FIELD};
use crate::bundle::ClientPolicy;
use crate::diagnostics::{Diagnostic, Diagnostics, FieldPath};

/// Directory, under a namespace's auth mount, where a policy's label-selected key Secrets
/// are mounted (`<root>/<ns>/.policies/<policy>/<secret>`): apart from any Backend's.
pub const POLICY_SELECTED_DIR: &str = ".policies";

/// What a policy targets, in its namespace: a Gateway (and maybe one listener) or an HTTPRoute.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PolicyTarget {
    /// `Gateway` or `HTTPRoute`.
    pub kind: &'static str,
    /// The object's name.
    pub name: String,
    /// The Gateway listener's name; the whole object when `None`.
    pub listener: Option<String>,
}

/// A policy that compiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledPolicy {
    /// Its targets, each once.
    pub targets: Vec<PolicyTarget>,
    /// The client policy the targeted traffic gets (see [`beneath`]).
    pub clients: ClientPolicy,
    /// Findings that did not reject it.
    pub warnings: Vec<Diagnostic>,
}

/// Compiles a policy; `opts` names it (namespace, name) and the auth mount root.
pub fn compile_policy(
    spec: &AgentgatewayPolicySpec,
    opts: &CompileOptions,
) -> Result<CompiledPolicy, Diagnostics> {
    let mut findings = Vec::new();
    let root = FieldPath::spec();
    let targets = targets(spec, &root, &mut findings);
    for (name, present) in [
        ("targetSelectors", spec.target_selectors.is_some()),
        ("frontend", spec.frontend.is_some()),
        ("backend", spec.backend.is_some()),
    ] {
        if present {
            findings.push(
                Diagnostic::error(root.field(name), UNSUPPORTED_FIELD, format!("not supported by agw: `{name}`"))
                    .with_hint("agw's AgentgatewayPolicy governs clients: `targetRefs` to Gateways or listeners, and `traffic` (apiKeyAuthentication, jwtAuthentication, authorization, rateLimit)"),
            );
        }
    }
    let clients = match &spec.traffic {
        Some(traffic) => traffic_policy(traffic, opts, &root.field("traffic"), &mut findings),
        None => None,
    };
    if clients.is_none() && !findings.iter().any(Diagnostic::is_error) {
        findings.push(
            Diagnostic::error(root.field("traffic"), "policy-empty", "the policy sets nothing agw enforces")
                .with_hint("set `traffic.apiKeyAuthentication`, `jwtAuthentication`, `authorization` or `rateLimit`"),
        );
    }
    let diagnostics = Diagnostics::from_findings(findings);
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    Ok(CompiledPolicy {
        targets,
        clients: clients.unwrap_or_default(),
        warnings: diagnostics.warnings,
    })
}

fn targets(
    spec: &AgentgatewayPolicySpec,
    root: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<PolicyTarget> {
    let path = root.field("targetRefs");
    if spec.target_refs.is_empty() {
        findings.push(
            Diagnostic::error(&path, "policy-without-targets", "the policy targets nothing")
                .with_hint("name a Gateway: `{group: gateway.networking.k8s.io, kind: Gateway, name: agentgateway-proxy}`, with `sectionName` for one listener, or an HTTPRoute"),
        );
    }
    let mut out: Vec<PolicyTarget> = Vec::new();
    for (i, target) in spec.target_refs.iter().enumerate() {
        let at = path.index(i);
        let kind = [TARGET_KIND, ROUTE_TARGET_KIND]
            .into_iter()
            .find(|k| target.group == GATEWAY_API_GROUP && target.kind == *k);
        let Some(kind) = kind else {
            findings.push(
                Diagnostic::error(
                    at.field("kind"),
                    "unsupported-policy-target",
                    format!(
                        "agw attaches policies to Gateways, their listeners and HTTPRoutes, not to {}/{}",
                        target.group, target.kind
                    ),
                )
                .with_hint("for one Backend's clients, set its `spec.policies`; here use `group: gateway.networking.k8s.io` with `kind: Gateway` or `kind: HTTPRoute`"),
            );
            continue;
        };
        if kind == ROUTE_TARGET_KIND && target.section_name.is_some() {
            findings.push(
                Diagnostic::error(
                    at.field("sectionName"),
                    "unsupported-policy-target",
                    "agw governs an HTTPRoute's rules together, not one rule by name",
                )
                .with_hint("remove `sectionName`, or give the rule a route of its own"),
            );
            continue;
        }
        let one = PolicyTarget {
            kind,
            name: target.name.trim().to_owned(),
            listener: target.section_name.as_ref().map(|s| s.trim().to_owned()),
        };
        if out.contains(&one) {
            findings.push(Diagnostic::error(
                &at,
                "duplicate-policy-target",
                "this target is listed twice",
            ));
            continue;
        }
        out.push(one);
    }
    out
}

fn traffic_policy(
    traffic: &TrafficPolicy,
    opts: &CompileOptions,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Option<ClientPolicy> {
    for name in traffic.unsupported.keys() {
        findings.push(
            Diagnostic::error(path.field(name), UNSUPPORTED_FIELD, format!("not supported by agw: `{name}`"))
                .with_hint("agw's traffic policy has apiKeyAuthentication, jwtAuthentication, authorization and rateLimit"),
        );
    }
    let governance = Governance {
        api_keys: traffic.api_key_authentication.as_ref(),
        jwt: traffic.jwt_authentication.as_ref(),
        authorization: traffic.authorization.as_ref(),
        rate_limit: traffic.rate_limit.as_ref(),
    };
    // The provider key is each Backend's: the Gateway program checks that every Backend
    // behind an authenticating policy injects one.
    let keys = KeyPlace {
        provider_secret: None,
        selected_dir: format!("{POLICY_SELECTED_DIR}/{}", opts.name),
    };
    client_auth::compile_governance(governance, &keys, opts, path, findings)
}

/// The client policy of traffic governed by a more specific `own` over an `inherited` one (a
/// Backend's own settings over its route's or listener's policy, a route's policy over its
/// listener's): each part `own` sets wins (the more specific attachment, as in Gateway API
/// policy attachment), each part it leaves unset is inherited. Authentication (gateway keys
/// and JWT providers) is one part, so identities of two layers never mix; an allow list or
/// limits `own` lacks still apply to whoever authenticated.
pub fn beneath(own: Option<&ClientPolicy>, inherited: &ClientPolicy) -> ClientPolicy {
    let Some(own) = own else {
        return inherited.clone();
    };
    let (key_sources, jwt_providers) = if own.authenticates() {
        (own.key_sources.clone(), own.jwt_providers.clone())
    } else {
        (
            inherited.key_sources.clone(),
            inherited.jwt_providers.clone(),
        )
    };
    ClientPolicy {
        key_sources,
        jwt_providers,
        allow: own.allow.clone().or_else(|| inherited.allow.clone()),
        limits: if own.limits.is_empty() {
            inherited.limits.clone()
        } else {
            own.limits.clone()
        },
    }
}

#[cfg(test)]
mod tests;
