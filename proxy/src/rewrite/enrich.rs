//! Prompt enrichment of a Messages or token-count body, as agentgateway does it for the
//! Anthropic format: role `system` messages become text blocks of `system` — a string
//! `system` becomes a block list with the client's string as one block, a block list gets
//! new blocks before and after its own, so the client's blocks (and their `cache_control`
//! breakpoints) stay byte-identical — and `user`/`assistant` messages are put before and
//! after `messages`.
//!
//! The token-count route gets exactly the same edit as the Messages route, so a count
//! matches what a Messages request with the same body sends. Owns: that edit. Must not:
//! touch anything but `system` and `messages`.

use agw_policy::bundle::{PromptMessage, PromptRole, RequestEdits};
use bytes::Bytes;

use super::{Edit, insert_members, is_empty_container, json_string, member, splice};
use crate::error::{ProxyError, Result};
use crate::messages::{Member, top_level};

/// The enriched body, or `body` itself when there is nothing to add (or no body).
pub fn apply(edits: &RequestEdits, body: Bytes) -> Result<Bytes> {
    if !edits.enriches() || body.iter().all(u8::is_ascii_whitespace) {
        return Ok(body);
    }
    let text = std::str::from_utf8(&body)
        .map_err(|e| ProxyError::BadJson(format!("body is not UTF-8: {e}")))?;
    let top = top_level(text)?;
    let (system_before, system_after) = rendered(edits, true, system_block)?;
    let (messages_before, messages_after) = rendered(edits, false, message)?;
    let mut out = Vec::new();
    let mut new_members = Vec::new();
    let parts = [
        ("system", system_before, system_after),
        ("messages", messages_before, messages_after),
    ];
    for (key, before, after) in parts {
        if before.is_empty() && after.is_empty() {
            continue;
        }
        match top.get(key) {
            Some(found) => out.extend(edit_list(text, key, found, &before, &after)?),
            None => new_members.push(member(key, &array(&before, &after))?),
        }
    }
    out.extend(insert_members(
        top.inside,
        !top.members.is_empty(),
        &new_members,
    ));
    splice(text, out)
}

/// The JSON of the `system` (`want_system`) or message enrichments, before and after.
fn rendered(
    edits: &RequestEdits,
    want_system: bool,
    render: fn(&PromptMessage) -> Result<String>,
) -> Result<(Vec<String>, Vec<String>)> {
    let pick = |list: &[PromptMessage]| -> Result<Vec<String>> {
        list.iter()
            .filter(|m| (m.role == PromptRole::System) == want_system)
            .map(render)
            .collect()
    };
    Ok((pick(&edits.prepend)?, pick(&edits.append)?))
}

fn system_block(m: &PromptMessage) -> Result<String> {
    Ok(format!(
        r#"{{"type":"text","text":{}}}"#,
        json_string(&m.content)?
    ))
}

fn message(m: &PromptMessage) -> Result<String> {
    Ok(format!(
        r#"{{"role":"{}","content":{}}}"#,
        m.role.as_str(),
        json_string(&m.content)?
    ))
}

fn array(before: &[String], after: &[String]) -> String {
    let all: Vec<&str> = before.iter().chain(after).map(String::as_str).collect();
    format!("[{}]", all.join(","))
}

/// Edits that put `before` and `after` around the existing value of `key`.
fn edit_list(
    text: &str,
    key: &str,
    found: &Member<'_>,
    before: &[String],
    after: &[String],
) -> Result<Vec<Edit>> {
    let (start, end) = found.value;
    let value = &text[start..end];
    match value.as_bytes().first() {
        Some(b'[') if is_empty_container(text, found.value) => {
            Ok(vec![Edit::replace(found.value, array(before, after))])
        }
        Some(b'[') => {
            let mut edits = Vec::new();
            if !before.is_empty() {
                edits.push(Edit::insert(start + 1, format!("{},", before.join(","))));
            }
            if !after.is_empty() {
                edits.push(Edit::insert(end - 1, format!(",{}", after.join(","))));
            }
            Ok(edits)
        }
        Some(b'n') => Ok(vec![Edit::replace(found.value, array(before, after))]),
        // An empty system string would become an empty text block, which the provider
        // refuses; it says nothing, so it is dropped.
        Some(b'"') if key == "system" && value == "\"\"" => {
            Ok(vec![Edit::replace(found.value, array(before, after))])
        }
        Some(b'"') if key == "system" => {
            let own = format!(r#"{{"type":"text","text":{value}}}"#);
            let all: Vec<&str> = before
                .iter()
                .map(String::as_str)
                .chain([own.as_str()])
                .chain(after.iter().map(String::as_str))
                .collect();
            Ok(vec![Edit::replace(
                found.value,
                format!("[{}]", all.join(",")),
            )])
        }
        _ => Err(ProxyError::BadJson(format!(
            "`{key}` must be {}",
            if key == "system" {
                "a string or an array of text blocks"
            } else {
                "an array of messages"
            }
        ))),
    }
}

#[cfg(test)]
#[path = "enrich_tests.rs"]
mod tests;
