use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;

use super::*;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn audit() -> (AuditLog, LineSink, Shared) {
    let out = Shared::default();
    let sink = LineSink::spawn("test-audit", out.clone(), Counter::default()).unwrap();
    (AuditLog::new(sink.clone()), sink, out)
}

fn records(sink: &LineSink, out: &Shared) -> Vec<serde_json::Value> {
    sink.flush(Duration::from_secs(5));
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A masked body as the proxy forwards it: the email is already `<EMAIL_ADDRESS>`.
const FORWARDED: &str = r#"{"model":"claude-x","system":"be brief","messages":[{"role":"user","content":[{"type":"text","text":"mail <EMAIL_ADDRESS> about k8s"}]}],"stream":true}"#;

const STREAM: &[&str] = &[
    r#"{"type":"message_start","message":{"usage":{"input_tokens":3}}}"#,
    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Kubernetes "}}"#,
    r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"is \"great\"."}}"#,
];

#[test]
fn a_streamed_exchange_is_recorded_as_sent_and_as_answered() {
    let (log, sink, out) = audit();
    let mut capture = log
        .capture("req-1", "default/anthropic", FORWARDED.as_bytes(), 4096)
        .unwrap();
    for event in STREAM {
        capture.sse_data(event.as_bytes());
    }
    capture.complete();
    drop(capture);
    let records = records(&sink, &out);
    assert_eq!(records.len(), 1);
    let mut record = records[0].clone();
    record["time"] = "T".into();
    insta::assert_json_snapshot!("streamed", record);
}

#[test]
fn a_json_answer_gives_its_text_blocks() {
    let (log, sink, out) = audit();
    let mut capture = log
        .capture("req-2", "b", FORWARDED.as_bytes(), 4096)
        .unwrap();
    capture.json_body(br#"{"content":[{"type":"text","text":"one"},{"type":"tool_use","input":{}},{"type":"text","text":" two"}]}"#);
    capture.complete();
    drop(capture);
    let record = &records(&sink, &out)[0];
    assert_eq!(record["response"]["text"], "one two");
    assert_eq!(record["complete"], true);
}

#[test]
fn text_over_the_limit_is_cut_with_a_marker_keeping_the_latest_turn() {
    let (log, sink, out) = audit();
    let body = r#"{"messages":[{"role":"user","content":"an old question"},{"role":"assistant","content":"an old answer"},{"role":"user","content":"the newest question é"}]}"#;
    // Room for the newest text and part of the one before it.
    let mut capture = log.capture("req-3", "b", body.as_bytes(), 25).unwrap();
    capture.sse_data(br#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"0123456789012345678901234567890"}}"#);
    drop(capture);
    let record = &records(&sink, &out)[0];
    let request = &record["request"];
    assert_eq!(request["truncated"], true);
    assert_eq!(request["omitted"], 1);
    assert_eq!(request["texts"][1]["text"], "the newest question é");
    assert_eq!(request["texts"][0]["text"], "an ");
    assert_eq!(record["response"]["text"], "0123456789012345678901234");
    assert_eq!(record["response"]["truncated"], true);
    // Dropped before its end: the client left or the upstream failed.
    assert_eq!(record["complete"], false);
}

#[test]
fn without_a_sink_nothing_is_captured() {
    let log = AuditLog::default();
    assert!(log.capture("r", "b", FORWARDED.as_bytes(), 4096).is_none());
}
