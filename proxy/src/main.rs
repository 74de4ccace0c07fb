//! `agw-proxy`: agw's data plane.
//!
//! It owns HTTP: accepting clients (Claude Code, the SDKs), routing by the bundle, running
//! the guard engine on Messages bodies, injecting the provider key, forwarding to the
//! provider and streaming responses back untouched. It does not decide what a policy means
//! (that is `agw_policy`'s) and does not talk to Kubernetes: in a pod it reads the bundle
//! and the key from mounted files.
#![forbid(unsafe_code)]

mod access_log;
mod admin;
mod audit;
mod body;
mod clients;
#[cfg(test)]
mod dashboard_tests;
mod error;
mod forward;
mod guard;
mod messages;
mod metrics;
mod otel;
mod pinned;
mod recent_errors;
mod reload;
mod response_guard;
mod rewrite;
mod router;
mod snapshot;
mod state;
mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use agw_runtime::LogFormat;
use agw_runtime::serve::{self, Plain, Timeouts};
use clap::Parser;
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;

use crate::access_log::sink::LineSink;
use crate::access_log::{AccessLog, Peer};
use crate::audit::AuditLog;
use crate::audit::rotate::{RotatingFile, StdoutLines};
use crate::clients::limiter::Limiter;
use crate::clients::limiter::shared::{SharedStore, StoreError};
use crate::metrics::Metrics;
use crate::otel::Tracer;
use crate::snapshot::Source;
use crate::state::{Limits, State, Telemetry};

