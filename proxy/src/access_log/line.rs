//! Writing a [`Record`] as a line, straight into the sink's buffer: no intermediate value, no
//! allocation, field names written as the constants they are. The JSON line is byte for
//! byte what `serde_json` makes of the record's `Serialize` (field order included; a test
//! holds the two together), values go through `serde_json`'s own escaping and number
//! formatting. The time is formatted once per second per thread and only its milliseconds
//! per line. Owns the byte layout of both formats; must not decide what a record holds.

use std::cell::Cell;
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::record::{MAX_LINE, Record, as_millis};

impl Record {
    /// Appends one JSON object and a newline to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(b"{\"time\":\"");
        write_time(out, self.time.0);
        out.push(b'"');
        let mut json = Json(out);
        json.str("request_id", &self.request_id);
        json.opt_str("trace_id", self.trace_id.as_deref());
        if !self.backend.is_empty() {
            json.str("agw.backend", &self.backend);
        }
        if !self.route_type.is_empty() {
            json.str("agw.route_type", self.route_type);
        }
        json.str("http.request.method", &self.method);
        json.str("url.path", &self.path);
        json.opt_num("http.response.status_code", self.status);
        if let Some(address) = self.client_address {
            json.key("client.address");
            let _ = write!(json.0, "\"{address}\"");
        }
        json.opt_num("client.port", self.client_port);
        json.opt_str("agw.client.key_sha256", self.key_hash.as_deref());
        json.opt_str("agw.client.identity", self.identity.as_deref());
        json.opt_str("user.id", self.user_id.as_deref());
        json.opt_str("session.id", self.session_id.as_deref());
        json.opt_str("user_agent.original", self.user_agent.as_deref());
        json.opt_str("gen_ai.request.model", self.requested_model.as_deref());
        json.opt_str("agw.upstream.request.model", self.upstream_model.as_deref());
        json.opt_str("gen_ai.response.model", self.response_model.as_deref());
        json.num("agw.stream", self.stream);
        self.write_guards(&mut json);
        for (name, value) in self.usage.genai_fields() {
            json.opt_num(name, value);
        }
        json.opt_num("http.request.body.size", self.bytes_in);
        json.num("http.response.body.size", self.bytes_out);
        json.num("agw.duration_ms", as_millis(self.duration));
        json.opt_num("agw.upstream.ttfb_ms", self.upstream_ttfb.map(as_millis));
        json.opt_num("agw.upstream.status_code", self.upstream_status);
        json.opt_str("error.type", self.error);
        out.extend_from_slice(b"}\n");
        debug_assert!(out.len() - start <= MAX_LINE, "{} bytes", out.len() - start);
    }

    fn write_guards(&self, json: &mut Json<'_>) {
        if !self.guards.is_empty() {
            json.key("agw.guards");
            json.0.push(b'[');
            for (i, guard) in self.guards.iter().enumerate() {
                if i > 0 {
                    json.0.push(b',');
                }
                json.0.extend_from_slice(b"{\"id\":");
                json.value(&guard.id);
                json.str("action", guard.action);
                json.num("spans", guard.spans);
                json.0.push(b'}');
            }
            json.0.push(b']');
        }
        if self.guards_truncated {
            json.num("agw.guards_truncated", true);
        }
    }

    /// Appends `<time> <id> <method> <path> <status> <ms> backend=… model=… tokens=in/out
    /// guard=…` and a newline to `out`.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        let start = out.len();
        write_time(out, self.time.0);
        let _ = write!(out, " {} {} {} ", self.request_id, self.method, self.path);
        match self.status {
            Some(status) => {
                let _ = write!(out, "{status}");
            }
            None => out.push(b'-'),
        }
        let _ = write!(out, " {:.1}ms", as_millis(self.duration));
        if !self.backend.is_empty() {
            let _ = write!(out, " backend={}", self.backend);
        }
        let model = self
            .upstream_model
            .as_ref()
            .or(self.requested_model.as_ref());
        if let Some(model) = model {
            quoted(out, "model", model);
        }
        if self.stream {
            out.extend_from_slice(b" stream=true");
        }
        if let (Some(input), Some(output)) = (self.usage.total_input(), self.usage.output) {
            let _ = write!(out, " tokens={input}/{output}");
        }
        for guard in &self.guards {
            let _ = write!(out, " guard={}:{}:{}", guard.id, guard.action, guard.spans);
        }
        if let Some(key) = &self.key_hash {
            let _ = write!(out, " key={key}");
        }
        if let Some(identity) = &self.identity {
            quoted(out, "identity", identity);
        }
        if let Some(user) = &self.user_id {
            quoted(out, "user", user);
        }
        if let Some(error) = self.error {
            let _ = write!(out, " error={error}");
        }
        out.push(b'\n');
        debug_assert!(out.len() - start <= MAX_LINE, "{} bytes", out.len() - start);
    }
}

