//! The request path: route, guard, authenticate, forward, stream back.

use std::sync::Arc;
use std::time::Instant;

use agw_policy::bundle::{BundleBackend, RouteType};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;

use crate::access_log::Entry;
use crate::audit::Capture;
use crate::body::{BoxError, ProxyBody, full};
use crate::clients::Gate;
use crate::error::{ProxyError, Result, error_response};
use crate::guard::{self, Inspected, ModelRewrite, Models};
use crate::metrics::{RequestLabels, TokenCounters, UpstreamLabels};
use crate::response_guard;
use crate::rewrite;
use crate::router;
use crate::snapshot::Snapshot;
use crate::state::State;

/// Header naming the guard that rejected a request.
pub const GUARD_HEADER: &str = "agw-guard";
/// Header describing a model rewrite (pinned model or alias), `<requested> -> <sent>`.
pub const MODEL_REWRITE_HEADER: &str = "agw-model-rewrite";

/// What is learned while handling a request: labels for the request metric, the
/// access-log entry (which carries the trace), the audit capture when the backend asks for
/// one, and the token counters once an upstream answered.
struct Observed {
    backend: String,
    route: &'static str,
    log: Entry,
    audit: Option<Capture>,
    tokens: Option<TokenCounters>,
}

/// Handles one client request; never fails (errors become Anthropic-format responses).
pub async fn handle(state: Arc<State>, mut req: Request<Incoming>) -> Response<ProxyBody> {
    let mut observed = Observed {
        backend: String::new(),
        route: "",
        log: {
            let trace = state.tracer.request(req.headers_mut());
            state.access_log.start(&mut req, trace)
        },
        audit: None,
        tokens: None,
    };
    let response = proxy(&state, req, &mut observed).await.unwrap_or_else(|err| {
        tracing::warn!(backend = %observed.backend, route = observed.route, request_id = observed.log.request_id(), error = %err, "request failed");
        observed.log.fail(err.kind());
        err.into_response()
    });
    let status_class = format!("{}xx", response.status().as_u16() / 100);
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            backend: observed.backend,
            route: observed.route.to_owned(),
            status_class,
        })
        .inc();
    observed
        .log
        .finish(response, observed.audit, observed.tokens)
}

async fn proxy(
    state: &State,
    req: Request<Incoming>,
    observed: &mut Observed,
) -> Result<Response<ProxyBody>> {
    let snapshot = state.snapshot().ok_or(ProxyError::NotReady)?;
    let path = router::normalize_path(req.uri().path());
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(req.uri().host());
    let rule = router::select(&snapshot.bundle, host, &path, req.headers())
        .ok_or_else(|| ProxyError::NoRoute(path.clone()))?;
    let key = rule
        .backend
        .as_deref()
        .ok_or_else(|| ProxyError::BackendUnavailable(path.clone()))?;
    let path = router::rewritten(rule, &path).into_owned();
    let backend = snapshot
        .bundle
        .backends
        .get(key)
        .ok_or_else(|| ProxyError::NoRoute(path.clone()))?;
    key.clone_into(&mut observed.backend);
    // An unguarded route for a path that looks like a guarded one is no route at all.
    let route =
        router::route_for(backend, &path).ok_or_else(|| ProxyError::NoRoute(path.clone()))?;
    observed.route = route.as_str();
    observed.log.route(key, route);
    let gate = Gate::open(state, &snapshot, key, req.headers(), &mut observed.log).await?;
    let (parts, body) = req.into_parts();
    let (body, rewrite) = if route.is_guarded() {
        let bytes = read_body(body, &parts.headers, state.limits.max_body_bytes).await?;
        observed.log.request_size(bytes.len());
        gate.admit(state, Some(&bytes), &Models::of(backend), &mut observed.log)
            .await?;
        guard::check_media(&parts.headers, &bytes)?;
        // agentgateway's order: the guards read the enriched prompt, and defaults and
        // overrides are set after the guards read the client's text.
        let bytes = rewrite::enrich::apply(&backend.request, bytes)?;
        match guard(state, &snapshot, key, backend, bytes, &mut observed.log)? {
            Guarded::Reject(response) => return Ok(response),
            Guarded::Forward { body, rewrite } => {
                let body = match crate::guard::webhook::request::apply(
                    state,
                    key,
                    backend,
                    body,
                    &parts.headers,
                    &mut observed.log,
                    reject_response,
                )
                .await?
                {
                    Ok(body) => body,
                    Err(rejected) => return Ok(rejected),
                };
                let body = if route == RouteType::Messages {
                    rewrite::fields::apply(&backend.request, body)?
                } else {
                    body
                };
                if let Some(audit) = backend.audit {
                    let id = observed.log.request_id();
                    observed.audit = state.audit.capture(id, key, &body, audit.max_bytes);
                }
                (full(body), rewrite)
            }
        }
    } else {
        gate.admit(state, None, &Models::of(backend), &mut observed.log)
            .await?;
        observed.log.declared_size(&parts.headers);
        (body.map_err(BoxError::new).boxed(), None)
    };
    let mut upstream = upstream_request(&parts, &path, backend, &snapshot, key, body)?;
    let up = &backend.upstream;
    observed
        .log
        .upstream_request(upstream.headers_mut(), &up.host, up.port);
    if response_guarded(&snapshot, key, route) {
        // Response guards read the body: ask for it uncompressed.
        upstream.headers_mut().insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    let client = state.client_for(&backend.upstream)?;
    let started = Instant::now();
    let response = tokio::time::timeout(state.limits.upstream_timeout, client.request(upstream))
        .await
        .map_err(|_| ProxyError::UpstreamTimeout(state.limits.upstream_timeout))?
        .map_err(|e| ProxyError::Upstream(Box::new(e)))?;
    state
        .metrics
        .upstream_duration
        .get_or_create(&UpstreamLabels {
            backend: key.to_owned(),
            route: route.as_str().to_owned(),
        })
        .observe(started.elapsed().as_secs_f64());
    observed
        .log
        .upstream(response.status().as_u16(), started.elapsed());
    observed.tokens = Some(state.metrics.tokens_for(key));
    Ok(respond(state, &snapshot, key, route, response, rewrite).await)
}

/// Whether the backend's response guards inspect this route's responses.
fn response_guarded(snapshot: &Snapshot, key: &str, route: RouteType) -> bool {
    route == RouteType::Messages && snapshot.engine.response(key).is_some()
}

async fn read_body(body: Incoming, headers: &HeaderMap, limit: usize) -> Result<Bytes> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ProxyError::TooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            Err(ProxyError::TooLarge { limit })
        }
        Err(err) => Err(ProxyError::BadBody(err)),
    }
}

