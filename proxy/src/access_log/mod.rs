//! The access log: one line per request, written when its response ends — also when it was
//! rejected, failed, or the client went away mid-stream. Owns the per-request record, its
//! request id (honoured from the client when well formed, echoed back and sent upstream) and
//! the line sink. Must not record prompt or response text, keys or matched text: a request is
//! described by ids, counts, sizes and times only. Off costs one request id per request.
//!
//! The request's trace ([`crate::otel::RequestTrace`]), when tracing is on, rides on the same
//! [`Entry`]: what the log learns about a request, its spans learn too, and both end with
//! the response body.
//!
//! A request that failed through no fault of its client (see [`crate::recent_errors`]) is
//! also kept, under the same request id, in the proxy's ring of recent errors, which the
//! operator turns into Events pointing at the line.

mod ids;
mod line;
mod observe;
pub mod record;
pub mod sink;
mod usage;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use agw_policy::bundle::RouteType;
use http::header;
use http::{Request, Response};

pub use self::ids::REQUEST_ID;
use self::observe::Observers;
use self::record::{Record, Timestamp, bounded, bounded_owned, cap};
use self::sink::LineSink;
use crate::audit::Capture;
use crate::body::ProxyBody;
use crate::guard::Head;
use crate::metrics::TokenCounters;
use crate::otel::RequestTrace;
use crate::recent_errors::{RecentErrors, Watch};

/// `--access-log`: how (and whether) lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// No access log.
    Off,
    /// One JSON object per line (OpenTelemetry attribute names).
    Json,
    /// One short line per request, for people.
    Text,
}

/// The client's address, put on each request by the server.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// The configured access log; one per proxy.
#[derive(Debug, Default)]
pub struct AccessLog {
    emitter: Option<Arc<Emitter>>,
    errors: Arc<RecentErrors>,
}

#[derive(Debug)]
struct Emitter {
    format: Format,
    sink: LineSink,
}

impl AccessLog {
    /// Writes `format` lines to `sink`; `Format::Off` writes nothing.
    pub fn new(format: Format, sink: LineSink) -> Self {
        let emitter = (format != Format::Off).then(|| Arc::new(Emitter { format, sink }));
        Self {
            emitter,
            errors: Arc::default(),
        }
    }

    /// The recent faults, kept whatever the format (also `off`).
    pub fn recent_errors(&self) -> &RecentErrors {
        &self.errors
    }

    /// Waits (briefly) for every finished line to be written; at shutdown.
    pub fn flush(&self) {
        if let Some(emitter) = &self.emitter {
            emitter.sink.flush(Duration::from_secs(2));
        }
    }

    /// Starts the entry of `req`, and sets its `x-request-id` to the id the log, the client
    /// and the upstream will all see. `trace` (tracing on) learns what the entry learns.
    pub fn start<B>(&self, req: &mut Request<B>, trace: Option<Box<RequestTrace>>) -> Entry {
        let request_id = ids::request_id(req.headers());
        if let Some(value) = ids::header_value(&request_id) {
            req.headers_mut().insert(REQUEST_ID, value);
        }
        let trace = trace.map(|mut trace| {
            describe_request(&mut trace, req, &request_id);
            trace
        });
        let pending = self.emitter.as_ref().map(|emitter| {
            let mut record = Record {
                time: Timestamp(SystemTime::now()),
                request_id: request_id.clone(),
                method: req.method().as_str().to_owned(),
                path: bounded_owned(crate::router::normalize_path(req.uri().path()), cap::PATH),
                ..Record::default()
            };
            describe_client(&mut record, req);
            record.trace_id = trace.as_ref().map(|t| t.trace_id());
            Box::new(Pending {
                record,
                started: Instant::now(),
                emitter: emitter.clone(),
                ended: false,
            })
        });
        Entry {
            request_id,
            method: req.method().clone(),
            pending,
            trace,
            settle: None,
            faults: Watch::new(self.errors.clone()),
        }
    }
}

