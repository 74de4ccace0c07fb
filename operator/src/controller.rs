//! The Backend controller: a thin `reconcile` that compiles the spec with the one compiler,
//! applies what it produced, and writes the status from what it observed. One controller runs
//! per kind (`Backend`, `AgentgatewayBackend`), both with this code; a namesake of the other
//! kind that owns the name ([`crate::kinds`]) turns an object into `NameConflict` instead.
//!
//! Invalid specs never reach the cluster: the bundle Secret, Deployment and Service keep the
//! last valid program (the webhook may be down or bypassed), and `Accepted=False` carries the
//! diagnostics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agw_crds::{AgentgatewayBackend, Backend, BackendObject, BackendSpec, BackendStatus};
use agw_policy::{CompileOptions, Compiled, compile};
use futures_util::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use crate::kinds;
use crate::metrics::Metrics;
use crate::resources::{self, AuthMount, FIELD_MANAGER, ProxySettings};
use crate::status::{self, Acceptance, Availability, Observed, Programming, References};
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
    /// Publishes Events on Backends.
    pub recorder: Recorder,
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
    pub(crate) fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match self {
            Self::Cluster => Api::all(client.clone()),
            Self::Namespace(ns) => Api::namespaced(client.clone(), ns),
        }
    }
}

/// What a Backend controller needs of its kind (`Backend` or `AgentgatewayBackend`).
pub trait Kind:
    BackendObject
    + Clone
    + std::fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The other kind, whose namesake may claim the same proxy objects.
    type Other: Kind;
}

impl Kind for Backend {
    type Other = AgentgatewayBackend;
}

impl Kind for AgentgatewayBackend {
    type Other = Backend;
}

/// Runs one controller per Backend kind until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    scope: Scope,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let shutdown = shutdown.shared();
    futures_util::future::join(
        run_kind::<Backend>(ctx.clone(), scope.clone(), shutdown.clone()),
        run_kind::<AgentgatewayBackend>(ctx, scope, shutdown),
    )
    .await;
}

async fn run_kind<K: Kind>(
    ctx: Arc<Context>,
    scope: Scope,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = &ctx.client;
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=agw-operator");
    let controller = Controller::new(scope.api::<K>(client), watcher::Config::default())
        .owns(scope.api::<Secret>(client), owned.clone())
        .owns(scope.api::<Deployment>(client), owned.clone())
        .owns(scope.api::<Service>(client), owned);
    let store = controller.store();
    let metrics = ctx.metrics.clone();
    let synced = store.clone();
    tokio::spawn(async move {
        // The readiness signal keeps one waker, and the controller's own runner waits on it
        // too; re-poll so this task sees it even when the runner's wake-up wins.
        loop {
            match tokio::time::timeout(Duration::from_millis(200), synced.wait_until_ready()).await
            {
                Ok(Ok(())) => return metrics.caches_synced(),
                Ok(Err(_)) => return,
                Err(_) => {}
            }
        }
    });
    // A Secret created or changed after its Backend brings the Backend to Ready.
    let referrers = store.clone();
    let controller = controller
        .watches(
            scope.api::<Secret>(client),
            watcher::Config::default().fields("type!=kubernetes.io/service-account-token"),
            move |secret: Secret| backends_referring_to(&referrers.state(), &secret),
        )
        // A namesake of the other kind appearing or going away changes who owns the name.
        .watches(
            scope.api::<K::Other>(client),
            watcher::Config::default(),
            |other: K::Other| {
                let name = other.name_any();
                let namespace = other.namespace().unwrap_or_default();
                Some(ObjectRef::<K>::new(&name).within(&namespace))
            },
        );
    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(backend = %object, "reconciled"),
                Err(err) => tracing::debug!(error = %err, "reconcile failed"),
            }
        })
        .await;
}

fn backends_referring_to<K: Kind>(backends: &[Arc<K>], secret: &Secret) -> Vec<ObjectRef<K>> {
    let namespace = secret.namespace();
    let name = secret.name_any();
    backends
        .iter()
        .filter(|b| b.namespace() == namespace)
        .filter(|b| {
            b.backend_spec()
                .policies
                .as_ref()
                .and_then(|p| p.auth.as_ref())
                .is_some_and(|auth| auth.secret_ref.name.trim() == name)
        })
        .map(|b| ObjectRef::from_obj(b.as_ref()))
        .collect()
}

