//! Fuzz target for request edits (run by `hack/fuzz`): enrichment, then defaults and
//! overrides, spliced into arbitrary (and mutated) bodies, must give exactly the JSON a plain
//! model of the edits computes on the parsed body — or refuse a body the model refuses too.
//! The model works on `serde_json::Value`s, so it shares no code with the splicer.

use agw_policy::bundle::{FieldValue, PromptMessage, PromptRole, RequestEdits};
use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::messages::fuzz::{drive, json_value, mutated_json};

fn edits() -> RequestEdits {
    let message = |role, content: &str| PromptMessage {
        role,
        content: content.to_owned(),
    };
    let field = |name: &str, value: Value| FieldValue {
        field: name.to_owned(),
        value,
    };
    RequestEdits {
        prepend: vec![
            message(PromptRole::System, "policy \"one\""),
            message(PromptRole::User, "context\n"),
        ],
        append: vec![
            message(PromptRole::System, "é"),
            message(PromptRole::Assistant, "ok"),
        ],
        defaults: vec![
            field("temperature", json!(0.5)),
            field("max_tokens", json!(1)),
        ],
        overrides: vec![
            field("max_tokens", json!(4096)),
            field("x", json!({"a": [null]})),
        ],
        ..RequestEdits::default()
    }
}

/// What the edits should make of `body`; `None` where the splicer must refuse.
fn model(edits: &RequestEdits, body: Value) -> Option<Value> {
    let Value::Object(mut map) = body else {
        return None;
    };
    let texts = |list: &[PromptMessage], system: bool| -> Vec<Value> {
        list.iter()
            .filter(|m| (m.role == PromptRole::System) == system)
            .map(|m| {
                if system {
                    json!({"type": "text", "text": m.content})
                } else {
                    json!({"role": m.role.as_str(), "content": m.content})
                }
            })
            .collect()
    };
    for (key, system) in [("system", true), ("messages", false)] {
        let (before, after) = (texts(&edits.prepend, system), texts(&edits.append, system));
        let own = match map.remove(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) if system && s.is_empty() => Vec::new(),
            Some(Value::String(s)) if system => vec![json!({"type": "text", "text": s})],
            Some(Value::Array(items)) => items,
            Some(_) => return None,
        };
        map.insert(key.to_owned(), Value::from([before, own, after].concat()));
    }
    fields(edits, &mut map);
    Some(Value::Object(map))
}

fn fields(edits: &RequestEdits, map: &mut Map<String, Value>) {
    for f in &edits.overrides {
        map.insert(f.field.clone(), f.value.clone());
    }
    for f in &edits.defaults {
        map.entry(f.field.clone())
            .or_insert_with(|| f.value.clone());
    }
}

#[test]
#[ignore = "a fuzz target: run with hack/fuzz"]
fn fuzz_request_edits_splice_what_a_json_model_computes() {
    let edits = edits();
    let bodies = prop_oneof![
        mutated_json(),
        (json_value(), json_value(), json_value()).prop_map(|(system, messages, other)| {
            json!({"system": system, "messages": messages, "max_tokens": other})
                .to_string()
                .into_bytes()
        }),
    ];
    drive("request-edits", bodies, |bytes| {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let parsed = serde_json::from_slice::<Value>(bytes).ok();
        if parsed.is_none() && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
            // Valid JSON a `Value` cannot hold (a number out of f64's range): the model cannot
            // judge it, and the provider, not agw, decides what such a number means.
            return;
        }
        let spliced = super::enrich::apply(&edits, Bytes::copy_from_slice(bytes))
            .and_then(|body| super::fields::apply(&edits, body));
        let expected = parsed.and_then(|v| model(&edits, v));
        match (spliced, expected) {
            (Ok(body), Some(expected)) => {
                let got: Value = serde_json::from_slice(&body).expect("the splice is JSON");
                assert_eq!(got, expected);
            }
            // Refused by both, or by the splicer only: it is stricter than serde_json on
            // purpose (duplicate keys, lone surrogates, depth).
            (Err(_), _) => {}
            (Ok(body), None) => panic!(
                "edited a body the model refuses: {}",
                String::from_utf8_lossy(&body)
            ),
        }
    });
}
