//! A response body that forwards every frame as it arrives and, on the side, reads token
//! usage from Anthropic's SSE events (`message_start`, `message_delta`) or a JSON body.
//! It never holds a frame back: clients see tokens as the model produces them.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use prometheus_client::metrics::counter::Counter;

use crate::body::{BoxError, ProxyBody};

/// Where counted tokens go.
#[derive(Clone, Debug)]
pub struct TokenCounters {
    pub input: Counter,
    pub output: Counter,
}

/// Longest line kept while looking for usage; longer lines are skipped.
const MAX_LINE: usize = 64 * 1024;

/// Wraps `inner`, counting tokens into `counters`.
pub fn tap(inner: ProxyBody, counters: TokenCounters, streaming: bool) -> ProxyBody {
    http_body_util::BodyExt::boxed(UsageTap {
        inner,
        counters: Arc::new(counters),
        pending: Vec::new(),
        streaming,
    })
}

struct UsageTap {
    inner: ProxyBody,
    counters: Arc<TokenCounters>,
    pending: Vec<u8>,
    streaming: bool,
}

impl UsageTap {
    fn observe(&mut self, data: &Bytes) {
        if self.pending.len() + data.len() > MAX_LINE && !self.streaming {
            self.pending.clear();
            return;
        }
        self.pending.extend_from_slice(data);
        if !self.streaming {
            return;
        }
        while let Some(newline) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            if let Some(json) = line.strip_prefix(b"data:") {
                count(json, &self.counters);
            }
        }
        if self.pending.len() > MAX_LINE {
            self.pending.clear();
        }
    }

    fn finish(&mut self) {
        if !self.streaming && !self.pending.is_empty() {
            count(&self.pending, &self.counters);
        }
        self.pending.clear();
    }
}

/// Adds the usage found in one event (or JSON body) to the counters.
fn count(json: &[u8], counters: &TokenCounters) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let usage = value
        .get("usage")
        .or_else(|| value.get("message").and_then(|m| m.get("usage")));
    let Some(usage) = usage else { return };
    let tokens = |field: &str| {
        usage
            .get(field)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let input = tokens("input_tokens")
        + tokens("cache_creation_input_tokens")
        + tokens("cache_read_input_tokens");
    if input > 0 {
        counters.input.inc_by(input);
    }
    if value.get("type").and_then(serde_json::Value::as_str) != Some("message_start") {
        counters.output.inc_by(tokens("output_tokens"));
    }
}

impl Body for UsageTap {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let data = data.clone();
                    self.observe(&data);
                }
            }
            Poll::Ready(None) => self.finish(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;
    use crate::body::full;

    #[tokio::test]
    async fn counts_usage_across_chunk_boundaries() {
        let stream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":34}}\n\n";
        let counters = TokenCounters {
            input: Counter::default(),
            output: Counter::default(),
        };
        let (a, b) = stream.split_at(40);
        let chunks = futures_util::stream::iter([
            Ok::<_, BoxError>(Frame::data(Bytes::from(a))),
            Ok(Frame::data(Bytes::from(b))),
        ]);
        let body = http_body_util::StreamBody::new(chunks).boxed();
        let out = tap(body, counters.clone(), true)
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(out, stream.as_bytes());
        assert_eq!((counters.input.get(), counters.output.get()), (12, 34));
        let json = tap(
            full("{\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}"),
            counters.clone(),
            false,
        );
        json.collect().await.expect("body");
        assert_eq!((counters.input.get(), counters.output.get()), (15, 38));
    }
}
