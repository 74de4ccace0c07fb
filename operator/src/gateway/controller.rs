//! The Gateway controller: per Gateway of agw's class, gather the attached HTTPRoutes and
//! the Backends they name, compile each Backend with the one compiler, apply the bundle
//! Secret, Deployment and Service, and write Gateway and HTTPRoute statuses.
//!
//! Any change that can alter a Gateway's program re-reconciles it: its routes (through their
//! parentRefs), Backends and ReferenceGrants (every Gateway: cheap, and always correct), its
//! class, and the objects it owns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agw_crds::{AgentgatewayBackend, AgentgatewayPolicy, Backend};
use agw_policy::Bundle;
use agw_policy::bundle::{BundleSource, SourceKind};
use futures_util::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};

use super::api::{Gateway, GatewayClass, HTTPRoute, ReferenceGrant};
use super::context::GatewayContext;
use super::index::{self, Writers, parent_gateways, reported_gateways};
use super::lookup::{attached_policies, found_backends, grants_for, namespace_labels, policy_keys};
use super::program::{Inputs, Program, RouteOutcome};
use super::status::{self, Rollout};
use super::{attach, resources as gw_resources};
use crate::client_keys;
use crate::cluster::{Scope, apply, apply_status, deployment_availability, kube_err};
use crate::resources::FIELD_MANAGER;
use crate::{Error, Result};

/// Runs the Gateway controller until `shutdown` resolves; `writers` fill `ctx.index` from
/// the watches this controller polls.
pub async fn run(
    ctx: Arc<GatewayContext>,
    writers: Writers,
    scope: Scope,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = &ctx.base.client;
    let owned = watcher::Config::default().labels(&format!(
        "app.kubernetes.io/managed-by={FIELD_MANAGER},{}",
        gw_resources::GATEWAY_LABEL
    ));
    let controller = Controller::new(scope.api::<Gateway>(client), watcher::Config::default())
        .owns(scope.api::<Secret>(client), owned.clone())
        .owns(scope.api::<Deployment>(client), owned.clone())
        .owns(scope.api::<Service>(client), owned);
    let gateways = controller.store();
    let feeds = index::feeds(client, writers);
    let (by_backend, by_agbe, by_grant) = (ctx.index.clone(), ctx.index.clone(), ctx.index.clone());
    let by_secret = ctx.index.clone();
    let controller_name = ctx.controller_name.clone();
    let by_policy = ctx.index.clone();
    let controller = controller
        .watches_stream(feeds.routes, |route: HTTPRoute| parent_gateways(&route))
        // A Backend change reprograms only the Gateways whose routes refer to it.
        .watches_stream(feeds.backends, move |backend: Backend| {
            let namespace = backend.namespace().unwrap_or_default();
            by_backend.gateways_using_backend(&namespace, &backend.name_any())
        })
        .watches_stream(
            feeds.agentgateway_backends,
            move |backend: AgentgatewayBackend| {
                let namespace = backend.namespace().unwrap_or_default();
                by_agbe.gateways_using_backend(&namespace, &backend.name_any())
            },
        )
        // A grant matters only to Gateways whose routes cross into its namespace.
        .watches_stream(feeds.grants, move |grant: ReferenceGrant| {
            by_grant.gateways_crossing_into(&grant.namespace().unwrap_or_default())
        })
        // A key Secret appearing, or a selector gaining or losing one, changes the pods'
        // volumes; a key edit does not (kubelet updates the mount, the proxy re-reads it).
        .watches_stream(feeds.secrets, move |secret: PartialObjectMeta<Secret>| {
            by_secret.gateways_using_secret(&secret)
        })
        // A policy requeues the Gateways it targets, and those it stopped targeting (they
        // still have an entry in its status, which their reconcile removes).
        .watches_stream(feeds.policies, move |policy: AgentgatewayPolicy| {
            let mut gateways = by_policy.gateways_governed_by(&policy);
            gateways.extend(reported_gateways(&policy, &controller_name));
            index::unique(gateways)
        })
        .watches(
            Api::<GatewayClass>::all(client.clone()),
            watcher::Config::default(),
            move |class: GatewayClass| {
                gateways
                    .state()
                    .iter()
                    .filter(|g| g.spec.gateway_class_name == class.name_any())
                    .map(|g| ObjectRef::from_obj(g.as_ref()))
                    .collect::<Vec<_>>()
            },
        );
    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(gateway = %object, "reconciled"),
                Err(err) => tracing::debug!(error = %err, "gateway reconcile failed"),
            }
        })
        .await;
}

