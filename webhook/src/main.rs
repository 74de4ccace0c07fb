//! `agw-webhook`: serves `POST /validate` for `agentgateway.dev` Backends over TLS.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use agw_runtime::LogFormat;
use agw_webhook::metrics::Metrics;
use agw_webhook::server::{self, RequestLimits};
use agw_webhook::tls::{CertFiles, ReloadingCert};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "agw-webhook",
    version,
    about = "Validating admission webhook for agentgateway.dev Backends",
    long_about = "Answers the apiserver's AdmissionReviews for Backend CREATE and UPDATE with the verdict \
                  of agw's policy compiler, the same code the operator runs: a spec that would not compile \
                  is refused at `kubectl apply` time with every bad field named, and compiler warnings \
                  reach the user as `Warning:` lines.",
    after_help = "Examples:\n  \
        # In a pod: the serving certificate mounted from a Secret (reloaded when it changes)\n  \
        agw-webhook --tls-cert /var/run/agw/webhook-tls/tls.crt --tls-key /var/run/agw/webhook-tls/tls.key\n\n  \
        # Locally, for an apiserver that calls https://127.0.0.1:9443/validate\n  \
        agw-webhook --listen 127.0.0.1:9443 --tls-cert tls.crt --tls-key tls.key\n\n\
        Admin endpoints (plain HTTP on --admin): /healthz, /readyz, /metrics (Prometheus)."
)]
struct Args {
    /// Address for the HTTPS admission endpoint.
    #[arg(long, default_value = "0.0.0.0:9443", env = "AGW_WEBHOOK_LISTEN")]
    listen: SocketAddr,
    /// Address for /healthz, /readyz and /metrics (plain HTTP).
    #[arg(long, default_value = "0.0.0.0:9092", env = "AGW_WEBHOOK_ADMIN")]
    admin: SocketAddr,
    /// PEM serving certificate chain (leaf first).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/var/run/agw/webhook-tls/tls.crt",
        env = "AGW_WEBHOOK_TLS_CERT"
    )]
    tls_cert: PathBuf,
    /// PEM private key of the serving certificate.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/var/run/agw/webhook-tls/tls.key",
        env = "AGW_WEBHOOK_TLS_KEY"
    )]
    tls_key: PathBuf,
    /// How often the certificate files are checked for changes.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    tls_reload_interval: Duration,
    /// Largest AdmissionReview accepted, in bytes (it carries the object and the old object).
    #[arg(long, default_value_t = 6 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Time to answer one review (the apiserver waits `timeoutSeconds`, 5 s in config/webhook).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,
    /// On SIGTERM, how long in-flight reviews may take to finish.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    drain_timeout: Duration,
    /// Log format: `text` for people (coloured only on a terminal), `json` (one object a
    /// line) for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "AGW_LOG_FORMAT")]
    log_format: LogFormat,
    /// OpenTelemetry collector to send admission spans to, as OTLP over HTTP/protobuf: a base
    /// URL such as `http://127.0.0.1:4318` (`/v1/traces` is appended). Unset, the
    /// OpenTelemetry variables apply (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    /// OTEL_EXPORTER_OTLP_ENDPOINT); with none, no traces. Sampling follows
    /// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (a valid `traceparent` from the
    /// apiserver is continued), the service name OTEL_SERVICE_NAME (default `agw-webhook`).
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("agw-webhook: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(traced(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("agw-webhook: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Starts logging and, when configured, trace export (admission spans), runs the webhook,
/// and posts the last spans before the process ends.
async fn traced(args: Args) -> Result<(), String> {
    let (endpoint, format) = (args.otlp_endpoint.clone(), args.log_format);
    let run = async { run(args).await.map_err(|e| e.to_string()) };
    agw_runtime::otel::traced("agw-webhook", endpoint.as_deref(), format, run).await
}

async fn run(args: Args) -> agw_webhook::Result<()> {
    let cert = ReloadingCert::load(CertFiles {
        cert: args.tls_cert.clone(),
        key: args.tls_key.clone(),
    })?;
    let tls = cert.server_config()?;
    let listener = agw_runtime::serve::bind(args.listen).await?;
    let admin = agw_runtime::serve::bind(args.admin).await?;
    let metrics = Arc::new(Metrics::new());
    let shutdown = agw_runtime::shutdown::on_signal();
    tokio::spawn(cert.watch(args.tls_reload_interval, metrics.clone()));
    let admin_task = tokio::spawn(agw_runtime::admin::serve(
        admin,
        metrics.clone(),
        Duration::from_secs(10),
        shutdown.clone(),
    ));
    tracing::info!(
        listen = %listener.local_addr().unwrap_or(args.listen),
        admin = %args.admin,
        "agw-webhook serving POST /validate"
    );
    metrics.set_ready(true);
    let limits = RequestLimits {
        max_body_bytes: args.max_body_bytes,
        timeout: args.request_timeout,
    };
    let router = server::validate_router(metrics.clone(), limits);
    let (ready, stopping) = (metrics.clone(), shutdown.clone());
    tokio::spawn(async move {
        stopping.cancelled().await;
        ready.set_ready(false);
    });
    server::serve_tls(listener, tls, router, shutdown, args.drain_timeout).await;
    let _ = admin_task.await;
    tracing::info!("stopped");
    Ok(())
}
