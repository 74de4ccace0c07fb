//! Unit tests of path normalization, rule selection and suffix routes.

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

/// A backend compiled by the real compiler from `routes` (YAML flow map) and one guard.
fn backend(routes: &str) -> BundleBackend {
    use agw_policy::manifest::{self, Unset};
    let yaml = format!(
        "apiVersion: agentgateway.dev/v1alpha1\nkind: Backend\nmetadata: {{name: b}}\nspec:\n  ai:\n    provider: {{anthropic: {{}}}}\n  policies:\n    ai:\n      routes: {routes}\n      promptGuard:\n        request:\n        - regex: {{action: Reject, matches: [\"credit card\"]}}\n"
    );
    let docs = manifest::parse_bytes(yaml.as_bytes(), |_| None, Unset::Error).unwrap();
    let opts = agw_policy::CompileOptions::new("ns", "b");
    let compiled = agw_policy::compile(&docs.backends[0].spec, &opts).unwrap();
    compiled.bundle.backends[&opts.backend_key()].clone()
}

const TUTORIAL: &str = "{'/v1/messages': Messages, '*': Passthrough}";

#[test]
fn route_keys_are_path_suffixes() {
    let b = backend(TUTORIAL);
    for path in ["/v1/messages", "/team-a/v1/messages", "/a/b/v1/messages/"] {
        assert_eq!(route_for(&b, path), Some(RouteType::Messages), "{path}");
    }
    assert_eq!(
        route_for(&b, "/team-a/v1/messages/count_tokens"),
        Some(RouteType::AnthropicTokenCount)
    );
    assert_eq!(route_for(&b, "/v1/models"), Some(RouteType::Passthrough));
    // A suffix starts on a segment boundary (keys start with `/`): `/xv1/messages` is another
    // endpoint, and no loose reading makes it `/v1/messages` either.
    assert_eq!(
        route_for(&b, "/api/xv1/messages"),
        Some(RouteType::Passthrough)
    );
}

#[test]
fn the_longest_suffix_wins_whatever_the_key_order() {
    let b = backend(
        "{'*': Passthrough, '/messages': Passthrough, '/v1/messages': Messages, '/batch/v1/messages': Passthrough}",
    );
    let keys: Vec<&str> = b.routes.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        keys,
        [
            "/v1/messages/count_tokens",
            "/batch/v1/messages",
            "/v1/messages",
            "/messages",
            "*"
        ]
    );
    assert_eq!(route_type(&b, "/v1/messages"), Some(RouteType::Messages));
    assert_eq!(route_type(&b, "/x/messages"), Some(RouteType::Passthrough));
    assert_eq!(
        route_type(&b, "/batch/v1/messages"),
        Some(RouteType::Passthrough)
    );
    // The route table is not trusted to be sorted: a reversed table decides the same.
    let mut reversed = b.clone();
    reversed.routes.reverse();
    for path in [
        "/v1/messages",
        "/x/messages",
        "/batch/v1/messages",
        "/other",
    ] {
        assert_eq!(route_type(&reversed, path), route_type(&b, path), "{path}");
    }
}

#[test]
fn evasive_spellings_of_a_guarded_suffix_are_guarded_or_refused() {
    let b = backend(TUTORIAL);
    for raw in [
        "/v1/messages/",
        "//v1//messages",
        "/team-a//v1/./messages",
        "/v1/%6Dessages",
        "/team-a/v1/%6d%65ssages",
        "/v1/messages/x/..",
    ] {
        let path = normalize_path(raw);
        assert_eq!(route_for(&b, &path), Some(RouteType::Messages), "{raw}");
    }
    for raw in [
        "/v1/messages;x",
        "/team-a/v1/messages;jsessionid=1",
        "/v1/messages%2F",
        "/v1%2Fmessages",
        "/team-a/v1%2fmessages",
        "/V1/Messages",
        "/team-a/V1/MESSAGES",
        "/v1/messages%252F",
        "/v1/messages%00",
        "/v1/messages%20",
        "/v1%5Cmessages",
        "/v1/messages/count_tokens;x",
    ] {
        let path = normalize_path(raw);
        assert_eq!(route_for(&b, &path), None, "{raw} must not pass unguarded");
    }
}

#[test]
fn without_a_fallback_an_unknown_path_has_no_route() {
    let b = backend("{'/v1/messages': Messages}");
    assert_eq!(route_for(&b, "/v1/models"), None);
    assert_eq!(route_for(&b, "/x/v1/messages"), Some(RouteType::Messages));
}

#[test]
fn endpoints_with_prompts_no_guard_reads_are_refused_through_the_fallback() {
    let b = backend(TUTORIAL);
    for path in [
        "/v1/messages/batches",
        "/team-a/v1/messages/batches/",
        "/v1/complete",
        "/V1/Complete",
    ] {
        assert_eq!(route_for(&b, path), None, "{path} must not pass unguarded");
    }
    // A batch's results are responses, not prompts.
    assert_eq!(
        route_for(&b, "/v1/messages/batches/msgbatch_01/results"),
        Some(RouteType::Passthrough)
    );
    // A route key naming the endpoint is the platform team's explicit choice.
    let explicit = backend(
        "{'/v1/messages': Messages, '/v1/messages/batches': Passthrough, '*': Passthrough}",
    );
    assert_eq!(
        route_for(&explicit, "/v1/messages/batches"),
        Some(RouteType::Passthrough)
    );
}
