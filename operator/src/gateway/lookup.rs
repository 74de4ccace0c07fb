//! What a Gateway reconcile reads besides the Gateway: the Backends its routes refer to
//! (compiled by the one compiler, as for a Backend's own proxy), the ReferenceGrants in
//! their namespaces and the AgentgatewayPolicies targeting it (compiled by the same
//! compiler), all from the watch-fed [`super::index`], and namespace labels (read from the
//! apiserver, only when a listener selects route namespaces by label).

use std::collections::{BTreeMap, BTreeSet};

use agw_crds::BACKEND_KIND;
use agw_policy::{CompileOptions, compile, compile_policy};
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, ResourceExt};

use super::api::{Gateway, HTTPRoute, ReferenceGrant};
use super::context::GatewayContext;
use super::index::{policy_routes, policy_targets};
use super::policies::AttachedPolicy;
use super::program::{FoundBackend, Verdict};
use crate::Result;
use crate::client_keys;
use crate::cluster::kube_err;
use crate::kinds::{self, Either};
use crate::status::ClientKeys;

/// Every Backend the routes name (of either kind), compiled for a Gateway's pods. A name held
/// by both kinds resolves to the one owning it ([`kinds::owner`]), as for their own proxies.
pub(super) fn found_backends(
    ctx: &GatewayContext,
    routes: &[HTTPRoute],
) -> BTreeMap<String, FoundBackend> {
    let mut wanted = BTreeSet::new();
    for route in routes {
        let own = route.namespace().unwrap_or_default();
        for reference in route.spec.rules.iter().flat_map(|r| &r.backend_refs) {
            if reference.group.as_deref() == Some(agw_crds::GROUP)
                && reference
                    .kind
                    .as_deref()
                    .is_some_and(agw_crds::is_backend_kind)
            {
                let ns = reference.namespace.clone().unwrap_or_else(|| own.clone());
                wanted.insert((ns, reference.name.clone()));
            }
        }
    }
    let mut found = BTreeMap::new();
    for (namespace, name) in wanted {
        if let Some(owner) = name_owner(ctx, &namespace, &name) {
            found.insert(owner.key(), compiled(ctx, &owner, &namespace, &name));
        }
    }
    found
}

/// The object of either kind owning `namespace/name`, if any exists.
fn name_owner(ctx: &GatewayContext, namespace: &str, name: &str) -> Option<Either> {
    let (backend, agbe) = ctx.index.backends_named(namespace, name);
    let (backend, agbe) = (backend.map(Either::Backend), agbe.map(Either::Agentgateway));
    match (backend, agbe) {
        (Some(b), Some(a)) => Some(if kinds::owner(b.claim(), a.claim()) == BACKEND_KIND {
            b
        } else {
            a
        }),
        (one, other) => one.or(other),
    }
}

fn compiled(ctx: &GatewayContext, backend: &Either, namespace: &str, name: &str) -> FoundBackend {
    let kind = kinds::kind_of(backend);
    let options = CompileOptions {
        auth_mount_root: ctx.base.settings.auth_mount_root(),
        ..CompileOptions::new(namespace, name).with_generation(backend.generation())
    };
    let invalid = |diagnostics: String| FoundBackend::Invalid { kind, diagnostics };
    match compile(backend.spec(), &options) {
        Ok(mut compiled) => match compiled.bundle.backends.remove(&options.backend_key()) {
            Some(one) => {
                let auth = one
                    .auth
                    .as_ref()
                    .map(|a| (a.secret.name.clone(), a.secret.key.clone()));
                FoundBackend::Compiled {
                    kind,
                    backend: Box::new(one),
                    auth,
                }
            }
            None => invalid("the compiler produced no backend".to_owned()),
        },
        Err(diagnostics) => invalid(first_line(&diagnostics.to_string())),
    }
}

