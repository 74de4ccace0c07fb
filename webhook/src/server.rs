//! The HTTPS admission endpoint and the connection loop around it.
//!
//! Each TLS connection is served by hyper (HTTP/1.1 or h2, as the apiserver negotiates) with
//! the axum router through [`agw_runtime::serve`]; on shutdown the listener closes first, then
//! in-flight reviews get up to the drain timeout to finish.
//!
//! Each review runs in a `tracing` server span marked for export (see
//! [`agw_runtime::otel::layer`]): kind, `namespace/name`, operation, the verdict and its
//! number of errors, continuing the apiserver's W3C `traceparent` when it sends a valid one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agw_runtime::serve::{self, Timeouts, Tls};
use agw_runtime::shutdown::CancellationToken;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::admission::{self, Answer, Outcome};
use crate::metrics::Metrics;

/// Time a client (the apiserver) has for its TLS handshake, and then for a request's headers.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits on one admission request.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// Largest body accepted. An AdmissionReview carries the object and the old object.
    pub max_body_bytes: usize,
    /// Time to read the body and answer; the apiserver gives up after the webhook's
    /// `timeoutSeconds` anyway, so there is no point in working longer.
    pub timeout: Duration,
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    timeout: Duration,
}

/// The router for `POST /validate`.
pub fn validate_router(metrics: Arc<Metrics>, limits: RequestLimits) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found: the admission endpoint is POST /validate\n",
            )
        })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(AppState {
            metrics,
            timeout: limits.timeout,
        })
}

async fn validate(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let parent = agw_runtime::otel::context::traceparent_of(&headers);
    let span = tracing::info_span!(
        "admission",
        otel.kind = "server",
        otel.name = "admission review",
        traceparent = parent,
        k8s.object.kind = Empty,
        k8s.namespace.name = Empty,
        k8s.object.name = Empty,
        k8s.object.key = Empty,
        admission.operation = Empty,
        admission.outcome = Empty,
        admission.allowed = Empty,
        admission.errors = Empty,
        error.type = Empty,
    );
    judge(state, body).instrument(span).await
}

async fn judge(state: AppState, body: Bytes) -> Response {
    let started = Instant::now();
    // Compiling regexes is CPU work; keep it off the I/O threads.
    let work = tokio::task::spawn_blocking(move || admission::review(&body));
    let answer = match tokio::time::timeout(state.timeout, work).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(join)) => {
            tracing::error!(error = %join, "admission review task failed");
            tracing::Span::current().record("error.type", "internal");
            return failure(
                &state,
                started,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error\n",
            );
        }
        Err(_) => {
            tracing::Span::current().record("error.type", "timeout");
            return failure(
                &state,
                started,
                StatusCode::SERVICE_UNAVAILABLE,
                "timed out\n",
            );
        }
    };
    match answer {
        Ok(answer) => respond(&state, started, answer),
        Err(malformed) => {
            tracing::warn!(error = %malformed, "malformed admission request");
            tracing::Span::current().record("error.type", "malformed");
            let message = format!("{malformed}\n");
            failure(&state, started, StatusCode::BAD_REQUEST, &message)
        }
    }
}

fn respond(state: &AppState, started: Instant, answer: Answer) -> Response {
    let Answer {
        review,
        outcome,
        operation,
        object,
        kind,
        errors,
    } = answer;
    record(&kind, &object, operation, outcome, errors);
    state
        .metrics
        .admission(operation, outcome.as_str(), started.elapsed());
    if outcome == Outcome::Denied {
        let message = review
            .response
            .as_ref()
            .map(|r| r.result.message.clone())
            .unwrap_or_default();
        tracing::info!(%object, operation, %message, "denied");
    } else {
        tracing::debug!(%object, operation, outcome = outcome.as_str(), "admitted");
    }
    match serde_json::to_vec(&review) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot encode the AdmissionReview");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// Puts the review's verdict on the current (admission) span.
fn record(kind: &str, object: &str, operation: &str, outcome: Outcome, errors: usize) {
    let span = tracing::Span::current();
    let (namespace, name) = object.split_once('/').unwrap_or(("", object));
    span.record("k8s.object.kind", kind);
    span.record("k8s.namespace.name", namespace);
    span.record("k8s.object.name", name);
    span.record("k8s.object.key", object);
    span.record("admission.operation", operation);
    span.record("admission.outcome", outcome.as_str());
    span.record("admission.allowed", outcome != Outcome::Denied);
    span.record("admission.errors", errors as u64);
}

fn failure(state: &AppState, started: Instant, status: StatusCode, message: &str) -> Response {
    state.metrics.admission("", "malformed", started.elapsed());
    (status, message.to_owned()).into_response()
}

/// Serves `router` over TLS on `listener` until `shutdown` is cancelled, then drains for up
/// to `drain`. A client has 10 s for its TLS handshake and 10 s more for its headers.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let handshake = Tls::new(tls, CLIENT_TIMEOUT);
    let service_for = move |_peer| TowerToHyperService::new(router.clone());
    let timeouts = Timeouts {
        header_read: CLIENT_TIMEOUT,
        drain,
    };
    serve::serve(
        "admission",
        listener,
        handshake,
        service_for,
        timeouts,
        shutdown,
    )
    .await;
}
