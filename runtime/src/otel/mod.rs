//! OpenTelemetry traces over OTLP/HTTP protobuf for every agw binary: settings from
//! `--otlp-endpoint` and the SDK's `OTEL_*` variables ([`config`]), head sampling
//! ([`sampler`]), W3C trace context ([`context`]), the span data ([`span`]), its protobuf
//! encoding (`proto`) and the bounded, batching exporter ([`export`]).
//!
//! Two ways to make spans, one pipeline:
//! - the proxy builds its per-request spans by hand with [`Span`] and [`Exporter`] (its hot
//!   path must cost one branch when tracing is off, and its span tree follows the request,
//!   not a call stack);
//! - the operator and the webhook use plain `tracing` spans (`#[instrument]`, `info_span!`)
//!   that carry an `otel.kind` field; the [`layer::OtelLayer`] turns exactly those into OTLP
//!   spans, so the span a log line is written in and the span Jaeger shows are one thing.
//!
//! Must not: put prompt or response text, keys or matched text on a span; block or fail the
//! caller on the collector (the queue is bounded and drops, counted); start anything when no
//! endpoint is configured.

pub mod config;
pub mod context;
pub mod export;
pub mod layer;
mod proto;
pub mod sampler;
pub mod span;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::task::JoinHandle;

pub use self::config::{Config, ConfigError};
pub use self::context::{SpanId, TraceId};
pub use self::export::Exporter;
pub use self::layer::OtelLayer;
pub use self::proto::Resource;
pub use self::sampler::Sampler;
pub use self::span::{Kind, Span, Value};

/// A running export: the sampler the configuration asked for and the exporter's queue.
#[derive(Debug)]
pub struct Pipeline {
    /// Where spans go (for the startup log line).
    pub url: http::Uri,
    pub sampler: Sampler,
    pub exporter: Exporter,
    task: JoinHandle<()>,
}

impl Pipeline {
    /// Starts exporting per `config` on the current runtime, over `tls` for `https://`
    /// collectors; `dropped` counts spans lost to a full queue or a failed export.
    pub fn start(config: Config, tls: rustls::ClientConfig, dropped: Counter) -> Self {
        let url = config.target.url.clone();
        let (exporter, task) = Exporter::spawn(config.target, config.resource, tls, dropped);
        Self {
            url,
            sampler: config.sampler,
            exporter,
            task,
        }
    }

    /// The `tracing` layer exporting `otel.kind` spans through this pipeline.
    pub fn layer(&self) -> OtelLayer {
        OtelLayer::new(self.sampler, self.exporter.clone())
    }

    /// Posts what is still queued, waiting at most `timeout` (at shutdown).
    pub async fn flush(&self, timeout: Duration) {
        self.exporter.flush(timeout).await;
    }

    /// Whether the export task still runs (it ends only when every sender is gone).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

/// Why the TLS client for `https://` collectors could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS for the trace exporter")]
pub struct TlsError(#[source] rustls::Error);

/// The TLS client of the operator and the webhook for `https://` collectors: the compiled-in
/// Mozilla roots plus the platform store (`SSL_CERT_FILE`/`SSL_CERT_DIR` when set). The
/// proxy passes its own upstream configuration instead (it honours `--upstream-ca-file`).
pub fn client_tls() -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Unreadable platform certificates leave the Mozilla roots, which is what a pod has.
    let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The pipeline `flag` (`--otlp-endpoint`) and the process environment ask for the binary
/// `service`, started on the current runtime; `Ok(None)` when tracing is off.
pub fn from_env(
    service: &'static str,
    flag: Option<&str>,
    dropped: Counter,
) -> Result<Option<Pipeline>, StartError> {
    let Some(config) = Config::load(service, flag, |name| std::env::var(name).ok())? else {
        return Ok(None);
    };
    let tls = client_tls()?;
    Ok(Some(Pipeline::start(config, tls, dropped)))
}

/// Why trace export could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Starts logging and, when an endpoint is configured, span export for a control-plane
/// binary (`service` is its default `OTEL_SERVICE_NAME`), runs `run`, then posts the spans
/// still queued (2 s at most) before returning its result. The operator and the webhook start
/// this way; the proxy builds its own pipeline because its request spans use the explicit API.
pub async fn traced<T, F>(
    service: &'static str,
    endpoint: Option<&str>,
    format: crate::logging::LogFormat,
    run: F,
) -> Result<T, String>
where
    F: Future<Output = Result<T, String>>,
{
    let traces = from_env(service, endpoint, Counter::default()).map_err(|e| e.to_string())?;
    crate::logging::init(format, traces.as_ref().map(Pipeline::layer));
    if let Some(traces) = &traces {
        tracing::info!(url = %traces.url, sampler = ?traces.sampler, "exporting traces");
    }
    let result = run.await;
    if let Some(traces) = &traces {
        traces.flush(Duration::from_secs(2)).await;
    }
    result
}