/// The policies governing `gateway`'s traffic (naming it, a listener or one of `routes`),
/// compiled.
pub(super) fn attached_policies(
    ctx: &GatewayContext,
    gateway: &Gateway,
    routes: &[HTTPRoute],
) -> Vec<AttachedPolicy> {
    let name = gateway.name_any();
    ctx.index
        .policies_of(gateway, routes)
        .iter()
        .map(|policy| {
            let namespace = policy.namespace().unwrap_or_default();
            let options = CompileOptions {
                auth_mount_root: ctx.base.settings.auth_mount_root(),
                ..CompileOptions::new(namespace.clone(), policy.name_any())
                    .with_generation(policy.metadata.generation)
            };
            let compiled = compile_policy(&policy.spec, &options)
                .map(|compiled| compiled.clients)
                .map_err(|diagnostics| first_line(&diagnostics.to_string()));
            // A Gateway target names a Gateway of the policy's own namespace.
            let targets = if gateway.namespace().as_deref() == Some(&*namespace) {
                policy_targets(policy, &name)
            } else {
                Vec::new()
            };
            let named = policy_routes(policy);
            let routes = routes
                .iter()
                .filter(|r| r.namespace().as_deref() == Some(&*namespace))
                .filter(|r| named.contains(&r.name_any()))
                .map(|r| format!("{namespace}/{}", r.name_any()))
                .collect();
            AttachedPolicy {
                namespace,
                name: policy.name_any(),
                created: policy
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .unwrap_or_default(),
                targets,
                routes,
                compiled,
            }
        })
        .collect()
}

/// Per policy that compiles (by `namespace/name`), whether its key Secrets and JWT key sets
/// resolve, read as the proxy will read them (the `ResolvedRefs` condition of its status):
/// how many identities and providers, or every reason an entry or set is not usable, never a
/// value.
pub(super) async fn policy_keys(
    ctx: &GatewayContext,
    policies: &[AttachedPolicy],
) -> Result<BTreeMap<String, Verdict>> {
    let mut out = BTreeMap::new();
    for policy in policies {
        let Ok(clients) = &policy.compiled else {
            continue;
        };
        let clients = [clients];
        let namespace = &policy.namespace;
        let mounts = client_keys::mounts_for(ctx.index.secrets(), namespace, &clients).await?;
        let keys = client_keys::verify(&ctx.base.client, namespace, &clients, &mounts).await?;
        out.insert(policy.key(), keys_verdict(&keys));
    }
    Ok(out)
}

fn keys_verdict(keys: &ClientKeys) -> Verdict {
    use agw_crds::conditions::reasons;
    let (ok, reason, message) = match keys {
        ClientKeys::NotConfigured => (
            true,
            super::reasons::RESOLVED_REFS,
            "no client authentication".to_owned(),
        ),
        ClientKeys::Valid {
            identities,
            jwt_providers,
        } => (
            true,
            super::reasons::RESOLVED_REFS,
            format!("gateway key identities: {identities}, JWT providers: {jwt_providers}"),
        ),
        ClientKeys::Invalid(why) => (false, reasons::INVALID_CLIENT_KEYS, why.clone()),
        ClientKeys::InvalidJwks(why) => (false, reasons::INVALID_JWKS, why.clone()),
    };
    Verdict {
        ok,
        reason,
        message,
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

pub(super) fn grants_for(ctx: &GatewayContext, routes: &[HTTPRoute]) -> Vec<ReferenceGrant> {
    let mut namespaces = BTreeSet::new();
    for route in routes {
        let own = route.namespace().unwrap_or_default();
        for reference in route.spec.rules.iter().flat_map(|r| &r.backend_refs) {
            if let Some(ns) = reference.namespace.as_ref().filter(|ns| **ns != own) {
                namespaces.insert(ns.clone());
            }
        }
    }
    namespaces
        .iter()
        .flat_map(|namespace| ctx.index.grants_in(namespace))
        .collect()
}

/// Labels of the routes' namespaces, read only when a listener selects namespaces by label.
pub(super) async fn namespace_labels(
    ctx: &GatewayContext,
    gateway: &Gateway,
    routes: &[HTTPRoute],
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let selects = gateway.spec.listeners.iter().any(|l| {
        l.allowed_routes
            .as_ref()
            .and_then(|a| a.namespaces.as_ref())
            .and_then(|n| n.from.as_deref())
            == Some("Selector")
    });
    let mut labels = BTreeMap::new();
    if !selects {
        return Ok(labels);
    }
    let api: Api<Namespace> = Api::all(ctx.base.client.clone());
    for namespace in routes.iter().filter_map(ResourceExt::namespace) {
        if labels.contains_key(&namespace) {
            continue;
        }
        let found = api
            .get_opt(&namespace)
            .await
            .map_err(kube_err(format!("reading Namespace {namespace}")))?;
        labels.insert(
            namespace,
            found.map(|n| n.labels().clone()).unwrap_or_default(),
        );
    }
    Ok(labels)
}
