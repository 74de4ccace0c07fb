//! Guarding a Messages body: extract its texts, let the engine decide, and produce the
//! bytes to forward.
//!
//! An allowed request is forwarded as the very `Bytes` it arrived as — no copy, no
//! re-serialization. Only a Mask, a pinned model or a model alias rewrites the body, and then
//! only the string literals concerned are replaced; every other byte is spliced through
//! unchanged.

use agw_policy::bundle::{BundleBackend, ModelAliases};
use agw_policy::engine::{BackendGuards, Decision, GuardHit, Rejected, Segment};
use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};

use crate::error::{ProxyError, Result};
use crate::messages;

pub mod webhook;

/// What the guards decided about a body.
#[derive(Debug)]
pub enum Inspected {
    /// Refuse with this guard's response.
    Reject(Rejected),
    /// Forward `body`.
    Forward {
        /// The bytes to send upstream.
        body: Bytes,
        /// The model rewrite, when there was one.
        rewrite: Option<ModelRewrite>,
        /// Spans masked, per guard.
        masked: Vec<GuardHit>,
    },
}

/// A request's model as sent upstream differs from the one the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRewrite {
    /// The client's model.
    pub requested: String,
    /// The model sent upstream.
    pub sent: String,
    /// Whether a pinned model (rather than an alias) decided it.
    pub pinned: bool,
}

/// Which model a request is sent with: a pinned model replaces any; otherwise a model alias
/// names the provider model for a friendly name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Models<'a> {
    /// `spec.ai.provider.anthropic.model`.
    pub pinned: Option<&'a str>,
    /// `spec.policies.ai.modelAliases`.
    pub aliases: Option<&'a ModelAliases>,
}

impl<'a> Models<'a> {
    /// The model policy of `backend`.
    pub fn of(backend: &'a BundleBackend) -> Self {
        Self {
            pinned: backend.upstream.model.as_deref(),
            aliases: Some(&backend.request.model_aliases),
        }
    }

    /// The model the provider is asked for when the client asks for `requested` (or names
    /// none): what an allow list must judge, since an alias may name any model.
    pub fn sent(&self, requested: Option<&str>) -> Option<String> {
        match (self.pinned, requested) {
            (Some(pinned), _) => Some(pinned.to_owned()),
            (None, Some(requested)) => Some(
                self.rewrite(requested)
                    .map_or_else(|| requested.to_owned(), |r| r.sent),
            ),
            (None, None) => None,
        }
    }

    /// The model to send instead of `requested`, if any.
    fn rewrite(&self, requested: &str) -> Option<ModelRewrite> {
        let (sent, pinned) = match self.pinned {
            Some(pinned) => (pinned, true),
            None => (self.aliases?.resolve(requested)?, false),
        };
        (sent != requested).then(|| ModelRewrite {
            requested: requested.to_owned(),
            sent: sent.to_owned(),
            pinned,
        })
    }
}

/// What the access log and the trace report about a body, read in the guard's one pass.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// The model the client asked for.
    pub model: Option<String>,
    /// `metadata.user_id` (Claude Code puts its user and session there).
    pub user_id: Option<String>,
}

/// The `metadata` fields agw reports.
#[derive(serde::Deserialize)]
struct Metadata {
    user_id: Option<String>,
}

impl Head {
    fn of(extracted: &messages::Extracted<'_>) -> Self {
        // `metadata` is a few dozen bytes: reading it again costs nothing next to the body.
        let user_id = extracted
            .metadata
            .and_then(|json| serde_json::from_str::<Metadata>(json).ok())
            .and_then(|m| m.user_id);
        Self {
            model: extracted.model.as_ref().map(|m| m.text.to_string()),
            user_id,
        }
    }
}

/// Runs `guards` (none: nothing to inspect) over `bytes` and applies the pinned model or a
/// model alias.
#[cfg(test)]
pub fn inspect(
    guards: Option<&BackendGuards>,
    models: Models<'_>,
    bytes: Bytes,
) -> Result<Inspected> {
    inspect_with_head(guards, models, bytes).map(|(inspected, _)| inspected)
}

/// [`inspect`], and what the body says about its model and user.
pub fn inspect_with_head(
    guards: Option<&BackendGuards>,
    models: Models<'_>,
    bytes: Bytes,
) -> Result<(Inspected, Head)> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((forward(bytes), Head::default()));
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
    let head = Head::of(&extracted);
    let mut masks = Masks::default();
    if let Some(guards) = guards {
        match evaluate(guards, &extracted)? {
            Verdict::Reject(rejected) => return Ok((Inspected::Reject(rejected), head)),
            Verdict::Mask(found) => masks = found,
        }
    }
    let Masks {
        mut edits,
        hits: masked,
        key: masked_key,
    } = masks;
    let rewrite = extracted
        .model
        .as_ref()
        .and_then(|model| Some((model.span, models.rewrite(&model.text)?)));
    if let Some((span, rewrite)) = &rewrite {
        edits.push((*span, rewrite.sent.clone()));
    }
    let rewrite = rewrite.map(|(_, rewrite)| rewrite);
    let body = if edits.is_empty() {
        bytes
    } else {
        let spliced = messages::splice(text, edits)?;
        if masked_key {
            messages::check_masked_keys(&spliced)?;
        }
        Bytes::from(spliced)
    };
    Ok((
        Inspected::Forward {
            body,
            rewrite,
            masked,
        },
        head,
    ))
}

/// What a Mask changes: the literals to rewrite, its hits, and whether a key is among them.
#[derive(Default)]
struct Masks {
    edits: Vec<((usize, usize), String)>,
    hits: Vec<GuardHit>,
    key: bool,
}

/// The guards' verdict on a body's texts (an allowed body has no masks).
enum Verdict {
    Reject(Rejected),
    Mask(Masks),
}

/// Lets the engine decide over the texts in reading order (each right after the text it
/// continues, so a phrase split across them is found), and maps its masks back to spans.
fn evaluate(guards: &BackendGuards, extracted: &messages::Extracted<'_>) -> Result<Verdict> {
    let order = extracted.reading_order();
    let segments: Vec<Segment<'_>> = order
        .iter()
        .map(|&(i, _)| Segment {
            kind: extracted.texts[i].kind,
            text: &extracted.texts[i].text,
        })
        .collect();
    let joins: Vec<bool> = order.iter().map(|&(_, joins)| joins).collect();
    let mask = match guards.evaluate_request_joined(&segments, &joins) {
        Decision::Allow => return Ok(Verdict::Mask(Masks::default())),
        Decision::Reject(rejected) => return Ok(Verdict::Reject(rejected)),
        Decision::Mask(mask) => mask,
    };
    if mask.texts.len() != order.len() {
        // A zip would silently drop the masks of the texts past the shorter one.
        return Err(ProxyError::Unguardable(format!(
            "the guards answered for {} texts of {}",
            mask.texts.len(),
            order.len()
        )));
    }
    let mut masks = Masks {
        hits: mask.hits,
        ..Masks::default()
    };
    for (&(i, _), new) in order.iter().zip(mask.texts) {
        if let Some(new) = new {
            masks.key |= extracted.texts[i].key;
            masks.edits.push((extracted.texts[i].span, new));
        }
    }
    Ok(Verdict::Mask(masks))
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
mod tests;
