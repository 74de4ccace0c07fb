//! OpenTelemetry traces of proxied requests, exported over OTLP/HTTP protobuf: one server
//! span per request, a child span for the guard evaluation and one for the upstream call,
//! with the GenAI semantic-convention attributes and agw's guard outcome. W3C `traceparent`
//! is continued from the client when valid and sent upstream naming agw's upstream span.
//!
//! Owns the per-request trace and the tracer. Must not put prompt or response text, keys or
//! matched text on a span, and must not block a request on the collector (spans go through
//! a bounded queue, see [`export`]). Off (no endpoint) costs one branch per request: the
//! client's trace headers then pass through untouched, as any other header.
//!
//! The pipeline under it (settings, sampler, W3C context, span data, exporter) is
//! [`agw_runtime::otel`], shared with the operator and the webhook; this module keeps only
//! what is specific to a proxied request.

#[cfg(test)]
mod tests;

pub use agw_runtime::otel::{config, context, export, sampler, span};

use std::time::Duration;

use http::HeaderMap;
use prometheus_client::metrics::counter::Counter;
use tokio::task::JoinHandle;

use self::config::Config;
use self::context::{Remote, SpanId, TRACEPARENT, TRACESTATE, TraceId};
use self::export::Exporter;
use self::sampler::Sampler;
pub use self::span::{Kind, Span, Value};

/// The proxy's tracer; off unless an endpoint is configured.
#[derive(Debug, Default)]
pub struct Tracer {
    inner: Option<Inner>,
}

#[derive(Debug)]
struct Inner {
    sampler: Sampler,
    exporter: Exporter,
}

impl Tracer {
    /// Starts exporting per `config` (on the current runtime); `dropped` counts spans lost.
    pub fn start(
        config: Config,
        tls: rustls::ClientConfig,
        dropped: Counter,
    ) -> (Self, JoinHandle<()>) {
        let (exporter, task) = Exporter::spawn(config.target, config.resource, tls, dropped);
        let inner = Inner {
            sampler: config.sampler,
            exporter,
        };
        (Self { inner: Some(inner) }, task)
    }

    /// Posts the spans still queued (at most `timeout`): at shutdown.
    pub async fn flush(&self, timeout: Duration) {
        if let Some(inner) = &self.inner {
            inner.exporter.flush(timeout).await;
        }
    }

    /// Starts the trace of a request whose headers are `headers`, and removes the client's
    /// `traceparent`/`tracestate` from them: the upstream gets the ones
    /// [`RequestTrace::upstream`] writes. `None` when tracing is off.
    pub fn request(&self, headers: &mut HeaderMap) -> Option<Box<RequestTrace>> {
        let inner = self.inner.as_ref()?;
        let remote = context::extract(headers);
        headers.remove(TRACEPARENT);
        headers.remove(TRACESTATE);
        let trace_id = remote.as_ref().map_or_else(TraceId::random, |r| r.trace_id);
        let sampled = inner
            .sampler
            .sample(trace_id, remote.as_ref().map(|r| r.sampled));
        let recording = sampled.then(|| {
            let parent = remote.as_ref().map(|r| r.span_id);
            Recording {
                exporter: inner.exporter.clone(),
                server: Span::start(trace_id, parent, "agw", Kind::Server),
                guard: None,
                upstream: None,
            }
        });
        Some(Box::new(RequestTrace {
            trace_id,
            remote,
            model: None,
            chat: false,
            recording,
        }))
    }
}

/// One request's trace: its ids, and its spans while they are recorded.
#[derive(Debug)]
pub struct RequestTrace {
    trace_id: TraceId,
    remote: Option<Remote>,
    /// The model sent upstream, as far as known (the client's, or the pinned one).
    model: Option<String>,
    /// The upstream call is a GenAI chat (a Messages route), not plain HTTP.
    chat: bool,
    /// `None` when the sampler said no: the ids are still propagated, nothing is recorded.
    recording: Option<Recording>,
}

#[derive(Debug)]
struct Recording {
    exporter: Exporter,
    server: Span,
    guard: Option<Span>,
    upstream: Option<Span>,
}

impl RequestTrace {
    /// The trace id (32 hex digits), for logs.
    pub fn trace_id(&self) -> String {
        self.trace_id.to_hex()
    }

