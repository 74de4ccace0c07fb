//! Response guards on the proxy's way back: a Messages response is checked before the client
//! sees it, with the guards the bundle compiled for its backend.
//!
//! A JSON body is read whole (up to the body limit) and masked or replaced by the guard's
//! rejection ([`agw_policy::response::json`]). An SSE stream, when the bundle guards streams,
//! is rewritten event by event as it arrives ([`agw_policy::response::sse`]): text is held
//! back by at most the window, everything else flows at once, and a rejection ends the
//! stream with an `error` event and drops the upstream connection. A response the guards
//! cannot read (not JSON, compressed, too large) is never passed through: the client gets a
//! 502. This module decides nothing itself and must not buffer a stream.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use agw_policy::engine::GuardHit;
use agw_policy::response::json::{JsonOutcome, guard_response};
use agw_policy::response::sse::SseGuard;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt as _, Limited};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::body::{BoxError, ProxyBody, full};
use crate::error::error_response;
use crate::metrics::GuardLabels;
use crate::snapshot::Snapshot;
use crate::state::State;

/// Where response guard decisions are counted.
#[derive(Clone, Debug)]
pub struct Counting {
    /// `agw_guard_decisions_total`.
    pub decisions: Family<GuardLabels, Counter>,
    /// The backend label.
    pub backend: String,
}

impl Counting {
    fn count(&self, guard: &str, action: &str, by: u64) {
        self.decisions
            .get_or_create(&GuardLabels {
                backend: self.backend.clone(),
                guard: guard.to_owned(),
                action: action.to_owned(),
            })
            .inc_by(by);
    }

    fn masked(&self, hits: &[GuardHit]) {
        for hit in hits {
            self.count(&hit.guard_id, "mask", hit.count as u64);
            tracing::info!(backend = %self.backend, guard = %hit.guard_id, spans = hit.count, "response masked by guard");
        }
    }
}

/// Guards a whole (JSON) Messages response; `reject` builds the guard's rejection. `state`
/// (its clients and webhook permits) is needed when the backend has webhook guards.
pub async fn guard_json(
    state: Option<&State>,
    snapshot: &Snapshot,
    counting: &Counting,
    parts: http::response::Parts,
    body: ProxyBody,
    limit: usize,
    reject: impl FnOnce(u16, &str, &str) -> Response<ProxyBody>,
) -> Response<ProxyBody> {
    let Some(guards) = snapshot.engine.response(&counting.backend) else {
        return Response::from_parts(parts, body);
    };
    if let Some(failed) = unreadable(&parts) {
        return failed;
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => return cannot_inspect(&format!("the response could not be read: {err}")),
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return cannot_inspect("the response is not UTF-8");
    };
    let webhooks = snapshot
        .bundle
        .backends
        .get(&counting.backend)
        .map(|b| b.guards.response.as_slice())
        .filter(|guards| guards.iter().any(|g| g.webhook.is_some()));
    let body = match guard_response(guards, text) {
        Ok(JsonOutcome::Allow) if webhooks.is_none() => {
            return Response::from_parts(parts, full(bytes));
        }
        Ok(JsonOutcome::Allow) => text.to_owned(),
        Ok(JsonOutcome::Mask { body, hits }) => {
            counting.masked(&hits);
            body
        }
        Ok(JsonOutcome::Reject(rejected)) => {
            counting.count(&rejected.guard_id, "reject", 1);
            tracing::info!(backend = %counting.backend, guard = %rejected.guard_id, status = rejected.status, "response rejected by guard");
            return reject(rejected.status, &rejected.message, &rejected.guard_id);
        }
        Err(err) => return cannot_inspect(&err.to_string()),
    };
    let webhooks = webhooks.unwrap_or_default();
    checked(state, counting, parts, body, webhooks, reject).await
}

