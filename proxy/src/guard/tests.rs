//! The guard path against the tutorial's guards: what is forwarded, masked or refused.

use super::*;
use agw_policy::CompileOptions;
use agw_policy::engine::Engine;
use agw_policy::manifest::{self, Unset};

const GUARDS: &str = r#"
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {name: anthropic}
spec:
  ai:
    provider: {anthropic: {MODEL}, host: upstream, port: 80}
  policies:
    ai:
      routes: {'/v1/messages': Messages, '*': Passthrough}
      promptGuard:
        request:
        - response: {message: "Rejected due to inappropriate content"}
          regex: {action: Reject, matches: ["credit card"]}
        - regex: {action: Mask, builtins: [Email, CreditCard]}
          scope: [Messages, ToolUse]
"#;

/// The tutorial's guards (a Reject and an Email Mask, here also of cards and tool input),
/// with an optional pinned model.
fn guards(model: Option<&str>) -> (Engine, Option<String>) {
    let pin = model.map_or(String::new(), |m| format!("model: {m}"));
    let yaml = GUARDS.replace("{MODEL}", &format!("{{{pin}}}"));
    let docs = manifest::parse_bytes(yaml.as_bytes(), |_| None, Unset::Error).unwrap();
    let opts = CompileOptions::new("default".to_owned(), "anthropic".to_owned());
    let compiled = agw_policy::compile(&docs.backends[0].spec, &opts).unwrap();
    let pinned = compiled.bundle.backends[&opts.backend_key()]
        .upstream
        .model
        .clone();
    (Engine::from_bundle(&compiled.bundle).unwrap(), pinned)
}

fn run(model: Option<&str>, body: &str) -> Inspected {
    let (engine, pinned) = guards(model);
    let guards = engine.backend("default/anthropic");
    assert!(guards.is_some(), "the backend has guards");
    let models = Models {
        pinned: pinned.as_deref(),
        aliases: None,
    };
    inspect(guards, models, Bytes::copy_from_slice(body.as_bytes())).unwrap()
}

#[test]
fn the_model_and_user_id_come_from_the_guards_one_reading() {
    let (engine, _) = guards(None);
    let guards = engine.backend("default/anthropic");
    let body = r#"{"model":"claude-x","metadata":{"user_id":"user_abc_session_1\u0031"},"messages":[{"role":"user","content":"a credit card"}]}"#;
    for pinned in [None, Some("claude-pinned")] {
        let models = Models {
            pinned,
            aliases: None,
        };
        let (inspected, head) =
            inspect_with_head(guards, models, Bytes::copy_from_slice(body.as_bytes())).unwrap();
        assert!(matches!(inspected, Inspected::Reject(_)));
        // The client's model, even when agw pins another; escapes decoded.
        assert_eq!(head.model.as_deref(), Some("claude-x"));
        assert_eq!(head.user_id.as_deref(), Some("user_abc_session_11"));
    }
    // Without guards `metadata` is not scanned, yet the log still gets its user id.
    let (_, head) = inspect_with_head(
        None,
        Models::default(),
        Bytes::copy_from_slice(body.as_bytes()),
    )
    .unwrap();
    assert_eq!(head.user_id.as_deref(), Some("user_abc_session_11"));
    let no_metadata = br#"{"model":"m","messages":[]}"#;
    let (_, head) =
        inspect_with_head(None, Models::default(), Bytes::from_static(no_metadata)).unwrap();
    assert_eq!(
        head,
        Head {
            model: Some("m".to_owned()),
            user_id: None
        }
    );
    let odd = br#"{"metadata":{"user_id":7},"messages":[]}"#;
    let (_, head) = inspect_with_head(None, Models::default(), Bytes::from_static(odd)).unwrap();
    assert_eq!(head, Head::default());
}

fn forwarded(inspected: Inspected) -> (Bytes, Option<(String, String)>) {
    match inspected {
        Inspected::Forward { body, rewrite, .. } => (body, rewrite.map(|r| (r.requested, r.sent))),
        Inspected::Reject(rejected) => panic!("rejected by {}", rejected.guard_id),
    }
}

/// Odd spacing, escapes, numbers and unknown fields a re-serializer would normalize.
const ALLOWED: &str = "{\"z_unknown\":{\"b\":1.50e3,\"a\":[true,null]},\n \"model\" : \"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"What is \\u004bubernetes?\\n\",\"type\":\"text\",\"cache_control\":{\"type\":\"ephemeral\"}}]}],\"max_tokens\":1}";

#[test]
fn an_allowed_body_is_forwarded_as_the_same_bytes() {
    let (engine, _) = guards(None);
    let bytes = Bytes::from_static(ALLOWED.as_bytes());
    let Inspected::Forward { body, rewrite, .. } = inspect(
        engine.backend("default/anthropic"),
        Models::default(),
        bytes.clone(),
    )
    .unwrap() else {
        panic!("allowed");
    };
    assert_eq!(body, bytes);
    // Not only equal: the same buffer, so nothing was copied or re-encoded.
    assert_eq!(body.as_ptr(), bytes.as_ptr());
    assert!(rewrite.is_none());
}

#[test]
fn a_mask_changes_only_the_masked_literal() {
    let body = ALLOWED.replace(
        "What is \\u004bubernetes?\\n",
        "mail me: a.b@example.com \\u00e9",
    );
    let (out, _) = forwarded(run(None, &body));
    // The literal is re-encoded from its masked text (so `\u00e9` becomes `é`); every
    // byte around it is the client's.
    let expected = body.replace(
        "mail me: a.b@example.com \\u00e9",
        "mail me: <EMAIL_ADDRESS> é",
    );
    assert_ne!(expected, body);
    assert_eq!(std::str::from_utf8(&out).unwrap(), expected);
}