#[derive(Parser, Debug)]
#[command(
    name = "agw-proxy",
    version,
    about = "Guard proxy between Anthropic API clients (Claude Code, SDKs) and the provider",
    long_about = "Enforces an agw policy on every request: routes by path, rejects or masks prompts that \
                  match the prompt guards, injects the provider API key, and streams responses back untouched.",
    after_help = "Examples:\n  \
        # Standalone, no cluster: the tutorial's Secret + Backend in one file\n  \
        ANTHROPIC_API_KEY=sk-ant-... agw-proxy --config examples/claude-code.yaml\n  \
        ANTHROPIC_BASE_URL=http://localhost:8080 claude -p \"What is a credit card\"\n\n  \
        # In a pod (what the operator deploys): the compiled bundle mounted from a Secret\n  \
        agw-proxy --bundle /etc/agw/bundle/bundle.json\n\n\
        Admin endpoints: /healthz, /readyz (a bundle is loaded), /metrics (Prometheus)."
)]
struct Args {
    /// Compiled bundle to serve (reloaded when it changes).
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    bundle: Option<PathBuf>,
    /// Standalone manifest: a Backend and its auth Secret, `${VAR}` expanded from the environment.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Backend to serve when --config holds several.
    #[arg(long, value_name = "NAME", requires = "config")]
    backend: Option<String>,
    /// Address for client traffic. Loopback by default: the proxy spends the organization's
    /// key, so reaching it from the network is a choice (`--listen 0.0.0.0:8080`, best with
    /// client authentication). The operator sets all interfaces for pods.
    #[arg(long, default_value = "127.0.0.1:8080", env = "AGW_LISTEN")]
    listen: SocketAddr,
    /// Address for /healthz, /readyz and /metrics; loopback by default.
    #[arg(long, default_value = "127.0.0.1:9091", env = "AGW_ADMIN")]
    admin: SocketAddr,
    /// Largest request body inspected on guarded routes, in bytes (larger gets 413).
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Time the provider has to send response headers.
    #[arg(long, default_value = "600s", value_parser = parse_duration)]
    upstream_timeout: Duration,
    /// PEM file of CA certificates to trust for upstream TLS, in addition to the compiled-in
    /// Mozilla roots and the platform store (read from SSL_CERT_FILE / SSL_CERT_DIR when set).
    /// Repeat for several files. A file that cannot be read or holds no valid certificate
    /// stops the proxy at startup.
    #[arg(long, value_name = "PATH")]
    upstream_ca_file: Vec<PathBuf>,
    /// Time allowed to connect to the provider.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// Time a client has to send request headers.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    header_read_timeout: Duration,
    /// On SIGTERM, how long in-flight requests and streams may take to finish.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// How often the bundle and key files are checked for changes.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    reload_interval: Duration,
    /// Runtime worker threads; 0 means one per CPU the process may use. One worker avoids
    /// cross-thread wake-ups, which lowers latency when the proxy shares few cores with
    /// other work; more workers raise the maximum request rate.
    #[arg(long, default_value_t = 0, env = "AGW_WORKERS")]
    workers: usize,
    /// Log format: `text` for people (coloured only on a terminal), `json` (one object a
    /// line) for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "AGW_LOG_FORMAT")]
    log_format: LogFormat,
    /// Access log on stdout, one line per request written when its response ends:
    /// `json` (OpenTelemetry attribute names), `text` (for people) or `off`.
    #[arg(long, value_enum, default_value_t = access_log::Format::Json, env = "AGW_ACCESS_LOG")]
    access_log: access_log::Format,
    /// Where audit records go, for Backends that enable `spec.policies.ai.audit`: a file
    /// (JSON lines, rotated by size) or `-` for stdout, between access-log lines and told
    /// apart by `"agw.record":"audit"`.
    #[arg(
        long,
        value_name = "PATH|-",
        default_value = "-",
        env = "AGW_AUDIT_LOG"
    )]
    audit_log: PathBuf,
    /// Size at which the audit file is rotated to `<PATH>.1`.
    #[arg(long, default_value_t = 100 * 1024 * 1024, value_name = "BYTES")]
    audit_log_max_bytes: u64,
    /// Rotated audit files kept besides the current one.
    #[arg(long, default_value_t = 5, value_name = "N")]
    audit_log_files: usize,
    /// OpenTelemetry collector to send traces to, as OTLP over HTTP/protobuf: a base URL such
    /// as `http://127.0.0.1:4318` (`/v1/traces` is appended). Unset, the OpenTelemetry
    /// variables apply (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT); with
    /// none, no traces. Sampling follows OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
    /// (default `parentbased_always_on`), the service name OTEL_SERVICE_NAME (default
    /// `agw-proxy`).
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// Redis the replicas share rate-limit budgets in (`spec.policies.rateLimit.local`), as
    /// `redis://[:PASSWORD@]HOST:PORT[/DB]` (no TLS). Without it each replica counts in its
    /// own memory, so N replicas may admit up to N times a budget; with it every replica
    /// checks and counts in Redis (one atomic script per request), so together they admit
    /// exactly the budget. When Redis is unreachable, errs or takes over 200 ms, that request
    /// is decided by this replica's own count instead (the per-replica bound, never
    /// unlimited, never waiting longer), counted in agw_rate_limit_store_errors_total and
    /// logged; then requests skip Redis for a cool-down (1 s, doubling up to 30 s, while
    /// agw_rate_limit_store_up is 0) until one probe finds it answering. Prefer the variable
    /// when the URL holds a password.
    #[arg(
        long,
        value_name = "URL",
        env = "AGW_RATE_LIMIT_REDIS",
        hide_env_values = true
    )]
    rate_limit_redis: Option<String>,
}

