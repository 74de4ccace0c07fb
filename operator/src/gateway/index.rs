//! The Gateway controller's watch-fed view of what Gateways are programmed from: HTTPRoutes,
//! Backends of both kinds, ReferenceGrants, AgentgatewayPolicies and Secret metadata (which
//! key Secrets a selector picks), held in kube-runtime reflector stores (one
//! watch each, as linkerd's policy controller feeds its index), so a reconcile reads memory
//! instead of listing routes and getting Backends from the apiserver, and a change requeues
//! only the Gateways it can affect.
//!
//! Owns: the stores, the watch streams that fill them, and the questions the controller and
//! its mappers ask of them. Must not: decide attachment, compile a Backend or write anything —
//! that is `attach`, `lookup` and `controller`.

use std::collections::HashSet;
use std::sync::Arc;

use agw_crds::{AgentgatewayBackend, AgentgatewayPolicy, Backend, BackendObject};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::api::{BackendRef, Gateway, HTTPRoute, ReferenceGrant};
use super::attach;
use crate::client_keys;
use crate::stores::listed;

/// Readers of the stores; cheap to clone.
#[derive(Clone, Debug)]
pub struct Index {
    routes: Store<HTTPRoute>,
    backends: Store<Backend>,
    agentgateway_backends: Store<AgentgatewayBackend>,
    grants: Store<ReferenceGrant>,
    secrets: Store<PartialObjectMeta<Secret>>,
    policies: Store<AgentgatewayPolicy>,
    /// True once every store holds its first full list. A watch channel, because a store's
    /// own readiness future wakes only its latest waiter, and many reconciles wait at once.
    ready: watch::Receiver<bool>,
}

/// The stores' writers, handed to [`Feeds::start`] by the controller that polls them.
#[derive(Debug)]
pub struct Writers {
    routes: Writer<HTTPRoute>,
    backends: Writer<Backend>,
    agentgateway_backends: Writer<AgentgatewayBackend>,
    grants: Writer<ReferenceGrant>,
    secrets: Writer<PartialObjectMeta<Secret>>,
    policies: Writer<AgentgatewayPolicy>,
    ready: watch::Sender<bool>,
}

/// Empty stores and their writers.
pub fn new() -> (Index, Writers) {
    let (routes, routes_writer) = reflector::store();
    let (backends, backends_writer) = reflector::store();
    let (agentgateway_backends, agbe_writer) = reflector::store();
    let (grants, grants_writer) = reflector::store();
    let (secrets, secrets_writer) = reflector::store();
    let (policies, policies_writer) = reflector::store();
    let (ready_tx, ready) = watch::channel(false);
    let index = Index {
        routes,
        backends,
        agentgateway_backends,
        grants,
        secrets,
        policies,
        ready,
    };
    let writers = Writers {
        routes: routes_writer,
        backends: backends_writer,
        agentgateway_backends: agbe_writer,
        grants: grants_writer,
        secrets: secrets_writer,
        policies: policies_writer,
        ready: ready_tx,
    };
    (index, writers)
}

/// A watch stream of one kind, yielding each object it touched.
pub type Feed<K> = BoxStream<'static, Result<K, watcher::Error>>;

/// A watch of every `K` that fills `writer`.
fn feed<K>(client: &Client, writer: Writer<K>) -> Feed<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync,
    K: 'static,
{
    feed_with(client, writer, watcher::Config::default())
}

fn feed_with<K>(client: &Client, writer: Writer<K>, config: watcher::Config) -> Feed<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync,
    K: 'static,
{
    let watch = watcher(Api::<K>::all(client.clone()), config);
    reflector::reflector(writer, watch)
        .default_backoff()
        .touched_objects()
        .boxed()
}

/// The watch streams that fill the stores; the controller polls them as its triggers.
pub struct Feeds {
    /// HTTPRoutes.
    pub routes: Feed<HTTPRoute>,
    /// Backends.
    pub backends: Feed<Backend>,
    /// AgentgatewayBackends.
    pub agentgateway_backends: Feed<AgentgatewayBackend>,
    /// ReferenceGrants.
    pub grants: Feed<ReferenceGrant>,
    /// Secret metadata (never values).
    pub secrets: Feed<PartialObjectMeta<Secret>>,
    /// AgentgatewayPolicies.
    pub policies: Feed<AgentgatewayPolicy>,
}

impl std::fmt::Debug for Feeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feeds").finish_non_exhaustive()
    }
}