/// Requeue with a delay after a failed reconcile.
#[allow(clippy::needless_pass_by_value)] // the signature `Controller::run` expects
pub fn error_policy(gateway: Arc<Gateway>, error: &Error, _ctx: Arc<GatewayContext>) -> Action {
    tracing::warn!(gateway = %ObjectRef::from_obj(gateway.as_ref()), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// Reconciles one Gateway, in a span (exported when traces are on) naming it and, on
/// failure, the error category (`error.type`, the metrics label).
#[tracing::instrument(skip_all, fields(
    otel.kind = "internal",
    otel.name = "reconcile Gateway",
    k8s.object.kind = "Gateway",
    k8s.object.key = %format_args!("{}/{}", gateway.namespace().unwrap_or_default(), gateway.name_any()),
    k8s.object.generation = gateway.meta().generation,
    error.type = tracing::field::Empty,
))]
pub async fn reconcile(gateway: Arc<Gateway>, ctx: Arc<GatewayContext>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_inner(&gateway, &ctx).await;
    let category = result.as_ref().err().map(Error::category);
    if let Some(category) = category {
        tracing::Span::current().record("error.type", category);
    }
    ctx.base.metrics.reconciled(started.elapsed(), category);
    result
}

async fn reconcile_inner(gateway: &Gateway, ctx: &GatewayContext) -> Result<Action> {
    if !ours(gateway, ctx).await? {
        return Ok(Action::await_change());
    }
    gateway
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    // Polled by the controller alongside this reconcile, the index fills while we wait.
    ctx.index.ready().await.map_err(|_| Error::IndexClosed)?;
    let routes = ctx.index.routes_of(gateway);
    let backends = found_backends(ctx, &routes);
    let grants = grants_for(ctx, &routes);
    let policies = attached_policies(ctx, gateway, &routes);
    let namespace_labels = namespace_labels(ctx, gateway, &routes).await?;
    let program = super::program::program(&Inputs {
        gateway,
        routes: &routes,
        namespace_labels: &namespace_labels,
        backends: &backends,
        grants: &grants,
        policies: &policies,
    });
    let mut apply_error = None;
    let (rollout, address) = match attach::served_port(gateway) {
        Some(port) => match apply_program(ctx, gateway, &program, port).await {
            Ok(applied) => applied,
            // Reported in the status, then retried with the error policy's backoff.
            Err(err) => {
                let failed = Rollout::ApplyFailed(err.to_string());
                apply_error = Some(err);
                (failed, None)
            }
        },
        None => (Rollout::NothingToServe, None),
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let next = status::gateway_status(
        gateway.status.as_ref(),
        &program,
        &rollout,
        address,
        gateway.metadata.generation,
        &now,
    );
    if gateway.status.as_ref() != Some(&next) {
        write_gateway_status(ctx, gateway, &next).await?;
    }
    for (route, outcome) in routes.iter().zip(&program.routes) {
        write_route_status(ctx, route, outcome, &now).await?;
    }
    let keys = policy_keys(ctx, &policies).await?;
    for policy in ctx
        .index
        .policies_reporting_on(gateway, &routes, &ctx.controller_name)
    {
        let key = format!(
            "{}/{}",
            policy.namespace().unwrap_or_default(),
            policy.name_any()
        );
        let resolved = keys.get(&key);
        write_policy_status(ctx, gateway, &policy, &program, resolved, &now).await?;
    }
    if let Some(err) = apply_error {
        return Err(err);
    }
    // The proxy Deployment is owned, so its availability changing triggers a reconcile on its
    // own; a poll while it is not yet available would reconcile every pending object every
    // few seconds for nothing. The resync only repairs drift nobody was told about.
    Ok(Action::requeue(Duration::from_mins(5)))
}

async fn ours(gateway: &Gateway, ctx: &GatewayContext) -> Result<bool> {
    let classes: Api<GatewayClass> = Api::all(ctx.base.client.clone());
    let name = &gateway.spec.gateway_class_name;
    let class = classes
        .get_opt(name)
        .await
        .map_err(kube_err(format!("reading GatewayClass {name}")))?;
    Ok(class.is_some_and(|c| c.spec.controller_name == ctx.controller_name))
}

async fn apply_program(
    ctx: &GatewayContext,
    gateway: &Gateway,
    program: &Program,
    port: i32,
) -> Result<(Rollout, Option<String>)> {
    let owner = gateway
        .controller_owner_ref(&())
        .ok_or(Error::MissingField("metadata.uid"))?;
    let namespace = gateway.namespace().unwrap_or_default();
    let name = gateway.name_any();
    let bundle = Bundle::seal(
        BundleSource {
            kind: SourceKind::Gateway,
            namespace: namespace.clone(),
            name: name.clone(),
            generation: gateway.metadata.generation,
        },
        program.rules.clone(),
        program.backends.clone(),
    );
    let client = &ctx.base.client;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let secret = gw_resources::bundle_secret(gateway, &owner, &bundle);
    apply(client, &namespace, &secret, &params).await?;
    let keys = client_keys::mounts(ctx.index.secrets(), &namespace, &program.backends).await?;
    let deployment = gw_resources::deployment(
        gateway,
        &owner,
        port,
        &program.auth,
        &keys,
        &ctx.base.settings,
    );
    apply(client, &namespace, &deployment, &params).await?;
    let service = apply(
        client,
        &namespace,
        &gw_resources::service(gateway, &owner, port),
        &params,
    )
    .await?;
    let address = service
        .spec
        .and_then(|s| s.cluster_ip)
        .filter(|ip| !ip.is_empty() && ip != "None");
    let availability = deployment_availability(&ctx.base, &namespace, &name).await?;
    Ok((
        Rollout::Applied {
            available: availability.available,
            desired: availability.desired,
        },
        address,
    ))
}

async fn write_gateway_status(
    ctx: &GatewayContext,
    gateway: &Gateway,
    next: &super::api::GatewayStatus,
) -> Result<()> {
    let namespace = gateway.namespace().unwrap_or_default();
    let api: Api<Gateway> = Api::namespaced(ctx.base.client.clone(), &namespace);
    apply_status(&api, &gateway.name_any(), next, &namespace).await?;
    ctx.base.metrics.status_written();
    Ok(())
}

/// Replaces agw's entries in the route's `status.parents`, guarded by `resourceVersion` so an
/// entry another controller wrote in between is never lost (a conflict retries).
async fn write_route_status(
    ctx: &GatewayContext,
    route: &HTTPRoute,
    outcome: &RouteOutcome,
    now: &Time,
) -> Result<()> {
    let previous: &[Value] = route.status.as_ref().map_or(&[], |s| &s.parents[..]);
    let parents = status::route_parents(
        previous,
        &outcome.parents,
        &route.spec.parent_refs,
        &ctx.controller_name,
        route.metadata.generation,
        now,
    );
    if parents == previous {
        return Ok(());
    }
    let api: Api<HTTPRoute> = Api::namespaced(ctx.base.client.clone(), &outcome.namespace);
    let patch = json!({
        "metadata": {"resourceVersion": route.resource_version()},
        "status": {"parents": parents},
    });
    api.patch_status(
        &outcome.name,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(kube_err(format!(
        "writing the status of HTTPRoute {}/{}",
        outcome.namespace, outcome.name
    )))?;
    ctx.base.metrics.status_written();
    Ok(())
}

/// Replaces agw's entries for this Gateway in the policy's `status.ancestors`, guarded by
/// `resourceVersion` (a conflict retries), so entries for other Gateways survive.
/// `resolved` says whether its key Secrets and key sets resolve (when it compiles).
async fn write_policy_status(
    ctx: &GatewayContext,
    gateway: &Gateway,
    policy: &AgentgatewayPolicy,
    program: &Program,
    resolved: Option<&super::program::Verdict>,
    now: &Time,
) -> Result<()> {
    let name = policy.name_any();
    let namespace = policy.namespace().unwrap_or_default();
    let key = format!("{namespace}/{name}");
    let previous = policy.status.as_ref().map_or(&[][..], |s| &s.ancestors[..]);
    let outcomes: Vec<_> = program
        .policies
        .iter()
        .filter(|o| o.policy == key)
        .collect();
    let ancestors = status::policy_ancestors(
        previous,
        gateway,
        &outcomes,
        resolved,
        &ctx.controller_name,
        policy.metadata.generation,
        now,
    );
    if ancestors == previous {
        return Ok(());
    }
    let api: Api<AgentgatewayPolicy> = Api::namespaced(ctx.base.client.clone(), &namespace);
    let patch = json!({
        "metadata": {"resourceVersion": policy.resource_version()},
        "status": {"ancestors": ancestors},
    });
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(kube_err(format!(
            "writing the status of AgentgatewayPolicy {namespace}/{name}"
        )))?;
    ctx.base.metrics.status_written();
    Ok(())
}

/// Whether the Gateway API's Gateway and HTTPRoute kinds are served.
pub async fn gateway_api_installed(client: &Client) -> bool {
    match client
        .list_api_group_resources(&format!("{}/v1", super::api::GROUP))
        .await
    {
        Ok(list) => ["gateways", "httproutes", "gatewayclasses"]
            .iter()
            .all(|kind| list.resources.iter().any(|r| r.name == *kind)),
        Err(_) => false,
    }
}
