//! The plain-HTTP admin port every agw binary serves: `/healthz` and `/livez` (the process
//! runs), `/readyz` (what "ready" means is the binary's: a bundle loaded, caches synced, the
//! webhook serving) and `/metrics` (the binary's Prometheus registry, OpenMetrics text).
//!
//! Owns the routes, their bodies and content types (the connection loop is [`crate::serve`]).
//! Must not know what readiness means or which metrics exist ([`Health`] tells it), nor what
//! a binary's own extra routes ([`Health::route`]) answer.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::serve::{self, Plain, Timeouts};

/// The OpenMetrics content type of `/metrics`.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// How long admin requests in flight may take once shutdown starts (probes and scrapes are
/// quick; nobody waits for a stopping process's metrics).
pub const DRAIN: Duration = Duration::from_secs(1);

/// What a binary tells its admin port.
pub trait Health: Send + Sync + 'static {
    /// `Ok` when ready to serve; otherwise the reason, sent with 503.
    fn ready(&self) -> Result<(), &'static str>;
    /// The metrics, in OpenMetrics text.
    fn metrics(&self) -> String;
    /// The binary's answer for a path the shared routes do not serve (`query` is the URL's
    /// query string), or `None` for 404. Most binaries have none.
    fn route(&self, _path: &str, _query: Option<&str>) -> Option<Response<Full<Bytes>>> {
        None
    }
}

/// The admin answer for `path` (with `query`).
pub fn respond(health: &dyn Health, path: &str, query: Option<&str>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/healthz" | "/livez" => (StatusCode::OK, "text/plain", Bytes::from_static(b"ok\n")),
        "/readyz" => match health.ready() {
            Ok(()) => (StatusCode::OK, "text/plain", Bytes::from_static(b"ready\n")),
            Err(reason) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                Bytes::from(format!("{reason}\n")),
            ),
        },
        "/metrics" => (StatusCode::OK, OPENMETRICS, Bytes::from(health.metrics())),
        _ => {
            if let Some(response) = health.route(path, query) {
                return response;
            }
            (
                StatusCode::NOT_FOUND,
                "text/plain",
                Bytes::from_static(b"not found: try /healthz, /readyz or /metrics\n"),
            )
        }
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Serves the admin routes on `listener` until `shutdown` is cancelled, then lets requests in
/// flight finish for up to [`DRAIN`]. A client has `header_read_timeout` to send its headers.
pub async fn serve(
    listener: TcpListener,
    health: Arc<dyn Health>,
    header_read_timeout: Duration,
    shutdown: CancellationToken,
) {
    let service_for = move |_peer| {
        let health = health.clone();
        service_fn(move |req: Request<hyper::body::Incoming>| {
            let response = respond(health.as_ref(), req.uri().path(), req.uri().query());
            async move { Ok::<_, Infallible>(response) }
        })
    };
    let timeouts = Timeouts {
        header_read: header_read_timeout,
        drain: DRAIN,
    };
    serve::serve("admin", listener, Plain, service_for, timeouts, shutdown).await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use http_body_util::BodyExt as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[derive(Default)]
    struct Probe {
        ready: AtomicBool,
    }

    impl Health for Probe {
        fn ready(&self) -> Result<(), &'static str> {
            if self.ready.load(Ordering::Relaxed) {
                Ok(())
            } else {
                Err("caches not synced")
            }
        }
        fn metrics(&self) -> String {
            "# EOF\n".to_owned()
        }
        fn route(&self, path: &str, query: Option<&str>) -> Option<Response<Full<Bytes>>> {
            (path == "/echo").then(|| Response::new(Full::new(Bytes::from(format!("{query:?}")))))
        }
    }

    async fn body(response: Response<Full<Bytes>>) -> (StatusCode, String, String) {
        let status = response.status();
        let kind = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, kind, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn routes_answer_with_the_binarys_readiness_and_metrics() {
        let probe = Probe::default();
        let (status, _, text) = body(respond(&probe, "/readyz", None)).await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "caches not synced\n")
        );
        probe.ready.store(true, Ordering::Relaxed);
        let (status, _, text) = body(respond(&probe, "/readyz", None)).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "ready\n"));
        for path in ["/healthz", "/livez"] {
            assert_eq!(body(respond(&probe, path, None)).await.2, "ok\n");
        }
        let (_, kind, text) = body(respond(&probe, "/metrics", None)).await;
        assert_eq!((kind.as_str(), text.as_str()), (OPENMETRICS, "# EOF\n"));
        assert_eq!(
            body(respond(&probe, "/x", None)).await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn a_binarys_own_route_gets_the_path_and_query_the_shared_ones_do_not_serve() {
        let probe = Probe::default();
        let answer = respond(&probe, "/echo", Some("after=3"));
        let bytes = answer.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"Some(\"after=3\")");
        // The shared routes stay the runtime's.
        assert_eq!(body(respond(&probe, "/healthz", Some("x"))).await.2, "ok\n");
    }

    #[tokio::test]
    async fn the_server_answers_until_cancelled_then_closes_its_port() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(
            listener,
            Arc::new(Probe::default()),
            Duration::from_secs(5),
            stop.clone(),
        ));
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("ok\n"), "{answer}");
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(3), server)
            .await
            .unwrap()
            .unwrap();
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
