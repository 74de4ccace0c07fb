//! Webhook guards: an external checker judges a guard's scoped texts and the proxy applies
//! its verdict — pass, mask (the checker's texts spliced in place of the originals, every
//! other byte kept) or reject (its status and message in Anthropic's error format).
//!
//! The wire format is agentgateway's guardrail webhook: a request guard POSTs
//! `{"body":{"messages":[{"role","content"}…]}}` to `<path>/request`, a response guard
//! `{"body":{"choices":[{"message":{"role","content"}}…]}}` to `<path>/response`; the checker
//! answers `{"action":{…}}` with no `body` (pass), a `body` holding the same list with texts
//! replaced (mask), or a string `body` and `status_code` (reject). One entry per scoped text,
//! in body order, so a mask maps back to exact byte spans.
//!
//! Each guard's calls are bounded (a semaphore of [`MAX_CONCURRENT_CALLS`]; when it is full
//! the call fails at once) and timed out; a failed call follows the guard's `failureMode`:
//! `FailClosed` refuses, `FailOpen` lets the text pass unchecked. The checker sees the texts
//! and the headers the spec names, never the client's credentials. This module owns the
//! call and the verdict; [`request`] and [`response`] own what is sent and how it is applied.

pub mod permits;
pub mod request;
pub mod response;

pub use self::permits::MAX_CONCURRENT_CALLS;

use std::time::{Duration, Instant};

use agw_policy::bundle::{Guard, Upstream, WebhookCall};
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Request};
use http_body_util::{BodyExt as _, Limited};
use serde_json::Value;

use crate::access_log::REQUEST_ID;
use crate::body::full;
use crate::error::{BoxError, Chain};
use crate::metrics::{WebhookLabels, WebhookTimeLabels};
use crate::recent_errors::{Fault, GUARD_WEBHOOK_FAILED, RecentErrors};
use crate::state::State;

/// Largest checker answer read.
const MAX_ANSWER_BYTES: usize = 8 << 20;

/// Why a checker gave no usable verdict.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No answer within the guard's timeout.
    #[error("did not answer within {0:?}")]
    Timeout(Duration),
    /// The guard's calls in flight were at their limit.
    #[error("is busy ({MAX_CONCURRENT_CALLS} calls in flight)")]
    Busy,
    /// The call could not be made or its answer not read.
    #[error("could not be reached ({step}): {}", Chain(&**.source))]
    Unreachable {
        /// What was being done: `encoding the texts`, `connecting`, …
        step: &'static str,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
    /// An answer other than 2xx.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// A 2xx answer that is no verdict.
    #[error("gave no valid verdict: {0}")]
    BadVerdict(String),
}

impl Failure {
    fn outcome(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Busy => "busy",
            Self::Unreachable { .. } | Self::Status(_) | Self::BadVerdict(_) => "error",
        }
    }
}

/// A checker's verdict.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send the texts as they are.
    Pass,
    /// Send these texts instead, one per text sent, in order.
    Mask(Vec<String>),
    /// Refuse with this message, and this status when the checker gave a valid one.
    Reject {
        /// The checker's `body`.
        message: String,
        /// The checker's `status_code`, when it is 400..=599.
        status: Option<u16>,
    },
}

/// One webhook guard of one backend, ready to call.
pub struct Checker<'a> {
    pub state: &'a State,
    pub backend: &'a str,
    pub guard: &'a Guard,
    pub call: &'a WebhookCall,
}