    /// Sets an attribute of the server span.
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        if let Some(recording) = &mut self.recording {
            recording.server.set(key, value);
        }
    }

    /// Names the server span (`{method} {route}` per the HTTP conventions).
    pub fn name(&mut self, name: String) {
        if let Some(recording) = &mut self.recording {
            recording.server.name = name;
        }
    }

    /// The model the client asked for (`gen_ai.request.model`), also the one sent upstream
    /// unless [`Self::pinned_model`] says otherwise.
    pub fn request_model(&mut self, model: String) {
        if let Some(recording) = &mut self.recording {
            recording.server.set("gen_ai.request.model", model.as_str());
            self.model = Some(model);
        }
    }

    /// The model agw sent upstream instead of the client's.
    pub fn pinned_model(&mut self, model: String) {
        if let Some(recording) = &mut self.recording {
            recording
                .server
                .set("agw.upstream.request.model", model.as_str());
            self.model = Some(model);
        }
    }

    /// The request goes to a Messages route: its upstream call is a GenAI `chat`.
    pub fn chat(&mut self) {
        self.chat = true;
    }

    /// Starts the guard-evaluation span.
    pub fn guard_started(&mut self) {
        if let Some(recording) = &mut self.recording {
            let parent = Some(recording.server.span_id);
            let span = Span::start(self.trace_id, parent, "agw.guard", Kind::Internal);
            recording.guard = Some(span);
        }
    }

    /// Ends the guard span with the outcome (`allow`, `mask`, `reject`), the deciding guard
    /// (the rejecting one, or the first that masked) and the spans it matched; the server
    /// span gets the outcome too.
    pub fn guard_ended(&mut self, outcome: &'static str, guard: Option<&str>, spans: u64) {
        let Some(recording) = &mut self.recording else {
            return;
        };
        for span in recording.guard.iter_mut().chain([&mut recording.server]) {
            span.set("agw.guard.outcome", outcome);
            if let Some(guard) = guard {
                span.set("agw.guard.id", guard);
            }
        }
        if let Some(mut span) = recording.guard.take() {
            span.set("agw.guard.spans", spans);
            span.end();
            recording.exporter.send(span);
        }
    }

    /// Starts the upstream span and writes the `traceparent` (and the client's
    /// `tracestate`) the upstream gets into `headers`. A Messages call is a GenAI client span
    /// (`chat {model}`), any other an HTTP client span named by its `method`.
    pub fn upstream(&mut self, headers: &mut HeaderMap, method: &str, host: &str, port: u16) {
        let (parent, sampled) = match &mut self.recording {
            Some(recording) => {
                let parent = Some(recording.server.span_id);
                let mut span = Span::start(self.trace_id, parent, method, Kind::Client);
                if self.chat {
                    genai_client(&mut span, self.model.as_deref());
                }
                span.set("http.request.method", method);
                span.set("server.address", host);
                span.set("server.port", port);
                let id = span.span_id;
                recording.upstream = Some(span);
                (id, true)
            }
            // Not recorded: pass the caller's span on (or a fresh id for a new trace).
            None => (
                self.remote
                    .as_ref()
                    .map_or_else(SpanId::random, |r| r.span_id),
                false,
            ),
        };
        headers.insert(
            TRACEPARENT,
            context::traceparent(self.trace_id, parent, sampled),
        );
        if let Some(state) = self.remote.as_ref().and_then(|r| r.state.clone()) {
            headers.insert(TRACESTATE, state);
        }
    }

    /// The upstream's status; a failed upstream call marks its span as an error.
    pub fn upstream_status(&mut self, status: u16) {
        if let Some(span) = self.recording.as_mut().and_then(|r| r.upstream.as_mut()) {
            span.set("http.response.status_code", status);
            if status >= 400 {
                span.set("error.type", status.to_string());
                span.error = Some(format!("upstream answered {status}"));
            }
        }
    }

    /// The status sent to the client; a server error marks the server span as failed.
    pub fn response_status(&mut self, status: u16) {
        if let Some(recording) = &mut self.recording {
            let server = &mut recording.server;
            server.set("http.response.status_code", status);
            if status >= 500 && server.error.is_none() {
                server.error = Some(format!("answered {status}"));
            }
        }
    }

    /// Sets `key` on the upstream span (usage, response model), as the response ends.
    pub fn set_upstream(&mut self, key: &'static str, value: impl Into<Value>) {
        if let Some(span) = self.recording.as_mut().and_then(|r| r.upstream.as_mut()) {
            span.set(key, value);
        }
    }

    /// The request failed: `kind` is its stable category (`error.type`).
    pub fn fail(&mut self, kind: &'static str) {
        if let Some(recording) = &mut self.recording {
            let server = &mut recording.server;
            if server.error.is_none() {
                server.set("error.type", kind);
                server.error = Some(kind.to_owned());
            }
        }
    }
}

/// The GenAI semantic conventions of an Anthropic Messages call.
fn genai_client(span: &mut Span, model: Option<&str>) {
    span.name = model.map_or_else(|| "chat".to_owned(), |m| format!("chat {m}"));
    span.set("gen_ai.operation.name", "chat");
    span.set("gen_ai.system", "anthropic");
    span.set("gen_ai.provider.name", "anthropic");
    if let Some(model) = model {
        span.set("gen_ai.request.model", model);
    }
}

impl Drop for RequestTrace {
    /// Ends whatever is still open (the response ended, the request failed or the client
    /// went away) and hands the spans to the exporter.
    fn drop(&mut self) {
        let Some(Recording {
            exporter,
            mut server,
            guard,
            upstream,
        }) = self.recording.take()
        else {
            return;
        };
        for mut span in guard.into_iter().chain(upstream) {
            span.end();
            exporter.send(span);
        }
        server.end();
        exporter.send(server);
    }
}