fn guard(
    state: &State,
    snapshot: &Snapshot,
    key: &str,
    backend: &BundleBackend,
    bytes: Bytes,
    log: &mut Entry,
) -> Result<Guarded> {
    let guards = snapshot.engine.backend(key);
    log.guard_started();
    let (inspected, head) = match guard::inspect_with_head(guards, Models::of(backend), bytes) {
        Ok(inspected) => inspected,
        Err(err) => {
            // The body cannot be guarded, so it is refused (fail closed).
            log.guard_ended("error", None, 0);
            return Err(err);
        }
    };
    log.request_head(&head);
    match inspected {
        Inspected::Reject(rejected) => {
            log.guard_ended("reject", Some(&rejected.guard_id), 1);
            state
                .metrics
                .count_guard(key, &rejected.guard_id, "reject", 1);
            log.guard(&rejected.guard_id, "reject", 1);
            log.fail("guard_rejected");
            tracing::info!(backend = key, guard = %rejected.guard_id, status = rejected.status, request_id = log.request_id(), "request rejected by guard");
            Ok(Guarded::Reject(reject_response(
                rejected.status,
                &rejected.message,
                &rejected.guard_id,
            )))
        }
        Inspected::Forward {
            body,
            rewrite,
            masked,
        } => {
            let first = masked.first().map(|hit| hit.guard_id.as_str());
            let spans = masked.iter().map(|hit| hit.count as u64).sum();
            log.guard_ended(if first.is_some() { "mask" } else { "allow" }, first, spans);
            for hit in &masked {
                state
                    .metrics
                    .count_guard(key, &hit.guard_id, "mask", hit.count as u64);
                log.guard(&hit.guard_id, "mask", hit.count as u64);
                tracing::info!(backend = key, guard = %hit.guard_id, spans = hit.count, request_id = log.request_id(), "request masked by guard");
            }
            if let Some(rewrite) = &rewrite {
                log.upstream_model(&rewrite.sent);
            }
            Ok(Guarded::Forward { body, rewrite })
        }
    }
}

enum Guarded {
    Reject(Response<ProxyBody>),
    Forward {
        body: Bytes,
        rewrite: Option<ModelRewrite>,
    },
}

/// The guard's rejection, in Anthropic's error format, marked as not worth retrying.
pub(crate) fn reject_response(status: u16, message: &str, guard_id: &str) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = error_response(status, "invalid_request_error", message);
    let headers = response.headers_mut();
    headers.insert("x-should-retry", HeaderValue::from_static("false"));
    if let Ok(value) = HeaderValue::from_str(guard_id) {
        headers.insert(GUARD_HEADER, value);
    }
    response
}

/// Headers that describe one hop and never cross the proxy.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| {
            v.split(',')
                .map(str::trim)
                .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
                .collect::<Vec<_>>()
        })
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .chain(listed)
    {
        headers.remove(name);
    }
}