impl Checker<'_> {
    /// The webhook guards of `guards`, in order.
    pub fn all<'a>(
        state: &'a State,
        backend: &'a str,
        guards: &'a [Guard],
    ) -> impl Iterator<Item = Checker<'a>> {
        guards.iter().filter_map(move |guard| {
            Some(Checker {
                state,
                backend,
                guard,
                call: guard.webhook.as_ref()?,
            })
        })
    }

    /// POSTs `payload` with `forwarded` headers (those the spec names, already chosen) and
    /// reads the verdict on `expected` texts; counts the outcome and the time taken.
    pub async fn check(
        &self,
        payload: &impl serde::Serialize,
        forwarded: &HeaderMap,
        expected: usize,
    ) -> Result<Verdict, Failure> {
        let started = Instant::now();
        let result = self.exchange(payload, forwarded, expected).await;
        let outcome = match &result {
            Ok(Verdict::Pass) => "pass",
            Ok(Verdict::Mask(_)) => "mask",
            Ok(Verdict::Reject { .. }) => "reject",
            Err(failure) => failure.outcome(),
        };
        let metrics = &self.state.metrics;
        metrics
            .webhook_calls
            .get_or_create(&WebhookLabels {
                backend: self.backend.to_owned(),
                guard: self.guard.id.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
        metrics
            .webhook_duration
            .get_or_create(&WebhookTimeLabels {
                backend: self.backend.to_owned(),
                guard: self.guard.id.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        if let Err(failure) = &result {
            tracing::warn!(backend = self.backend, guard = %self.guard.id, fail_open = self.call.fail_open, error = %failure, "webhook guard's checker failed");
        }
        result
    }

    async fn exchange(
        &self,
        payload: &impl serde::Serialize,
        forwarded: &HeaderMap,
        expected: usize,
    ) -> Result<Verdict, Failure> {
        let call = self.call;
        let key = format!(
            "{}/{}/{}:{}{}",
            self.backend, self.guard.id, call.host, call.port, call.path
        );
        let permits = self.state.webhooks.of(key);
        let _permit = permits.try_acquire().map_err(|_| Failure::Busy)?;
        let body = serde_json::to_vec(payload).map_err(|e| unreachable("encoding the texts", e))?;
        let request = self.request(body, forwarded)?;
        let client = self
            .state
            .client_for(&upstream(call))
            .map_err(|e| unreachable("setting up the client", e))?;
        let timeout = Duration::from_millis(u64::from(call.timeout_ms));
        let answer = tokio::time::timeout(timeout, async {
            let response = client
                .request(request)
                .await
                .map_err(|e| unreachable("connecting", e))?;
            if !response.status().is_success() {
                return Err(Failure::Status(response.status().as_u16()));
            }
            Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .map_err(|e| Failure::Unreachable {
                    step: "reading the answer",
                    source: e,
                })
        })
        .await
        .map_err(|_| Failure::Timeout(timeout))??;
        parse_verdict(&answer, expected)
    }

    fn request(
        &self,
        body: Vec<u8>,
        forwarded: &HeaderMap,
    ) -> Result<Request<crate::body::ProxyBody>, Failure> {
        let call = self.call;
        let scheme = if call.tls { "https" } else { "http" };
        let host = if call.host.contains(':') {
            format!("[{}]", call.host)
        } else {
            call.host.clone()
        };
        let uri = format!("{scheme}://{host}:{}{}", call.port, call.path);
        let mut request = Request::post(uri)
            .body(full(body))
            .map_err(|e| unreachable("building the request", e))?;
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in forwarded {
            headers.append(name, value.clone());
        }
        for header in &call.headers {
            let name = HeaderName::from_bytes(header.name.as_bytes())
                .map_err(|e| unreachable("building the request", e))?;
            let value = HeaderValue::from_str(&header.value)
                .map_err(|e| unreachable("building the request", e))?;
            headers.insert(name, value);
        }
        Ok(request)
    }
}

/// The headers of `from` that the guard forwards: a name and value it names exactly.
pub fn forwarded(call: &WebhookCall, from: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for wanted in &call.forward_headers {
        let Ok(name) = HeaderName::from_bytes(wanted.name.as_bytes()) else {
            continue;
        };
        for value in from.get_all(&name) {
            if value.as_bytes() == wanted.value.as_bytes() {
                out.append(name.clone(), value.clone());
            }
        }
    }
    out
}

fn upstream(call: &WebhookCall) -> Upstream {
    Upstream {
        host: call.host.clone(),
        port: call.port,
        tls: call.tls,
        sni: None,
        path_prefix: String::new(),
        model: None,
    }
}

/// Keeps a request refused because `guard`'s checker failed: agw did not decide, so it is a
/// fault even though the client got the guard's refusal (`guard_rejected` in the access log).
/// `headers` are the request's, which carry the access log's request id. The message names
/// the guard and what went wrong, never the checker's answer (it could echo the prompt).
pub fn record_failure(
    errors: &RecentErrors,
    backend: &str,
    headers: &HeaderMap,
    guard: &Guard,
    failure: &Failure,
) {
    let what = match failure {
        Failure::Timeout(after) => format!("did not answer within {after:?}"),
        Failure::Busy => "was busy".to_owned(),
        Failure::Unreachable { step, .. } => format!("could not be reached ({step})"),
        Failure::Status(status) => format!("answered HTTP {status}"),
        Failure::BadVerdict(_) => "gave no valid verdict".to_owned(),
    };
    errors.push(Fault {
        backend: backend.to_owned(),
        request_id: headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        kind: GUARD_WEBHOOK_FAILED,
        status: guard.reject.status,
        message: format!(
            "the checker of webhook guard {} {what}; the guard failed closed",
            guard.id
        ),
    });
}

fn unreachable(step: &'static str, source: impl Into<BoxError>) -> Failure {
    Failure::Unreachable {
        step,
        source: source.into(),
    }
}

/// Reads `{"action": …}`. Strict where agentgateway's untagged reading is lenient: a
/// missing or malformed `action` is no verdict (so `failureMode` decides), never a pass.
pub fn parse_verdict(answer: &[u8], expected: usize) -> Result<Verdict, Failure> {
    let bad = |why: &str| Failure::BadVerdict(why.to_owned());
    let answer: Value =
        serde_json::from_slice(answer).map_err(|e| Failure::BadVerdict(e.to_string()))?;
    let action = answer
        .get("action")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no `action` object"))?;
    match action.get("body") {
        None | Some(Value::Null) => Ok(Verdict::Pass),
        Some(Value::String(message)) => {
            let status = match action.get("status_code") {
                None | Some(Value::Null) => None,
                Some(code) => Some(
                    code.as_u64()
                        .and_then(|c| u16::try_from(c).ok())
                        .ok_or_else(|| bad("`status_code` is not a number"))?,
                ),
            };
            Ok(Verdict::Reject {
                message: message.clone(),
                status: status.filter(|s| (400..=599).contains(s)),
            })
        }
        Some(Value::Object(body)) => masked_texts(body, expected).map(Verdict::Mask),
        Some(_) => Err(bad(
            "`body` is neither a rejection message nor masked texts",
        )),
    }
}

/// The texts of a mask's `body`: `messages[].content` or `choices[].message.content`, as
/// many as were sent.
fn masked_texts(
    body: &serde_json::Map<String, Value>,
    expected: usize,
) -> Result<Vec<String>, Failure> {
    let bad = |why: String| Failure::BadVerdict(why);
    let (list, content): (&Value, fn(&Value) -> Option<&Value>) =
        match (body.get("messages"), body.get("choices")) {
            (Some(messages), None) => (messages, |m| m.get("content")),
            (None, Some(choices)) => (choices, |c| c.get("message")?.get("content")),
            _ => {
                return Err(bad(
                    "a mask's `body` holds `messages` or `choices`".to_owned()
                ));
            }
        };
    let items = list
        .as_array()
        .ok_or_else(|| bad("the masked list is not an array".to_owned()))?;
    if items.len() != expected {
        return Err(bad(format!(
            "the mask holds {} texts for the {expected} sent",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            content(item)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("masked text {i} has no string `content`")))
        })
        .collect()
}

/// The message a rejection for a failed call carries.
pub fn failure_message(guard: &Guard, what: &str, failure: &Failure) -> String {
    format!(
        "agw could not check the {what}: the checker of guard {} {failure}; the guard fails closed",
        guard.id
    )
}

#[cfg(test)]
mod tests;
