//! Reading and writing the cluster, shared by the Backend and Gateway controllers (and the
//! GatewayClass one): the reconcile [`Context`], the served [`Scope`], server-side apply of
//! owned objects and of statuses as `agw-operator`, a proxy Deployment's availability, and the
//! mapping of client errors to [`Error::Kube`] with what the operator was doing.
//!
//! Must not: know about Backends, Gateways or what a program contains — the controllers decide
//! what to write; this module only writes it, one way.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde_json::json;

use crate::events::Reporter;
use crate::metrics::Metrics;
use crate::resources::{FIELD_MANAGER, ProxySettings};
use crate::status::Availability;
use crate::{Error, Result};

/// What every reconcile needs.
#[derive(Clone)]
pub struct Context {
    /// The API client.
    pub client: Client,
    /// How proxies are run.
    pub settings: ProxySettings,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Who the Events on Backends say reported them ([`crate::events`]).
    pub reporter: Reporter,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Which namespaces the operator serves.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Every namespace.
    Cluster,
    /// One namespace.
    Namespace(String),
}

impl Scope {
    /// An API over `K` in the served namespaces.
    pub fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match self {
            Self::Cluster => Api::all(client.clone()),
            Self::Namespace(ns) => Api::namespaced(client.clone(), ns),
        }
    }
}

/// Maps a client error to [`Error::Kube`], naming what the operator was doing.
pub fn kube_err(action: String) -> impl FnOnce(kube::Error) -> Error {
    move |source| Error::Kube { action, source }
}

/// Server-side applies `object` in `namespace` as `agw-operator` with `params`.
pub async fn apply<K>(
    client: &Client,
    namespace: &str,
    object: &K,
    params: &PatchParams,
) -> Result<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    api.patch(&name, params, &Patch::Apply(object))
        .await
        .map_err(|source| Error::Kube {
            action: format!("applying {} {namespace}/{name}", K::kind(&())),
            source,
        })
}

/// Available and desired replicas of a proxy Deployment.
pub async fn deployment_availability(
    ctx: &Context,
    namespace: &str,
    deployment_name: &str,
) -> Result<Availability> {
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), namespace);
    let deployment = deployments
        .get_opt(deployment_name)
        .await
        .map_err(|source| Error::Kube {
            action: format!("reading Deployment {namespace}/{deployment_name}"),
            source,
        })?;
    Ok(match deployment {
        None => Availability {
            available: 0,
            desired: 0,
            exists: false,
        },
        Some(deployment) => Availability {
            available: deployment
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0),
            desired: deployment
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1),
            exists: true,
        },
    })
}

/// Server-side applies `status` to the status subresource of `name` as agw-operator, the one
/// owner of the statuses it writes (`namespace` is only for the error; empty when cluster-scoped).
pub async fn apply_status<K>(
    api: &Api<K>,
    name: &str,
    status: &impl serde::Serialize,
    namespace: &str,
) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({"apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": status});
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| {
        let object = if namespace.is_empty() {
            name.to_owned()
        } else {
            format!("{namespace}/{name}")
        };
        Error::Kube {
            action: format!("writing the status of {} {object}", K::kind(&())),
            source,
        }
    })?;
    Ok(())
}