/// Reconciles one Backend of either kind.
pub async fn reconcile<K: Kind>(backend: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = match namesake_owner::<K>(backend.as_ref(), &ctx).await {
        Ok(None) => reconcile_inner(backend.as_ref(), &ctx).await,
        Ok(Some(winner)) => refuse_name(backend.as_ref(), &ctx, winner).await,
        Err(err) => Err(err),
    };
    let category = result.as_ref().err().map(Error::category);
    ctx.metrics.reconciled(started.elapsed(), category);
    result
}

/// The kind of a same-named object of the other kind that owns the name, if one does.
async fn namesake_owner<K: Kind>(backend: &K, ctx: &Context) -> Result<Option<&'static str>> {
    let namespace = backend.namespace().unwrap_or_default();
    let name = backend.name_any();
    let api: Api<K::Other> = Api::namespaced(ctx.client.clone(), &namespace);
    let other = api.get_opt(&name).await.map_err(|source| Error::Kube {
        action: format!(
            "reading {} {namespace}/{name}",
            kinds::kind_name::<K::Other>()
        ),
        source,
    })?;
    let owns = kinds::owns(
        kinds::Claim::of(backend),
        other.as_ref().map(kinds::Claim::of),
    );
    Ok((!owns).then(kinds::kind_name::<K::Other>))
}

/// Marks an object whose name a namesake of the other kind owns; programs nothing.
async fn refuse_name<K: Kind>(backend: &K, ctx: &Context, winner: &str) -> Result<Action> {
    let namespace = backend.namespace().unwrap_or_default();
    let name = backend.name_any();
    let message = kinds::conflict_message(kinds::kind_name::<K>(), winner, &namespace, &name);
    let previous = backend.backend_status();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let next = status::conflicted(previous, backend.meta().generation, &message, &now);
    if previous != Some(&next) {
        write_status(ctx, backend, &next).await?;
        publish_transitions(ctx, backend, previous, &next).await;
    }
    // The watch on the other kind requeues this object when the owner goes away.
    Ok(Action::await_change())
}

/// The `Backend` value the object-building functions take, for either kind: the same metadata
/// and spec (owner references are built from the real object, with its own kind).
fn as_backend<K: Kind>(object: &K) -> Backend {
    Backend {
        metadata: object.meta().clone(),
        spec: object.backend_spec().clone(),
        status: None,
    }
}

