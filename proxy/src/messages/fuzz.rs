//! Fuzz targets for the request reader and the guard path, run on stable by `hack/fuzz`
//! (`#[ignore]`d here: they run for a time budget, `AGW_FUZZ_SECONDS`, default 10).
//!
//! Inputs come from proptest strategies, drawn in a loop until the budget is spent (no
//! shrinking: a failing input is printed whole and should become a regression test).
//! Invariants: nothing panics; the reader accepts nothing serde_json refuses; and a body the
//! guard lets through carries the guarded phrase in no string the provider would read.

use std::time::{Duration, Instant};

use agw_policy::bundle::{
    Detector, Guard, GuardAction, GuardScope, GuardSet, RegexDetector, Rejection,
};
use agw_policy::engine::BackendGuards;
use bytes::Bytes;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::json::Reader;
use super::walk;
use crate::guard::{Inspected, inspect};

fn budget() -> Duration {
    let seconds = std::env::var("AGW_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    Duration::from_secs(seconds.unwrap_or(10))
}

/// Draws inputs from `strategy` until the budget is spent; returns how many were checked.
pub(crate) fn drive<T: std::fmt::Debug>(
    name: &str,
    strategy: impl Strategy<Value = T>,
    check: impl Fn(&T),
) {
    let mut runner = TestRunner::default();
    let deadline = Instant::now() + budget();
    let mut cases = 0u64;
    while Instant::now() < deadline {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let input = tree.current();
        let held = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input)));
        assert!(
            held.is_ok(),
            "{name}: failing input after {cases} cases: {input:?}"
        );
        cases += 1;
    }
    eprintln!("fuzz {name}: {cases} cases in {:?}, no failure", budget());
}

/// JSON-ish text: real JSON values, then bytes of them swapped, cut or repeated.
pub(crate) fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "(credit card|credit| card|text|type|user|\\PC{0,8}|\\\\u[0-9a-f]{4}){0,3}"
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("text".to_owned()),
                    Just("content".to_owned()),
                    Just("messages".to_owned()),
                    Just("system".to_owned()),
                    Just("input".to_owned()),
                    Just("data".to_owned()),
                    Just("source".to_owned()),
                    Just("metadata".to_owned()),
                    Just("tool_result".to_owned()),
                    Just("tool_use".to_owned()),
                    Just("role".to_owned()),
                    Just("name".to_owned()),
                    "(credit card|[a-z_]{1,6}|\\PC{0,4}){1,2}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

pub(crate) fn mutated_json() -> impl Strategy<Value = Vec<u8>> {
    (
        json_value(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 0..4),
    )
        .prop_map(|(value, edits)| {
            let mut bytes = serde_json::to_vec(&value).unwrap_or_default();
            for (at, byte, op) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    2 => bytes.truncate(i),
                    _ => {
                        let copy = bytes[i..].to_vec();
                        bytes.extend_from_slice(&copy);
                    }
                }
            }
            bytes
        })
}

#[test]
#[ignore = "a fuzz target: run with hack/fuzz"]
fn fuzz_reader_accepts_nothing_serde_json_refuses() {
    drive("reader", mutated_json(), |bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        let mut reader = Reader::new(text);
        if reader.skip().and_then(|()| reader.end()).is_ok() {
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
                "{text:?}"
            );
        }
    });
}

fn phrase_guard() -> BackendGuards {
    let guard = Guard {
        id: "request[0]".to_owned(),
        action: GuardAction::Reject,
        reject: Rejection {
            status: 400,
            message: "no".to_owned(),
        },
        scope: GuardScope {
            system: true,
            messages: true,
            tool_results: true,
            tool_use: true,
        },
        detectors: vec![Detector::Regex(RegexDetector {
            pattern: "credit card".to_owned(),
            path: "p".to_owned(),
        })],
        webhook: None,
    };
    BackendGuards::from_guard_set(&GuardSet {
        request: vec![guard],
        response: vec![],
        streaming: false,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Every string a provider reads as text in a forwarded body: everything under `system`,
/// `messages` and `metadata` (values, and keys that are not API names) except the values the
/// walker treats as opaque.
fn provider_texts(value: &serde_json::Value, under_opaque: bool, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if !under_opaque => out.push(s.clone()),
        serde_json::Value::Array(items) => items
            .iter()
            .for_each(|v| provider_texts(v, under_opaque, out)),
        serde_json::Value::Object(map) => {
            let opaque_data = map
                .get("type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| walk::OPAQUE_DATA.contains(&t));
            for (key, v) in map {
                // A `role` is read by the provider as one of two words, or refused.
                let opaque = walk::OPAQUE_KEYS.contains(&key.as_str())
                    || (key == "data" && opaque_data)
                    || key == "role";
                if !under_opaque && !opaque && !walk::SCHEMA_KEYS.contains(&key.as_str()) {
                    out.push(key.clone());
                }
                provider_texts(v, under_opaque || opaque, out);
            }
        }
        _ => {}
    }
}

/// "credit card" after no letter or digit of any script, so a word start whatever a letter
/// normalizes to (`𝕎credit` reads `Wcredit`): a subset of what the guard's plain phrase matches
/// (it also sees through case, width and whitespace).
fn has_phrase(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.match_indices("credit card").any(|(at, _)| {
        !lower[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
#[ignore = "a fuzz target: run with hack/fuzz"]
fn fuzz_an_allowed_body_carries_no_guarded_phrase() {
    let guards = phrase_guard();
    let bodies = (json_value(), json_value()).prop_map(|(system, messages)| {
        let messages = match messages {
            serde_json::Value::Array(items) => items,
            other => vec![serde_json::json!({"role": "user", "content": other})],
        };
        serde_json::json!({"model": "m", "system": system, "messages": messages})
            .to_string()
            .into_bytes()
    });
    drive("guard", prop_oneof![bodies, mutated_json()], |bytes| {
        let Ok(Inspected::Forward { body, .. }) = inspect(
            Some(&guards),
            crate::guard::Models::default(),
            Bytes::copy_from_slice(bytes),
        ) else {
            return;
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return; // not JSON: the provider refuses it too
        };
        let mut texts = Vec::new();
        for key in ["system", "messages", "metadata"] {
            if let Some(v) = value.get(key) {
                provider_texts(v, false, &mut texts);
            }
        }
        for text in texts {
            assert!(
                !has_phrase(&text),
                "forwarded {text:?} in {:?}",
                String::from_utf8_lossy(&body)
            );
        }
    });
}
