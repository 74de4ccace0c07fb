//! One access-log record and its two renderings: a JSON object per line for machines, and a
//! short line for people. Owns the field names (OpenTelemetry semantic-convention names where
//! one exists, `agw.*` otherwise) and the size bound. Must not hold prompt or response text,
//! a key, or a matched guard span: only ids, counts, sizes and times.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

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
    /// (cached ones included), or `None` when the upstream reported none.
    pub fn total_input(&self) -> Option<u64> {
        let parts = [self.input, self.cache_read, self.cache_creation];
        parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().flatten().sum())
    }
}

/// One line of the access log.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Record {
    pub time: String,
    pub request_id: String,
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
    let fields = [
        ("gen_ai.usage.input_tokens", usage.total_input()),
        ("gen_ai.usage.output_tokens", usage.output),
        ("gen_ai.usage.cache_read.input_tokens", usage.cache_read),
        (
            "gen_ai.usage.cache_creation.input_tokens",
            usage.cache_creation,
        ),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            map.serialize_entry(name, &value)?;
        }
    }
    map.end()
}

/// Milliseconds with microsecond precision.
fn as_millis(duration: Duration) -> f64 {
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

    /// One JSON object and a newline.
    pub fn to_json_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        line.push(b'\n');
        debug_assert!(line.len() <= MAX_LINE, "{} bytes", line.len());
        line
    }

    /// `<time> <id> <method> <path> <status> <ms> backend=… model=… tokens=in/out guard=…`.
    pub fn to_text_line(&self) -> Vec<u8> {
        let status = self.status.map_or("-".to_owned(), |s| s.to_string());
        let mut line = format!(
            "{} {} {} {} {} {:.1}ms",
            self.time,
            self.request_id,
            self.method,
            self.path,
            status,
            as_millis(self.duration)
        );
        let mut field = |name: &str, value: &dyn std::fmt::Display| {
            let _ = write!(line, " {name}={value}");
        };
        if !self.backend.is_empty() {
            field("backend", &self.backend);
        }
        if let Some(model) = self
            .upstream_model
            .as_ref()
            .or(self.requested_model.as_ref())
        {
            field("model", &quoted(model));
        }
        if self.stream {
            field("stream", &true);
        }
        if let (Some(input), Some(output)) = (self.usage.total_input(), self.usage.output) {
            field("tokens", &format_args!("{input}/{output}"));
        }
        for guard in &self.guards {
            field(
                "guard",
                &format_args!("{}:{}:{}", guard.id, guard.action, guard.spans),
            );
        }
        if let Some(key) = &self.key_hash {
            field("key", key);
        }
        if let Some(user) = &self.user_id {
            field("user", &quoted(user));
        }
        if let Some(error) = self.error {
            field("error", &error);
        }
        line.push('\n');
        debug_assert!(line.len() <= MAX_LINE, "{} bytes", line.len());
        line.into_bytes()
    }
}

/// A value with spaces or quotes, JSON-quoted so the line still splits on spaces.
fn quoted(value: &str) -> String {
    if value.contains([' ', '"', '=']) {
        serde_json::Value::from(value).to_string()
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
