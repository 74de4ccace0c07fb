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
mod tests {
    use super::*;

    /// A Claude Code request the tutorial's guards let through, streamed with usage.
    fn allowed() -> Record {
        let mut record = Record {
            time: "2026-12-04T21:00:00.123Z".to_owned(),
            request_id: "0f6b2c1e6a9d4d7e9a513c2f1b0e7d88".to_owned(),
            backend: "default/anthropic".to_owned(),
            route_type: "Messages",
            method: "POST".to_owned(),
            path: "/v1/messages".to_owned(),
            status: Some(200),
            client_address: Some("127.0.0.1".parse().unwrap()),
            client_port: Some(51234),
            key_hash: Some("sha256:9ab0981f54490dd8".to_owned()),
            user_id: Some("user_abc_account__session_123".to_owned()),
            session_id: Some("1b7e3f0c-6d0e-4b59-9a4e-2f5d8c1a7e60".to_owned()),
            user_agent: Some("claude-cli/2.1.331 (external, sdk-cli)".to_owned()),
            requested_model: Some("claude-sonnet-4-5".to_owned()),
            upstream_model: Some("claude-haiku-4-5".to_owned()),
            response_model: Some("claude-haiku-4-5".to_owned()),
            stream: true,
            usage: Usage {
                input: Some(12),
                output: Some(34),
                cache_read: Some(100),
                cache_creation: Some(7),
            },
            bytes_in: Some(2048),
            bytes_out: 4096,
            duration: Duration::from_micros(1_234_567),
            upstream_ttfb: Some(Duration::from_micros(345_678)),
            upstream_status: Some(200),
            ..Record::default()
        };
        record.push_guard("request[1]", "mask", 2);
        record
    }

    /// The tutorial's second prompt: refused by `request[0]` before any upstream call.
    fn rejected() -> Record {
        let mut record = Record {
            time: "2026-12-04T21:00:01.000Z".to_owned(),
            request_id: "client-supplied-id".to_owned(),
            backend: "default/anthropic".to_owned(),
            route_type: "Messages",
            method: "POST".to_owned(),
            path: "/v1/messages".to_owned(),
            status: Some(403),
            requested_model: Some("claude-sonnet-4-5".to_owned()),
            upstream_model: Some("claude-sonnet-4-5".to_owned()),
            bytes_in: Some(512),
            bytes_out: 96,
            duration: Duration::from_micros(800),
            error: Some("guard_rejected"),
            ..Record::default()
        };
        record.push_guard("request[0]", "reject", 1);
        record
    }

    fn json(record: &Record) -> serde_json::Value {
        let line = record.to_json_line();
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(
            memchr::memchr(b'\n', &line),
            Some(line.len() - 1),
            "one line"
        );
        serde_json::from_slice(&line).unwrap()
    }

    #[test]
    fn json_lines_use_the_opentelemetry_names() {
        // The line as written (field order included), checked to be one JSON object.
        let line = |r: &Record| {
            json(r);
            String::from_utf8(r.to_json_line()).unwrap()
        };
        insta::assert_snapshot!("allowed", line(&allowed()));
        insta::assert_snapshot!("rejected", line(&rejected()));
    }

    #[test]
    fn text_lines_are_short_and_split_on_spaces() {
        let text = |r: &Record| String::from_utf8(r.to_text_line()).unwrap();
        insta::assert_snapshot!("allowed_text", text(&allowed()));
        insta::assert_snapshot!("rejected_text", text(&rejected()));
    }

    #[test]
    fn the_input_total_counts_cached_tokens_and_is_absent_without_usage() {
        assert_eq!(allowed().usage.total_input(), Some(119));
        let value = json(&rejected());
        assert!(value.get("gen_ai.usage.input_tokens").is_none());
        assert!(value.get("gen_ai.usage.output_tokens").is_none());
    }

    #[test]
    fn no_record_exceeds_the_line_limit() {
        // The worst a client can send: every capped field at its cap, made of characters
        // that grow most when written (four-byte UTF-8, and `"` which JSON escapes).
        for unit in ["\u{1F600}", "\"", "\u{1}"] {
            let long = unit.repeat(10_000);
            let mut record = allowed();
            record.backend = bounded(&long, cap::BACKEND);
            record.path = bounded(&long, cap::PATH);
            record.user_agent = Some(bounded(&long, cap::USER_AGENT));
            record.user_id = Some(bounded(&long, cap::USER_ID));
            record.session_id = Some(bounded(&long, cap::SESSION_ID));
            record.requested_model = Some(bounded(&long, cap::MODEL));
            record.upstream_model = Some(bounded(&long, cap::MODEL));
            record.response_model = Some(bounded(&long, cap::MODEL));
            record.error = Some("upstream_stream_error");
            for _ in 0..MAX_GUARDS + 5 {
                record.push_guard(&long, "reject", u64::MAX);
            }
            assert!(record.guards_truncated);
            let json = record.to_json_line();
            let text = record.to_text_line();
            assert!(json.len() <= MAX_LINE, "json line of {} bytes", json.len());
            assert!(text.len() <= MAX_LINE, "text line of {} bytes", text.len());
        }
    }

    #[test]
    fn control_characters_cannot_break_a_line() {
        let cut = bounded("a\nb\rc\u{1b}[31m", 100);
        assert!(!cut.contains(['\n', '\r', '\u{1b}']), "{cut:?}");
        assert_eq!(bounded("abcdef", 3), "abc…");
        assert_eq!(bounded("abc", 3), "abc");
    }
}
