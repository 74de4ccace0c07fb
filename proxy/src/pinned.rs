//! Explaining errors caused by a pinned model or a model alias.
//!
//! When a Backend pins a model (or resolves an alias) and the upstream rejects the rewritten
//! request, the error is about a model the client never asked for ("thinking mode isn't
//! enabled"). The proxy adds a sentence saying so to the Anthropic error message.

use http::HeaderMap;
use http::header::{CONTENT_LENGTH, HeaderValue};
use http_body_util::BodyExt as _;

use crate::body::{ProxyBody, full};
use crate::guard::ModelRewrite;

/// Error bodies are small; a larger one is passed through untouched.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn annotate(
    body: ProxyBody,
    headers: &mut HeaderMap,
    rewrite: &ModelRewrite,
) -> ProxyBody {
    let Ok(collected) = http_body_util::Limited::new(body, MAX_ERROR_BODY)
        .collect()
        .await
    else {
        return full(bytes::Bytes::new());
    };
    let bytes = collected.to_bytes();
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return full(bytes);
    };
    let Some(message) = value.pointer_mut("/error/message") else {
        return full(bytes);
    };
    let original = message.as_str().unwrap_or_default().to_owned();
    let ModelRewrite {
        requested, sent, ..
    } = rewrite;
    let note = if rewrite.pinned {
        format!(
            "agw pinned the model from {requested} to {sent}; a client feature the pinned model does not support can cause this error"
        )
    } else {
        format!("agw sent the model alias {requested} as {sent}")
    };
    *message = serde_json::Value::String(format!("{original} (note: {note})"));
    let text = value.to_string();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    full(text)
}
