//! One access-log record and its two renderings: a JSON object per line for machines, and a
//! short line for people. Owns the field names (OpenTelemetry semantic-convention names where
//! one exists, `agw.*` otherwise) and the size bound. Must not hold prompt or response text,
//! a key, or a matched guard span: only ids, counts, sizes and times.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

/// No record renders to more bytes than this, newline included: every client-controlled
/// field is cut to a fixed number of characters (see [`cap`]) and the guard list to
/// [`MAX_GUARDS`], so even strings of only four-byte characters or `"` (escaped to two bytes) stay under it.
pub const MAX_LINE: usize = 16 * 1024;
/// Guards listed per record; a longer list ends with `agw.guards_truncated`.
pub const MAX_GUARDS: usize = 8;

/// Characters kept of each client-controlled string field.
pub mod cap {
    pub const PATH: usize = 512;
    pub const USER_AGENT: usize = 256;
    pub const USER_ID: usize = 256;
    pub const SESSION_ID: usize = 128;
    pub const MODEL: usize = 128;
    pub const GUARD_ID: usize = 96;
    pub const BACKEND: usize = 320;
    pub const IDENTITY: usize = 253;
}

/// What one guard did to a request (never what it matched).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GuardOutcome {
    pub id: String,
    pub action: &'static str,
    pub spans: u64,
}

/// Token usage as reported by the upstream (`usage`, JSON body or SSE events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Anthropic's `input_tokens`: uncached input only.
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub cache_read: Option<u64>,
    pub cache_creation: Option<u64>,
}

impl Usage {
    /// All input tokens, as the GenAI conventions define `gen_ai.usage.input_tokens`
    /// (cached ones included; an absurd upstream count saturates rather than overflows), or
    /// `None` when the upstream reported none.
    pub fn total_input(&self) -> Option<u64> {
        let parts = [self.input, self.cache_read, self.cache_creation];
        parts.iter().any(Option::is_some).then(|| {
            parts
                .iter()
                .flatten()
                .fold(0u64, |sum, n| sum.saturating_add(*n))
        })
    }

    /// The reported counts under their OpenTelemetry GenAI names, for the log line and the
    /// trace alike.
    pub fn genai_fields(&self) -> [(&'static str, Option<u64>); 4] {
        [
            ("gen_ai.usage.input_tokens", self.total_input()),
            ("gen_ai.usage.output_tokens", self.output),
            ("gen_ai.usage.cache_read.input_tokens", self.cache_read),
            (
                "gen_ai.usage.cache_creation.input_tokens",
                self.cache_creation,
            ),
        ]
    }
}

/// One line of the access log. Its `Serialize` is the reference the line writer
/// ([`Record::write_json`], in `line.rs`) is tested against: same fields, same order, same bytes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Record {
    pub time: Timestamp,
    pub request_id: String,
    /// The request's trace (tracing on): the OpenTelemetry log field that links a line to
    /// its trace in the collector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(rename = "agw.backend", skip_serializing_if = "String::is_empty")]
    pub backend: String,
    #[serde(rename = "agw.route_type", skip_serializing_if = "str::is_empty")]
    pub route_type: &'static str,
    #[serde(rename = "http.request.method")]
    pub method: String,
    #[serde(rename = "url.path")]
    pub path: String,
    #[serde(
        rename = "http.response.status_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<u16>,
    #[serde(rename = "client.address", skip_serializing_if = "Option::is_none")]
    pub client_address: Option<IpAddr>,
    #[serde(rename = "client.port", skip_serializing_if = "Option::is_none")]
    pub client_port: Option<u16>,
    #[serde(
        rename = "agw.client.key_sha256",
        skip_serializing_if = "Option::is_none"
    )]
    pub key_hash: Option<String>,
    #[serde(
        rename = "agw.client.identity",
        skip_serializing_if = "Option::is_none"
    )]
    pub identity: Option<String>,
    #[serde(rename = "user.id", skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(rename = "session.id", skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(
        rename = "user_agent.original",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_agent: Option<String>,
    #[serde(
        rename = "gen_ai.request.model",
        skip_serializing_if = "Option::is_none"
    )]
    pub requested_model: Option<String>,
    #[serde(
        rename = "agw.upstream.request.model",
        skip_serializing_if = "Option::is_none"
    )]
    pub upstream_model: Option<String>,
    #[serde(
        rename = "gen_ai.response.model",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_model: Option<String>,
    #[serde(rename = "agw.stream")]
    pub stream: bool,
    #[serde(rename = "agw.guards", skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<GuardOutcome>,
    #[serde(rename = "agw.guards_truncated", skip_serializing_if = "is_false")]
    pub guards_truncated: bool,
    #[serde(flatten, serialize_with = "usage_fields")]
    pub usage: Usage,
    #[serde(
        rename = "http.request.body.size",
        skip_serializing_if = "Option::is_none"
    )]
    pub bytes_in: Option<u64>,
    #[serde(rename = "http.response.body.size")]
    pub bytes_out: u64,
    #[serde(rename = "agw.duration_ms", serialize_with = "millis")]
    pub duration: Duration,
    #[serde(
        rename = "agw.upstream.ttfb_ms",
        serialize_with = "opt_millis",
        skip_serializing_if = "Option::is_none"
    )]
    pub upstream_ttfb: Option<Duration>,
    #[serde(
        rename = "agw.upstream.status_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub upstream_status: Option<u16>,
    #[serde(rename = "error.type", skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(value: &bool) -> bool {
    !value
}

fn usage_fields<S: Serializer>(usage: &Usage, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap as _;
    let mut map = serializer.serialize_map(None)?;
    for (name, value) in usage.genai_fields() {
        if let Some(value) = value {
            map.serialize_entry(name, &value)?;
        }
    }
    map.end()
}

/// When a request started, written as RFC 3339 UTC with milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub SystemTime);

impl Default for Timestamp {
    fn default() -> Self {
        Self(SystemTime::UNIX_EPOCH)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_rfc3339_millis(self.0))
    }
}

/// Milliseconds with microsecond precision.
pub(super) fn as_millis(duration: Duration) -> f64 {
    let micros = u32::try_from(duration.as_micros()).map_or(f64::from(u32::MAX), f64::from);
    micros / 1000.0
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's serialize_with passes a reference
fn millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(as_millis(*duration))
}

#[allow(clippy::ref_option)] // serde's serialize_with passes a reference
fn opt_millis<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => millis(duration, serializer),
        None => serializer.serialize_none(),
    }
}

/// `text` cut to `max` characters, with `…` marking a cut, control characters replaced.
pub fn bounded(text: &str, max: usize) -> String {
    if fits(text, max) {
        return text.to_owned();
    }
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// Like [`bounded`], keeping `text` itself when it needs no change.
pub fn bounded_owned(text: String, max: usize) -> String {
    if fits(&text, max) {
        text
    } else {
        bounded(&text, max)
    }
}

/// Short printable ASCII (the usual case) is kept as it is: no byte to replace, and no
/// more characters than bytes.
fn fits(text: &str, max: usize) -> bool {
    text.len() <= max && text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

impl Record {
    /// Adds a guard's outcome, keeping at most [`MAX_GUARDS`].
    pub fn push_guard(&mut self, id: &str, action: &'static str, spans: u64) {
        if self.guards.len() == MAX_GUARDS {
            self.guards_truncated = true;
            return;
        }
        self.guards.push(GuardOutcome {
            id: bounded(id, cap::GUARD_ID),
            action,
            spans,
        });
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
