//! Events for the errors proxies report. A proxy does not talk to Kubernetes (its pods mount
//! no service account token), but keeps its recent faults — upstream unreachable, timed out or
//! answering 5xx, no provider key — and serves them on its admin port as
//! `GET /errors?after=<seq>` (`agw-proxy`'s `recent_errors`). While this replica leads, every
//! `--proxy-errors-interval` this module asks each ready proxy pod of each Backend for the
//! faults after the last one it saw there, and publishes a Warning Event with reason
//! [`PROXY_ERROR`] on the Backend for each: the note names the pod, the request id, the kind
//! and the status, and says to look for that `request_id` in the pod's access log.
//!
//! Owns the pod watch (a reflector store of the pods the operator labels as Backend proxies),
//! the cursor per pod (by uid, with the proxy process's instance, so a restarted container is
//! read from its start) and the bound: at most [`MAX_EVENTS_PER_POLL`] Events per pod per poll,
//! the rest summarised in one more ("and N more"). Must not: fail or retry in a loop — a pod
//! that does not answer is skipped (debug log) until the next poll; write anything but
//! Events; or poll when not leading (it runs only in the leader, and stops with it).
//!
//! A new leader starts with no cursors, so it reports what the proxies' rings still hold
//! (bounded as above); Events of the same request can then appear twice, never unbounded.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use agw_crds::{AgentgatewayBackend, Backend};
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use kube::{Api, Resource as _, ResourceExt as _};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::cluster::{Context, Scope};
use crate::events::{self, Occurrence};
use crate::kinds::{self, Claim};
use crate::resources::{ADMIN_PORT, BACKEND_LABEL};

/// The Event reason (next to the condition reasons in `agw_crds::conditions::reasons`).
pub const PROXY_ERROR: &str = "ProxyError";
/// The Event action.
pub const ACTION: &str = "ServeRequest";
/// The default `--proxy-errors-interval`.
pub const DEFAULT_INTERVAL: &str = "15s";
/// Events per pod per poll; beyond it, one Event says how many more there were.
pub const MAX_EVENTS_PER_POLL: usize = 3;
/// How long a pod has to answer a poll.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest answer read from a proxy (its ring holds 64 short entries).
const MAX_ANSWER: usize = 1 << 20;
/// The pods polled: agw's proxies of Backends (Gateway proxies have no Backend to tell).
const POD_SELECTOR: &str = "app.kubernetes.io/name=agw-proxy,app.kubernetes.io/managed-by=agw-operator,agentgateway.dev/backend";

/// One fault as a proxy serves it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ProxyFault {
    /// Its sequence number in the proxy's ring.
    pub seq: u64,
    /// The request id the proxy's access log wrote.
    pub request_id: String,
    /// The stable kind (`upstream_connect`, `upstream_status`, …).
    pub kind: String,
    /// The status the client got.
    pub status: u16,
    /// The proxy's short description.
    #[serde(default)]
    pub message: String,
}

/// A proxy's answer.
#[derive(Debug, Deserialize)]
struct Page {
    instance: String,
    errors: Vec<ProxyFault>,
    next: u64,
}

/// Where the operator stopped reading a pod's ring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    instance: String,
    seq: u64,
}

/// What one poll of a pod found that was not reported yet.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct News {
    /// The faults to publish one Event each for, oldest first.
    pub shown: Vec<ProxyFault>,
    /// How many more there were (beyond the bound, or dropped from the ring before a poll).
    pub more: u64,
}

