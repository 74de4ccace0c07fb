use std::collections::BTreeMap;

use agw_policy::CompileOptions;
use agw_policy::engine::Engine;
use agw_policy::manifest::{self, Unset};
use http_body_util::StreamBody;

use super::*;

const BACKEND: &str = r#"
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {name: anthropic}
spec:
  ai: {provider: {anthropic: {}, host: upstream, port: 80}}
  policies:
    ai:
      promptGuard:
        streaming: Enabled
        response:
        - regex: {action: Mask, builtins: [Email]}
        - response: {message: "no codenames", statusCode: 422}
          regex: {action: Reject, matches: ["project falcon"]}
"#;

fn snapshot() -> Arc<Snapshot> {
    let docs = manifest::parse_bytes(BACKEND.as_bytes(), |_| None, Unset::Error).unwrap();
    let opts = CompileOptions::new("default", "anthropic");
    let bundle = agw_policy::compile(&docs.backends[0].spec, &opts)
        .unwrap()
        .bundle;
    Arc::new(Snapshot {
        engine: Engine::from_bundle(&bundle).unwrap(),
        bundle,
        keys: BTreeMap::new(),
        key_errors: BTreeMap::new(),
        watched: Vec::new(),
        clients: BTreeMap::new(),
    })
}

fn counting() -> Counting {
    Counting {
        decisions: Family::default(),
        backend: "default/anthropic".to_owned(),
    }
}

fn parts(content_type: &str) -> http::response::Parts {
    let mut response = Response::new(());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap(),
    );
    response.into_parts().0
}

fn body_of(frames: Vec<&'static [u8]>) -> ProxyBody {
    let frames = frames
        .into_iter()
        .map(|f| Ok::<_, BoxError>(Frame::data(Bytes::from_static(f))));
    StreamBody::new(futures_util::stream::iter(frames)).boxed()
}

fn delta(text: &str) -> String {
    format!(
        "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{}}}}}\n\n",
        serde_json::Value::from(text)
    )
}

fn leak(s: String) -> &'static [u8] {
    Box::leak(s.into_boxed_str()).as_bytes()
}

#[tokio::test]
async fn a_stopped_stream_ends_after_its_error_event_and_is_counted() {
    let start = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
    let stop = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";
    let after = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    let frames = vec![
        start.as_bytes(),
        leak(delta("mail a@b.io about proj")),
        leak(delta("ect fal")),
        leak(delta("con")),
        stop.as_bytes(),
        after.as_bytes(),
    ];
    let counting = counting();
    let response = guard_stream(
        snapshot(),
        counting.clone(),
        parts("text/event-stream"),
        body_of(frames),
    );
    let out = response.into_body().collect().await.unwrap().to_bytes();
    let out = std::str::from_utf8(&out).unwrap();
    assert!(out.starts_with(start), "{out}");
    assert!(out.ends_with("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"no codenames\"}}\n\n"), "{out}");
    assert!(
        !out.contains("falcon") && !out.contains("a@b.io") && !out.contains("message_stop"),
        "{out}"
    );
    let labels = GuardLabels {
        backend: "default/anthropic".into(),
        guard: "response[1]".into(),
        action: "reject".into(),
    };
    assert_eq!(counting.decisions.get_or_create(&labels).get(), 1);
}

#[tokio::test]
async fn a_masked_json_reply_gets_its_new_length_and_a_reject_the_guard_status() {
    let reply: &'static [u8] =
        br#"{"content":[{"type":"text","text":"mail a@b.io"}],"usage":{"output_tokens":3}}"#;
    let mut p = parts("application/json");
    p.headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(reply.len()));
    let rejected = |_: u16, _: &str, _: &str| panic!("not rejected");
    let response = guard_json(
        None,
        &snapshot(),
        &counting(),
        p,
        body_of(vec![reply]),
        1 << 20,
        rejected,
    )
    .await;
    let expected = r#"{"content":[{"type":"text","text":"mail <EMAIL_ADDRESS>"}],"usage":{"output_tokens":3}}"#;
    assert_eq!(
        response.headers()[header::CONTENT_LENGTH],
        expected.len().to_string().as_str()
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, expected.as_bytes());

    let codename: &'static [u8] = br#"{"content":[{"type":"text","text":"Project Falcon ships"}]}"#;
    let reject = |status: u16, message: &str, guard: &str| {
        assert_eq!(
            (status, message, guard),
            (422, "no codenames", "response[1]")
        );
        error_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            message,
        )
    };
    let response = guard_json(
        None,
        &snapshot(),
        &counting(),
        parts("application/json"),
        body_of(vec![codename]),
        1 << 20,
        reject,
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_encoded_or_unreadable_reply_fails_closed() {
    let mut p = parts("application/json");
    p.headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    let never = |_: u16, _: &str, _: &str| panic!("not rejected");
    let response = guard_json(
        None,
        &snapshot(),
        &counting(),
        p,
        body_of(vec![b"\x1f\x8b"]),
        1 << 20,
        never,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let response = guard_json(
        None,
        &snapshot(),
        &counting(),
        parts("application/json"),
        body_of(vec![b"{\"content\": ["]),
        1 << 20,
        never,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let big = body_of(vec![
        br#"{"content":[{"type":"text","text":"0123456789"}]}"#,
    ]);
    let response = guard_json(
        None,
        &snapshot(),
        &counting(),
        parts("application/json"),
        big,
        16,
        never,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
}
