//! Guarding a Messages body: extract its texts, let the engine decide, and produce the
//! bytes to forward.
//!
//! An allowed request is forwarded as the very `Bytes` it arrived as — no copy, no
//! re-serialization. Only a Mask or a pinned model rewrites the body, and then only the
//! string literals concerned are replaced; every other byte is spliced through unchanged.

use agw_policy::engine::{BackendGuards, Decision, GuardHit, Rejected, Segment};
use bytes::Bytes;

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
        match guards.evaluate_request(&segments) {
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
        Bytes::from(messages::splice(text, edits))
    };
    Ok(Inspected::Forward {
        body,
        rewrite,
        masked,
    })
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