fn upstream_request(
    parts: &http::request::Parts,
    path: &str,
    backend: &BundleBackend,
    snapshot: &Snapshot,
    key: &str,
    body: ProxyBody,
) -> Result<Request<ProxyBody>> {
    let up = &backend.upstream;
    let default_port = if up.tls { 443 } else { 80 };
    let host = if up.host.contains(':') {
        format!("[{}]", up.host)
    } else {
        up.host.clone()
    };
    let authority = if up.port == default_port {
        host
    } else {
        format!("{host}:{}", up.port)
    };
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let scheme = if up.tls { "https" } else { "http" };
    let uri = format!("{scheme}://{authority}{}{path}{query}", up.path_prefix);
    let mut request = Request::builder()
        .method(parts.method.clone())
        .uri(uri)
        .body(body)
        .map_err(|e| ProxyError::Upstream(Box::new(e)))?;
    let headers = request.headers_mut();
    *headers = parts.headers.clone();
    strip_hop_by_hop(headers);
    // Host names the upstream as the URI does, even when `policies.tls.sni` sends another
    // server name: SNI only picks and verifies the certificate, as with Envoy's `sni` and
    // agentgateway's `policies.tls.sni`, neither of which touches Host. An upstream that
    // routes by Host behind a shared certificate gets the host the Backend names.
    headers.remove(header::HOST);
    if let Ok(value) = HeaderValue::from_str(&authority) {
        headers.insert(header::HOST, value);
    }
    if let Some(size) = request_size(&request) {
        request
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    if let Some(auth) = &backend.auth {
        let api_key = snapshot.keys.get(key).cloned().flatten().ok_or_else(|| {
            ProxyError::NoKey(
                snapshot
                    .key_errors
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| "no key loaded".to_owned()),
            )
        })?;
        let headers = request.headers_mut();
        headers.remove(header::AUTHORIZATION);
        headers.remove("x-api-key");
        let name = HeaderName::from_bytes(auth.header.as_bytes())
            .map_err(|e| ProxyError::NoKey(e.to_string()))?;
        let mut value = HeaderValue::from_str(&api_key).map_err(|_| {
            ProxyError::NoKey("the key contains characters not allowed in a header".into())
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(request)
}

/// Exact size of a body held in memory; streamed bodies keep the client's framing.
fn request_size(request: &Request<ProxyBody>) -> Option<u64> {
    http_body::Body::size_hint(request.body()).exact()
}

async fn respond(
    state: &State,
    snapshot: &Arc<Snapshot>,
    key: &str,
    route: RouteType,
    response: Response<Incoming>,
    rewrite: Option<ModelRewrite>,
) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let streaming = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut body = body.map_err(BoxError::new).boxed();
    if let Some(rewrite) = rewrite {
        let ModelRewrite {
            requested, sent, ..
        } = &rewrite;
        if let Ok(value) = HeaderValue::from_str(&format!("{requested} -> {sent}")) {
            parts.headers.insert(MODEL_REWRITE_HEADER, value);
        }
        if parts.status.is_client_error() {
            body = crate::pinned::annotate(body, &mut parts.headers, &rewrite).await;
        }
    }
    tracing::debug!(
        backend = key,
        route = route.as_str(),
        status = parts.status.as_u16(),
        "upstream answered"
    );
    if response_guarded(snapshot, key, route) && parts.status.is_success() {
        let guarded = guard_response(state, snapshot, key, parts, body, streaming).await;
        let (guarded_parts, guarded_body) = guarded.into_parts();
        (parts, body) = (guarded_parts, guarded_body);
    }
    Response::from_parts(parts, body)
}

/// Applies the response guards: JSON bodies always, SSE streams when the bundle says so.
async fn guard_response(
    state: &State,
    snapshot: &Arc<Snapshot>,
    key: &str,
    parts: http::response::Parts,
    body: ProxyBody,
    streaming: bool,
) -> Response<ProxyBody> {
    let counting = response_guard::Counting {
        decisions: state.metrics.guard_decisions.clone(),
        backend: key.to_owned(),
    };
    let streams = snapshot
        .bundle
        .backends
        .get(key)
        .is_some_and(|b| b.guards.streaming);
    match (streaming, streams) {
        (true, true) => response_guard::guard_stream(Arc::clone(snapshot), counting, parts, body),
        // As in agentgateway: without `streaming: Enabled`, streams pass unguarded.
        (true, false) => Response::from_parts(parts, body),
        (false, _) => {
            let limit = state.limits.max_body_bytes;
            response_guard::guard_json(
                Some(state),
                snapshot,
                &counting,
                parts,
                body,
                limit,
                reject_response,
            )
            .await
        }
    }
}
