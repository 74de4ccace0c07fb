//! `spec.policies.ai.routes` → the bundle's route table.
//!
//! A key is an exact request path (query string excluded) or `*`, the fallback. The table is
//! emitted sorted, exact paths first and `*` last, so lookups and digests are deterministic.
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

/// Exact paths in byte order, then the fallback.
fn into_table(table: BTreeMap<String, RouteType>) -> Vec<Route> {
    let (fallback, exact): (Vec<_>, Vec<_>) =
        table.into_iter().partition(|(key, _)| key == FALLBACK);
    exact
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
    let problem = if key == FALLBACK {
        return Some(key.to_owned());
    } else if !key.starts_with('/') {
        format!("route key {key:?} must be an exact path starting with `/`, or `*`")
    } else if key.contains(['?', '#']) {
        format!("route key {key:?} includes a query string or fragment, which matching ignores")
    } else if key.contains('*') {
        format!("route key {key:?} uses a wildcard; only the whole key `*` is a wildcard")
    } else if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        format!("route key {key:?} contains whitespace")
    } else if key
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        format!("route key {key:?} contains a dot segment")
    } else {
        return Some(key.to_owned());
    };
    let suggestion = format!(
        "/{}",
        key.trim_start_matches('/')
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
    );
    findings.push(
        Diagnostic::error(path, "invalid-route-key", problem).with_hint(format!(
            "write an exact path such as `{suggestion}`, or `*` for every other path"
        )),
    );
    None
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
                ("/v1/messages", RouteType::Messages),
                ("/v1/messages/count_tokens", RouteType::AnthropicTokenCount),
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
        assert_eq!(table[1].route_type, RouteType::Passthrough);
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
}
