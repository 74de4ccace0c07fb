//! The fast local upstream both paths are measured against.

use super::*;

pub(super) const ANSWER: &str = r#"{"id":"msg_bench0001","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Kubernetes is an open-source system for automating deployment, scaling and management of containerized applications."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":2600,"output_tokens":17}}"#;

/// A path the tutorial's config routes as Passthrough (`'*'`): the proxy forwards it without
/// reading it. The upstream answers it as it answers `/v1/messages`, so the rows compare.
pub(super) const PASSTHROUGH_PATH: &str = "/v1/passthrough-bench";

/// Where the traced proxy posts its spans (`--otlp-endpoint` is this upstream).
pub(super) const TRACES_PATH: &str = "/v1/traces";

#[derive(Default)]
pub(super) struct UpstreamStats {
    pub(super) requests: AtomicU64,
    pub(super) with_proxy_key: AtomicU64,
}

/// A minimal Anthropic stand-in: reads the whole body, answers a fixed Messages JSON at once.
pub(super) async fn upstream(
    stats: Arc<UpstreamStats>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    stats.requests.fetch_add(1, Ordering::Relaxed);
    if req
        .headers()
        .get("x-api-key")
        .is_some_and(|v| v == PROXY_KEY)
    {
        stats.with_proxy_key.fetch_add(1, Ordering::Relaxed);
    }
    let path = req.uri().path().to_owned();
    let _ = req.into_body().collect().await;
    let (status, body) = if path == "/v1/messages" || path == PASSTHROUGH_PATH {
        (StatusCode::OK, Bytes::from_static(ANSWER.as_bytes()))
    } else if path == TRACES_PATH {
        // The traced proxy's collector: an empty ExportTraceServiceResponse is success.
        (StatusCode::OK, Bytes::new())
    } else {
        (
            StatusCode::NOT_FOUND,
            Bytes::from(format!(
                r#"{{"type":"error","error":{{"type":"not_found_error","message":"Not found: {path}"}}}}"#
            )),
        )
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("request-id", "req_bench")
        .body(Full::new(body))
        .unwrap())
}

pub(super) fn start_upstream(rt: &Runtime, stats: Arc<UpstreamStats>) -> SocketAddr {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind the upstream");
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let stats = stats.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| upstream(stats.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}