/// The server span's request attributes (HTTP semantic conventions).
fn describe_request<B>(trace: &mut RequestTrace, req: &Request<B>, request_id: &str) {
    trace.name(req.method().as_str().to_owned());
    trace.set("http.request.method", req.method().as_str());
    trace.set(
        "url.path",
        bounded(&crate::router::normalize_path(req.uri().path()), cap::PATH),
    );
    trace.set("agw.request_id", request_id);
    if let Some(Peer(peer)) = req.extensions().get::<Peer>() {
        trace.set("client.address", peer.ip().to_string());
    }
    if let Some(agent) = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        trace.set("user_agent.original", bounded(agent, cap::USER_AGENT));
    }
}

fn describe_client<B>(record: &mut Record, req: &Request<B>) {
    let headers = req.headers();
    if let Some(Peer(peer)) = req.extensions().get::<Peer>() {
        record.client_address = Some(peer.ip());
        record.client_port = Some(peer.port());
    }
    record.key_hash = ids::key_hash(headers);
    let text = |name: &str, max: usize| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| bounded(v, max))
    };
    record.user_agent = text(header::USER_AGENT.as_str(), cap::USER_AGENT);
    record.session_id = text(ids::SESSION_HEADER, cap::SESSION_ID);
}

/// One request's record while it is handled. Dropped unfinished (the client went away
/// before the response started), it is still written, as `client_aborted`.
#[derive(Debug)]
pub struct Entry {
    request_id: String,
    method: http::Method,
    pending: Option<Box<Pending>>,
    trace: Option<Box<RequestTrace>>,
    settle: Option<Settle>,
    faults: Watch,
}

/// Called once with the usage a response reported, when it ends or is dropped (token
/// budgets are charged this way, from the same tap as the log, also with the log off).
pub struct Settle(pub Box<dyn FnOnce(&record::Usage) + Send + Sync>);

impl std::fmt::Debug for Settle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Settle")
    }
}

impl Entry {
    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    fn record(&mut self) -> Option<&mut Record> {
        self.pending.as_mut().map(|p| &mut p.record)
    }

    /// The backend and route type the request was routed to.
    pub fn route(&mut self, backend: &str, route: RouteType) {
        if let Some(trace) = &mut self.trace {
            trace.name(format!("{} {}", self.method, route.as_str()));
            if route == RouteType::Messages {
                trace.chat();
            }
            trace.set("agw.backend", bounded(backend, cap::BACKEND));
            trace.set("agw.route_type", route.as_str());
        }
        self.faults.backend(backend);
        if let Some(record) = self.record() {
            record.backend = bounded(backend, cap::BACKEND);
            record.route_type = route.as_str();
        }
    }

    /// The size of a streamed request body, as the client declared it.
    pub fn declared_size(&mut self, headers: &http::HeaderMap) {
        if let Some(record) = self.record() {
            record.bytes_in = headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
        }
    }

    /// The size of a Messages body as the client sent it.
    pub fn request_size(&mut self, size: usize) {
        if let Some(record) = self.record() {
            record.bytes_in = Some(size as u64);
        }
    }

    /// The model and `metadata.user_id` of a Messages body, from the guard's one reading
    /// of it (the log parses nothing itself).
    pub fn request_head(&mut self, head: &Head) {
        if let (Some(trace), Some(model)) = (&mut self.trace, &head.model) {
            trace.request_model(bounded(model, cap::MODEL));
        }
        let Some(record) = self.record() else { return };
        if let Some(model) = &head.model {
            let model = bounded(model, cap::MODEL);
            record.upstream_model = Some(model.clone());
            record.requested_model = Some(model);
        }
        record.user_id = head.user_id.as_deref().map(|id| bounded(id, cap::USER_ID));
    }

    /// The authenticated identity of the caller (a name from the key Secret, never a key).
    pub fn identity(&mut self, name: &str) {
        if let Some(record) = self.record() {
            record.identity = Some(bounded(name, cap::IDENTITY));
        }
    }

    /// Hands the response's usage to `settle` when the response ends.
    pub fn on_usage(&mut self, settle: Settle) {
        self.settle = Some(settle);
    }

