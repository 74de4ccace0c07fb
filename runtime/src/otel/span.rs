//! A finished span as the exporter sends it: ids, name, kind, times, attributes, status.
//! Owns nothing but the data; must not hold prompt or response text, keys or matched text
//! (the proxy's request path puts only ids, counts, sizes, models and guard outcomes here;
//! the operator and webhook object keys, verdicts and error categories).

use std::time::{SystemTime, UNIX_EPOCH};

use super::context::{SpanId, TraceId};

/// The OTLP span kinds agw emits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    #[default]
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Self::Str(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Self::Str(text)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Self::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

impl From<u16> for Value {
    fn from(n: u16) -> Self {
        Self::Int(n.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

/// One span, started and (once `end` is set) finished.
#[derive(Clone, Debug)]
#[allow(clippy::struct_field_names)] // `span_id` is the OTLP field's name
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent: Option<SpanId>,
    pub name: String,
    pub kind: Kind,
    /// Unix nanoseconds.
    pub start: u64,
    pub end: u64,
    pub attributes: Vec<(&'static str, Value)>,
    /// `Some(message)`: the span failed (OTLP status ERROR).
    pub error: Option<String>,
}

impl Span {
    /// A span of `trace` starting now.
    pub fn start(
        trace_id: TraceId,
        parent: Option<SpanId>,
        name: impl Into<String>,
        kind: Kind,
    ) -> Self {
        Self {
            trace_id,
            span_id: SpanId::random(),
            parent,
            name: name.into(),
            kind,
            start: now(),
            end: 0,
            attributes: Vec::new(),
            error: None,
        }
    }

    /// Sets `key` (the last value set wins when the span is read).
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        let value = value.into();
        match self.attributes.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((key, value)),
        }
    }

    /// Ends the span now (a second call keeps the first end).
    pub fn end(&mut self) {
        if self.end == 0 {
            self.end = now().max(self.start);
        }
    }
}

/// Unix nanoseconds now (0 before 1970, which no clock agw runs on shows).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