/// Why a pod could not be read (logged at debug, never retried before the next poll).
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// No answer in time.
    #[error("no answer within {POLL_TIMEOUT:?}")]
    Timeout,
    /// The request failed.
    #[error("request failed")]
    Request(#[source] hyper_util::client::legacy::Error),
    /// An answer other than 200.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The body could not be read.
    #[error("cannot read the answer")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The body is not a page of errors.
    #[error("the answer is not a page of errors")]
    Json(#[source] serde_json::Error),
}

/// The client used to poll proxies (plain HTTP on the pod network).
pub type Http = HttpClient<HttpConnector, Empty<Bytes>>;

/// A client for [`poll`].
pub fn http_client() -> Http {
    HttpClient::builder(TokioExecutor::new()).build_http()
}

/// Reads the faults of the proxy at `admin` after `cursor` and returns what is new and the
/// cursor to keep. A restarted proxy (another instance) is read again from its start.
pub async fn poll(
    http: &Http,
    admin: SocketAddr,
    cursor: Option<&Cursor>,
) -> Result<(News, Cursor), PollError> {
    let after = cursor.map_or(0, |c| c.seq);
    let mut page = fetch(http, admin, after).await?;
    let mut from = after;
    if cursor.is_some_and(|c| c.instance != page.instance) && after > 0 {
        page = fetch(http, admin, 0).await?;
        from = 0;
    }
    Ok(news(from, page))
}

fn news(after: u64, page: Page) -> (News, Cursor) {
    let mut errors: Vec<ProxyFault> = page.errors.into_iter().filter(|e| e.seq > after).collect();
    errors.sort_by_key(|e| e.seq);
    // Faults the ring dropped before this poll saw them.
    let dropped = errors.first().map_or(0, |e| e.seq - after - 1);
    let beyond = errors.len().saturating_sub(MAX_EVENTS_PER_POLL);
    let last = errors.last().map_or(page.next.max(after), |e| e.seq);
    errors.truncate(MAX_EVENTS_PER_POLL);
    let news = News {
        shown: errors,
        more: dropped + beyond as u64,
    };
    let cursor = Cursor {
        instance: page.instance,
        seq: last,
    };
    (news, cursor)
}

async fn fetch(http: &Http, admin: SocketAddr, after: u64) -> Result<Page, PollError> {
    let uri = format!("http://{admin}/errors?after={after}");
    let request = http::Request::get(uri)
        .body(Empty::new())
        .map_err(|e| PollError::Body(e.into()))?;
    let exchange = async {
        let response = http.request(request).await.map_err(PollError::Request)?;
        if response.status() != http::StatusCode::OK {
            return Err(PollError::Status(response.status().as_u16()));
        }
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(PollError::Body)?;
        serde_json::from_slice(&body.to_bytes()).map_err(PollError::Json)
    };
    tokio::time::timeout(POLL_TIMEOUT, exchange)
        .await
        .map_err(|_| PollError::Timeout)?
}

/// A ready proxy pod of a Backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The pod's uid (a cursor's key).
    pub uid: String,
    /// The pod's name.
    pub pod: String,
    /// Its namespace (the Backend's).
    pub namespace: String,
    /// The Backend's name.
    pub backend: String,
    /// The admin address.
    pub admin: SocketAddr,
}

/// The pod as a poll target: a ready pod with an IP and the Backend label.
pub fn target(pod: &Pod) -> Option<Target> {
    let status = pod.status.as_ref()?;
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let ip: IpAddr = status.pod_ip.as_deref()?.parse().ok()?;
    let port = u16::try_from(ADMIN_PORT).ok()?;
    if !ready {
        return None;
    }
    Some(Target {
        uid: pod.uid()?,
        pod: pod.name_any(),
        namespace: pod.namespace()?,
        backend: pod.labels().get(BACKEND_LABEL)?.clone(),
        admin: SocketAddr::new(ip, port),
    })
}

/// The Event notes for what a poll of `target` found, one per Event.
pub fn notes(target: &Target, news: &News) -> Vec<String> {
    let mut notes: Vec<String> = news
        .shown
        .iter()
        .map(|fault| {
            format!(
                "proxy pod {pod}: request {id} failed: {kind}, HTTP {status}: {message}. Look for \
                 request_id {id} in the proxy's access log (kubectl logs -n {ns} {pod})",
                pod = target.pod,
                id = fault.request_id,
                kind = fault.kind,
                status = fault.status,
                message = fault.message,
                ns = target.namespace,
            )
        })
        .collect();
    if news.more > 0 {
        notes.push(format!(
            "proxy pod {pod}: and {more} more failed requests since the last poll; see the \
             proxy's access log (kubectl logs -n {ns} {pod})",
            pod = target.pod,
            more = news.more,
            ns = target.namespace,
        ));
    }
    // Each is cut to the API's limit where it is posted (`events`).
    notes
}