    /// The model sent upstream when agw rewrote the client's.
    pub fn upstream_model(&mut self, model: &str) {
        if let Some(trace) = &mut self.trace {
            trace.pinned_model(bounded(model, cap::MODEL));
        }
        if let Some(record) = self.record() {
            record.upstream_model = Some(bounded(model, cap::MODEL));
        }
    }

    /// A guard that rejected (`reject`) or masked (`mask`) `spans` spans.
    pub fn guard(&mut self, id: &str, action: &'static str, spans: u64) {
        if let Some(record) = self.record() {
            record.push_guard(id, action, spans);
        }
    }

    /// Guards start reading the body.
    pub fn guard_started(&mut self) {
        if let Some(trace) = &mut self.trace {
            trace.guard_started();
        }
    }

    /// Guards decided: `allow`, `mask` or `reject`, by `guard` (the rejecting one, or the
    /// first that masked), over `spans` matched spans.
    pub fn guard_ended(&mut self, outcome: &'static str, guard: Option<&str>, spans: u64) {
        if let Some(trace) = &mut self.trace {
            trace.guard_ended(outcome, guard, spans);
        }
    }

    /// The request goes upstream to `host:port`: the upstream span starts, and `headers`
    /// get the trace context the upstream continues (tracing on).
    pub fn upstream_request(&mut self, headers: &mut http::HeaderMap, host: &str, port: u16) {
        self.faults.upstream(host, port);
        if let Some(trace) = &mut self.trace {
            trace.upstream(headers, self.method.as_str(), host, port);
        }
    }

    /// The upstream's status and the time it took to send its headers.
    pub fn upstream(&mut self, status: u16, ttfb: Duration) {
        self.faults.upstream_status(status);
        if let Some(trace) = &mut self.trace {
            trace.upstream_status(status);
        }
        if let Some(record) = self.record() {
            record.upstream_status = Some(status);
            record.upstream_ttfb = Some(ttfb);
        }
    }

    /// Why the request failed, as a stable category.
    pub fn fail(&mut self, kind: &'static str) {
        self.faults.fail(kind);
        if let Some(trace) = &mut self.trace {
            trace.fail(kind);
        }
        if let Some(pending) = &mut self.pending {
            pending.fail(kind);
        }
    }

    /// Echoes the request id on `response` and hands the record, the trace, the audit
    /// capture and the token counters (of an upstream response) to its body, which finishes
    /// them when the body ends or is dropped.
    pub fn finish(
        mut self,
        mut response: Response<ProxyBody>,
        capture: Option<Capture>,
        tokens: Option<TokenCounters>,
    ) -> Response<ProxyBody> {
        if let Some(value) = ids::header_value(&self.request_id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        let status = response.status().as_u16();
        self.faults.finish(&self.request_id, status);
        let mut observers = Observers {
            pending: self.pending.take(),
            capture,
            trace: self.trace.take(),
            tokens,
            settle: self.settle.take(),
        };
        if observers.is_empty() {
            return response;
        }
        let streaming = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if let Some(pending) = &mut observers.pending {
            pending.record.status = Some(status);
            pending.record.stream = streaming;
        }
        if let Some(trace) = &mut observers.trace {
            trace.response_status(status);
        }
        response.map(|body| observe::watch(body, observers, streaming))
    }
}

/// A record being filled; written when dropped.
#[derive(Debug)]
pub struct Pending {
    record: Record,
    started: Instant,
    emitter: Arc<Emitter>,
    /// The response was delivered to its end (or ended with an error already noted).
    ended: bool,
}

impl Pending {
    fn fail(&mut self, kind: &'static str) {
        self.record.error.get_or_insert(kind);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.ended {
            self.fail("client_aborted");
        }
        self.record.duration = self.started.elapsed();
        let record = &self.record;
        match self.emitter.format {
            Format::Json => self.emitter.sink.write_line(|out| record.write_json(out)),
            Format::Text => self.emitter.sink.write_line(|out| record.write_text(out)),
            Format::Off => {}
        }
    }
}