/// Starts one watch per kind (cluster-wide: routes, Backends and grants may live in any
/// namespace a Gateway admits), and a task that marks the index ready once all are listed.
pub fn feeds(client: &Client, writers: Writers) -> Feeds {
    signal_ready(&writers);
    Feeds {
        routes: feed(client, writers.routes),
        backends: feed(client, writers.backends),
        agentgateway_backends: feed(client, writers.agentgateway_backends),
        grants: feed(client, writers.grants),
        // `Api<PartialObjectMeta<_>>` lists and watches metadata only; service-account
        // tokens are never key Secrets.
        secrets: feed_with(
            client,
            writers.secrets,
            watcher::Config::default().fields("type!=kubernetes.io/service-account-token"),
        ),
        policies: feed(client, writers.policies),
    }
}

/// Spawns the task that marks the index ready once every store holds its first full list.
fn signal_ready(writers: &Writers) {
    let stores = (
        writers.routes.as_reader(),
        writers.backends.as_reader(),
        writers.agentgateway_backends.as_reader(),
        writers.grants.as_reader(),
        writers.secrets.as_reader(),
        writers.policies.as_reader(),
    );
    let ready = writers.ready.clone();
    tokio::spawn(async move {
        let listed = async {
            listed(&stores.0).await?;
            listed(&stores.1).await?;
            listed(&stores.2).await?;
            listed(&stores.3).await?;
            listed(&stores.4).await?;
            listed(&stores.5).await
        };
        if listed.await.is_ok() {
            // Nobody listening means the controller stopped; nothing to tell.
            let _ = ready.send(true);
        }
    });
}

impl Index {
    /// Waits until every store holds its first full list, so a reconcile never programs a
    /// Gateway from a partial view (a missing route would be dropped from the proxies). An
    /// error when the controller stopped before that.
    pub async fn ready(&self) -> Result<(), watch::error::RecvError> {
        self.ready
            .clone()
            .wait_for(|ready| *ready)
            .await
            .map(|_| ())
    }

    /// The HTTPRoutes with a parentRef naming `gateway`, by namespace and name.
    pub fn routes_of(&self, gateway: &Gateway) -> Vec<HTTPRoute> {
        let mut routes: Vec<HTTPRoute> = self
            .routes
            .state()
            .iter()
            .filter(|r| {
                r.spec
                    .parent_refs
                    .iter()
                    .any(|p| attach::refers_to(r, p, gateway))
            })
            .map(|r| r.as_ref().clone())
            .collect();
        routes.sort_by_key(|r| (r.namespace(), r.name_any()));
        routes
    }

    /// The Backend and the AgentgatewayBackend named `namespace/name`, as far as they exist.
    pub fn backends_named(
        &self,
        namespace: &str,
        name: &str,
    ) -> (Option<Backend>, Option<AgentgatewayBackend>) {
        let backend = self
            .backends
            .get(&ObjectRef::new(name).within(namespace))
            .map(|b| b.as_ref().clone());
        let agbe = self
            .agentgateway_backends
            .get(&ObjectRef::new(name).within(namespace))
            .map(|b| b.as_ref().clone());
        (backend, agbe)
    }

    /// The ReferenceGrants in `namespace`.
    pub fn grants_in(&self, namespace: &str) -> Vec<ReferenceGrant> {
        self.grants
            .state()
            .iter()
            .filter(|g| g.namespace().as_deref() == Some(namespace))
            .map(|g| g.as_ref().clone())
            .collect()
    }

    /// The AgentgatewayPolicies governing `gateway`'s traffic, by namespace and name: those
    /// naming it (or a listener) in a targetRef, in its namespace, and those naming one of its
    /// HTTPRoutes ([`Self::routes_of`]), in the route's namespace.
    pub fn policies_of(&self, gateway: &Gateway, routes: &[HTTPRoute]) -> Vec<AgentgatewayPolicy> {
        self.policies_where(|p| concerns(p, gateway, routes))
    }

    /// The AgentgatewayPolicies whose status `gateway`'s reconcile writes: those governing
    /// its traffic, and those still carrying an entry `controller` wrote for it (a policy that
    /// stopped targeting it, whose entry must go).
    pub fn policies_reporting_on(
        &self,
        gateway: &Gateway,
        routes: &[HTTPRoute],
        controller: &str,
    ) -> Vec<AgentgatewayPolicy> {
        let this = ObjectRef::from_obj(gateway);
        self.policies_where(|p| {
            concerns(p, gateway, routes) || reported_gateways(p, controller).contains(&this)
        })
    }