/// `500ms`, `30s`, `10m`, or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |i| text.split_at(i));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 30s or 10m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("{text:?} has an unknown unit; use ms, s or m")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    agw_runtime::logging::init(args.log_format, None);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if args.workers > 0 {
        builder.worker_threads(args.workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("agw-proxy: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let source = match (&args.bundle, &args.config) {
        (Some(path), _) => Source::Bundle(path.clone()),
        (None, Some(path)) => Source::Config {
            path: path.clone(),
            backend: args.backend.clone(),
        },
        (None, None) => return ExitCode::FAILURE,
    };
    let limits = Limits {
        max_body_bytes: args.max_body_bytes,
        upstream_timeout: args.upstream_timeout,
    };
    let (tls, roots) = match tls::client_config(&args.upstream_ca_file) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("agw-proxy: {err}");
            return ExitCode::FAILURE;
        }
    };
    let metrics = Metrics::new();
    let telemetry = match telemetry(&args, &tls, &metrics) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("agw-proxy: {err}");
            return ExitCode::FAILURE;
        }
    };
    let limiter = match limiter(args.rate_limit_redis.as_deref(), &metrics) {
        Ok(limiter) => limiter,
        Err(err) => {
            eprintln!("agw-proxy: {err}");
            return ExitCode::FAILURE;
        }
    };
    let state = State::new(
        limits,
        args.connect_timeout,
        tls,
        metrics,
        telemetry,
        limiter,
    );
    let loaded = reload::load_once(&state, &source);
    if !loaded && matches!(source, Source::Config { .. }) {
        // A standalone user wants the error now, not a proxy answering 503.
        if let Err(err) = source.load() {
            eprintln!("agw-proxy: {err}");
        }
        return ExitCode::FAILURE;
    }
    let (listener, admin) = match (
        serve::bind(args.listen).await,
        serve::bind(args.admin).await,
    ) {
        (Ok(listener), Ok(admin)) => (listener, admin),
        (Err(err), _) | (_, Err(err)) => {
            eprintln!("agw-proxy: {err}");
            return ExitCode::FAILURE;
        }
    };
    let authenticated = authenticates(&state);
    announce(&args, &listener, &admin, &source, roots, authenticated);
    warn_if_open(
        authenticated,
        &source,
        listener.local_addr().unwrap_or(args.listen),
    );
    let shutdown = agw_runtime::shutdown::on_signal();
    tokio::spawn(reload::watch(state.clone(), source, args.reload_interval));
    let admin_task = tokio::spawn(agw_runtime::admin::serve(
        admin,
        Arc::new(admin::Admin(state.clone())),
        args.header_read_timeout,
        shutdown.clone(),
    ));
    let proxy_state = state.clone();
    let service_for = move |peer| {
        let state = proxy_state.clone();
        service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(Peer(peer));
            let response = forward::handle(state.clone(), req);
            async move { Ok::<_, Infallible>(response.await) }
        })
    };
    let timeouts = Timeouts {
        header_read: args.header_read_timeout,
        drain: args.drain_timeout,
    };
    serve::serve("proxy", listener, Plain, service_for, timeouts, shutdown).await;
    let _ = admin_task.await;
    state.tracer.flush(Duration::from_secs(2)).await;
    state.access_log.flush();
    state.audit.flush();
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// The access log, the audit log and the tracer the flags ask for, or why one cannot start.
fn telemetry(
    args: &Args,
    tls: &rustls::ClientConfig,
    metrics: &Metrics,
) -> Result<Telemetry, String> {
    let (access_log, audit) = logs(args, metrics)?;
    let tracer = tracer(args, tls, metrics).map_err(|err| err.to_string())?;
    Ok(Telemetry {
        access_log,
        audit,
        tracer,
    })
}

/// The budget counter `--rate-limit-redis` asks for: in process without it, else shared
/// through Redis (checked in the background: a Redis still starting is not fatal).
fn limiter(url: Option<&str>, metrics: &Metrics) -> Result<Limiter, StoreError> {
    let Some(url) = url else {
        return Ok(Limiter::default());
    };
    let store = SharedStore::open(url)?;
    let probe = store.clone();
    tokio::spawn(async move {
        let redis = probe.address();
        match probe.ping().await {
            Ok(()) => tracing::info!(redis, "rate-limit budgets shared in Redis"),
            Err(err) => tracing::warn!(
                redis,
                error = %err,
                "rate-limit store not answering yet: budgets are counted per replica until it does"
            ),
        }
    });
    let up = metrics.store_up(store.address());
    Ok(Limiter::shared(
        store,
        metrics.store_errors("admit"),
        metrics.store_errors("charge"),
        up,
    ))
}

