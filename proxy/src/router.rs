//! Picking the backend and route for a request.
//!
//! Paths are normalized before matching (duplicate slashes collapsed, dot segments
//! resolved, percent-encoded unreserved characters decoded), and the normalized path is what
//! goes upstream: `/v1//messages` or `/v1/%6Dessages` must not reach the Messages endpoint
//! through the unguarded fallback route.
//!
//! A backend's route keys are path suffixes (agentgateway's reading): the longest key the
//! normalized path ends with decides the route type, `*` is the fallback. Owns: path
//! normalization, rule and route selection. Must not: read bodies or decide guard outcomes.

use agw_policy::Bundle;
use std::borrow::Cow;

use agw_policy::bundle::{BundleBackend, Route, RouteType, Rule, RuleMatch};
use http::HeaderMap;

/// The fallback route key.
const FALLBACK: &str = "*";

/// The path as matched and forwarded.
pub fn normalize_path(raw: &str) -> String {
    let decoded = decode_unreserved(raw);
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut path = format!("/{}", segments.join("/"));
    if decoded.ends_with('/') && path.len() > 1 {
        path.push('/');
    }
    path
}

/// Decodes `%XX` only where it encodes an unreserved character (letters, digits, `-._~`).
fn decode_unreserved(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| {
                hex(bytes[i + 1])
                    .zip(hex(bytes[i + 2]))
                    .map(|(h, l)| h * 16 + l)
            })
            .flatten()
            .filter(|v| v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~'));
        if let Some(value) = decoded {
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The first rule that matches.
pub fn select<'b>(
    bundle: &'b Bundle,
    host: Option<&str>,
    path: &str,
    headers: &HeaderMap,
) -> Option<&'b Rule> {
    bundle
        .rules
        .iter()
        .find(|rule| matches(&rule.matches, host, path, headers))
}

/// The path a request continues with after `rule` matched it: the rule's `replacePrefix`
/// in place of its matched `pathPrefix` (on segment boundaries, so `/team-a` → `/` turns
/// `/team-a/v1/messages` into `/v1/messages`), else the path unchanged.
pub fn rewritten<'p>(rule: &Rule, path: &'p str) -> Cow<'p, str> {
    let (Some(replacement), Some(prefix)) = (&rule.replace_prefix, &rule.matches.path_prefix)
    else {
        return Cow::Borrowed(path);
    };
    let prefix = prefix.trim_end_matches('/');
    let Some(rest) = path.strip_prefix(prefix) else {
        return Cow::Borrowed(path);
    };
    let joined = format!(
        "{}/{}",
        replacement.trim_end_matches('/'),
        rest.trim_start_matches('/')
    );
    Cow::Owned(normalize_path(&joined))
}

fn matches(m: &RuleMatch, host: Option<&str>, path: &str, headers: &HeaderMap) -> bool {
    let prefix_ok = m
        .path_prefix
        .as_deref()
        .is_none_or(|prefix| has_prefix(path, prefix));
    let exact_ok = m.exact_path.as_deref().is_none_or(|exact| path == exact);
    let host_ok = m.hostnames.is_empty()
        || host.is_some_and(|h| {
            let bare = h.rsplit_once(':').map_or(h, |(name, _)| name);
            m.hostnames.iter().any(|name| host_matches(name, bare))
        });
    let headers_ok = m.headers.iter().all(|h| {
        headers
            .get(&h.name)
            .is_some_and(|v| v.as_bytes() == h.value.as_bytes())
    });
    prefix_ok && exact_ok && host_ok && headers_ok
}

