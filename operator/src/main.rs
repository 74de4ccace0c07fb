//! `agw-operator`: turns Backends into running, guarded proxies.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use agw_operator::cluster::{Context, Scope};
use agw_operator::controller;
use agw_operator::events::Reporter;
use agw_operator::gateway::{self, context::GatewayContext};
use agw_operator::leader::{Elector, LeaseConfig};
use agw_operator::metrics::Metrics;
use agw_operator::proxy_errors;
use agw_operator::resources::{FIELD_MANAGER, ProxySettings};
use agw_operator::webhook_certs::{self, WebhookCertConfig};
use agw_runtime::LogFormat;
use clap::Parser;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(
    name = "agw-operator",
    version,
    about = "Reconciles agentgateway.dev Backends into guarded Anthropic proxies",
    long_about = "For each Backend: compiles the spec with agw's policy compiler, applies the rule bundle \
                  Secret <name>-bundle, the proxy Deployment <name>-proxy and the Service <name>-proxy \
                  (server-side apply, field manager agw-operator), and reports Accepted, ResolvedRefs, \
                  Programmed and Ready in the Backend's status. An invalid spec is never programmed: the \
                  last valid bundle keeps serving.\n\n\
                  For each Gateway whose GatewayClass names --gateway-controller-name: the HTTPRoutes \
                  attached to it become ordered rules of one bundle, served by a Deployment and Service \
                  named like the Gateway on its HTTP listener port; Gateway and HTTPRoute statuses \
                  report Accepted, Programmed and ResolvedRefs as Gateway API users expect.",
    after_help = "Examples:\n  \
        # In the cluster (config/operator): leader election on, every namespace\n  \
        agw-operator --proxy-image ghcr.io/agw-dev/agw-proxy:0.1.0\n\n  \
        # From a laptop against the current kubeconfig context, one namespace, no Lease\n  \
        agw-operator --namespace team-a --leader-election=false\n\n\
        Admin endpoints (plain HTTP on --admin): /healthz, /readyz, /metrics (Prometheus)."
)]
struct Args {
    /// Serve Backends in this namespace only (default: every namespace).
    #[arg(long, env = "AGW_WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Container image of agw-proxy for the Deployments.
    #[arg(
        long,
        env = "AGW_PROXY_IMAGE",
        default_value = "ghcr.io/agw-dev/agw-proxy:0.1.0"
    )]
    proxy_image: String,
    /// Proxy replicas per Backend.
    #[arg(long, default_value_t = 2)]
    proxy_replicas: i32,
    /// CPU request of a proxy pod.
    #[arg(long, default_value = "50m")]
    proxy_cpu_request: String,
    /// Memory request of a proxy pod.
    #[arg(long, default_value = "32Mi")]
    proxy_memory_request: String,
    /// Memory limit of a proxy pod.
    #[arg(long, default_value = "256Mi")]
    proxy_memory_limit: String,
    /// Directory in proxy pods under which the bundle and auth Secrets are mounted.
    #[arg(long, default_value = "/var/run/agw")]
    proxy_mount_root: String,
    /// Extra argument for every proxy (repeatable), e.g. --proxy-arg=--max-body-bytes=8388608.
    #[arg(long = "proxy-arg", value_name = "ARG", allow_hyphen_values = true)]
    proxy_extra: Vec<String>,
    /// Redis every proxy shares its rate-limit budgets in (redis://[:PASSWORD@]HOST:PORT[/DB]),
    /// handed to the proxies as their AGW_RATE_LIMIT_REDIS (not an argument `ps` shows; still
    /// readable in the Deployments). Without it each proxy replica counts on its own.
    #[arg(
        long,
        value_name = "URL",
        env = "AGW_PROXY_RATE_LIMIT_REDIS",
        hide_env_values = true,
        value_parser = redis_url
    )]
    proxy_rate_limit_redis: Option<String>,
    /// Address for /healthz, /readyz and /metrics.
    #[arg(long, default_value = "0.0.0.0:9093", env = "AGW_OPERATOR_ADMIN")]
    admin: SocketAddr,
    /// Compete for a Lease so that only one replica reconciles.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the Lease.
    #[arg(long, default_value = "agw-operator")]
    lease_name: String,
    /// Namespace of the Lease (default: the pod's namespace, else agw-system).
    #[arg(long, env = "POD_NAMESPACE", default_value = "agw-system")]
    lease_namespace: String,
    /// This replica's identity in the Lease (default: the pod name, else the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// How long the Lease holds without renewal.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    lease_duration: Duration,
    /// How often the leader renews the Lease.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    lease_renew: Duration,
    /// ValidatingWebhookConfiguration whose caBundle the operator keeps (empty: no certificate upkeep).
    #[arg(long, default_value = "agw-webhook")]
    webhook_configuration: String,
    /// Namespace of the webhook Service and its certificate Secrets (default: --lease-namespace).
    #[arg(long)]
    webhook_namespace: Option<String>,
    /// Name of the webhook Service (the certificate is issued for its cluster DNS names).
    #[arg(long, default_value = "agw-webhook")]
    webhook_service: String,
    /// Secret the webhook pods mount (tls.crt, tls.key); the CA lives in <name>-ca.
    #[arg(long, default_value = "agw-webhook-tls")]
    webhook_tls_secret: String,
    /// Extra DNS name or IP for the webhook certificate (repeatable), for a webhook reached by URL.
    #[arg(long = "webhook-cert-name", value_name = "NAME")]
    webhook_cert_names: Vec<String>,
    /// How often the webhook certificate and caBundle are checked.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
    webhook_cert_interval: Duration,
    /// Gateway API support: `auto` (on when the cluster serves gateway.networking.k8s.io/v1),
    /// `on` or `off`.
    #[arg(long, value_enum, default_value_t = GatewayApi::Auto)]
    gateway_api: GatewayApi,
    /// The GatewayClass `controllerName` agw manages.
    #[arg(long, default_value = agw_operator::gateway::DEFAULT_CONTROLLER_NAME)]
    gateway_controller_name: String,
    /// GatewayClass created with --gateway-controller-name when no class of that name exists
    /// (the tutorial's Gateway names `agentgateway`); an existing class is never changed.
    /// Empty: create none.
    #[arg(long, default_value = agw_operator::gateway::DEFAULT_CLASS_NAME)]
    gateway_class: String,
    /// Log format: `text` for people (coloured only on a terminal), `json` (one object a
    /// line) for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "AGW_LOG_FORMAT")]
    log_format: LogFormat,
    /// OpenTelemetry collector to send reconcile spans to, as OTLP over HTTP/protobuf: a base
    /// URL such as `http://127.0.0.1:4318` (`/v1/traces` is appended). Unset, the
    /// OpenTelemetry variables apply (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    /// OTEL_EXPORTER_OTLP_ENDPOINT); with none, no traces. Sampling follows
    /// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, the service name OTEL_SERVICE_NAME
    /// (default `agw-operator`).
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// How often each ready proxy pod of a Backend is asked for its recent errors (on its
    /// admin port), each becoming a Warning Event `ProxyError` on the Backend. `0s`: never.
    #[arg(long, default_value = proxy_errors::DEFAULT_INTERVAL, value_parser = humantime::parse_duration)]
    proxy_errors_interval: Duration,
}

