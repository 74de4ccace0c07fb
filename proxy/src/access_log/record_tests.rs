use super::*;

/// A Claude Code request the tutorial's guards let through, streamed with usage.
fn allowed() -> Record {
    let mut record = Record {
        time: Timestamp(humantime::parse_rfc3339("2026-12-04T21:00:00.123Z").unwrap()),
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
        time: Timestamp(humantime::parse_rfc3339("2026-12-04T21:00:01.000Z").unwrap()),
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
