//! A Backend as served through the AgentgatewayPolicies governing a route: the layered
//! client policy, the bundle key of the variant, and the reasons it cannot be served.
//!
//! Pure, like the rest of the program; must not decide which policies govern (that is
//! [`crate::gateway::policies`]).

use agw_policy::bundle::{BundleBackend, ClientPolicy, JwksSource};

use crate::gateway::policies::AttachedPolicy;

/// A Backend as served through policies `layers` (most general first: a listener's, then a
/// route's): each layer's client settings beneath the next, and the Backend's own on top
/// ([`agw_policy::compile::beneath`]), under a bundle key of its own
/// (`<ns>/<name>@<policy>[+<policy>]`: `@` and `+` are in no object name), so its budgets are
/// its own too. The Backend unchanged without layers; the reason it cannot be served,
/// otherwise.
pub(super) fn backend(
    key: &str,
    kind: &str,
    backend: &BundleBackend,
    layers: &[&AttachedPolicy],
    gateway_ns: &str,
) -> Result<(String, BundleBackend), String> {
    let mut inherited: Option<ClientPolicy> = None;
    for policy in layers {
        let name = shown(policy, gateway_ns);
        let clients = policy.compiled.as_ref().map_err(|problem| {
            format!(
                "AgentgatewayPolicy {name} governs this route and is invalid ({problem}); the \
                 route serves nothing through it until it is fixed"
            )
        })?;
        inherited = Some(match inherited {
            None => clients.clone(),
            Some(below) => agw_policy::compile::beneath(Some(clients), &below),
        });
    }
    let Some(governing) = inherited else {
        return Ok((key.to_owned(), backend.clone()));
    };
    let names: Vec<String> = layers.iter().map(|p| shown(p, gateway_ns)).collect();
    let names = names.join("+");
    let clients = agw_policy::compile::beneath(backend.clients.as_ref(), &governing);
    if clients.authenticates() && backend.auth.is_none() {
        return Err(format!(
            "AgentgatewayPolicy {names} authenticates this route's clients, so their \
             credentials are never forwarded, and {kind} {key} has no `policies.auth` to send \
             the provider key instead; add one"
        ));
    }
    if let Some(elsewhere) = mounted_namespaces(&clients).find(|ns| *ns != gateway_ns) {
        return Err(format!(
            "AgentgatewayPolicy {names} reads client keys from namespace {elsewhere}, and the \
             Gateway's pods mount Secrets only from their own ({gateway_ns}); keep the policy \
             and its key Secrets there, or authenticate with an inline or remote JWT key set"
        ));
    }
    let mut governed = backend.clone();
    governed.clients = (clients != ClientPolicy::default()).then_some(clients);
    Ok((format!("{key}@{names}"), governed))
}

/// A policy's name as messages and bundle keys show it: with its namespace when that is not
/// the Gateway's.
fn shown(policy: &AttachedPolicy, gateway_ns: &str) -> String {
    if policy.namespace == gateway_ns {
        policy.name.clone()
    } else {
        policy.key()
    }
}

/// The namespaces of the Secrets and ConfigMaps a client policy reads through mounts.
fn mounted_namespaces(clients: &ClientPolicy) -> impl Iterator<Item = &str> {
    let keys = clients.key_sources.iter().map(|k| k.namespace.as_str());
    let sets = clients.jwt_providers.iter().filter_map(|p| match &p.jwks {
        JwksSource::Mounted(mounted) => Some(mounted.namespace.as_str()),
        _ => None,
    });
    keys.chain(sets)
}
