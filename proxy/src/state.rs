//! State shared by every connection: the current snapshot (swapped atomically on reload),
//! the upstream client, limits and metrics. A request takes one snapshot at its start and
//! keeps it to its end, so a reload never changes the rules mid-request.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::body::ProxyBody;
use crate::metrics::Metrics;
use crate::snapshot::Snapshot;

/// The pooled upstream client (HTTP/1.1, and HTTP/2 by ALPN over TLS).
pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// Request-path limits and timeouts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body read for guarded routes.
    pub max_body_bytes: usize,
    /// Time allowed for the upstream to send response headers.
    pub upstream_timeout: Duration,
}

/// Everything a request needs.
#[derive(Debug)]
pub struct State {
    current: ArcSwapOption<Snapshot>,
    pub client: UpstreamClient,
    pub limits: Limits,
    pub metrics: Metrics,
}

impl State {
    pub fn new(limits: Limits, connect_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            current: ArcSwapOption::empty(),
            client: client(connect_timeout),
            limits,
            metrics: Metrics::new(),
        })
    }

    /// The snapshot in force, if one has loaded.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    /// Installs a new snapshot; requests in flight keep the one they started with.
    pub fn install(&self, snapshot: Snapshot) {
        self.metrics.bundle_info.clear();
        let source = format!(
            "{:?}/{}/{}",
            snapshot.bundle.source.kind,
            snapshot.bundle.source.namespace,
            snapshot.bundle.source.name
        );
        self.metrics
            .bundle_info
            .get_or_create(&crate::metrics::BundleLabels {
                digest: snapshot.bundle.digest.clone(),
                source,
            })
            .set(1);
        self.current.store(Some(Arc::new(snapshot)));
    }

    /// Ready once a snapshot is loaded.
    pub fn is_ready(&self) -> bool {
        self.current.load().is_some()
    }
}

fn client(connect_timeout: Duration) -> UpstreamClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(https)
}
