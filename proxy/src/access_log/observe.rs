//! The response body as the access log and the audit capture see it: every frame passes
//! through untouched and at once, while bytes, usage, response text (for an audit) and the
//! way the stream ended are noted. The records are written when this body is dropped — after
//! the last frame, or when the client went away mid-stream (then `error.type` is
//! `client_aborted`). Must not delay, hold back or alter a frame.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::Pending;
use super::usage::{Lines, MAX_KEPT, Reported, sse_data};
use crate::audit::Capture;
use crate::body::{BoxError, ProxyBody};

/// Wraps `inner`, finishing `pending` and `capture` when the body ends or is dropped.
pub fn watch(
    inner: ProxyBody,
    pending: Option<Box<Pending>>,
    capture: Option<Capture>,
    streaming: bool,
) -> ProxyBody {
    http_body_util::BodyExt::boxed(Watched {
        inner,
        pending,
        capture,
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
        let Some(pending) = &mut self.pending else {
            return;
        };
        let record = &mut pending.record;
        record.usage = self.reported.usage;
        if let Some(model) = self.reported.model.take() {
            record.response_model = Some(super::record::bounded(&model, super::record::cap::MODEL));
        }
        pending.ended = true;
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // A body that says it has ended may be dropped without a last poll.
        if self.inner.is_end_stream() {
            self.end();
        } else if !self.ended
            && let Some(pending) = &mut self.pending
        {
            // Keep what was counted so far: a partial stream still used tokens.
            pending.record.usage = self.reported.usage;
        }
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
