//! What a Gateway reconcile reads besides the Gateway: the HTTPRoutes naming it, the
//! Backends they refer to (compiled by the one compiler, as for a Backend's own proxy), the
//! ReferenceGrants in the Backends' namespaces, and namespace labels when a listener selects
//! route namespaces by label.

use std::collections::{BTreeMap, BTreeSet};

use agw_crds::{AgentgatewayBackend, BACKEND_KIND, Backend};
use agw_policy::{CompileOptions, compile};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use super::api::{Gateway, HTTPRoute, ReferenceGrant};
use super::attach;
use super::controller::{GatewayContext, kube_err};
use super::program::FoundBackend;
use crate::Result;
use crate::kinds::{self, Either};

pub(super) async fn attached_routes(
    ctx: &GatewayContext,
    gateway: &Gateway,
) -> Result<Vec<HTTPRoute>> {
    let api: Api<HTTPRoute> = Api::all(ctx.base.client.clone());
    let mut routes: Vec<HTTPRoute> = api
        .list(&ListParams::default())
        .await
        .map_err(kube_err("listing HTTPRoutes".to_owned()))?
        .items
        .into_iter()
        .filter(|r| {
            r.spec
                .parent_refs
                .iter()
                .any(|p| attach::refers_to(r, p, gateway))
        })
        .collect();
    routes.sort_by_key(|r| (r.namespace(), r.name_any()));
    Ok(routes)
}

/// Every Backend the routes name (of either kind), compiled for a Gateway's pods. A name held
/// by both kinds resolves to the one owning it ([`kinds::owner`]), as for their own proxies.
pub(super) async fn found_backends(
    ctx: &GatewayContext,
    routes: &[HTTPRoute],
) -> Result<BTreeMap<String, FoundBackend>> {
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
        if let Some(owner) = name_owner(ctx, &namespace, &name).await? {
            found.insert(owner.key(), compiled(ctx, &owner, &namespace, &name));
        }
    }
    Ok(found)
}

/// The object of either kind owning `namespace/name`, if any exists.
async fn name_owner(ctx: &GatewayContext, namespace: &str, name: &str) -> Result<Option<Either>> {
    let client = ctx.base.client.clone();
    let backend = Api::<Backend>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(kube_err(format!("reading Backend {namespace}/{name}")))?
        .map(Either::Backend);
    let agbe = Api::<AgentgatewayBackend>::namespaced(client, namespace)
        .get_opt(name)
        .await
        .map_err(kube_err(format!(
            "reading AgentgatewayBackend {namespace}/{name}"
        )))?
        .map(Either::Agentgateway);
    Ok(match (backend, agbe) {
        (Some(b), Some(a)) => Some(if kinds::owner(b.claim(), a.claim()) == BACKEND_KIND {
            b
        } else {
            a
        }),
        (one, other) => one.or(other),
    })
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
        Err(diagnostics) => invalid(
            diagnostics
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
    }
}

pub(super) async fn grants_for(
    ctx: &GatewayContext,
    routes: &[HTTPRoute],
) -> Result<Vec<ReferenceGrant>> {
    let mut namespaces = BTreeSet::new();
    for route in routes {
        let own = route.namespace().unwrap_or_default();
        for reference in route.spec.rules.iter().flat_map(|r| &r.backend_refs) {
            if let Some(ns) = reference.namespace.as_ref().filter(|ns| **ns != own) {
                namespaces.insert(ns.clone());
            }
        }
    }
    let mut grants = Vec::new();
    for namespace in namespaces {
        let api: Api<ReferenceGrant> = Api::namespaced(ctx.base.client.clone(), &namespace);
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(kube_err(format!("listing ReferenceGrants in {namespace}")))?;
        grants.extend(list.items);
    }
    Ok(grants)
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
