//! `spec.policies.ai.routes` → the bundle's route table.
//!
//! A key is a path *suffix* (as agentgateway reads it: the normalized request path, query
//! string excluded, ends with the key) or `*`, the fallback. `/v1/messages` therefore also
//! covers `/team-a/v1/messages`: a prefix a Gateway route leaves on the path must not turn a
//! Messages request into an unguarded Passthrough. The longest matching suffix wins. The table
//! is emitted in that precedence order (longest key first, ties in byte order, `*` last), so
//! lookups and digests are deterministic; the proxy still picks the longest match itself.
//!
//! Keys are refused when no normalized path could end with them (a trailing `/`, an empty or
//! dot segment, percent-encoding), since such a route would silently never apply.
//! Without `routes`, the defaults serve Claude Code: `/v1/messages` → Messages,
//! `/v1/messages/count_tokens` → AnthropicTokenCount, `*` → Passthrough.
//!
//! When guards exist and `/v1/messages` is a Messages route, `/v1/messages/count_tokens` is
//! added as AnthropicTokenCount unless the spec routes it explicitly: otherwise the tutorial's
//! table (`/v1/messages` + `*`) would send prompt text to the provider unguarded through the
//! token-count endpoint.

use std::collections::BTreeMap;

use agw_crds::ROUTE_TYPES;

use crate::bundle::{Route, RouteType};
use crate::diagnostics::{Diagnostic, FieldPath, closest};

/// The fallback route key.
pub const FALLBACK: &str = "*";
const MESSAGES_PATH: &str = "/v1/messages";
const COUNT_TOKENS_PATH: &str = "/v1/messages/count_tokens";

pub(super) fn compile(
    routes: Option<&BTreeMap<String, String>>,
    guarded: bool,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<Route> {
    let Some(routes) = routes.filter(|r| !r.is_empty()) else {
        return default_routes();
    };
    let mut table = BTreeMap::new();
    for (key, type_name) in routes {
        let entry = path.key(key);
        let route_type = parse_type(type_name, &entry, findings);
        if let (Some(key), Some(route_type)) = (check_key(key, &entry, findings), route_type) {
            table.insert(key, route_type);
        }
    }
    if guarded && table.get(MESSAGES_PATH) == Some(&RouteType::Messages) {
        table
            .entry(COUNT_TOKENS_PATH.to_owned())
            .or_insert(RouteType::AnthropicTokenCount);
    }
    if !table.contains_key(FALLBACK) {
        findings.push(
            Diagnostic::warning(path, "no-fallback-route", "no `*` route: requests to other paths get 404")
                .with_hint("add `'*': Passthrough` so Claude Code's other endpoints (e.g. /v1/models) keep working"),
        );
    }
    into_table(table)
}

fn default_routes() -> Vec<Route> {
    into_table(BTreeMap::from([
        (MESSAGES_PATH.to_owned(), RouteType::Messages),
        (COUNT_TOKENS_PATH.to_owned(), RouteType::AnthropicTokenCount),
        (FALLBACK.to_owned(), RouteType::Passthrough),
    ]))
}

/// Suffixes in precedence order — longest first, equal lengths in byte order — then the
/// fallback.
fn into_table(table: BTreeMap<String, RouteType>) -> Vec<Route> {
    let (fallback, mut suffixes): (Vec<_>, Vec<_>) =
        table.into_iter().partition(|(key, _)| key == FALLBACK);
    // The map iterates in byte order and the sort is stable, so ties stay in byte order.
    suffixes.sort_by_key(|(key, _)| std::cmp::Reverse(key.len()));
    suffixes
        .into_iter()
        .chain(fallback)
        .map(|(path, route_type)| Route { path, route_type })
        .collect()
}

fn parse_type(name: &str, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> Option<RouteType> {
    let route_type = match name.trim() {
        "Messages" => RouteType::Messages,
        "Passthrough" => RouteType::Passthrough,
        "AnthropicTokenCount" => RouteType::AnthropicTokenCount,
        "Models" => RouteType::Models,
        other => {
            let valid = ROUTE_TYPES.join(", ");
            let hint = match closest(other, ROUTE_TYPES.iter().copied()) {
                Some(near) => format!("did you mean {near}? valid route types: {valid}"),
                None => format!("valid route types: {valid}"),
            };
            findings.push(
                Diagnostic::error(
                    path,
                    "invalid-route-type",
                    format!("unknown route type {other:?}"),
                )
                .with_hint(hint),
            );
            return None;
        }
    };
    Some(route_type)
}

fn check_key(key: &str, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> Option<String> {
    let Some(problem) = key_problem(key) else {
        return Some(key.to_owned());
    };
    findings.push(
        Diagnostic::error(path, "invalid-route-key", problem).with_hint(format!(
            "write a path suffix such as `{}` (it also matches `/team-a{}`), or `*` for every other path",
            suggestion(key),
            suggestion(key)
        )),
    );
    None
}

/// Why no normalized request path can end with `key`, if so.
fn key_problem(key: &str) -> Option<String> {
    let problem = if key == FALLBACK {
        return None;
    } else if key.trim().is_empty() {
        "a route key is empty".to_owned()
    } else if !key.starts_with('/') {
        format!("route key {key:?} must be a path suffix starting with `/`, or `*`")
    } else if key.contains(['?', '#']) {
        format!("route key {key:?} includes a query string or fragment, which matching ignores")
    } else if key.contains('*') {
        format!("route key {key:?} uses a wildcard; only the whole key `*` is a wildcard")
    } else if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        format!("route key {key:?} contains whitespace")
    } else if key.contains('%') {
        format!(
            "route key {key:?} is percent-encoded; paths are decoded before matching, so write the characters themselves"
        )
    } else if key.len() > 1 && key.ends_with('/') {
        format!(
            "route key {key:?} ends with `/`; a trailing slash is ignored when matching, so write the key without it"
        )
    } else if key == "/" {
        "route key \"/\" would only match the root path; use `*` for every other path".to_owned()
    } else if key
        .split('/')
        .skip(1)
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        format!(
            "route key {key:?} contains an empty or dot segment, which normalized paths never have"
        )
    } else {
        return None;
    };
    Some(problem)
}

/// The key cleaned up as far as it can be guessed, for the hint.
fn suggestion(key: &str) -> String {
    let path = key.split(['?', '#']).next().unwrap_or_default();
    let path = percent_decoded(path);
    let segments: Vec<&str> = path
        .split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "." && *s != ".." && *s != "*")
        .collect();
    if segments.is_empty() {
        "/v1/messages".to_owned()
    } else {
        format!("/{}", segments.join("/"))
    }
}

