//! Guarding a Messages body: extract its texts, let the engine decide, and produce the
//! bytes to forward.
//!
//! An allowed request is forwarded as the very `Bytes` it arrived as — no copy, no
//! re-serialization. Only a Mask or a pinned model rewrites the body, and then only the
//! string literals concerned are replaced; every other byte is spliced through unchanged.

use agw_policy::engine::{BackendGuards, Decision, GuardHit, Rejected, Segment};
use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};

use crate::error::{ProxyError, Result};
use crate::messages;

/// What the guards decided about a body.
#[derive(Debug)]
pub enum Inspected {
    /// Refuse with this guard's response.
    Reject(Rejected),
    /// Forward `body`.
    Forward {
        /// The bytes to send upstream.
        body: Bytes,
        /// `(requested, pinned)` when the model was rewritten.
        rewrite: Option<(String, String)>,
        /// Spans masked, per guard.
        masked: Vec<GuardHit>,
    },
}

/// Runs `guards` (none: nothing to inspect) over `bytes` and applies the pinned model.
pub fn inspect(
    guards: Option<&BackendGuards>,
    pinned: Option<&str>,
    bytes: Bytes,
) -> Result<Inspected> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(forward(bytes));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| ProxyError::BadJson(format!("body is not UTF-8: {e}")))?;
    let guards = guards.filter(|g| !g.is_empty());
    let scope = guards.map_or(
        agw_policy::bundle::GuardScope {
            system: false,
            messages: false,
            tool_results: false,
            tool_use: false,
        },
        BackendGuards::scope,
    );
    let extracted = messages::extract(text, scope)?;
    let mut edits = Vec::new();
    let mut masked = Vec::new();
    if let Some(guards) = guards {
        let segments: Vec<Segment<'_>> = extracted
            .texts
            .iter()
            .map(|t| Segment {
                kind: t.kind,
                text: &t.text,
            })
            .collect();
        let joins: Vec<bool> = extracted.texts.iter().map(|t| t.joins_previous).collect();
        match guards.evaluate_request_joined(&segments, &joins) {
            Decision::Allow => {}
            Decision::Reject(rejected) => return Ok(Inspected::Reject(rejected)),
            Decision::Mask(mask) => {
                edits.extend(
                    extracted
                        .texts
                        .iter()
                        .zip(mask.texts)
                        .filter_map(|(t, new)| new.map(|n| (t.span, n))),
                );
                masked = mask.hits;
            }
        }
    }
    let mut rewrite = None;
    if let (Some(pinned), Some(model)) = (pinned, &extracted.model)
        && model.text != pinned
    {
        edits.push((model.span, pinned.to_owned()));
        rewrite = Some((model.text.to_string(), pinned.to_owned()));
    }
    let body = if edits.is_empty() {
        bytes
    } else {
        Bytes::from(messages::splice(text, edits)?)
    };
    Ok(Inspected::Forward {
        body,
        rewrite,
        masked,
    })
}

/// Refuses a body on a guarded route that the guards could not read as the provider will:
/// compressed (`Content-Encoding` other than `identity`), or not declared `application/json`.
///
/// Compressed bodies are refused (415) rather than decoded: no Anthropic client compresses
/// requests, and decoding would bring decompression bombs within reach of every client. A
/// body without a JSON content type may be read otherwise by the provider (or refused there
/// only after agw forwarded it), so it is refused here; an empty body needs no type.
pub fn check_media(headers: &HeaderMap, body: &[u8]) -> Result<()> {
    for value in headers.get_all(CONTENT_ENCODING) {
        let codings = value.to_str().unwrap_or("(not text)");
        if codings
            .split(',')
            .any(|c| !c.trim().eq_ignore_ascii_case("identity"))
        {
            return Err(ProxyError::UnsupportedMedia(format!(
                "agw does not accept compressed request bodies on guarded routes (Content-Encoding: {codings}); send the body uncompressed"
            )));
        }
    }
    if body.is_empty() {
        return Ok(());
    }
    let declared = headers.get_all(CONTENT_TYPE).iter().collect::<Vec<_>>();
    let json = match declared.as_slice() {
        [value] => value.to_str().is_ok_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
        }),
        _ => false,
    };
    if json {
        return Ok(());
    }
    Err(ProxyError::UnsupportedMedia(
        "guarded routes take JSON bodies: send `content-type: application/json`".to_owned(),
    ))
}

fn forward(body: Bytes) -> Inspected {
    Inspected::Forward {
        body,
        rewrite: None,
        masked: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
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
        - regex: {action: Mask, builtins: [Email]}
"#;

    /// The tutorial's guards (a Reject and an Email Mask), with an optional pinned model.
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
        inspect(
            guards,
            pinned.as_deref(),
            Bytes::copy_from_slice(body.as_bytes()),
        )
        .unwrap()
    }

    fn forwarded(inspected: Inspected) -> (Bytes, Option<(String, String)>) {
        match inspected {
            Inspected::Forward { body, rewrite, .. } => (body, rewrite),
            Inspected::Reject(rejected) => panic!("rejected by {}", rejected.guard_id),
        }
    }

    /// Odd spacing, escapes, numbers and unknown fields a re-serializer would normalize.
    const ALLOWED: &str = "{\"z_unknown\":{\"b\":1.50e3,\"a\":[true,null]},\n \"model\" : \"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"What is \\u004bubernetes?\\n\",\"type\":\"text\",\"cache_control\":{\"type\":\"ephemeral\"}}]}],\"max_tokens\":1}";

    #[test]
    fn an_allowed_body_is_forwarded_as_the_same_bytes() {
        let (engine, _) = guards(None);
        let bytes = Bytes::from_static(ALLOWED.as_bytes());
        let Inspected::Forward { body, rewrite, .. } =
            inspect(engine.backend("default/anthropic"), None, bytes.clone()).unwrap()
        else {
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
            None,
            Bytes::from_static(b"{\"model\": \"m\", \"messages\": ["),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "request body is not valid JSON: EOF while parsing a list at line 1 column 28"
        );
    }
}