#[test]
fn a_reject_is_decided_whatever_the_key_order_or_escapes() {
    let body = r#"{"messages":[{"content":[{"text":"what is a cr\u0065dit card","type":"text"}],"role":"user"}],"model":"m"}"#;
    assert!(matches!(run(None, body), Inspected::Reject(_)));
}

#[test]
fn a_pinned_model_replaces_only_the_model_literal() {
    let (out, rewrite) = forwarded(run(Some("claude-pinned"), ALLOWED));
    assert_eq!(
        rewrite,
        Some(("claude-x".to_owned(), "claude-pinned".to_owned()))
    );
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        ALLOWED.replace("\"claude-x\"", "\"claude-pinned\"")
    );
}

/// Found in review: keys were not read, so a client's own key carried text unguarded.
#[test]
fn a_key_is_guarded_and_masked_in_place() {
    let rejected = r#"{"messages":[{"role":"user","content":"hi","credit card":1}]}"#;
    assert!(matches!(run(None, rejected), Inspected::Reject(_)));
    let body = r#"{"metadata":{"a.b@example.com":"x","y":"z"},"messages":[]}"#;
    let (out, _) = forwarded(run(None, body));
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        body.replace("a.b@example.com", "<EMAIL_ADDRESS>")
    );
    // A number as a key of tool input, spelled with an escape: the literal is replaced.
    let body = r#"{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":{"\u0034111 1111 1111 1111":1}}]}]}"#;
    let (out, _) = forwarded(run(None, body));
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        body.replace(r#""\u0034111 1111 1111 1111""#, r#""<CREDIT_CARD>""#)
    );
}

#[test]
fn keys_masked_into_one_name_refuse_the_request() {
    let (engine, _) = guards(None);
    let body = r#"{"metadata":{"a@example.com":1,"b@example.com":2},"messages":[]}"#;
    let err = inspect(
        engine.backend("default/anthropic"),
        Models::default(),
        Bytes::copy_from_slice(body.as_bytes()),
    )
    .expect_err("two keys masked into one");
    assert!(matches!(err, ProxyError::Unguardable(_)), "{err}");
}

#[test]
fn a_phrase_across_turns_is_found_when_the_provider_merges_them() {
    let turns = |second: &str| {
        format!(
            r#"{{"messages":[{{"role":"user","content":"what is a credit"}},{{"role":"{second}","content":[{{"type":"text","text":" card"}}]}}]}}"#
        )
    };
    assert!(matches!(run(None, &turns("user")), Inspected::Reject(_)));
    assert!(matches!(
        run(None, &turns("assistant")),
        Inspected::Forward { .. }
    ));
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                http::HeaderName::from_static(k),
                http::HeaderValue::from_static(v),
            )
        })
        .collect()
}

#[test]
fn only_uncompressed_json_is_read_on_guarded_routes() {
    let json = [("content-type", "application/json")];
    assert!(check_media(&headers(&json), b"{}").is_ok());
    assert!(
        check_media(
            &headers(&[("content-type", "Application/JSON; charset=utf-8")]),
            b"{}"
        )
        .is_ok()
    );
    assert!(
        check_media(&headers(&[]), b"").is_ok(),
        "no body, no type needed"
    );
    assert!(check_media(&headers(&[("content-encoding", "identity")]), b"").is_ok());
    for refused in [
        headers(&[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ]),
        headers(&[
            ("content-type", "application/json"),
            ("content-encoding", "identity, br"),
        ]),
        headers(&[("content-type", "text/plain")]),
        headers(&[("content-type", "application/x-www-form-urlencoded")]),
        headers(&[]),
    ] {
        let err = check_media(&refused, b"{}").expect_err("refused");
        assert_eq!(
            err.status().0,
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{refused:?}"
        );
    }
}

#[test]
fn malformed_json_is_refused_with_serde_jsons_words() {
    let (engine, _) = guards(None);
    let err = inspect(
        engine.backend("default/anthropic"),
        Models::default(),
        Bytes::from_static(b"{\"model\": \"m\", \"messages\": ["),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "request body is not valid JSON: EOF while parsing a list at line 1 column 28"
    );
}

/// The allow list judges what the provider will be asked for, not the client's name for it.
#[test]
fn the_model_sent_is_the_pin_or_the_alias_target() {
    let aliases = agw_policy::bundle::ModelAliases {
        exact: [("fast".to_owned(), "claude-haiku-4-5".to_owned())].into(),
        patterns: vec![],
    };
    let by_alias = Models {
        pinned: None,
        aliases: Some(&aliases),
    };
    assert_eq!(
        by_alias.sent(Some("fast")).as_deref(),
        Some("claude-haiku-4-5")
    );
    assert_eq!(
        by_alias.sent(Some("claude-opus-4-1")).as_deref(),
        Some("claude-opus-4-1")
    );
    assert_eq!(by_alias.sent(None), None);
    let pinned = Models {
        pinned: Some("claude-sonnet-4-5"),
        aliases: Some(&aliases),
    };
    assert_eq!(
        pinned.sent(Some("fast")).as_deref(),
        Some("claude-sonnet-4-5")
    );
    assert_eq!(pinned.sent(None).as_deref(), Some("claude-sonnet-4-5"));
}