/// `text` with each `%XX` that encodes a printable ASCII character decoded.
fn percent_decoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest
            .get(at + 1..at + 3)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(u8::is_ascii_graphic);
        if let Some(byte) = code {
            out.push(char::from(byte));
            rest = &rest[at + 3..];
        } else {
            out.push('%');
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(entries: &[(&str, &str)], guarded: bool) -> (Vec<Route>, Vec<Diagnostic>) {
        let routes = entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut findings = Vec::new();
        let table = compile(
            Some(&routes),
            guarded,
            &FieldPath::spec().field("routes"),
            &mut findings,
        );
        (table, findings)
    }

    fn paths(table: &[Route]) -> Vec<(&str, RouteType)> {
        table
            .iter()
            .map(|r| (r.path.as_str(), r.route_type))
            .collect()
    }

    #[test]
    fn tutorial_routes_gain_a_guarded_token_count_route() {
        let (table, findings) = run(&[("/v1/messages", "Messages"), ("*", "Passthrough")], true);
        assert!(findings.is_empty());
        assert_eq!(
            paths(&table),
            [
                ("/v1/messages/count_tokens", RouteType::AnthropicTokenCount),
                ("/v1/messages", RouteType::Messages),
                ("*", RouteType::Passthrough)
            ]
        );
    }

    #[test]
    fn explicit_token_count_route_is_respected() {
        let (table, _) = run(
            &[
                ("/v1/messages", "Messages"),
                ("/v1/messages/count_tokens", "Passthrough"),
            ],
            true,
        );
        assert_eq!(table[0].path, COUNT_TOKENS_PATH);
        assert_eq!(table[0].route_type, RouteType::Passthrough);
    }

    #[test]
    fn misspelled_type_suggests_the_valid_one() {
        let (_, findings) = run(&[("/v1/messages", "message"), ("*", "Passthrough")], false);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, "invalid-route-type");
        assert_eq!(findings[0].path, r#"spec.routes["/v1/messages"]"#);
        assert!(
            findings[0]
                .hint
                .as_deref()
                .unwrap_or_default()
                .contains("did you mean Messages?")
        );
    }

    #[test]
    fn relative_key_is_rejected_with_the_fixed_path() {
        let (_, findings) = run(&[("v1/messages", "Messages"), ("*", "Passthrough")], false);
        assert_eq!(findings[0].code, "invalid-route-key");
        assert!(
            findings[0]
                .hint
                .as_deref()
                .unwrap_or_default()
                .contains("`/v1/messages`")
        );
    }

    #[test]
    fn missing_fallback_is_a_warning() {
        let (_, findings) = run(&[("/v1/messages", "Messages")], false);
        assert_eq!(findings[0].code, "no-fallback-route");
        assert!(!findings[0].is_error());
    }

    #[test]
    fn suffixes_are_ordered_longest_first_then_the_fallback() {
        let (table, findings) = run(
            &[
                ("*", "Passthrough"),
                ("/messages", "Messages"),
                ("/v1/models", "Models"),
                ("/v1/messages", "Messages"),
            ],
            false,
        );
        assert!(findings.is_empty(), "{findings:?}");
        let keys: Vec<&str> = table.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(keys, ["/v1/messages", "/v1/models", "/messages", "*"]);
    }

    #[test]
    fn keys_no_normalized_path_ends_with_are_refused() {
        for key in [
            "",
            " ",
            "/v1/messages/",
            "/",
            "//v1/messages",
            "/v1//messages",
            "/v1/./messages",
            "/v1/%6Dessages",
            "/v1/messages?beta=true",
            "/v1/*",
            "/v1/mess ages",
        ] {
            let (_, findings) = run(&[(key, "Messages"), ("*", "Passthrough")], false);
            assert_eq!(findings.len(), 1, "{key:?}: {findings:?}");
            assert_eq!(findings[0].code, "invalid-route-key", "{key:?}");
            assert_eq!(findings[0].path, format!("spec.routes[{key:?}]"), "{key:?}");
        }
    }
}
