//! `defaults` and `overrides`: top-level fields of a Messages body set after the guards
//! have read the client's text and before the body is forwarded.
//!
//! An override replaces the value of its field (or adds the field); a default adds its field
//! only when the body has none (a `null` the client sent counts as set, as in agentgateway).
//! When both name a field the override wins. Owns: those splices. Must not: touch any other
//! byte of the body.

use std::collections::BTreeSet;

use agw_policy::bundle::{FieldValue, RequestEdits};
use bytes::Bytes;

use super::{Edit, insert_members, member, splice};
use crate::error::{ProxyError, Result};
use crate::messages::top_level;

/// The body with defaults and overrides applied, or `body` itself when there are none.
pub fn apply(edits: &RequestEdits, body: Bytes) -> Result<Bytes> {
    if !edits.sets_fields() || body.iter().all(u8::is_ascii_whitespace) {
        return Ok(body);
    }
    let text = std::str::from_utf8(&body)
        .map_err(|e| ProxyError::BadJson(format!("body is not UTF-8: {e}")))?;
    let top = top_level(text)?;
    let mut out = Vec::new();
    let mut new_members = Vec::new();
    let overridden: BTreeSet<&str> = edits.overrides.iter().map(|f| f.field.as_str()).collect();
    for field in &edits.overrides {
        let json = value_json(field)?;
        match top.get(&field.field) {
            Some(found) => out.push(Edit::replace(found.value, json)),
            None => new_members.push(member(&field.field, &json)?),
        }
    }
    for field in &edits.defaults {
        if top.get(&field.field).is_none() && !overridden.contains(field.field.as_str()) {
            new_members.push(member(&field.field, &value_json(field)?)?);
        }
    }
    out.extend(insert_members(
        top.inside,
        !top.members.is_empty(),
        &new_members,
    ));
    if out.is_empty() {
        return Ok(body);
    }
    splice(text, out)
}

fn value_json(field: &FieldValue) -> Result<String> {
    serde_json::to_string(&field.value)
        .map_err(|e| ProxyError::Unguardable(format!("cannot encode `{}`: {e}", field.field)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edits(
        defaults: &[(&str, serde_json::Value)],
        overrides: &[(&str, serde_json::Value)],
    ) -> RequestEdits {
        let list = |l: &[(&str, serde_json::Value)]| {
            l.iter()
                .map(|(f, v)| FieldValue {
                    field: (*f).to_owned(),
                    value: v.clone(),
                })
                .collect()
        };
        RequestEdits {
            defaults: list(defaults),
            overrides: list(overrides),
            ..RequestEdits::default()
        }
    }

    fn run(e: &RequestEdits, body: &str) -> String {
        String::from_utf8(
            apply(e, Bytes::copy_from_slice(body.as_bytes()))
                .unwrap()
                .to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn an_override_replaces_only_its_value() {
        let e = edits(&[], &[("max_tokens", json!(4096))]);
        let body = r#"{"model":"m",  "max_tokens" : 32000 ,"messages":[{"role":"user","content":"hi"}],"x":1.50}"#;
        assert_eq!(
            run(&e, body),
            r#"{"model":"m",  "max_tokens" : 4096 ,"messages":[{"role":"user","content":"hi"}],"x":1.50}"#
        );
    }

    #[test]
    fn defaults_fill_only_absent_fields_and_overrides_win() {
        let e = edits(
            &[
                ("temperature", json!(0.2)),
                ("top_k", json!(5)),
                ("max_tokens", json!(1)),
            ],
            &[
                ("max_tokens", json!(4096)),
                ("metadata_x", json!({"a":[1,null]})),
            ],
        );
        let body = r#"{"top_k":null,"messages":[]}"#;
        assert_eq!(
            run(&e, body),
            r#"{"max_tokens":4096,"metadata_x":{"a":[1,null]},"temperature":0.2,"top_k":null,"messages":[]}"#
        );
        assert_eq!(
            run(&e, "{}"),
            r#"{"max_tokens":4096,"metadata_x":{"a":[1,null]},"temperature":0.2,"top_k":5}"#
        );
    }

    #[test]
    fn a_body_that_needs_nothing_is_the_same_bytes() {
        let e = edits(&[("temperature", json!(0.2))], &[]);
        let body = Bytes::from_static(br#"{"temperature": 1}"#);
        let out = apply(&e, body.clone()).unwrap();
        assert_eq!(out.as_ptr(), body.as_ptr(), "not copied");
    }

    #[test]
    fn escaped_keys_are_matched_by_their_text() {
        let e = edits(&[], &[("max_tokens", json!(10))]);
        assert_eq!(
            run(&e, r#"{"max\u005ftokens":99}"#),
            r#"{"max\u005ftokens":10}"#
        );
    }
}