/// The tracer `--otlp-endpoint` and the `OTEL_*` variables ask for (off without an endpoint).
fn tracer(
    args: &Args,
    tls: &rustls::ClientConfig,
    metrics: &Metrics,
) -> Result<Tracer, otel::config::ConfigError> {
    let Some(config) =
        otel::config::Config::load("agw-proxy", args.otlp_endpoint.as_deref(), |name| {
            std::env::var(name).ok()
        })?
    else {
        return Ok(Tracer::default());
    };
    tracing::info!(url = %config.target.url, sampler = ?config.sampler, "exporting traces");
    // The export task ends with the runtime; `Tracer::flush` posts what is left at shutdown.
    let (tracer, _task) = Tracer::start(config, tls.clone(), metrics.trace_spans_dropped.clone());
    Ok(tracer)
}

/// The access log on stdout and the audit log on `--audit-log`, each behind its own queue.
fn logs(args: &Args, metrics: &Metrics) -> Result<(AccessLog, AuditLog), String> {
    let access = LineSink::spawn(
        "access-log",
        StdoutLines::default(),
        metrics.dropped("access"),
    )
    .map_err(|e| format!("cannot start the access log writer: {e}"))?;
    let audit_out: Box<dyn std::io::Write + Send> = if args.audit_log.as_os_str() == "-" {
        Box::new(StdoutLines::default())
    } else {
        let file = RotatingFile::open(
            &args.audit_log,
            args.audit_log_max_bytes,
            args.audit_log_files,
        )
        .map_err(|e| format!("cannot open --audit-log {}: {e}", args.audit_log.display()))?;
        Box::new(file)
    };
    let audit = LineSink::spawn("audit-log", audit_out, metrics.dropped("audit"))
        .map_err(|e| format!("cannot start the audit log writer: {e}"))?;
    Ok((
        AccessLog::new(args.access_log, access),
        AuditLog::new(audit),
    ))
}

fn announce(
    args: &Args,
    listener: &tokio::net::TcpListener,
    admin: &tokio::net::TcpListener,
    source: &Source,
    upstream_roots: tls::RootCounts,
    authenticated: bool,
) {
    let local = listener.local_addr().unwrap_or(args.listen);
    let admin = admin.local_addr().unwrap_or(args.admin);
    tracing::info!(listen = %local, admin = %admin, %upstream_roots, "agw-proxy serving");
    if let Source::Config { .. } = source {
        let port = local.port();
        // With client authentication each developer passes their own gateway key.
        let key = if authenticated {
            "ANTHROPIC_AUTH_TOKEN=<your gateway key> "
        } else {
            ""
        };
        eprintln!(
            "\nagw-proxy is guarding http://localhost:{port}. Try it with Claude Code:\n\n  \
             {key}ANTHROPIC_BASE_URL=http://localhost:{port} claude -p \"What is Kubernetes?\"\n  \
             {key}ANTHROPIC_BASE_URL=http://localhost:{port} claude -p \"What is a credit card\"\n"
        );
    }
}

/// Whether every backend served authenticates its clients.
fn authenticates(state: &State) -> bool {
    state.snapshot().is_some_and(|s| {
        !s.bundle.backends.is_empty()
            && s.bundle
                .backends
                .keys()
                .all(|k| s.clients.get(k).is_some_and(|c| c.identities().is_some()))
    })
}

/// A standalone proxy reachable from the network spends the organization's key for anyone
/// who finds it, unless clients must present a gateway key.
fn warn_if_open(authenticated: bool, source: &Source, listen: SocketAddr) {
    if matches!(source, Source::Config { .. }) && !listen.ip().is_loopback() && !authenticated {
        tracing::warn!(
            listen = %listen,
            "listening beyond loopback without client authentication: anyone who can reach this address spends the provider key; add spec.policies.apiKeyAuthentication or listen on 127.0.0.1"
        );
    }
}
