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
use kube::api::PatchParams;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, ResourceExt};

use crate::client_keys;
use crate::cluster::{Context, Scope, apply, apply_status, deployment_availability};
use crate::events::{self, Occurrence};
use crate::kinds;
use crate::resources::{self, AuthMount, FIELD_MANAGER};
use crate::status::{
    self, Acceptance, Availability, ClientKeys, Observed, Programming, References,
};
use crate::stores::listed;
use crate::{Error, Result};

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

/// The action of the Events on condition transitions.
const RECONCILE: &str = "Reconcile";

/// What one kind's reconciles read: the shared [`Context`] and the watch-fed cache of the
/// other kind's objects, where a namesake is looked up.
pub struct KindContext<K: Kind> {
    /// Client, settings, metrics and Event reporter, shared by both kinds.
    pub shared: Arc<Context>,
    /// Objects of the other kind, as the namesake watch last saw them.
    pub namesakes: Store<K::Other>,
    /// Secret metadata (never data), as the Secret watch last saw it: `secretSelector`s are
    /// resolved here.
    pub secrets: Store<PartialObjectMeta<Secret>>,
}

impl<K: Kind> std::fmt::Debug for KindContext<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindContext")
            .field("shared", &self.shared)
            .field("namesakes", &self.namesakes.len())
            .field("secrets", &self.secrets.len())
            .finish()
    }
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
    let client = ctx.client.clone();
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=agw-operator");
    let controller = Controller::new(scope.api::<K>(&client), watcher::Config::default())
        .owns(scope.api::<Secret>(&client), owned.clone())
        .owns(scope.api::<Deployment>(&client), owned.clone())
        .owns(scope.api::<Service>(&client), owned);
    let store = controller.store();
    let metrics = ctx.metrics.clone();
    let synced = store.clone();
    tokio::spawn(async move {
        if listed(&synced).await.is_ok() {
            metrics.caches_synced();
        }
    });
    // A Secret created or changed after its Backend brings the Backend to Ready. Metadata
    // only: the reconcile reads the one Secret it needs, so the operator never holds the
    // cluster's Secret contents in memory.
    let referrers = store.clone();
    let mapped = store.clone();
    // Namesakes are read from this watch's cache, never fetched per reconcile: the watch is
    // needed anyway to requeue on a namesake's arrival or departure.
    let (namesakes, namesakes_writer) = reflector::store::<K::Other>();
    let namesake_changes = reflector::reflector(
        namesakes_writer,
        watcher(scope.api::<K::Other>(&client), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects();
    let (secrets, secrets_writer) = reflector::store::<PartialObjectMeta<Secret>>();
    let secret_changes = reflector::reflector(
        secrets_writer,
        // `Api<PartialObjectMeta<_>>` lists and watches metadata only.
        watcher(
            scope.api::<PartialObjectMeta<Secret>>(&client),
            watcher::Config::default().fields("type!=kubernetes.io/service-account-token"),
        ),
    )
    .default_backoff()
    .touched_objects();
    let ctx = Arc::new(KindContext {
        shared: ctx,
        namesakes,
        secrets,
    });
    let controller = controller
        .watches_stream(secret_changes, move |secret: PartialObjectMeta<Secret>| {
            backends_referring_to(&referrers.state(), &secret)
        })
        // A namesake of the other kind appearing or going away changes who owns the name.
        .watches_stream(namesake_changes, move |other: K::Other| {
            let name = other.name_any();
            let namespace = other.namespace().unwrap_or_default();
            // Only an existing namesake can change owner; mapping to one that is not
            // there would make the controller fail a lookup for every change of `other`.
            let namesake = ObjectRef::<K>::new(&name).within(&namespace);
            mapped.get(&namesake).map(|_| namesake)
        });
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

fn backends_referring_to<K: Kind>(
    backends: &[Arc<K>],
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<K>> {
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
                || client_keys::refers_to(b.backend_spec(), secret)
        })
        .map(|b| ObjectRef::from_obj(b.as_ref()))
        .collect()
}

/// Reconciles one Backend of either kind, in a span (exported when traces are on) naming the
/// object and, on failure, the error category (`error.type`, the metrics label).
#[tracing::instrument(skip_all, fields(
    otel.kind = "internal",
    otel.name = %format_args!("reconcile {}", kinds::kind_name::<K>()),
    k8s.object.kind = kinds::kind_name::<K>(),
    k8s.object.key = %format_args!("{}/{}", backend.namespace().unwrap_or_default(), backend.name_any()),
    k8s.object.generation = backend.meta().generation,
    error.type = tracing::field::Empty,
))]
pub async fn reconcile<K: Kind>(backend: Arc<K>, kind_ctx: Arc<KindContext<K>>) -> Result<Action> {
    let started = Instant::now();
    let ctx = &kind_ctx.shared;
    let result = match namesake_owner(backend.as_ref(), &kind_ctx.namesakes).await {
        Ok(None) => reconcile_inner(backend.as_ref(), ctx, &kind_ctx.secrets).await,
        Ok(Some(winner)) => refuse_name(backend.as_ref(), ctx, winner).await,
        Err(err) => Err(err),
    };
    let category = result.as_ref().err().map(Error::category);
    if let Some(category) = category {
        tracing::Span::current().record("error.type", category);
    }
    ctx.metrics.reconciled(started.elapsed(), category);
    result
}

