//! The bench client: an open loop of streams at a fixed rate, each read as it arrives; the
//! arrival of each delta's text is matched with the time the upstream wrote it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::runtime::Runtime;

use super::upstream::{Sent, deltas};

/// Latencies of a run, in nanoseconds.
#[derive(Default)]
pub struct Samples {
    pub ttft: Vec<u64>,
    pub events: Vec<u64>,
    pub failed: u64,
}

impl Samples {
    pub fn merge(&mut self, other: Self) {
        self.ttft.extend(other.ttft);
        self.events.extend(other.events);
        self.failed += other.failed;
    }

    pub fn sort(&mut self) {
        self.ttft.sort_unstable();
        self.events.sort_unstable();
    }

    pub fn ttft_p(&self, q: f64) -> u64 {
        percentile(&self.ttft, q)
    }

    pub fn event_p(&self, q: f64) -> u64 {
        percentile(&self.events, q)
    }
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

const BODY: &str = r#"{"model":"claude-bench","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"Tell me a story."}]}"#;

/// Streams `rate` a second for `secs` on `uri`; stream ids start at `first_id`.
pub fn open_loop(
    rt: &Runtime,
    uri: &Uri,
    sent: &Arc<Sent>,
    rate: u64,
    secs: Duration,
    first_id: u64,
) -> Samples {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector);
    let out = Arc::new(Mutex::new(Samples::default()));
    let ends: Vec<usize> = deltas()
        .iter()
        .scan(0, |at, d| {
            *at += d.len();
            Some(*at)
        })
        .collect();
    let ends = Arc::new(ends);
    let count = rate * secs.as_secs();
    rt.block_on(async {
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(count as usize);
        for n in 0..count {
            let due = started + Duration::from_nanos(n * 1_000_000_000 / rate);
            tokio::time::sleep_until(due.into()).await;
            let (client, uri, out, ends, sent) = (
                client.clone(),
                uri.clone(),
                Arc::clone(&out),
                Arc::clone(&ends),
                Arc::clone(sent),
            );
            let id = first_id + n;
            tasks.push(tokio::spawn(async move {
                let arrivals = one_stream(&client, &uri, id).await;
                let written = sent.0.lock().unwrap().remove(&id);
                let mut out = out.lock().unwrap();
                let (Some((ttft, arrivals)), Some(written)) = (arrivals, written) else {
                    out.failed += 1;
                    return;
                };
                out.ttft.push(ttft);
                for (end, at) in ends.iter().zip(written) {
                    match arrivals.iter().find(|(bytes, _)| bytes >= end) {
                        Some((_, got)) => out.events.push(got.duration_since(at).as_nanos() as u64),
                        None => out.failed += 1,
                    }
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
    Arc::try_unwrap(out).ok().unwrap().into_inner().unwrap()
}

/// One stream: TTFT and, per chunk with text, the text bytes held so far and when.
async fn one_stream(
    client: &Client<HttpConnector, Full<Bytes>>,
    uri: &Uri,
    id: u64,
) -> Option<(u64, Vec<(usize, Instant)>)> {
    let req = Request::post(uri.clone())
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "sk-ant-client-dummy")
        .header("x-bench-id", id.to_string())
        .body(Full::new(Bytes::from_static(BODY.as_bytes())))
        .unwrap();
    let started = Instant::now();
    let response = client.request(req).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let mut body = response.into_body();
    let mut pending = Vec::new();
    let mut text = 0;
    let mut arrivals = Vec::new();
    let mut ttft = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.ok()?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let now = Instant::now();
        pending.extend_from_slice(&data);
        let before = text;
        while let Some(end) = find(&pending, b"\n\n") {
            let event: Vec<u8> = pending.drain(..end + 2).collect();
            text += text_len(&event);
        }
        if text > before {
            ttft.get_or_insert(now - started);
            arrivals.push((text, now));
        }
    }
    Some((ttft?.as_nanos() as u64, arrivals))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Bytes of text in a `text_delta` event (the bench's text has no escapes).
fn text_len(event: &[u8]) -> usize {
    const KEY: &[u8] = br#""type":"text_delta","text":""#;
    let Some(at) = find(event, KEY) else { return 0 };
    let rest = &event[at + KEY.len()..];
    rest.iter().position(|b| *b == b'"').unwrap_or(0)
}