async fn reconcile_inner<K: Kind>(backend: &K, ctx: &Context) -> Result<Action> {
    let namespace = backend
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let name = backend.name_any();
    let options = CompileOptions {
        auth_mount_root: ctx.settings.auth_mount_root(),
        ..CompileOptions::new(&namespace, &name).with_generation(backend.meta().generation)
    };
    let previous = backend.backend_status();
    let mut apply_error = None;
    let (acceptance, programming, auth) = match compile(backend.backend_spec(), &options) {
        Ok(compiled) => {
            let auth = auth_mount(&compiled, &options);
            let programming = match apply_owned(backend, ctx, &compiled, auth.as_ref()).await {
                Ok(programming) => programming,
                // Reported in the status, then retried with the error policy's backoff.
                Err(err) => {
                    let failed = Programming::ApplyFailed {
                        message: err.to_string(),
                        digest: previous.and_then(|s| s.bundle_digest.clone()),
                        guards: previous.and_then(|s| s.guards),
                    };
                    apply_error = Some(err);
                    failed
                }
            };
            let warnings = compiled.warnings.iter().map(ToString::to_string).collect();
            (Acceptance::Accepted { warnings }, programming, auth)
        }
        Err(diagnostics) => {
            tracing::info!(backend = %format!("{namespace}/{name}"), errors = diagnostics.errors.len(), "invalid spec; keeping the last valid program");
            let kept = Programming::KeptLastGood {
                digest: previous.and_then(|s| s.bundle_digest.clone()),
                guards: previous.and_then(|s| s.guards),
            };
            (
                Acceptance::Invalid(diagnostics.to_string()),
                kept,
                spec_auth(backend.backend_spec()),
            )
        }
    };
    let observed = Observed {
        generation: backend.meta().generation,
        acceptance,
        references: resolve_references(ctx, &namespace, auth.as_ref()).await?,
        programming,
        availability: availability(ctx, &namespace, &name).await?,
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let next = status::desired(previous, &observed, &now);
    if previous != Some(&next) {
        write_status(ctx, backend, &next).await?;
        publish_transitions(ctx, backend, previous, &next).await;
    }
    if let Some(err) = apply_error {
        return Err(err);
    }
    let ready = matches!(observed.availability, Availability { available, .. } if available > 0);
    Ok(Action::requeue(if ready {
        Duration::from_mins(5)
    } else {
        Duration::from_secs(30)
    }))
}

/// Requeue with a delay after a failed reconcile; the controller's own backoff spaces repeats.
#[allow(clippy::needless_pass_by_value)] // the signature `Controller::run` expects
pub fn error_policy<K: Kind>(backend: Arc<K>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(backend = %ObjectRef::from_obj(backend.as_ref()), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

fn auth_mount(compiled: &Compiled, options: &CompileOptions) -> Option<AuthMount> {
    let backend = compiled.bundle.backends.get(&options.backend_key())?;
    let secret = &backend.auth.as_ref()?.secret;
    Some(AuthMount {
        secret: secret.name.clone(),
        key: secret.key.clone(),
    })
}

/// The auth reference as written, for a spec that did not compile.
fn spec_auth(spec: &BackendSpec) -> Option<AuthMount> {
    let secret_ref = &spec.policies.as_ref()?.auth.as_ref()?.secret_ref;
    Some(AuthMount {
        secret: secret_ref.name.trim().to_owned(),
        key: secret_ref.key_or_default().trim().to_owned(),
    })
}

async fn apply_owned<K: Kind>(
    object: &K,
    ctx: &Context,
    compiled: &Compiled,
    auth: Option<&AuthMount>,
) -> Result<Programming> {
    let owner = object
        .controller_owner_ref(&())
        .ok_or(Error::MissingField("metadata.uid"))?;
    let namespace = object.namespace().unwrap_or_default();
    let backend = &as_backend(object);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let secret = resources::bundle_secret(backend, &owner, &compiled.bundle);
    apply(&ctx.client, &namespace, &secret, &params).await?;
    let deployment = resources::proxy_deployment(backend, &owner, auth, &ctx.settings);
    apply(&ctx.client, &namespace, &deployment, &params).await?;
    let service = resources::proxy_service(backend, &owner);
    apply(&ctx.client, &namespace, &service, &params).await?;
    let guards = compiled
        .bundle
        .backends
        .values()
        .map(|b| b.guards.len())
        .sum::<usize>();
    Ok(Programming::Applied {
        digest: compiled.bundle.digest.clone(),
        guards: i32::try_from(guards).unwrap_or(i32::MAX),
    })
}

pub(crate) async fn apply<K>(
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

async fn resolve_references(
    ctx: &Context,
    namespace: &str,
    auth: Option<&AuthMount>,
) -> Result<References> {
    let Some(auth) = auth else {
        return Ok(References::NoneNeeded);
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let secret = secrets
        .get_opt(&auth.secret)
        .await
        .map_err(|source| Error::Kube {
            action: format!("reading Secret {namespace}/{}", auth.secret),
            source,
        })?;
    let qualified = format!("{namespace}/{}", auth.secret);
    Ok(match secret {
        None => References::SecretNotFound { secret: qualified },
        Some(secret)
            if secret
                .data
                .as_ref()
                .is_some_and(|d| d.contains_key(&auth.key)) =>
        {
            References::Resolved
        }
        Some(_) => References::KeyNotFound {
            secret: qualified,
            key: auth.key.clone(),
        },
    })
}

async fn availability(ctx: &Context, namespace: &str, name: &str) -> Result<Availability> {
    deployment_availability(ctx, namespace, &resources::proxy_name(name)).await
}

/// Available and desired replicas of a proxy Deployment.
pub(crate) async fn deployment_availability(
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

async fn write_status<K: Kind>(ctx: &Context, backend: &K, status: &BackendStatus) -> Result<()> {
    let namespace = backend.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    apply_status(&api, &backend.name_any(), status, &namespace).await?;
    ctx.metrics.status_written();
    Ok(())
}

/// Server-side applies `status` to the status subresource of `name` as agw-operator, the one
/// owner of the statuses it writes (`namespace` is only for the error; empty when cluster-scoped).
pub(crate) async fn apply_status<K>(
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

async fn publish_transitions<K: Kind>(
    ctx: &Context,
    backend: &K,
    previous: Option<&BackendStatus>,
    next: &BackendStatus,
) {
    let reference = backend.object_ref(&());
    for condition in status::transitions(previous, next) {
        let event = Event {
            type_: if condition.status == "True" {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: condition.reason.clone(),
            note: Some(format!(
                "{}={}: {}",
                condition.type_,
                condition.status,
                first_line(&condition.message)
            )),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        // An Event is a courtesy; failing to publish one must not fail the reconcile.
        if let Err(err) = ctx.recorder.publish(&event, &reference).await {
            tracing::debug!(error = %err, "cannot publish an event");
        }
    }
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    line.chars().take(900).collect()
}
