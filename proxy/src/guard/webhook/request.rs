//! Request webhook guards: each guard's scoped texts of a Messages body, as agentgateway's
//! `messages` (role and content, one entry per text), and its verdict applied to the body.
//!
//! They run after the regex guards, in their list order, each on the body as masked so far
//! (so a checker never sees what a regex guard already masked). Must not: decide anything
//! the checker or the guard's `failureMode` does not say.

use std::borrow::Cow;

use agw_policy::bundle::{BundleBackend, Guard};
use bytes::Bytes;
use http::{HeaderMap, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Checker, Failure, Verdict, failure_message, forwarded};
use crate::access_log::Entry;
use crate::body::ProxyBody;
use crate::error::{ProxyError, Result};
use crate::messages;
use crate::state::State;

/// What the request webhook guards decided.
#[derive(Debug)]
pub enum Outcome {
    /// Forward this body.
    Forward {
        /// The body, masked where a checker said so.
        body: Bytes,
        /// Guards that masked, with how many texts each changed.
        masked: Vec<(String, usize)>,
    },
    /// Refuse: guard id, status, message.
    Reject {
        /// The guard.
        guard_id: String,
        /// HTTP status.
        status: u16,
        /// Message for the client.
        message: String,
    },
}

#[derive(Serialize)]
struct Payload<'a> {
    body: Messages<'a>,
}

#[derive(Serialize)]
struct Messages<'a> {
    messages: Vec<Message<'a>>,
}

/// One text as agentgateway's webhook `Message`.
#[derive(Serialize)]
pub(super) struct Message<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

/// The request webhook guards of `backend`, after its regex guards: the body to forward, or
/// the rejection to answer with; counted and logged as any guard's decisions.
pub async fn apply(
    state: &State,
    key: &str,
    backend: &BundleBackend,
    body: Bytes,
    headers: &HeaderMap,
    log: &mut Entry,
    reject: impl FnOnce(u16, &str, &str) -> Response<ProxyBody>,
) -> Result<std::result::Result<Bytes, Response<ProxyBody>>> {
    if backend.guards.request.iter().all(|g| g.webhook.is_none()) {
        return Ok(Ok(body));
    }
    match check(state, key, &backend.guards.request, body, headers).await? {
        Outcome::Forward { body, masked } => {
            for (guard, texts) in masked {
                state.metrics.count_guard(key, &guard, "mask", texts as u64);
                log.guard(&guard, "mask", texts as u64);
                tracing::info!(backend = key, guard = %guard, texts, request_id = log.request_id(), "request masked by webhook guard");
            }
            Ok(Ok(body))
        }
        Outcome::Reject {
            guard_id,
            status,
            message,
        } => {
            state.metrics.count_guard(key, &guard_id, "reject", 1);
            log.guard(&guard_id, "reject", 1);
            log.fail("guard_rejected");
            tracing::info!(backend = key, guard = %guard_id, status, request_id = log.request_id(), "request rejected by webhook guard");
            Ok(Err(reject(status, &message, &guard_id)))
        }
    }
}

/// Runs the webhook guards among `guards` over `body`, in order.
pub async fn check(
    state: &State,
    backend: &str,
    guards: &[Guard],
    mut body: Bytes,
    headers: &HeaderMap,
) -> Result<Outcome> {
    let mut masked = Vec::new();
    for checker in Checker::all(state, backend, guards) {
        let text = std::str::from_utf8(&body)
            .map_err(|e| ProxyError::BadJson(format!("body is not UTF-8: {e}")))?;
        let extracted = messages::extract(text, checker.guard.scope)?;
        if extracted.texts.is_empty() {
            continue;
        }
        let roles = roles(text);
        let sent: Vec<Message<'_>> = extracted
            .texts
            .iter()
            .map(|literal| Message {
                role: role_of(&roles, literal),
                content: &literal.text,
            })
            .collect();
        let payload = Payload {
            body: Messages { messages: sent },
        };
        let verdict = checker
            .check(
                &payload,
                &forwarded(checker.call, headers),
                extracted.texts.len(),
            )
            .await;
        match verdict {
            Ok(Verdict::Pass) => {}
            Ok(Verdict::Reject { message, status }) => {
                return Ok(reject(checker.guard, status, message));
            }
            Ok(Verdict::Mask(texts)) => {
                let (spliced, changed) = splice_texts(text, &extracted.texts, texts)?;
                if changed > 0 {
                    masked.push((checker.guard.id.clone(), changed));
                    body = spliced;
                }
            }
            Err(_) if checker.call.fail_open => {}
            Err(failure) => {
                super::record_failure(
                    state.access_log.recent_errors(),
                    backend,
                    headers,
                    checker.guard,
                    &failure,
                );
                return Ok(failed(checker.guard, &failure));
            }
        }
    }
    Ok(Outcome::Forward { body, masked })
}

fn reject(guard: &Guard, status: Option<u16>, message: String) -> Outcome {
    let message = if message.trim().is_empty() {
        guard.reject.message.clone()
    } else {
        message
    };
    Outcome::Reject {
        guard_id: guard.id.clone(),
        status: status.unwrap_or(guard.reject.status),
        message,
    }
}

fn failed(guard: &Guard, failure: &Failure) -> Outcome {
    Outcome::Reject {
        guard_id: guard.id.clone(),
        status: guard.reject.status,
        message: failure_message(guard, "request", failure),
    }
}

/// Splices the checker's texts over the ones that changed; returns the body and how many.
fn splice_texts(
    text: &str,
    literals: &[messages::Literal<'_>],
    texts: Vec<String>,
) -> Result<(Bytes, usize)> {
    let mut edits = Vec::new();
    let mut key = false;
    for (literal, new) in literals.iter().zip(texts) {
        if new != literal.text {
            key |= literal.key;
            edits.push((literal.span, new));
        }
    }
    let changed = edits.len();
    if changed == 0 {
        return Ok((Bytes::copy_from_slice(text.as_bytes()), 0));
    }
    let spliced = messages::splice(text, edits)?;
    if key {
        messages::check_masked_keys(&spliced)?;
    }
    Ok((Bytes::from(spliced), changed))
}

/// Byte ranges of the body's `messages[]` objects and their roles.
pub(super) fn roles(body: &str) -> Vec<((usize, usize), String)> {
    #[derive(Deserialize)]
    struct Role<'a> {
        #[serde(borrow, default)]
        role: Option<Cow<'a, str>>,
    }
    let Ok(top) = messages::top_level(body) else {
        return Vec::new();
    };
    let Some(member) = top.get("messages") else {
        return Vec::new();
    };
    let (start, end) = member.value;
    let Some(list) = body.get(start..end) else {
        return Vec::new();
    };
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(list) else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let role = serde_json::from_str::<Role<'_>>(item.get()).ok()?.role?;
            let at = item.get().as_ptr().addr() - body.as_ptr().addr();
            Some(((at, at + item.get().len()), role.into_owned()))
        })
        .collect()
}

/// The role a text is read as: `system` for the system prompt, else its message's role.
pub(super) fn role_of<'r>(
    roles: &'r [((usize, usize), String)],
    literal: &messages::Literal<'_>,
) -> &'r str {
    if literal.kind == agw_policy::engine::SegmentKind::System {
        return "system";
    }
    roles
        .iter()
        .find(|((start, end), _)| *start <= literal.span.0 && literal.span.1 <= *end)
        .map_or("user", |(_, role)| role.as_str())
}