/// Whether the Gateway API controllers run (`--gateway-api`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum GatewayApi {
    /// On when the cluster serves gateway.networking.k8s.io/v1 (checked every 30 s).
    Auto,
    On,
    Off,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("agw-operator: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(traced(args)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("agw-operator: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Starts logging and, when configured, trace export (reconcile spans), runs the operator,
/// and posts the last spans before the process ends.
async fn traced(args: Args) -> Result<ExitCode, String> {
    let (endpoint, format) = (args.otlp_endpoint.clone(), args.log_format);
    agw_runtime::otel::traced("agw-operator", endpoint.as_deref(), format, run(args)).await
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("cannot build a Kubernetes client (in-cluster or KUBECONFIG): {e}"))?;
    let metrics = Arc::new(Metrics::new());
    let admin = tokio::net::TcpListener::bind(args.admin)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.admin))?;
    let shutdown = agw_runtime::shutdown::on_signal();
    tokio::spawn(agw_runtime::admin::serve(
        admin,
        metrics.clone(),
        Duration::from_secs(10),
        shutdown.clone(),
    ));

    let identity = args.identity.clone().unwrap_or_else(host_name);
    let elector = args.leader_election.then(|| {
        Arc::new(Elector::new(
            client.clone(),
            LeaseConfig {
                name: args.lease_name.clone(),
                namespace: args.lease_namespace.clone(),
                identity: identity.clone(),
                duration: args.lease_duration,
                renew_every: args.lease_renew,
            },
        ))
    });
    let lost = Arc::new(tokio::sync::Notify::new());
    if let Some(elector) = &elector {
        tokio::select! {
            () = elector.acquire() => {}
            () = shutdown.cancelled() => return Ok(ExitCode::SUCCESS),
        }
        tracing::info!(%identity, "leading");
        let holder = elector.clone();
        let lost = lost.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            holder.hold().await;
            lost.notify_one();
            stop.cancel();
        });
    }
    metrics.became_leader();

    let context = Arc::new(Context {
        client: client.clone(),
        settings: settings(&args),
        metrics: metrics.clone(),
        reporter: Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: identity.clone(),
        },
    });
    let scope = args
        .namespace
        .clone()
        .map_or(Scope::Cluster, Scope::Namespace);
    tracing::info!(?scope, image = %args.proxy_image, "reconciling Backends");
    let gateways = (args.gateway_api != GatewayApi::Off).then(|| {
        let (index, writers) = gateway::index::new();
        let ctx = Arc::new(GatewayContext {
            base: context.clone(),
            controller_name: args.gateway_controller_name.clone(),
            index,
        });
        tokio::spawn(run_gateways(
            ctx,
            writers,
            args.gateway_class.clone(),
            scope.clone(),
            args.gateway_api == GatewayApi::On,
            shutdown.clone(),
        ))
    });
    spawn_leader_tasks(&args, &context, &scope, &shutdown);
    controller::run(context, scope, shutdown.cancelled_owned()).await;
    if let Some(gateways) = gateways {
        let _ = gateways.await;
    }
    if lost_leadership(&lost).await {
        return Ok(ExitCode::FAILURE);
    }
    if let Some(elector) = &elector {
        elector.release().await;
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Runs the GatewayClass and Gateway controllers once the Gateway API is served: at once
/// with `--gateway-api=on`; with `auto`, as soon as a check (every 30 s) finds its CRDs, so
/// installing them later needs no operator restart.
async fn run_gateways(
    ctx: Arc<GatewayContext>,
    writers: gateway::index::Writers,
    class: String,
    scope: Scope,
    forced: bool,
    stop: CancellationToken,
) {
    let mut announced = false;
    while !forced && !gateway::controller::gateway_api_installed(&ctx.base.client).await {
        if !announced {
            tracing::info!(
                "Gateway API CRDs are not installed; serving Backends, checking again every 30s"
            );
            announced = true;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(30)) => {}
            () = stop.cancelled() => return,
        }
    }
    tracing::info!(controller = %ctx.controller_name, "reconciling Gateways and HTTPRoutes");
    if !class.is_empty() {
        match gateway::class::ensure_class(&ctx.base.client, &class, &ctx.controller_name).await {
            Ok(gateway::class::Ensured::Created) => {
                tracing::info!(%class, "created GatewayClass");
            }
            Ok(gateway::class::Ensured::Exists) => {
                tracing::debug!(%class, "GatewayClass exists; left as it is");
            }
            Err(error) => tracing::warn!(%class, %error, "could not create GatewayClass"),
        }
    }
    tokio::join!(
        gateway::class::run(ctx.clone(), stop.clone().cancelled_owned()),
        gateway::controller::run(ctx, writers, scope, stop.cancelled_owned()),
    );
}