    fn policies_where(
        &self,
        keep: impl Fn(&AgentgatewayPolicy) -> bool,
    ) -> Vec<AgentgatewayPolicy> {
        let mut policies: Vec<AgentgatewayPolicy> = self
            .policies
            .state()
            .iter()
            .filter(|p| keep(p))
            .map(|p| p.as_ref().clone())
            .collect();
        policies.sort_by_key(|p| (p.namespace(), p.name_any()));
        policies
    }

    /// The Gateways whose traffic `policy` governs: those it names, and the parents of the
    /// HTTPRoutes it names.
    pub fn gateways_governed_by(&self, policy: &AgentgatewayPolicy) -> Vec<ObjectRef<Gateway>> {
        let mut gateways = targeted_gateways(policy);
        let routes = policy_routes(policy);
        if !routes.is_empty() {
            gateways.extend(
                self.routes
                    .state()
                    .iter()
                    .filter(|r| {
                        r.namespace() == policy.namespace() && routes.contains(&r.name_any())
                    })
                    .flat_map(|r| parent_gateways(r)),
            );
        }
        unique(gateways)
    }

    /// The Secret metadata cache, for resolving key Secret selectors.
    pub fn secrets(&self) -> &Store<PartialObjectMeta<Secret>> {
        &self.secrets
    }

    /// Gateways whose routes refer to a Backend (of either kind) reading `secret` (its
    /// namespace's) as client keys or a JWT key set: a selector may have gained or lost it,
    /// or a named one appeared.
    pub fn gateways_using_secret(
        &self,
        secret: &PartialObjectMeta<Secret>,
    ) -> Vec<ObjectRef<Gateway>> {
        let namespace = secret.namespace().unwrap_or_default();
        let mut names = reading_backends(&self.backends.state(), &namespace, secret);
        names.extend(reading_backends(
            &self.agentgateway_backends.state(),
            &namespace,
            secret,
        ));
        // One pass over the routes for every Backend reading it.
        let mut gateways = self.parents_of_routes_where(|route_ns, reference| {
            is_backend_ref(reference)
                && names.contains(&reference.name)
                && reference.namespace.as_deref().unwrap_or(route_ns) == namespace
        });
        for policy in self.policies.state() {
            let traffic = policy.spec.traffic.as_ref();
            let reads = client_keys::keys_refer_to(
                traffic.and_then(|t| t.api_key_authentication.as_ref()),
                traffic.and_then(|t| t.jwt_authentication.as_ref()),
                secret,
            );
            if reads && policy.namespace().as_deref() == Some(&*namespace) {
                gateways.extend(self.gateways_governed_by(&policy));
            }
        }
        unique(gateways)
    }

    /// Gateways whose routes refer to the Backend (of either kind) `namespace/name`: the only
    /// ones a change to it can reprogram.
    pub fn gateways_using_backend(&self, namespace: &str, name: &str) -> Vec<ObjectRef<Gateway>> {
        self.parents_of_routes_where(|route_ns, reference| {
            is_backend_ref(reference)
                && reference.name == name
                && reference.namespace.as_deref().unwrap_or(route_ns) == namespace
        })
    }

    /// Gateways whose routes refer to a Backend in `namespace` from another namespace: the
    /// only ones a ReferenceGrant there can allow or deny.
    pub fn gateways_crossing_into(&self, namespace: &str) -> Vec<ObjectRef<Gateway>> {
        self.parents_of_routes_where(|route_ns, reference| {
            is_backend_ref(reference)
                && reference.namespace.as_deref() == Some(namespace)
                && route_ns != namespace
        })
    }

    fn parents_of_routes_where(
        &self,
        refers: impl Fn(&str, &BackendRef) -> bool,
    ) -> Vec<ObjectRef<Gateway>> {
        let mut gateways = HashSet::new();
        for route in self.routes.state() {
            let own = route.namespace().unwrap_or_default();
            let relevant = route
                .spec
                .rules
                .iter()
                .flat_map(|r| &r.backend_refs)
                .any(|reference| refers(&own, reference));
            if relevant {
                gateways.extend(parent_gateways(&route));
            }
        }
        gateways.into_iter().collect()
    }
}