/// A rule host name: exact (case-insensitive), or `*.example.com` for any name with at least
/// one more label in front (Gateway API wildcard semantics).
fn host_matches(name: &str, host: &str) -> bool {
    match name.strip_prefix('*') {
        Some(suffix) => {
            host.len() > suffix.len()
                && host
                    .get(host.len() - suffix.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
        }
        None => name.eq_ignore_ascii_case(host),
    }
}

/// Prefix on segment boundaries: `/v1` matches `/v1` and `/v1/x`, not `/v10`.
fn has_prefix(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The route a request on the normalized `path` takes, or `None` (the proxy answers 404):
/// no route and no fallback, or an unguarded route for a path that [`looks_guarded`].
pub fn route_for(backend: &BundleBackend, path: &str) -> Option<RouteType> {
    let route = route_type(backend, path)?;
    let refused = looks_guarded(backend, path) || unguardable_prompts(backend, path);
    (route.is_guarded() || !refused).then_some(route)
}

/// Anthropic endpoints whose bodies carry prompts no agw route type reads: Message Batches
/// (`requests[].params` are whole Messages requests) and the legacy Text Completions API
/// (`prompt`).
const UNGUARDABLE_PROMPT_ENDPOINTS: [&str; 2] = ["/v1/messages/batches", "/v1/complete"];

/// Whether `path` (read loosely) is one of those endpoints, reached only through the `*`
/// fallback of a Backend that has request guards: forwarding it would let a client send the
/// very prompts the guards refuse by another door. A route key naming the endpoint is the
/// platform team's explicit choice and is honoured.
fn unguardable_prompts(backend: &BundleBackend, path: &str) -> bool {
    let loose = loose(path);
    !backend.guards.request.is_empty()
        && longest_suffix(backend, &loose, true).is_none()
        && UNGUARDABLE_PROMPT_ENDPOINTS
            .iter()
            .any(|endpoint| loose.trim_end_matches('/').ends_with(endpoint))
}

/// Whether `path`, read loosely — case folded, `%XX` decoded until nothing changes, `\` read as
/// `/`, each segment cut at `;` or NUL and trimmed of whitespace, as some servers read paths —
/// names a guarded route of `backend` although `path` itself does not. Such a path
/// (`/V1/Messages`, `/v1/messages%2F`, `/v1/messages;x=1`, `/v1/messages%2500`) must not
/// reach the provider through an unguarded fallback, in case the provider reads it loosely
/// too: when in doubt, the request is refused rather than forwarded unguarded.
pub fn looks_guarded(backend: &BundleBackend, path: &str) -> bool {
    let guarded = |p: &str, fold: bool| {
        longest_suffix(backend, p, fold).is_some_and(|r| r.route_type.is_guarded())
    };
    !guarded(path, false) && guarded(&loose(path), true)
}

/// `path` read as loosely as any server might read it (see [`looks_guarded`]).
fn loose(path: &str) -> String {
    let mut bytes = path.as_bytes().to_vec();
    // Bounded: each round removes at least two bytes, but `%25` chains can be long.
    for _ in 0..4 {
        let decoded = percent_decode_all(&bytes);
        if decoded == bytes {
            break;
        }
        bytes = decoded;
    }
    let text = String::from_utf8_lossy(&bytes)
        .to_ascii_lowercase()
        .replace('\\', "/");
    let segments: Vec<&str> = text
        .split('/')
        .map(|segment| {
            let cut = segment.split([';', '\0']).next().unwrap_or(segment);
            cut.trim_matches(|c: char| c.is_whitespace() || c.is_control())
        })
        .collect();
    normalize_path(&segments.join("/"))
}

fn percent_decode_all(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let pair = (bytes[i] == b'%')
            .then(|| {
                bytes
                    .get(i + 1)
                    .copied()
                    .and_then(hex)
                    .zip(bytes.get(i + 2).copied().and_then(hex))
            })
            .flatten();
        if let Some((high, low)) = pair {
            out.push(high * 16 + low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The route type for a normalized path: the longest route key (a path suffix, as in
/// agentgateway) that the path ends with, else `*`, else none. A trailing `/` is ignored.
pub fn route_type(backend: &BundleBackend, path: &str) -> Option<RouteType> {
    longest_suffix(backend, path, false)
        .or_else(|| backend.routes.iter().find(|r| r.path == FALLBACK))
        .map(|r| r.route_type)
}

/// The route whose key is the longest suffix of `path` (ASCII case folded when `fold`).
/// Keys start with `/` (the compiler checks), so a match always starts on a segment boundary.
fn longest_suffix<'b>(backend: &'b BundleBackend, path: &str, fold: bool) -> Option<&'b Route> {
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let ends_with = |key: &str| {
        trimmed.len() >= key.len()
            && trimmed
                .get(trimmed.len() - key.len()..)
                .is_some_and(|tail| {
                    if fold {
                        tail.eq_ignore_ascii_case(key)
                    } else {
                        tail == key
                    }
                })
    };
    backend
        .routes
        .iter()
        .filter(|r| r.path != FALLBACK && !r.path.is_empty() && ends_with(&r.path))
        .max_by_key(|r| r.path.len())
}

#[cfg(test)]
mod tests;
