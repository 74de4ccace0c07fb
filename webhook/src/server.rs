//! The HTTPS admission endpoint and the connection loop around it.
//!
//! Each TLS connection is served by hyper (HTTP/1.1 or h2, as the apiserver negotiates) with
//! the axum router; on shutdown the listener closes first, then in-flight reviews get up to
//! the drain timeout to finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::admission::{self, Answer, Outcome};
use crate::metrics::Metrics;
use crate::{Error, Result};

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

async fn validate(State(state): State<AppState>, body: Bytes) -> Response {
    let started = Instant::now();
    // Compiling regexes is CPU work; keep it off the I/O threads.
    let work = tokio::task::spawn_blocking(move || admission::review(&body));
    let answer = match tokio::time::timeout(state.timeout, work).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(join)) => {
            tracing::error!(error = %join, "admission review task failed");
            return failure(
                &state,
                started,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error\n",
            );
        }
        Err(_) => {
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
    } = answer;
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

fn failure(state: &AppState, started: Instant, status: StatusCode, message: &str) -> Response {
    state.metrics.admission("", "malformed", started.elapsed());
    (status, message.to_owned()).into_response()
}

/// Binds a listener, with the address in the error.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Serves `router` over TLS on `listener` until `shutdown`, then drains for up to `drain`.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let builder = builder.clone();
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
            let tls = match handshake.await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            if let Err(err) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(drain_timeout = ?drain, "draining admission connections");
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout reached; closing remaining connections");
    }
}