/// Runs the response webhook guards (none: nothing to do) on a reply the regex guards let
/// through, and sends what they decide.
async fn checked(
    state: Option<&State>,
    counting: &Counting,
    mut parts: http::response::Parts,
    body: String,
    webhooks: &[agw_policy::bundle::Guard],
    reject: impl FnOnce(u16, &str, &str) -> Response<ProxyBody>,
) -> Response<ProxyBody> {
    use crate::guard::webhook::response::{Outcome, check};
    let body = if webhooks.is_empty() {
        body
    } else {
        // Only tests of the regex path run without the proxy's state (and its clients).
        let Some(state) = state else {
            return cannot_inspect("webhook guards need the proxy's clients");
        };
        match check(state, &counting.backend, webhooks, body, &parts.headers).await {
            Ok(Outcome::Send { body, masked }) => {
                for (guard, texts) in masked {
                    counting.count(&guard, "mask", texts as u64);
                    tracing::info!(backend = %counting.backend, guard = %guard, texts, "response masked by webhook guard");
                }
                body
            }
            Ok(Outcome::Reject {
                guard_id,
                status,
                message,
            }) => {
                counting.count(&guard_id, "reject", 1);
                tracing::info!(backend = %counting.backend, guard = %guard_id, status, "response rejected by webhook guard");
                return reject(status, &message, &guard_id);
            }
            Err(why) => return cannot_inspect(&why),
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    Response::from_parts(parts, full(body))
}

/// Guards an SSE Messages response as it streams.
pub fn guard_stream(
    snapshot: Arc<Snapshot>,
    counting: Counting,
    mut parts: http::response::Parts,
    body: ProxyBody,
) -> Response<ProxyBody> {
    if snapshot.engine.response(&counting.backend).is_none() {
        return Response::from_parts(parts, body);
    }
    if let Some(failed) = unreadable(&parts) {
        return failed;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let guarded = GuardedStream {
        inner: body,
        snapshot,
        counting,
        guard: SseGuard::new(),
        done: false,
    };
    Response::from_parts(parts, guarded.boxed())
}

/// A compressed body cannot be inspected (the proxy asks for `identity`, so this is an
/// upstream that ignored it): fail closed.
fn unreadable(parts: &http::response::Parts) -> Option<Response<ProxyBody>> {
    let encoding = parts.headers.get(header::CONTENT_ENCODING)?;
    let encoding = encoding.to_str().unwrap_or("?");
    (!encoding.eq_ignore_ascii_case("identity")).then(|| {
        cannot_inspect(&format!(
            "the response is encoded as {encoding:?}, which response guards cannot inspect"
        ))
    })
}

fn cannot_inspect(why: &str) -> Response<ProxyBody> {
    tracing::warn!(
        reason = why,
        "response guards could not inspect the response"
    );
    error_response(
        StatusCode::BAD_GATEWAY,
        "api_error",
        &format!("agw could not apply response guards: {why}"),
    )
}

struct GuardedStream {
    inner: ProxyBody,
    snapshot: Arc<Snapshot>,
    counting: Counting,
    guard: SseGuard,
    done: bool,
}

impl GuardedStream {
    /// Counts what the guard decided since the last call.
    fn account(&mut self) {
        self.counting.masked(&self.guard.take_hits());
    }

    fn stopped(&mut self) {
        self.done = true;
        if let Some(stopped) = self.guard.stopped() {
            let action = if stopped.undecided {
                "fail_closed"
            } else {
                "reject"
            };
            self.counting.count(&stopped.rejected.guard_id, action, 1);
            tracing::info!(backend = %self.counting.backend, guard = %stopped.rejected.guard_id, action, "response stream stopped by guard");
        }
    }
}

impl Body for GuardedStream {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let Some(guards) = this.snapshot.engine.response(&this.counting.backend) else {
                this.done = true;
                return Poll::Ready(None);
            };
            let out = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => this.guard.push(guards, &data),
                    Err(_trailers) => continue, // SSE has no trailers worth forwarding
                },
                Poll::Ready(None) => {
                    let rest = this.guard.finish(guards);
                    this.done = true;
                    this.account();
                    if rest.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(rest)))));
                }
            };
            this.account();
            if this.guard.stopped().is_some() {
                this.stopped();
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests;
