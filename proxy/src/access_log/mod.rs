//! The access log: one line per request, written when its response ends — also when it was
//! rejected, failed, or the client went away mid-stream. Owns the per-request record, its
//! request id (honoured from the client when well formed, echoed back and sent upstream) and
//! the line sink. Must not record prompt or response text, keys or matched text: a request is
//! described by ids, counts, sizes and times only. Off costs one request id per request.

mod ids;
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
use serde::Deserialize;

pub use self::ids::REQUEST_ID;
use self::record::{Record, bounded, cap};
use self::sink::LineSink;
use crate::audit::Capture;
use crate::body::ProxyBody;

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
        Self { emitter }
    }

    /// Waits (briefly) for every finished line to be written; at shutdown.
    pub fn flush(&self) {
        if let Some(emitter) = &self.emitter {
            emitter.sink.flush(Duration::from_secs(2));
        }
    }

    /// Starts the entry of `req`, and sets its `x-request-id` to the id the log, the client
    /// and the upstream will all see.
    pub fn start<B>(&self, req: &mut Request<B>) -> Entry {
        let request_id = ids::request_id(req.headers());
        if let Some(value) = ids::header_value(&request_id) {
            req.headers_mut().insert(REQUEST_ID, value);
        }
        let pending = self.emitter.as_ref().map(|emitter| {
            let mut record = Record {
                time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
                request_id: request_id.clone(),
                method: req.method().as_str().to_owned(),
                path: bounded(&crate::router::normalize_path(req.uri().path()), cap::PATH),
                ..Record::default()
            };
            describe_client(&mut record, req);
            Box::new(Pending {
                record,
                started: Instant::now(),
                emitter: emitter.clone(),
                ended: false,
            })
        });
        Entry {
            request_id,
            pending,
        }
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
    pending: Option<Box<Pending>>,
}

/// The fields of a Messages body the log reports.
#[derive(Deserialize)]
struct BodyHead {
    model: Option<String>,
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    user_id: Option<String>,
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

    /// A Messages body as the client sent it: its size, model and `metadata.user_id`.
    pub fn request_body(&mut self, body: &[u8]) {
        let Some(record) = self.record() else { return };
        record.bytes_in = Some(body.len() as u64);
        // Invalid JSON is refused by the guard path, which says why; here it only means
        // there is nothing to report.
        let Ok(head) = serde_json::from_slice::<BodyHead>(body) else {
            return;
        };
        if let Some(model) = head.model {
            let model = bounded(&model, cap::MODEL);
            record.upstream_model = Some(model.clone());
            record.requested_model = Some(model);
        }
        record.user_id = head
            .metadata
            .and_then(|m| m.user_id)
            .map(|id| bounded(&id, cap::USER_ID));
    }

    /// The model sent upstream when agw rewrote the client's.
    pub fn upstream_model(&mut self, model: &str) {
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

    /// The upstream's status and the time it took to send its headers.
    pub fn upstream(&mut self, status: u16, ttfb: Duration) {
        if let Some(record) = self.record() {
            record.upstream_status = Some(status);
            record.upstream_ttfb = Some(ttfb);
        }
    }

    /// Why the request failed, as a stable category.
    pub fn fail(&mut self, kind: &'static str) {
        if let Some(pending) = &mut self.pending {
            pending.fail(kind);
        }
    }

    /// Echoes the request id on `response` and hands the record (and the audit capture, if
    /// any) to its body, which writes them when the body ends or is dropped.
    pub fn finish(
        mut self,
        mut response: Response<ProxyBody>,
        capture: Option<Capture>,
    ) -> Response<ProxyBody> {
        if let Some(value) = ids::header_value(&self.request_id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        let mut pending = self.pending.take();
        if pending.is_none() && capture.is_none() {
            return response;
        }
        let streaming = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if let Some(pending) = &mut pending {
            pending.record.status = Some(response.status().as_u16());
            pending.record.stream = streaming;
        }
        response.map(|body| observe::watch(body, pending, capture, streaming))
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
        let line = match self.emitter.format {
            Format::Json => self.record.to_json_line(),
            Format::Text => self.record.to_text_line(),
            Format::Off => return,
        };
        self.emitter.sink.send(line);
    }
}
