//! The per-request trace: what it sends upstream, which spans it records, and that it never
//! waits for the exporter.

use http::HeaderMap;
use http::header::HeaderValue;
use prometheus_client::metrics::counter::Counter;

use super::context::{TRACEPARENT, TRACESTATE};
use super::export;
use super::sampler::{Root, Sampler};
use super::span::{Kind, Span, Value};
use super::{Inner, Tracer};

const CLIENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn tracer(sampler: Sampler) -> (Tracer, impl FnMut() -> Vec<Span>, Counter) {
    let dropped = Counter::default();
    let (exporter, read) = export::capture(dropped.clone(), 4);
    let inner = Inner { sampler, exporter };
    (Tracer { inner: Some(inner) }, read, dropped)
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

#[test]
fn a_request_continues_the_clients_trace_and_names_its_upstream_span_upstream() {
    let (tracer, mut read, _) = tracer(Sampler::ParentBased(Root::AlwaysOff));
    let mut client = headers(&[(TRACEPARENT, CLIENT), (TRACESTATE, "congo=t61")]);
    let mut trace = tracer.request(&mut client).unwrap();
    assert!(
        client.get(TRACEPARENT).is_none(),
        "the client's header is replaced, not forwarded"
    );
    trace.chat();
    trace.request_model("claude-x".to_owned());
    trace.guard_started();
    trace.guard_ended("reject", Some("request[0]"), 1);
    let mut upstream = HeaderMap::new();
    trace.upstream(&mut upstream, "POST", "api.anthropic.com", 443);
    trace.upstream_status(200);
    drop(trace);
    let spans = read();
    let [guard, up, server] = spans.as_slice() else {
        panic!("{spans:?}")
    };
    assert_eq!(server.kind, Kind::Server);
    assert_eq!(server.trace_id.to_hex(), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(server.parent.unwrap().to_hex(), "b7ad6b7169203331");
    assert_eq!(
        (guard.parent, up.parent),
        (Some(server.span_id), Some(server.span_id))
    );
    assert_eq!(
        attr(server, "agw.guard.id"),
        Some(&Value::from("request[0]"))
    );
    assert_eq!(attr(guard, "agw.guard.spans"), Some(&Value::Int(1)));
    assert_eq!((up.kind, up.name.as_str()), (Kind::Client, "chat claude-x"));
    assert_eq!(attr(up, "gen_ai.system"), Some(&Value::from("anthropic")));
    let sent = format!(
        "00-0af7651916cd43dd8448eb211c80319c-{}-01",
        up.span_id.to_hex()
    );
    assert_eq!(upstream[TRACEPARENT], sent.as_str());
    assert_eq!(upstream[TRACESTATE], "congo=t61");
    assert!(spans.iter().all(|s| s.end >= s.start && s.end > 0));
}

#[test]
fn an_unsampled_request_records_nothing_and_still_propagates() {
    let (tracer, mut read, _) = tracer(Sampler::AlwaysOff);
    let mut client = headers(&[(TRACEPARENT, CLIENT)]);
    let mut trace = tracer.request(&mut client).unwrap();
    let mut upstream = HeaderMap::new();
    trace.upstream(&mut upstream, "GET", "h", 80);
    drop(trace);
    assert!(read().is_empty());
    assert_eq!(upstream[TRACEPARENT], CLIENT.replace("-01", "-00").as_str());
    // Without a caller, the upstream still gets a (fresh, unsampled) context.
    let mut trace = tracer.request(&mut HeaderMap::new()).unwrap();
    let mut upstream = HeaderMap::new();
    trace.upstream(&mut upstream, "GET", "h", 80);
    let sent = upstream[TRACEPARENT].to_str().unwrap().to_owned();
    assert!(
        sent.starts_with("00-") && sent.ends_with("-00") && sent.len() == 55,
        "{sent}"
    );
}

#[test]
fn a_failed_request_marks_its_server_span() {
    let (tracer, mut read, _) = tracer(Sampler::AlwaysOn);
    let mut trace = tracer.request(&mut HeaderMap::new()).unwrap();
    let mut upstream = HeaderMap::new();
    trace.upstream(&mut upstream, "GET", "h", 80);
    trace.upstream_status(404);
    trace.fail("upstream_timeout");
    trace.response_status(504);
    drop(trace);
    let [up, server] = read().try_into().unwrap();
    // Not a Messages call: a plain HTTP client span.
    assert_eq!(up.name, "GET");
    assert_eq!(attr(&up, "gen_ai.system"), None);
    assert_eq!(attr(&up, "error.type"), Some(&Value::from("404")));
    assert_eq!(server.parent, None);
    assert_eq!(server.error.as_deref(), Some("upstream_timeout"));
    assert_eq!(
        attr(&server, "error.type"),
        Some(&Value::from("upstream_timeout"))
    );
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_waiting() {
    let (tracer, _read, dropped) = tracer(Sampler::AlwaysOn);
    // The capture queue holds 4 spans; 10 requests make 10 server spans.
    for _ in 0..10 {
        drop(tracer.request(&mut HeaderMap::new()));
    }
    assert_eq!(dropped.get(), 6);
}

#[test]
fn tracing_off_leaves_the_headers_alone() {
    let mut client = headers(&[(TRACEPARENT, "garbage")]);
    assert!(Tracer::default().request(&mut client).is_none());
    assert_eq!(client[TRACEPARENT], "garbage");
}
