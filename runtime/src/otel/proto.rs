//! The OTLP/HTTP protobuf body for a batch of spans (`ExportTraceServiceRequest` of
//! opentelemetry-proto v1), written by hand: agw sends a handful of fields, and a protobuf
//! runtime plus generated code would cost more than this file. Owns the field numbers and
//! wire types; must not drop or reorder spans.

use super::span::{Span, Value};

/// Who sends the spans: the OTLP resource and instrumentation scope.
#[derive(Clone, Debug)]
pub struct Resource {
    pub attributes: Vec<(String, Value)>,
    pub scope_name: &'static str,
    pub scope_version: &'static str,
}

/// `ExportTraceServiceRequest { resource_spans: [ { resource, scope_spans: [ { scope, spans } ] } ] }`.
pub fn export_request(resource: &Resource, spans: &[Span]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + spans.len() * 512);
    message(&mut out, 1, |rs| {
        message(rs, 1, |r| {
            for (key, value) in &resource.attributes {
                message(r, 1, |kv| key_value(kv, key, value));
            }
        });
        message(rs, 2, |ss| {
            message(ss, 1, |scope| {
                string(scope, 1, resource.scope_name);
                string(scope, 2, resource.scope_version);
            });
            for span in spans {
                message(ss, 2, |s| encode_span(s, span));
            }
        });
    });
    out
}

fn encode_span(out: &mut Vec<u8>, span: &Span) {
    bytes(out, 1, &span.trace_id.0);
    bytes(out, 2, &span.span_id.0);
    if let Some(parent) = span.parent {
        bytes(out, 4, &parent.0);
    }
    string(out, 5, &span.name);
    tag(out, 6, VARINT);
    varint(out, span.kind as u64);
    fixed64(out, 7, span.start);
    fixed64(out, 8, span.end);
    for (key, value) in &span.attributes {
        message(out, 9, |kv| key_value(kv, key, value));
    }
    if let Some(error) = &span.error {
        message(out, 15, |status| {
            string(status, 2, error);
            tag(status, 3, VARINT);
            varint(status, 2); // STATUS_CODE_ERROR
        });
    }
}

fn key_value(out: &mut Vec<u8>, key: &str, value: &Value) {
    string(out, 1, key);
    message(out, 2, |any| match value {
        Value::Str(text) => string(any, 1, text),
        Value::Bool(b) => {
            tag(any, 2, VARINT);
            varint(any, u64::from(*b));
        }
        Value::Int(n) => {
            tag(any, 3, VARINT);
            // int64 is sent as its two's-complement bits (negative numbers take 10 bytes).
            varint(any, n.cast_unsigned());
        }
    });
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, u64::from(field) << 3 | u64::from(wire));
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        // The low seven bits, then a continuation bit while more remain.
        let low = u8::try_from(n & 0x7f).unwrap_or(0);
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn fixed64(out: &mut Vec<u8>, field: u32, n: u64) {
    tag(out, field, FIXED64);
    out.extend_from_slice(&n.to_le_bytes());
}

fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    tag(out, field, LEN);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn string(out: &mut Vec<u8>, field: u32, text: &str) {
    bytes(out, field, text.as_bytes());
}

/// A length-delimited sub-message, written by `body` into a buffer of its own first (its
/// length precedes it on the wire).
fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    body(&mut inner);
    bytes(out, field, &inner);
}

#[cfg(test)]
mod tests {
    use super::super::context::{SpanId, TraceId};
    use super::super::span::Kind;
    use super::*;

    #[test]
    fn varints_and_tags_follow_the_protobuf_encoding() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        out.clear();
        varint(&mut out, (-1i64).cast_unsigned());
        assert_eq!(out.len(), 10);
        out.clear();
        key_value(&mut out, "a", &Value::Str("b".into()));
        // KeyValue{key:"a", value: AnyValue{string_value:"b"}}
        assert_eq!(out, [0x0a, 0x01, b'a', 0x12, 0x03, 0x0a, 0x01, b'b']);
    }

    #[test]
    fn a_batch_has_the_export_request_layout() {
        let resource = Resource {
            attributes: vec![("service.name".into(), Value::Str("agw-proxy".into()))],
            scope_name: "agw",
            scope_version: "1",
        };
        let span = Span {
            trace_id: TraceId([0x11; 16]),
            span_id: SpanId([0x22; 8]),
            parent: Some(SpanId([0x33; 8])),
            name: "POST /v1/messages".into(),
            kind: Kind::Server,
            start: 1,
            end: 2,
            attributes: vec![("n", Value::Int(7)), ("ok", Value::Bool(true))],
            error: Some("boom".into()),
        };
        let hex = export_request(&resource, &[span])
            .iter()
            .fold(String::new(), |mut out, b| {
                use std::fmt::Write as _;
                let _ = write!(out, "{b:02x}");
                out
            });
        insta::assert_snapshot!(hex);
    }
}
