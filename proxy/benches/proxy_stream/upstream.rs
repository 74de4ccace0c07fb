//! The bench upstream: every Messages call gets an Anthropic SSE stream of a 2 KB reply in
//! 40 `text_delta`s, paced, with the time each delta was written kept by stream id.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use http_body_util::StreamBody;
use http_body_util::combinators::BoxBody;
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::runtime::Runtime;

/// Text deltas per reply.
pub const DELTAS: usize = 40;
/// Bytes of reply text.
pub const REPLY_BYTES: usize = 2048;

/// When each stream's deltas were written, by the `x-bench-id` its request carried.
#[derive(Default)]
pub struct Sent(pub Mutex<HashMap<u64, Vec<Instant>>>);

/// The reply's deltas: plain prose (no guard matches), 2,048 bytes in 40 pieces.
pub fn deltas() -> Vec<String> {
    let words = "the quick brown fox jumps over the lazy dog while the proxy reads each line ";
    let text: String = words.chars().cycle().take(REPLY_BYTES).collect();
    let size = REPLY_BYTES.div_ceil(DELTAS);
    text.as_bytes()
        .chunks(size)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect()
}

fn event(name: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

pub fn start_upstream(rt: &Runtime, sent: Arc<Sent>, pace: Duration) -> SocketAddr {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let pieces = Arc::new(deltas());
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (sent, pieces) = (Arc::clone(&sent), Arc::clone(&pieces));
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let (sent, pieces) = (Arc::clone(&sent), Arc::clone(&pieces));
                    async move { Ok::<_, Infallible>(answer(&req, sent, pieces, pace)) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn answer(
    req: &Request<Incoming>,
    sent: Arc<Sent>,
    pieces: Arc<Vec<String>>,
    pace: Duration,
) -> Response<BoxBody<Bytes, Infallible>> {
    let id: u64 = req
        .headers()
        .get("x-bench-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
    tokio::spawn(async move {
        let start = r#"{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-bench","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}"#;
        let _ = tx
            .send(Ok(Frame::data(event("message_start", start))))
            .await;
        let block =
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#;
        let _ = tx
            .send(Ok(Frame::data(event("content_block_start", block))))
            .await;
        let mut times = Vec::with_capacity(pieces.len());
        let mut tick = tokio::time::interval(pace);
        for piece in pieces.iter() {
            tick.tick().await;
            let data = format!(
                r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{piece}"}}}}"#
            );
            times.push(Instant::now());
            if tx
                .send(Ok(Frame::data(event("content_block_delta", &data))))
                .await
                .is_err()
            {
                return;
            }
        }
        sent.0.lock().unwrap().insert(id, times);
        let stop = r#"{"type":"content_block_stop","index":0}"#;
        let _ = tx
            .send(Ok(Frame::data(event("content_block_stop", stop))))
            .await;
        let delta = r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":400}}"#;
        let _ = tx
            .send(Ok(Frame::data(event("message_delta", delta))))
            .await;
        let _ = tx
            .send(Ok(Frame::data(event(
                "message_stop",
                r#"{"type":"message_stop"}"#,
            ))))
            .await;
    });
    let stream = tokio_stream_from(rx);
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(StreamBody::new(stream).boxed())
        .unwrap()
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
