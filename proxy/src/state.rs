//! State shared by every connection: the current snapshot (swapped atomically on reload),
//! the upstream clients, limits and metrics. A request takes one snapshot at its start and
//! keeps it to its end, so a reload never changes the rules mid-request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agw_policy::bundle::Upstream;
use arc_swap::{ArcSwap, ArcSwapOption};
use hyper_rustls::{FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

use crate::access_log::AccessLog;
use crate::audit::AuditLog;
use crate::body::ProxyBody;
use crate::clients::limiter::Limiter;
use crate::error::ProxyError;
use crate::metrics::Metrics;
use crate::otel::Tracer;
use crate::snapshot::Snapshot;
use crate::tls;

/// A pooled upstream client (HTTP/1.1, and HTTP/2 by ALPN over TLS).
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
    clients: Clients,
    pub limits: Limits,
    pub metrics: Metrics,
    pub access_log: AccessLog,
    pub audit: AuditLog,
    /// Request and token budgets; kept across reloads so a Secret edit spends nothing anew.
    pub limiter: Arc<Limiter>,
    pub tracer: Tracer,
    /// Calls in flight per webhook guard; kept across reloads.
    pub webhooks: crate::guard::webhook::permits::Permits,
}

/// Where the proxy reports what it did: the per-request access log, the opt-in audit log and
/// the tracer (each possibly off).
#[derive(Debug)]
pub struct Telemetry {
    pub access_log: AccessLog,
    pub audit: AuditLog,
    pub tracer: Tracer,
}

impl State {
    /// `tls` is the configuration every upstream TLS connection starts from (its roots);
    /// `limiter` counts the budgets (in process, or shared through Redis).
    pub fn new(
        limits: Limits,
        connect_timeout: Duration,
        tls: ClientConfig,
        metrics: Metrics,
        telemetry: Telemetry,
        limiter: Limiter,
    ) -> Arc<Self> {
        let Telemetry {
            access_log,
            audit,
            tracer,
        } = telemetry;
        Arc::new(Self {
            current: ArcSwapOption::empty(),
            clients: Clients::new(tls, connect_timeout),
            limits,
            metrics,
            access_log,
            audit,
            limiter: Arc::new(limiter),
            tracer,
            webhooks: crate::guard::webhook::permits::Permits::default(),
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
        self.clients
            .prepare(snapshot.bundle.backends.values().map(|b| &b.upstream));
        self.current.store(Some(Arc::new(snapshot)));
    }

    /// The client for an upstream: it connects to `host:port` and sends and verifies
    /// `policies.tls.sni` when set, the host otherwise.
    pub fn client_for(&self, upstream: &Upstream) -> Result<UpstreamClient, ProxyError> {
        self.clients
            .get(upstream)
            .map_err(|e| ProxyError::Upstream(e.into()))
    }

    /// Ready once a snapshot is loaded.
    pub fn is_ready(&self) -> bool {
        self.current.load().is_some()
    }
}

/// The upstream clients: one for upstreams verified by their host, and one per
/// `policies.tls.sni`. hyper pools connections by scheme and authority only, so a connection
/// made (and verified) for one server name would otherwise be reused for an upstream on the
/// same `host:port` with another; a client per name keeps their pools apart.
#[derive(Debug)]
struct Clients {
    tls: ClientConfig,
    connect_timeout: Duration,
    by_host: UpstreamClient,
    by_sni: ArcSwap<HashMap<String, UpstreamClient>>,
}

impl Clients {
    fn new(tls: ClientConfig, connect_timeout: Duration) -> Self {
        let by_host = build(&tls, connect_timeout, None);
        Self {
            tls,
            connect_timeout,
            by_host,
            by_sni: ArcSwap::default(),
        }
    }

    fn get(&self, upstream: &Upstream) -> Result<UpstreamClient, String> {
        let Some(sni) = tls::sni_override(upstream) else {
            return Ok(self.by_host.clone());
        };
        if let Some(client) = self.by_sni.load().get(sni) {
            return Ok(client.clone());
        }
        // Only when a reload dropped this name after the request took its snapshot: a
        // one-off client, correct but without a shared pool.
        let name = tls::server_name(sni)?;
        Ok(build(&self.tls, self.connect_timeout, Some(name)))
    }

    /// Keeps a client for every server name the upstreams use (reusing the pools of names
    /// already known) and drops the others.
    fn prepare<'a>(&self, upstreams: impl Iterator<Item = &'a Upstream>) {
        let current = self.by_sni.load();
        let mut next = HashMap::new();
        for sni in upstreams.filter_map(tls::sni_override) {
            if next.contains_key(sni) {
                continue;
            }
            let client = match current.get(sni) {
                Some(client) => client.clone(),
                None => match tls::server_name(sni) {
                    Ok(name) => build(&self.tls, self.connect_timeout, Some(name)),
                    Err(err) => {
                        tracing::warn!(error = %err, "requests to this upstream will fail");
                        continue;
                    }
                },
            };
            next.insert(sni.to_owned(), client);
        }
        self.by_sni.store(Arc::new(next));
    }
}

/// A client that verifies and sends `name`, or the URI's host when `None`.
fn build(
    tls: &ClientConfig,
    connect_timeout: Duration,
    name: Option<ServerName<'static>>,
) -> UpstreamClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http();
    let builder = match name {
        Some(name) => builder.with_server_name_resolver(FixedServerNameResolver::new(name)),
        None => builder,
    };
    let https = builder.enable_http1().enable_http2().wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(https)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(host: &str, sni: Option<&str>) -> Upstream {
        Upstream {
            host: host.to_owned(),
            port: 443,
            tls: true,
            sni: sni.map(str::to_owned),
            path_prefix: String::new(),
            model: None,
        }
    }

    fn clients() -> Clients {
        let tls =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
        Clients::new(tls, Duration::from_secs(1))
    }

    fn names(clients: &Clients) -> Vec<String> {
        let mut names: Vec<String> = clients.by_sni.load().keys().cloned().collect();
        names.sort();
        names
    }

    #[test]
    fn every_distinct_server_name_gets_its_own_pool() {
        let clients = clients();
        let upstreams = [
            upstream("10.0.0.1", None),
            upstream("10.0.0.1", Some("a.internal")),
            upstream("10.0.0.1", Some("b.internal")),
            upstream("10.0.0.2", Some("a.internal")),
            upstream("a.internal", Some("a.internal")),
        ];
        clients.prepare(upstreams.iter());
        assert_eq!(names(&clients), ["a.internal", "b.internal"]);
        for upstream in &upstreams {
            assert!(clients.get(upstream).is_ok());
        }
    }

    #[test]
    fn a_reload_keeps_names_still_used_and_drops_the_others() {
        let clients = clients();
        clients.prepare([upstream("h", Some("a.x")), upstream("h", Some("b.x"))].iter());
        clients.prepare([upstream("h", Some("b.x")), upstream("h", Some("c.x"))].iter());
        assert_eq!(names(&clients), ["b.x", "c.x"]);
        // A request still on the old snapshot gets a client of its own, not another name's.
        assert!(clients.get(&upstream("h", Some("a.x"))).is_ok());
    }

    #[test]
    fn an_invalid_server_name_fails_its_requests_with_the_reason() {
        let clients = clients();
        let bad = upstream("h", Some("not a name"));
        clients.prepare(std::iter::once(&bad));
        assert!(names(&clients).is_empty());
        let err = clients.get(&bad).unwrap_err();
        assert!(err.contains("policies.tls.sni \"not a name\""), "{err}");
    }
}