/// The kind of a same-named object of the other kind that owns the name, if one does.
///
/// Read from the namesake watch's cache once it has listed: a namesake the cache has not seen
/// yet arrives as a watch event, which requeues this object and decides again.
async fn namesake_owner<K: Kind>(
    backend: &K,
    namesakes: &Store<K::Other>,
) -> Result<Option<&'static str>> {
    listed(namesakes)
        .await
        .map_err(|_| Error::CacheClosed(kinds::kind_name::<K::Other>()))?;
    let namespace = backend.namespace().unwrap_or_default();
    let namesake = ObjectRef::<K::Other>::new(&backend.name_any()).within(&namespace);
    let other = namesakes.get(&namesake);
    let owns = kinds::owns(
        kinds::Claim::of(backend),
        other.as_deref().map(kinds::Claim::of),
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

async fn reconcile_inner<K: Kind>(
    backend: &K,
    ctx: &Context,
    secrets: &Store<PartialObjectMeta<Secret>>,
) -> Result<Action> {
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
    let (acceptance, programming, auth, clients) = match compile(backend.backend_spec(), &options) {
        Ok(compiled) => {
            let auth = auth_mount(&compiled, &options);
            let keys = client_keys::mounts(secrets, &namespace, &compiled.bundle.backends).await?;
            let policies = client_keys::clients_of(&compiled.bundle.backends);
            let clients = client_keys::verify(&ctx.client, &namespace, &policies, &keys).await?;
            let programming = match apply_owned(backend, ctx, &compiled, auth.as_ref(), &keys).await
            {
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
            (
                Acceptance::Accepted { warnings },
                programming,
                auth,
                clients,
            )
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
                ClientKeys::NotConfigured,
            )
        }
    };
    let observed = Observed {
        generation: backend.meta().generation,
        acceptance,
        references: resolve_references(ctx, &namespace, auth.as_ref()).await?,
        clients,
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
    // The proxy Deployment is owned, so its availability changing triggers a reconcile on its
    // own; a poll while it is not yet available would reconcile every pending object every
    // few seconds for nothing. The resync only repairs drift nobody was told about.
    Ok(Action::requeue(Duration::from_mins(5)))
}

/// Requeue with a delay after a failed reconcile; the controller's own backoff spaces repeats.
#[allow(clippy::needless_pass_by_value)] // the signature `Controller::run` expects
pub fn error_policy<K: Kind>(backend: Arc<K>, error: &Error, _ctx: Arc<KindContext<K>>) -> Action {
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
    keys: &[client_keys::KeyMount],
) -> Result<Programming> {
    let owner = object
        .controller_owner_ref(&())
        .ok_or(Error::MissingField("metadata.uid"))?;
    let namespace = object.namespace().unwrap_or_default();
    let backend = &as_backend(object);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let secret = resources::bundle_secret(backend, &owner, &compiled.bundle);
    apply(&ctx.client, &namespace, &secret, &params).await?;
    let deployment = resources::proxy_deployment(backend, &owner, auth, keys, &ctx.settings);
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

async fn write_status<K: Kind>(ctx: &Context, backend: &K, status: &BackendStatus) -> Result<()> {
    let namespace = backend.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    apply_status(&api, &backend.name_any(), status, &namespace).await?;
    ctx.metrics.status_written();
    Ok(())
}

/// One Event per condition that changed (which ones: [`status::transitions`]), each its own
/// object ([`events`]), so a second diagnostic right after a first is seen, not folded into it.
async fn publish_transitions<K: Kind>(
    ctx: &Context,
    backend: &K,
    previous: Option<&BackendStatus>,
    next: &BackendStatus,
) {
    let reference = backend.object_ref(&());
    for condition in status::transitions(previous, next) {
        let occurrence = Occurrence {
            type_: if condition.status == "True" {
                events::Type::Normal
            } else {
                events::Type::Warning
            },
            reason: condition.reason.clone(),
            action: RECONCILE.to_owned(),
            // The whole message (every diagnostic), cut to the API's limit where it is posted.
            note: format!(
                "{}={}: {}",
                condition.type_, condition.status, condition.message
            ),
            related: None,
        };
        // An Event is a courtesy; failing to publish one must not fail the reconcile, but it
        // is said (a refused Event is a misconfiguration, e.g. RBAC, not a passing state).
        if let Err(error) = events::post(&ctx.client, &ctx.reporter, &reference, occurrence).await {
            tracing::warn!(%error, kind = %K::kind(&()), name = %backend.name_any(), "cannot publish an event");
        }
    }
}