/// Watches the proxy pods and polls them every `interval` until `stop` is cancelled.
pub async fn run(ctx: Arc<Context>, scope: Scope, interval: Duration, stop: CancellationToken) {
    let (pods, writer) = reflector::store::<Pod>();
    let watch = reflector::reflector(
        writer,
        watcher(
            scope.api::<Pod>(&ctx.client),
            watcher::Config::default().labels(POD_SELECTOR),
        ),
    )
    .default_backoff()
    .for_each(|event| async move {
        if let Err(error) = event {
            tracing::debug!(%error, "proxy pod watch");
        }
    });
    let polls = async {
        let http = http_client();
        let mut cursors: HashMap<String, Cursor> = HashMap::new();
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let targets: Vec<Target> = pods.state().iter().filter_map(|p| target(p)).collect();
            cursors.retain(|uid, _| targets.iter().any(|t| &t.uid == uid));
            for target in targets {
                let cursor = cursors.get(&target.uid);
                match poll(&http, target.admin, cursor).await {
                    Ok((news, cursor)) => {
                        publish(&ctx, &target, &news).await;
                        cursors.insert(target.uid.clone(), cursor);
                    }
                    Err(error) => {
                        tracing::debug!(pod = %target.pod, namespace = %target.namespace, error = %error, "proxy pod did not report its errors; skipped until the next poll");
                    }
                }
            }
        }
    };
    tokio::select! {
        () = watch => {}
        () = polls => {}
        () = stop.cancelled() => {}
    }
}

async fn publish(ctx: &Context, target: &Target, news: &News) {
    let notes = notes(target, news);
    if notes.is_empty() {
        return;
    }
    let Some(reference) = backend_reference(ctx, target).await else {
        tracing::debug!(backend = %target.backend, namespace = %target.namespace, "the proxy's Backend is gone; its errors are not reported");
        return;
    };
    for note in notes {
        let occurrence = occurrence(target, note);
        // An Event is a courtesy; failing to publish one must not stop the polls, but it is
        // said (a refused Event is a misconfiguration, e.g. RBAC, not a passing state).
        if let Err(error) = events::post(&ctx.client, &ctx.reporter, &reference, occurrence).await {
            tracing::warn!(%error, backend = %target.backend, namespace = %target.namespace, "cannot publish a ProxyError event");
        }
    }
}

/// The Warning with `note` about one of `target`'s faults, related to the pod. Each is its own
/// Event ([`events`]): each fault's note names its own request id.
pub fn occurrence(target: &Target, note: String) -> Occurrence {
    Occurrence {
        type_: events::Type::Warning,
        reason: PROXY_ERROR.to_owned(),
        action: ACTION.to_owned(),
        note,
        related: Some(ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Pod".to_owned()),
            name: Some(target.pod.clone()),
            namespace: Some(target.namespace.clone()),
            uid: Some(target.uid.clone()),
            ..ObjectReference::default()
        }),
    }
}

/// The Backend (of whichever kind owns the name) the pod serves.
async fn backend_reference(ctx: &Context, target: &Target) -> Option<ObjectReference> {
    let (ns, name) = (&target.namespace, &target.backend);
    let backend = Api::<Backend>::namespaced(ctx.client.clone(), ns)
        .get_opt(name)
        .await
        .ok()
        .flatten();
    let other = Api::<AgentgatewayBackend>::namespaced(ctx.client.clone(), ns)
        .get_opt(name)
        .await
        .ok()
        .flatten();
    match (backend, other) {
        (Some(b), other) if kinds::owns(Claim::of(&b), other.as_ref().map(Claim::of)) => {
            Some(b.object_ref(&()))
        }
        (_, Some(other)) => Some(other.object_ref(&())),
        (_, None) => None,
    }
}

#[cfg(test)]
#[path = "proxy_errors_tests.rs"]
mod tests;
