//! Sending finished spans to the collector: a bounded queue drained by one task that posts
//! batches as OTLP/HTTP protobuf. A request hands its spans over without waiting; when the
//! queue is full (the collector is slow, down or unreachable) spans are dropped and counted
//! in the binary's dropped-spans counter (`agw_trace_spans_dropped_total` in the proxy), never
//! waited for. Owns the queue, the batching and
//! the HTTP client; must not block or fail a request.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::proto::{Resource, export_request};
use super::span::Span;

/// Spans waiting for export (the SDKs' `OTEL_BSP_MAX_QUEUE_SIZE` default).
pub const QUEUE: usize = 2048;
/// Spans per export request (the SDKs' `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` default).
pub const MAX_BATCH: usize = 512;
/// How long the first span of a batch waits for others: at 1,000 requests a second (3,000
/// spans) a batch stays well below [`QUEUE`].
const LINGER: Duration = Duration::from_millis(200);
/// Time one export request may take (the SDKs' `OTEL_EXPORTER_OTLP_TIMEOUT` default).
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how batches are posted.
#[derive(Clone, Debug)]
pub struct Target {
    /// The full traces URL (`…/v1/traces`).
    pub url: Uri,
    /// Extra headers (`OTEL_EXPORTER_OTLP_HEADERS`), e.g. a collector's API key.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The sending end; cheap to clone.
#[derive(Clone, Debug)]
pub struct Exporter {
    tx: mpsc::Sender<Message>,
    dropped: Counter,
}

#[derive(Debug)]
enum Message {
    Span(Span),
    /// Answered once every span queued before it was posted (or given up on).
    Flush(oneshot::Sender<()>),
}

impl Exporter {
    /// Starts the export task on the current runtime. `dropped` counts spans lost to a full
    /// queue or a failed export.
    pub fn spawn(
        target: Target,
        resource: Resource,
        tls: rustls::ClientConfig,
        dropped: Counter,
    ) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let client = client(tls);
        let task = tokio::spawn(drain(rx, client, target, resource, dropped.clone()));
        (Self { tx, dropped }, task)
    }

    /// Queues `span` without waiting; a full queue drops it.
    pub fn send(&self, span: Span) {
        match self.tx.try_send(Message::Span(span)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                self.dropped.inc();
            }
        }
    }

    /// Posts what is queued, waiting at most `timeout`: at shutdown, so the last requests'
    /// spans are not lost with the process.
    pub async fn flush(&self, timeout: Duration) {
        let (done, wait) = oneshot::channel();
        let flushed = async {
            if self.tx.send(Message::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        };
        let _ = tokio::time::timeout(timeout, flushed).await;
    }
}

/// For tests of span-building code: an exporter with room for `capacity` spans, which the
/// returned function takes back out (nothing is posted anywhere).
pub fn capture(dropped: Counter, capacity: usize) -> (Exporter, impl FnMut() -> Vec<Span>) {
    let (tx, mut rx) = mpsc::channel(capacity);
    let read = move || {
        let mut spans = Vec::new();
        while let Ok(Message::Span(span)) = rx.try_recv() {
            spans.push(span);
        }
        spans
    };
    (Exporter { tx, dropped }, read)
}

type OtlpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

fn client(tls: rustls::ClientConfig) -> OtlpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(https)
}

/// Waits [`LINGER`] after the first span, then takes everything queued and posts it in
/// batches of at most [`MAX_BATCH`]; ends once every sender is gone and the queue is empty.
/// Sleeping rather than awaiting each span means a request's send wakes nobody: one wake-up
/// per batch, not one per span.
async fn drain(
    mut rx: mpsc::Receiver<Message>,
    client: OtlpClient,
    target: Target,
    resource: Resource,
    dropped: Counter,
) {
    let mut failing = false;
    while let Some(first) = rx.recv().await {
        let mut spans = Vec::new();
        let mut flushed = Vec::new();
        let flushing = matches!(first, Message::Flush(_));
        take(first, &mut spans, &mut flushed);
        if !flushing {
            tokio::time::sleep(LINGER).await;
        }
        while let Ok(message) = rx.try_recv() {
            take(message, &mut spans, &mut flushed);
        }
        for batch in spans.chunks(MAX_BATCH) {
            let result = post(&client, &target, export_request(&resource, batch)).await;
            failing = report(result, failing, batch.len(), &target, &dropped);
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

fn take(message: Message, spans: &mut Vec<Span>, flushed: &mut Vec<oneshot::Sender<()>>) {
    match message {
        Message::Span(span) => spans.push(span),
        Message::Flush(done) => flushed.push(done),
    }
}

/// Counts and logs a failed export; returns whether exports are failing now.
fn report(
    result: Result<(), ExportError>,
    was_failing: bool,
    spans: usize,
    target: &Target,
    dropped: &Counter,
) -> bool {
    let Err(err) = result else {
        if was_failing {
            tracing::info!(url = %target.url, "trace export recovered");
        }
        return false;
    };
    dropped.inc_by(spans as u64);
    // Once per outage at warn level: a down collector must not flood the log.
    if was_failing {
        tracing::debug!(url = %target.url, error = %err, spans, "trace export failed");
    } else {
        tracing::warn!(url = %target.url, error = %err, spans, "trace export failed; spans are dropped until the collector answers");
    }
    true
}

/// Why a batch was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot build the export request: {0}")]
    Request(#[source] http::Error),
    #[error("collector unreachable: {0}")]
    Send(#[source] hyper_util::client::legacy::Error),
    #[error("collector did not answer within {0:?}")]
    Timeout(Duration),
    #[error("collector answered {0}")]
    Status(http::StatusCode),
}

async fn post(client: &OtlpClient, target: &Target, body: Vec<u8>) -> Result<(), ExportError> {
    let mut request = Request::post(target.url.clone())
        .header(http::header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(Bytes::from(body)))
        .map_err(ExportError::Request)?;
    for (name, value) in &target.headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let response = tokio::time::timeout(EXPORT_TIMEOUT, client.request(request))
        .await
        .map_err(|_| ExportError::Timeout(EXPORT_TIMEOUT))?
        .map_err(ExportError::Send)?;
    let status = response.status();
    // Read the (small) answer so the connection goes back to the pool.
    let _ = tokio::time::timeout(EXPORT_TIMEOUT, response.into_body().collect()).await;
    if status.is_success() {
        Ok(())
    } else {
        Err(ExportError::Status(status))
    }
}
