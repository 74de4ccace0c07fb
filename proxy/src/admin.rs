//! The admin port: `/healthz` (the process runs), `/readyz` (a bundle is loaded), `/metrics`.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::body::{ProxyBody, full};
use crate::state::State;

pub fn handle(state: &State, req: &Request<Incoming>) -> Response<ProxyBody> {
    let (status, content_type, body) = match req.uri().path() {
        "/healthz" | "/livez" => (StatusCode::OK, "text/plain", Bytes::from_static(b"ok\n")),
        "/readyz" if state.is_ready() => {
            (StatusCode::OK, "text/plain", Bytes::from_static(b"ready\n"))
        }
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            Bytes::from_static(b"no bundle loaded\n"),
        ),
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Bytes::from(state.metrics.encode()),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            Bytes::from_static(b"not found: try /healthz, /readyz or /metrics\n"),
        ),
    };
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