#[cfg(test)]
impl Record {
    pub fn to_json_line(&self) -> Vec<u8> {
        let mut line = Vec::new();
        self.write_json(&mut line);
        line
    }

    pub fn to_text_line(&self) -> Vec<u8> {
        let mut line = Vec::new();
        self.write_text(&mut line);
        line
    }
}

/// ` name=value`, the value JSON-quoted when it has spaces, quotes or `=`, so the line still
/// splits on spaces.
fn quoted(out: &mut Vec<u8>, name: &str, value: &str) {
    let _ = write!(out, " {name}=");
    if value.contains([' ', '"', '=']) {
        let _ = serde_json::to_writer(&mut *out, value);
    } else {
        out.extend_from_slice(value.as_bytes());
    }
}

/// The members after the first of a JSON object being written.
struct Json<'a>(&'a mut Vec<u8>);

impl Json<'_> {
    /// `,"name":` — names are constants that need no escaping.
    fn key(&mut self, name: &str) {
        self.0.extend_from_slice(b",\"");
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(b"\":");
    }

    /// A value as `serde_json` writes it (writing to a `Vec` cannot fail).
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) {
        let _ = serde_json::to_writer(&mut *self.0, value);
    }

    fn str(&mut self, name: &str, value: &str) {
        self.key(name);
        self.value(value);
    }

    fn opt_str(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(name, value);
        }
    }

    fn num<T: Serialize>(&mut self, name: &str, value: T) {
        self.key(name);
        self.value(&value);
    }

    fn opt_num<T: Serialize>(&mut self, name: &str, value: Option<T>) {
        if let Some(value) = value {
            self.num(name, value);
        }
    }
}

thread_local! {
    /// The last second formatted on this thread: `YYYY-MM-DDTHH:MM:SS`.
    static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z).
const LAST_SECOND: u64 = 253_402_300_799;

/// `time` as RFC 3339 UTC with milliseconds (`2026-12-04T21:00:00.123Z`), as
/// `humantime::format_rfc3339_millis` writes it; a clock outside years 1970–9999 is
/// written as the nearest end.
fn write_time(out: &mut Vec<u8>, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, millis) = match since.as_secs() {
        secs if secs > LAST_SECOND => (LAST_SECOND, 999),
        secs => (secs, since.subsec_millis()),
    };
    let (cached, mut prefix) = SECOND.get();
    if cached != secs {
        let second = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs));
        let mut whole = [0u8; 20];
        // Always 20 bytes (`YYYY-MM-DDTHH:MM:SSZ`) for years 1970–9999.
        if write!(&mut whole[..], "{second}").is_ok() {
            prefix.copy_from_slice(&whole[..19]);
        }
        SECOND.set((secs, prefix));
    }
    out.extend_from_slice(&prefix);
    let digit = |n: u32| b'0' + u8::try_from(n % 10).unwrap_or(0);
    out.extend_from_slice(&[
        b'.',
        digit(millis / 100),
        digit(millis / 10),
        digit(millis),
        b'Z',
    ]);
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
