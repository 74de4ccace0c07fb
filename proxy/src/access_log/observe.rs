//! The response body as the access log, the audit capture, the trace, the token metrics
//! and the client's token budget see it — the one place usage is read from a response:
//! every frame passes through untouched and at once, while bytes, usage, response text (for
//! an audit) and the way the stream ended are noted. The records are written, the spans
//! ended, the tokens counted and the budget charged when this body is dropped — after the
//! last frame, or when the client went away mid-stream (then `error.type` is
//! `client_aborted`, and the usage is what was reported so far). Must not delay, hold back
//! or alter a frame.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::record::{bounded, cap};
use super::usage::{Lines, MAX_KEPT, Reported, sse_data};
use super::{Pending, Settle};
use crate::audit::Capture;
use crate::body::{BoxError, ProxyBody};
use crate::metrics::TokenCounters;
use crate::otel::RequestTrace;

/// Who learns what the response body shows.
pub struct Observers {
    pub pending: Option<Box<Pending>>,
    pub capture: Option<Capture>,
    pub trace: Option<Box<RequestTrace>>,
    pub tokens: Option<TokenCounters>,
    /// Charges the caller's token budget.
    pub settle: Option<Settle>,
}

impl Observers {
    pub fn is_empty(&self) -> bool {
        self.pending.is_none()
            && self.capture.is_none()
            && self.trace.is_none()
            && self.tokens.is_none()
            && self.settle.is_none()
    }
}

/// Wraps `inner`, finishing every observer when the body ends or is dropped.
pub fn watch(inner: ProxyBody, observers: Observers, streaming: bool) -> ProxyBody {
    let Observers {
        pending,
        capture,
        trace,
        tokens,
        settle,
    } = observers;
    http_body_util::BodyExt::boxed(Watched {
        inner,
        pending,
        capture,
        trace,
        tokens,
        settle,
        streaming,
        lines: Lines::default(),
        json: Vec::new(),
        reported: Reported::default(),
        ended: false,
    })
}

struct Watched {
    inner: ProxyBody,
    pending: Option<Box<Pending>>,
    capture: Option<Capture>,
    trace: Option<Box<RequestTrace>>,
    tokens: Option<TokenCounters>,
    settle: Option<Settle>,
    streaming: bool,
    lines: Lines,
    /// A non-streamed body, kept (up to [`MAX_KEPT`]) to read its usage at the end.
    json: Vec<u8>,
    reported: Reported,
    ended: bool,
}

impl Watched {
    fn observe(&mut self, data: &Bytes) {
        if let Some(pending) = &mut self.pending {
            pending.record.bytes_out += data.len() as u64;
        }
        if self.streaming {
            let (reported, capture) = (&mut self.reported, &mut self.capture);
            self.lines.feed(data, |line| {
                let Some(json) = sse_data(line) else { return };
                // Only message_start and message_delta carry usage; skip the text deltas
                // without parsing them.
                if memchr::memmem::find(json, b"\"usage\"").is_some() {
                    reported.take(json);
                }
                if let Some(capture) = capture {
                    capture.sse_data(json);
                }
            });
        } else if self.json.len() + data.len() <= MAX_KEPT {
            self.json.extend_from_slice(data);
        } else {
            self.json = Vec::new();
        }
    }

    fn end(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        if !self.streaming && !self.json.is_empty() {
            self.reported.take(&self.json);
            if let Some(capture) = &mut self.capture {
                capture.json_body(&self.json);
            }
        }
        if let Some(capture) = &mut self.capture {
            capture.complete();
        }
        if let Some(pending) = &mut self.pending {
            pending.ended = true;
        }
    }