fn is_backend_ref(reference: &BackendRef) -> bool {
    reference.group.as_deref() == Some(agw_crds::GROUP)
        && reference
            .kind
            .as_deref()
            .is_some_and(agw_crds::is_backend_kind)
}

/// The listeners of Gateway `gateway` (its namespace's) that `policy` names; `None` is the
/// whole Gateway. Empty when it names another Gateway only.
pub fn policy_targets(policy: &AgentgatewayPolicy, gateway: &str) -> Vec<Option<String>> {
    policy
        .spec
        .target_refs
        .iter()
        .filter(|t| t.kind == agw_crds::policy::TARGET_KIND && t.name.trim() == gateway)
        .filter(|t| t.group == agw_crds::policy::GATEWAY_API_GROUP)
        .map(|t| t.section_name.as_ref().map(|s| s.trim().to_owned()))
        .collect()
}

/// Whether `policy` governs traffic of `gateway`, whose routes are `routes`.
fn concerns(policy: &AgentgatewayPolicy, gateway: &Gateway, routes: &[HTTPRoute]) -> bool {
    let names_gateway = policy.namespace() == gateway.namespace()
        && !policy_targets(policy, &gateway.name_any()).is_empty();
    names_gateway || {
        let targeted = policy_routes(policy);
        routes
            .iter()
            .any(|r| r.namespace() == policy.namespace() && targeted.contains(&r.name_any()))
    }
}

/// The names of the HTTPRoutes (in its namespace) `policy` targets.
pub fn policy_routes(policy: &AgentgatewayPolicy) -> Vec<String> {
    policy
        .spec
        .target_refs
        .iter()
        .filter(|t| t.kind == agw_crds::policy::ROUTE_TARGET_KIND)
        .filter(|t| t.group == agw_crds::policy::GATEWAY_API_GROUP)
        .map(|t| t.name.trim().to_owned())
        .collect()
}

/// The Gateways whose entries `controller` wrote in `policy`'s status.
pub fn reported_gateways(policy: &AgentgatewayPolicy, controller: &str) -> Vec<ObjectRef<Gateway>> {
    let namespace = policy.namespace().unwrap_or_default();
    policy
        .status
        .iter()
        .flat_map(|s| &s.ancestors)
        .filter(|a| a.controller_name == controller && a.ancestor_ref.kind == "Gateway")
        .map(|a| {
            let ns = a.ancestor_ref.namespace.as_deref().unwrap_or(&namespace);
            ObjectRef::new(&a.ancestor_ref.name).within(ns)
        })
        .collect()
}

/// The Gateways `policy` targets (in its own namespace).
pub fn targeted_gateways(policy: &AgentgatewayPolicy) -> Vec<ObjectRef<Gateway>> {
    let namespace = policy.namespace().unwrap_or_default();
    unique(
        policy
            .spec
            .target_refs
            .iter()
            .filter(|t| t.kind == agw_crds::policy::TARGET_KIND)
            .filter(|t| t.group == agw_crds::policy::GATEWAY_API_GROUP)
            .map(|t| ObjectRef::new(t.name.trim()).within(&namespace)),
    )
}

/// `gateways` sorted, each once.
pub fn unique(gateways: impl IntoIterator<Item = ObjectRef<Gateway>>) -> Vec<ObjectRef<Gateway>> {
    let mut gateways: Vec<ObjectRef<Gateway>> = gateways.into_iter().collect();
    gateways.sort_by_key(ToString::to_string);
    gateways.dedup();
    gateways
}

/// The names of the Backends (of one kind) in `namespace` reading `secret` as client keys or
/// a JWT key set.
fn reading_backends<K: BackendObject>(
    backends: &[Arc<K>],
    namespace: &str,
    secret: &PartialObjectMeta<Secret>,
) -> HashSet<String> {
    backends
        .iter()
        .filter(|b| b.meta().namespace.as_deref() == Some(namespace))
        .filter(|b| client_keys::refers_to(b.backend_spec(), secret))
        .map(|b| b.name_any())
        .collect()
}

/// The Gateways `route` names as parents.
pub fn parent_gateways(route: &HTTPRoute) -> Vec<ObjectRef<Gateway>> {
    let own = route.namespace().unwrap_or_default();
    route
        .spec
        .parent_refs
        .iter()
        .filter(|p| p.kind.as_deref().is_none_or(|k| k == "Gateway"))
        .map(|p| ObjectRef::new(&p.name).within(p.namespace.as_deref().unwrap_or(&own)))
        .collect()
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