/// What the leader does beside reconciling: keep the webhook certificate, and raise the
/// proxies' errors as Events.
fn spawn_leader_tasks(
    args: &Args,
    context: &Arc<Context>,
    scope: &Scope,
    shutdown: &CancellationToken,
) {
    if !args.webhook_configuration.is_empty() {
        tokio::spawn(webhook_certs::maintain(
            context.client.clone(),
            webhook_cert_config(args),
        ));
    }
    if !args.proxy_errors_interval.is_zero() {
        tokio::spawn(proxy_errors::run(
            context.clone(),
            scope.clone(),
            args.proxy_errors_interval,
            shutdown.clone(),
        ));
    }
}

async fn lost_leadership(lost: &tokio::sync::Notify) -> bool {
    tokio::time::timeout(Duration::from_millis(1), lost.notified())
        .await
        .is_ok()
}

fn webhook_cert_config(args: &Args) -> WebhookCertConfig {
    WebhookCertConfig {
        configuration: args.webhook_configuration.clone(),
        namespace: args
            .webhook_namespace
            .clone()
            .unwrap_or_else(|| args.lease_namespace.clone()),
        service: args.webhook_service.clone(),
        secret: args.webhook_tls_secret.clone(),
        extra_names: args.webhook_cert_names.clone(),
        interval: args.webhook_cert_interval,
    }
}

fn settings(args: &Args) -> ProxySettings {
    ProxySettings {
        image: args.proxy_image.clone(),
        replicas: args.proxy_replicas,
        cpu_request: args.proxy_cpu_request.clone(),
        memory_request: args.proxy_memory_request.clone(),
        memory_limit: args.proxy_memory_limit.clone(),
        mount_root: args.proxy_mount_root.clone(),
        extra_args: args.proxy_extra.clone(),
        rate_limit_redis: args.proxy_rate_limit_redis.clone(),
    }
}

/// A URL the proxy accepts for `--rate-limit-redis`, refused here rather than in every pod.
fn redis_url(url: &str) -> Result<String, String> {
    if url.starts_with("redis://") && url.len() > "redis://".len() {
        Ok(url.to_owned())
    } else {
        Err("not a Redis URL: expected redis://[:PASSWORD@]HOST:PORT[/DB] (no TLS)".to_owned())
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map_or_else(
        |_| format!("agw-operator-{}", std::process::id()),
        |name| name.trim().to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxies_redis_is_a_redis_url_handed_to_every_proxy() {
        let args = Args::try_parse_from([
            "agw-operator",
            "--proxy-rate-limit-redis=redis://redis.agw-system:6379/0",
        ])
        .unwrap();
        assert_eq!(
            settings(&args).rate_limit_redis.as_deref(),
            Some("redis://redis.agw-system:6379/0")
        );
        let refused =
            Args::try_parse_from(["agw-operator", "--proxy-rate-limit-redis=http://redis:6379"])
                .unwrap_err();
        assert!(refused.to_string().contains("not a Redis URL"), "{refused}");
        let unset = Args::try_parse_from(["agw-operator"]).unwrap();
        assert_eq!(settings(&unset).rate_limit_redis, None);
    }
}