    /// Hands the usage and model reported so far to the record, the trace, the metrics and
    /// the budget.
    fn settle(&mut self) {
        let usage = self.reported.usage;
        let model = self.reported.model.take().map(|m| bounded(&m, cap::MODEL));
        if let Some(settle) = self.settle.take() {
            (settle.0)(&usage);
        }
        if let Some(tokens) = &self.tokens {
            tokens.input.inc_by(usage.total_input().unwrap_or(0));
            tokens.output.inc_by(usage.output.unwrap_or(0));
        }
        if let Some(trace) = &mut self.trace {
            if !self.ended {
                trace.fail("client_aborted");
            }
            for (key, value) in usage.genai_fields() {
                if let Some(value) = value {
                    trace.set_upstream(key, value);
                    trace.set(key, value);
                }
            }
            if let Some(model) = &model {
                trace.set_upstream("gen_ai.response.model", model.as_str());
            }
        }
        if let Some(pending) = &mut self.pending {
            // A partial stream still used tokens: keep what was counted.
            pending.record.usage = usage;
            pending.record.response_model = model;
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // A body that says it has ended may be dropped without a last poll.
        if self.inner.is_end_stream() {
            self.end();
        }
        self.settle();
    }
}

impl Body for Watched {
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
                if self.inner.is_end_stream() {
                    self.end();
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(pending) = &mut self.pending {
                    pending.fail("upstream_stream_error");
                }
                if let Some(trace) = &mut self.trace {
                    trace.fail("upstream_stream_error");
                }
                self.end();
            }
            Poll::Ready(None) => self.end(),
            Poll::Pending => {}
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
    use http_body_util::BodyExt;
    use prometheus_client::metrics::counter::Counter;

    use super::*;
    use crate::body::full;

    fn counters() -> TokenCounters {
        TokenCounters {
            input: Counter::default(),
            output: Counter::default(),
        }
    }

    fn only_tokens(tokens: &TokenCounters) -> Observers {
        Observers {
            pending: None,
            capture: None,
            trace: None,
            tokens: Some(tokens.clone()),
            settle: None,
        }
    }

    #[tokio::test]
    async fn token_metrics_come_from_the_one_usage_reading_whatever_the_chunking() {
        let stream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":34}}\n\n";
        let tokens = counters();
        let (a, b) = stream.split_at(40);
        let chunks = futures_util::stream::iter([
            Ok::<_, BoxError>(Frame::data(Bytes::from(a))),
            Ok(Frame::data(Bytes::from(b))),
        ]);
        let body = BodyExt::boxed(http_body_util::StreamBody::new(chunks));
        let out = watch(body, only_tokens(&tokens), true)
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(out, stream.as_bytes());
        // Input counts cached tokens too; output is the final running total, once.
        assert_eq!((tokens.input.get(), tokens.output.get()), (17, 34));
        let json = full("{\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}");
        watch(json, only_tokens(&tokens), false)
            .collect()
            .await
            .expect("body");
        assert_eq!((tokens.input.get(), tokens.output.get()), (20, 38));
    }

    #[tokio::test]
    async fn a_stream_dropped_midway_still_counts_what_was_reported() {
        let tokens = counters();
        let first = "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n";
        let chunks =
            futures_util::stream::iter([Ok::<_, BoxError>(Frame::data(Bytes::from(first)))]);
        let chunks = futures_util::StreamExt::chain(chunks, futures_util::stream::pending());
        // The budget is charged from the same reading, once, with what was reported so far.
        let charged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&charged);
        let observers = Observers {
            settle: Some(Settle(Box::new(move |usage| {
                if let Ok(mut seen) = seen.lock() {
                    seen.push((usage.total_input(), usage.output));
                }
            }))),
            ..only_tokens(&tokens)
        };
        let mut body = watch(
            BodyExt::boxed(http_body_util::StreamBody::new(chunks)),
            observers,
            true,
        );
        body.frame().await.expect("a frame").expect("data");
        drop(body);
        assert_eq!((tokens.input.get(), tokens.output.get()), (9, 1));
        assert_eq!(*charged.lock().unwrap(), [(Some(9), Some(1))]);
    }
}
