//! Picking the backend and route for a request.
//!
//! Paths are normalized before matching (duplicate slashes collapsed, dot segments
//! resolved, percent-encoded unreserved characters decoded), and the normalized path is what
//! goes upstream: `/v1//messages` or `/v1/%6Dessages` must not reach the Messages endpoint
//! through the unguarded fallback route.

use agw_policy::Bundle;
use std::borrow::Cow;

use agw_policy::bundle::{BundleBackend, RouteType, Rule, RuleMatch};
use http::HeaderMap;

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

/// Whether `path`, read loosely — case folded, every `%XX` decoded, `;` parameters dropped, as
/// some servers read paths — names a guarded route of `backend` although `path` itself does
/// not. Such a path (`/V1/Messages`, `/v1/messages%2F`, `/v1/messages;x=1`) must not reach the
/// provider through an unguarded fallback, in case the provider reads it loosely too.
pub fn looks_guarded(backend: &BundleBackend, path: &str) -> bool {
    let decoded: Vec<u8> = percent_decode_all(path.as_bytes());
    let loose = String::from_utf8_lossy(&decoded).to_ascii_lowercase();
    let loose: Vec<&str> = loose
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or(segment))
        .collect();
    let loose = normalize_path(&loose.join("/"));
    let guarded = |p: &str| route_type(backend, p).is_some_and(RouteType::is_guarded);
    !guarded(path) && guarded(&loose)
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

/// The route type for a path: an exact route, else `*`, else none.
pub fn route_type(backend: &BundleBackend, path: &str) -> Option<RouteType> {
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    backend
        .routes
        .iter()
        .find(|r| r.path == trimmed)
        .or_else(|| backend.routes.iter().find(|r| r.path == "*"))
        .map(|r| r.route_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evasive_paths_normalize_to_the_real_endpoint() {
        for raw in [
            "/v1/messages",
            "//v1//messages",
            "/v1/./messages",
            "/v1/x/../messages",
            "/v1/%6Dessages",
            "/v1/%6despages/../messages",
        ] {
            assert_eq!(normalize_path(raw), "/v1/messages", "{raw}");
        }
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/a%2Fb"), "/a%2Fb");
    }

    fn prefix_rule(prefix: &str, replacement: Option<&str>) -> Rule {
        Rule {
            matches: RuleMatch {
                path_prefix: Some(prefix.to_owned()),
                ..RuleMatch::default()
            },
            backend: Some("ns/b".to_owned()),
            replace_prefix: replacement.map(str::to_owned),
        }
    }

    #[test]
    fn replace_prefix_swaps_the_matched_segments_only() {
        let strip = prefix_rule("/team-a", Some("/"));
        assert_eq!(rewritten(&strip, "/team-a/v1/messages"), "/v1/messages");
        assert_eq!(rewritten(&strip, "/team-a"), "/");
        let trailing = prefix_rule("/team-a/", Some("/"));
        assert_eq!(rewritten(&trailing, "/team-a/v1/models"), "/v1/models");
        let swap = prefix_rule("/old", Some("/new/v1"));
        assert_eq!(rewritten(&swap, "/old/messages"), "/new/v1/messages");
        let plain = prefix_rule("/team-a", None);
        assert_eq!(
            rewritten(&plain, "/team-a/v1/messages"),
            "/team-a/v1/messages"
        );
    }

    #[test]
    fn wildcard_hosts_need_a_label_in_front() {
        assert!(host_matches("*.example.com", "api.example.com"));
        assert!(host_matches("*.example.com", "a.b.EXAMPLE.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(host_matches("Claude.example.com", "claude.example.com"));
        assert!(!host_matches("claude.example.com", "other.example.com"));
    }

    #[test]
    fn prefixes_respect_segments() {
        assert!(has_prefix("/v1/messages", "/v1"));
        assert!(has_prefix("/v1", "/v1/"));
        assert!(!has_prefix("/v10", "/v1"));
        assert!(has_prefix("/anything", "/"));
    }
}
