//! Request edits besides guards: prompt enrichment ([`enrich`]), field defaults and
//! overrides ([`fields`]). Model aliases are applied with model pinning, where the guards'
//! reader already found the `model` literal (`crate::guard`).
//!
//! Every edit splices new JSON text into byte spans the strict reader found; every byte
//! outside the touched spans reaches the provider as the client sent it (key order, spacing,
//! number spelling, unknown fields, `cache_control` blocks). Owns: those splices. Must not:
//! decide what is valid (the compiler did) or what guards see (they run on the result of
//! [`enrich`], as in agentgateway, and before [`fields`]).

pub mod enrich;
pub mod fields;
#[cfg(test)]
mod fuzz;

use bytes::Bytes;

use crate::error::{ProxyError, Result};

/// New JSON text for the bytes `start..end` of a body (an insertion when they are equal).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Edit {
    start: usize,
    end: usize,
    json: String,
}

impl Edit {
    fn insert(at: usize, json: String) -> Self {
        Self {
            start: at,
            end: at,
            json,
        }
    }

    fn replace((start, end): (usize, usize), json: String) -> Self {
        Self { start, end, json }
    }
}

/// Applies `edits` to `body`. Insertions at one offset keep their order. An edit that
/// overlaps another or lies outside the body is a bug here, and forwarding a half-edited
/// body could forward what the policy meant to change, so it refuses the request.
fn splice(body: &str, mut edits: Vec<Edit>) -> Result<Bytes> {
    edits.sort_by_key(|e| e.start);
    let extra: usize = edits.iter().map(|e| e.json.len()).sum();
    let mut out = Vec::with_capacity(body.len() + extra);
    let mut copied = 0;
    for edit in edits {
        let Some(before) = body
            .as_bytes()
            .get(copied..edit.start)
            .filter(|_| edit.start <= edit.end && edit.end <= body.len())
        else {
            return Err(ProxyError::Unguardable(format!(
                "a request edit of bytes {}..{} overlaps another or lies outside the body",
                edit.start, edit.end
            )));
        };
        out.extend_from_slice(before);
        out.extend_from_slice(edit.json.as_bytes());
        copied = edit.end;
    }
    out.extend_from_slice(&body.as_bytes()[copied..]);
    Ok(Bytes::from(out))
}

/// `"key":value` for a new top-level member.
fn member(key: &str, value_json: &str) -> Result<String> {
    Ok(format!("{}:{value_json}", json_string(key)?))
}

/// A JSON string literal for `text`.
fn json_string(text: &str) -> Result<String> {
    serde_json::to_string(text)
        .map_err(|e| ProxyError::Unguardable(format!("cannot encode a request edit: {e}")))
}

/// Whether the array or object whose value spans `span` has no elements.
fn is_empty_container(body: &str, (start, end): (usize, usize)) -> bool {
    body.get(start + 1..end.saturating_sub(1))
        .is_some_and(|inside| inside.trim_matches([' ', '\n', '\t', '\r']).is_empty())
}

/// New members inserted just inside the top-level `{`, followed by a comma when the object
/// already had members.
fn insert_members(inside: usize, had_members: bool, members: &[String]) -> Option<Edit> {
    if members.is_empty() {
        return None;
    }
    let mut json = members.join(",");
    if had_members {
        json.push(',');
    }
    Some(Edit::insert(inside, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_keeps_every_other_byte() {
        let body = r#"{ "a" : 1 ,"b":[ ] }"#;
        let out = splice(
            body,
            vec![
                Edit::replace((8, 9), "2".to_owned()),
                Edit::insert(17, "3".to_owned()),
                Edit::insert(1, r#""c":0,"#.to_owned()),
            ],
        )
        .unwrap();
        assert_eq!(out, r#"{"c":0, "a" : 2 ,"b":[ 3] }"#);
    }

    #[test]
    fn overlapping_edits_refuse_the_request() {
        let body = r#"{"a":12345}"#;
        let edits = vec![
            Edit::replace((5, 10), "1".to_owned()),
            Edit::replace((6, 7), "2".to_owned()),
        ];
        assert!(splice(body, edits).is_err());
        assert!(splice(body, vec![Edit::replace((5, 99), "1".to_owned())]).is_err());
    }

    #[test]
    fn empty_containers_are_recognised_with_whitespace() {
        assert!(is_empty_container("[ \n ]", (0, 5)));
        assert!(is_empty_container("[]", (0, 2)));
        assert!(!is_empty_container("[1]", (0, 3)));
    }
}
