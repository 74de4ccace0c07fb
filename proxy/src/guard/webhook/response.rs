//! Response webhook guards on a whole JSON Messages reply: every `content[].text` of a
//! `text` block is sent as agentgateway's `choices[].message` (role `assistant`), and the
//! verdict applied: a mask splices the checker's texts over the literals that changed,
//! keeping every other byte; a reject replaces the reply.
//!
//! Streams never reach here: the compiler refuses response webhook guards with
//! `streaming: Enabled` (a checker needs the whole reply). Must not: buffer or read a
//! stream, or decide what the checker or `failureMode` does not say.

use std::borrow::Cow;
use std::fmt;

use agw_policy::bundle::Guard;
use http::HeaderMap;
use serde::Serialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::request::Message;
use super::{Checker, Verdict, failure_message, forwarded};
use crate::state::State;

/// What the response webhook guards decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this body (changed where a checker masked).
    Send {
        /// The body.
        body: String,
        /// Guards that masked, with how many texts each changed.
        masked: Vec<(String, usize)>,
    },
    /// Replace the reply with this rejection: guard id, status, message.
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
    body: Choices<'a>,
}

#[derive(Serialize)]
struct Choices<'a> {
    choices: Vec<Choice<'a>>,
}

#[derive(Serialize)]
struct Choice<'a> {
    message: Message<'a>,
}

/// A `text` literal of the reply: its span (quotes included) and decoded text.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Text {
    pub span: (usize, usize),
    pub text: String,
}

/// Runs the webhook guards among `guards` over the reply `body`, in order.
pub async fn check(
    state: &State,
    backend: &str,
    guards: &[Guard],
    mut body: String,
    headers: &HeaderMap,
) -> Result<Outcome, String> {
    let mut masked = Vec::new();
    for checker in Checker::all(state, backend, guards) {
        let texts = texts(&body)?;
        if texts.is_empty() {
            continue;
        }
        let payload = Payload {
            body: Choices {
                choices: texts
                    .iter()
                    .map(|t| Choice {
                        message: Message {
                            role: "assistant",
                            content: &t.text,
                        },
                    })
                    .collect(),
            },
        };
        let verdict = checker
            .check(&payload, &forwarded(checker.call, headers), texts.len())
            .await;
        let guard = checker.guard;
        match verdict {
            Ok(Verdict::Pass) => {}
            Ok(Verdict::Reject { message, status }) => {
                return Ok(Outcome::Reject {
                    guard_id: guard.id.clone(),
                    status: status.unwrap_or(guard.reject.status),
                    message: if message.trim().is_empty() {
                        guard.reject.message.clone()
                    } else {
                        message
                    },
                });
            }
            Ok(Verdict::Mask(new)) => {
                let (spliced, changed) = splice(&body, &texts, new)?;
                if changed > 0 {
                    masked.push((guard.id.clone(), changed));
                    body = spliced;
                }
            }
            Err(_) if checker.call.fail_open => {}
            Err(failure) => {
                return Ok(Outcome::Reject {
                    guard_id: guard.id.clone(),
                    status: guard.reject.status,
                    message: failure_message(guard, "response", &failure),
                });
            }
        }
    }
    Ok(Outcome::Send { body, masked })
}

fn splice(body: &str, texts: &[Text], new: Vec<String>) -> Result<(String, usize), String> {
    let mut out = String::with_capacity(body.len());
    let mut copied = 0;
    let mut changed = 0;
    for (text, new) in texts.iter().zip(new) {
        if new == text.text {
            continue;
        }
        let (start, end) = text.span;
        out.push_str(
            body.get(copied..start)
                .ok_or("a masked text overlaps another")?,
        );
        out.push_str(&serde_json::to_string(&new).map_err(|e| e.to_string())?);
        copied = end;
        changed += 1;
    }
    out.push_str(
        body.get(copied..)
            .ok_or("a masked text lies outside the reply")?,
    );
    Ok((out, changed))
}

/// Every `text` of a `text` block of `content`, in order (every copy of a duplicated key:
/// whichever a client keeps, it was checked).
pub(super) fn texts(body: &str) -> Result<Vec<Text>, String> {
    let top: Pairs<'_> = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (_, content) in top.0.iter().filter(|(k, _)| k == "content") {
        let Ok(blocks) = serde_json::from_str::<Vec<&RawValue>>(content.get()) else {
            continue; // not a list: no text a client shows
        };
        for block in blocks {
            let Ok(Pairs(members)) = serde_json::from_str::<Pairs<'_>>(block.get()) else {
                continue;
            };
            let is_text = members
                .iter()
                .rev()
                .find(|(k, _)| k == "type")
                .and_then(|(_, t)| serde_json::from_str::<Cow<'_, str>>(t.get()).ok())
                .is_some_and(|t| t == "text");
            if !is_text {
                continue;
            }
            for (_, value) in members.iter().filter(|(k, _)| k == "text") {
                let Ok(text) = serde_json::from_str::<String>(value.get()) else {
                    continue;
                };
                let at = value.get().as_ptr().addr() - body.as_ptr().addr();
                out.push(Text {
                    span: (at, at + value.get().len()),
                    text,
                });
            }
        }
    }
    Ok(out)
}

/// An object's members in order, duplicates kept, values unparsed.
struct Pairs<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Pairs<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Pairs<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    out.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Pairs(out))
            }
        }
        deserializer
            .deserialize_map(PairsVisitor)
            .map_err(de::Error::custom)
    }
}
