use std::collections::BTreeMap;

use agw_policy::{CompileOptions, compile};
use pretty_assertions::assert_eq;

use super::*;
use crate::gateway::api::{
    GatewaySpec, GrantFrom, GrantTo, HTTPRouteSpec, Listener, PathMatch, PathModifier,
    ReferenceGrantSpec, RouteFilter, RouteMatch, UrlRewrite,
};

fn gateway() -> Gateway {
    let mut gw = Gateway::new(
        "agentgateway-proxy",
        GatewaySpec {
            gateway_class_name: "agentgateway".to_owned(),
            listeners: vec![Listener {
                name: "http".to_owned(),
                port: 80,
                protocol: "HTTP".to_owned(),
                ..Listener::default()
            }],
        },
    );
    gw.metadata.namespace = Some("agentgateway-system".to_owned());
    gw
}

fn backend_ref(name: &str, namespace: Option<&str>) -> BackendRef {
    BackendRef {
        group: Some("agentgateway.dev".to_owned()),
        kind: Some("Backend".to_owned()),
        name: name.to_owned(),
        namespace: namespace.map(str::to_owned),
        weight: None,
    }
}

fn prefix(value: &str) -> RouteMatch {
    RouteMatch {
        path: Some(PathMatch {
            match_type: Some("PathPrefix".to_owned()),
            value: Some(value.to_owned()),
        }),
        ..RouteMatch::default()
    }
}

fn route(name: &str, namespace: &str, rules: Vec<RouteRule>) -> HTTPRoute {
    let mut r = HTTPRoute::new(
        name,
        HTTPRouteSpec {
            parent_refs: vec![ParentReference {
                name: "agentgateway-proxy".to_owned(),
                namespace: Some("agentgateway-system".to_owned()),
                ..ParentReference::default()
            }],
            rules,
            ..HTTPRouteSpec::default()
        },
    );
    r.metadata.namespace = Some(namespace.to_owned());
    r
}

fn rule(matches: Vec<RouteMatch>, backend: BackendRef) -> RouteRule {
    RouteRule {
        matches,
        backend_refs: vec![backend],
        ..RouteRule::default()
    }
}

/// A compiled Backend; with `auth`, it names the tutorial's Secret.
fn compiled(namespace: &str, name: &str, auth: bool) -> FoundBackend {
    let mut spec = serde_json::json!({"ai": {"provider": {"anthropic": {}}}});
    if auth {
        spec["policies"] = serde_json::json!({"auth": {"secretRef": {"name": "anthropic-secret"}}});
    }
    compile_spec(namespace, name, spec, auth)
}

/// `spec` compiled as Backend `namespace/name`; `auth` says it names the tutorial's Secret.
fn compile_spec(namespace: &str, name: &str, spec: serde_json::Value, auth: bool) -> FoundBackend {
    let spec: agw_crds::BackendSpec = serde_json::from_value(spec).unwrap();
    let opts = CompileOptions::new(namespace, name);
    let mut compiled = compile(&spec, &opts).unwrap();
    FoundBackend::Compiled {
        kind: "Backend",
        backend: Box::new(
            compiled
                .bundle
                .backends
                .remove(&opts.backend_key())
                .unwrap(),
        ),
        auth: auth.then(|| ("anthropic-secret".to_owned(), "Authorization".to_owned())),
    }
}

fn found(namespace: &str, name: &str) -> FoundBackend {
    compiled(namespace, name, true)
}

fn run(
    routes: &[HTTPRoute],
    backends: &BTreeMap<String, FoundBackend>,
    grants: &[ReferenceGrant],
) -> Program {
    let gw = gateway();
    program(&Inputs {
        gateway: &gw,
        routes,
        namespace_labels: &BTreeMap::new(),
        backends,
        grants,
        policies: &[],
    })
}

const NS: &str = "agentgateway-system";

#[test]
fn the_tutorial_route_sends_everything_to_its_backend() {
    let routes = [route(
        "claude",
        NS,
        vec![rule(vec![prefix("/")], backend_ref("anthropic", None))],
    )];
    let backends = BTreeMap::from([(format!("{NS}/anthropic"), found(NS, "anthropic"))]);
    let p = run(&routes, &backends, &[]);
    assert_eq!(p.rules.len(), 1);
    assert_eq!(
        p.rules[0].backend.as_deref(),
        Some("agentgateway-system/anthropic")
    );
    assert_eq!(p.rules[0].matches.path_prefix.as_deref(), Some("/"));
    assert_eq!(
        p.auth,
        BTreeMap::from([(
            "anthropic-secret".to_owned(),
            vec!["Authorization".to_owned()]
        )])
    );
    assert_eq!(p.attached.get("http"), Some(&1));
    let parent = &p.routes[0].parents[0];
    assert!(parent.accepted.ok && parent.resolved.ok, "{parent:?}");
}

#[test]
fn longer_prefixes_and_exact_paths_win_whatever_the_route_order() {
    let mut exact = prefix("/v1/messages");
    exact.path.as_mut().unwrap().match_type = Some("Exact".to_owned());
    let routes = [
        route(
            "a-catch-all",
            NS,
            vec![rule(vec![prefix("/")], backend_ref("anthropic", None))],
        ),
        route(
            "b-team",
            NS,
            vec![rule(vec![prefix("/team-b")], backend_ref("strict", None))],
        ),
        route(
            "c-exact",
            NS,
            vec![rule(vec![exact], backend_ref("strict", None))],
        ),
    ];
    let backends = BTreeMap::from([
        (format!("{NS}/anthropic"), found(NS, "anthropic")),
        (format!("{NS}/strict"), found(NS, "strict")),
    ]);
    let p = run(&routes, &backends, &[]);
    let order: Vec<(Option<&str>, Option<&str>)> = p
        .rules
        .iter()
        .map(|r| {
            (
                r.matches.exact_path.as_deref(),
                r.matches.path_prefix.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (Some("/v1/messages"), None),
            (None, Some("/team-b")),
            (None, Some("/"))
        ]
    );
}

#[test]
fn unusable_backends_keep_their_rule_without_a_backend() {
    let routes = [route(
        "claude",
        NS,
        vec![
            rule(vec![prefix("/missing")], backend_ref("nope", None)),
            rule(vec![prefix("/bad")], backend_ref("broken", None)),
            rule(
                vec![prefix("/svc")],
                BackendRef {
                    group: None,
                    kind: None,
                    ..backend_ref("my-service", None)
                },
            ),
        ],
    )];
    let backends = BTreeMap::from([(
        format!("{NS}/broken"),
        FoundBackend::Invalid {
            kind: "Backend",
            diagnostics: "bad regex".to_owned(),
        },
    )]);
    let p = run(&routes, &backends, &[]);
    assert_eq!(p.rules.len(), 3);
    assert!(p.rules.iter().all(|r| r.backend.is_none()));
    assert!(p.backends.is_empty());
    let resolved = &p.routes[0].parents[0].resolved;
    assert_eq!(
        (resolved.ok, resolved.reason),
        (false, reasons::BACKEND_NOT_FOUND)
    );
}

#[test]
fn cross_namespace_backends_need_a_reference_grant() {
    let routes = [route(
        "claude",
        NS,
        vec![rule(
            vec![prefix("/")],
            backend_ref("shared", Some("models")),
        )],
    )];
    let backends = BTreeMap::from([(
        "models/shared".to_owned(),
        compiled("models", "shared", false),
    )]);
    let refused = run(&routes, &backends, &[]);
    assert_eq!(
        refused.routes[0].parents[0].resolved.reason,
        reasons::REF_NOT_PERMITTED
    );
    assert_eq!(refused.rules[0].backend, None);

    let mut grant = ReferenceGrant::new(
        "routes-from-gateway",
        ReferenceGrantSpec {
            from: vec![GrantFrom {
                group: "gateway.networking.k8s.io".to_owned(),
                kind: "HTTPRoute".to_owned(),
                namespace: NS.to_owned(),
            }],
            to: vec![GrantTo {
                group: "agentgateway.dev".to_owned(),
                kind: "Backend".to_owned(),
                name: None,
            }],
        },
    );
    grant.metadata.namespace = Some("models".to_owned());
    let granted = run(&routes, &backends, &[grant]);
    assert!(granted.routes[0].parents[0].resolved.ok);
    assert_eq!(granted.rules[0].backend.as_deref(), Some("models/shared"));
}

#[test]
fn replace_prefix_match_is_carried_and_other_filters_are_refused() {
    let mut strip = rule(vec![prefix("/team-b")], backend_ref("anthropic", None));
    strip.filters = vec![RouteFilter {
        filter_type: "URLRewrite".to_owned(),
        url_rewrite: Some(UrlRewrite {
            hostname: None,
            path: Some(PathModifier {
                modifier_type: "ReplacePrefixMatch".to_owned(),
                replace_prefix_match: Some("/".to_owned()),
                replace_full_path: None,
            }),
        }),
    }];
    let mut mirror = rule(vec![prefix("/m")], backend_ref("anthropic", None));
    mirror.filters = vec![RouteFilter {
        filter_type: "RequestMirror".to_owned(),
        url_rewrite: None,
    }];
    let backends = BTreeMap::from([(format!("{NS}/anthropic"), found(NS, "anthropic"))]);
    let ok = run(&[route("b", NS, vec![strip])], &backends, &[]);
    assert_eq!(ok.rules[0].replace_prefix.as_deref(), Some("/"));
    let refused = run(&[route("m", NS, vec![mirror])], &backends, &[]);
    let accepted = &refused.routes[0].parents[0].accepted;
    assert_eq!(
        (accepted.ok, accepted.reason),
        (false, reasons::UNSUPPORTED_VALUE)
    );
    assert!(refused.rules.is_empty() && refused.backends.is_empty() && refused.auth.is_empty());
}

/// A compiled Backend with the tutorial's auth Secret and the client authentication of
/// `policies`.
fn authenticating(name: &str, mut policies: serde_json::Value) -> FoundBackend {
    policies["auth"] = serde_json::json!({"secretRef": {"name": "anthropic-secret"}});
    let spec = serde_json::json!({"ai": {"provider": {"anthropic": {}}}, "policies": policies});
    compile_spec(NS, name, spec, true)
}

#[test]
fn a_backend_reading_client_secrets_is_served_through_a_gateway_of_its_namespace() {
    let keys = serde_json::json!({"apiKeyAuthentication": {"secretRef": {"name": "team-keys"}}});
    let mounted_jwks = serde_json::json!({"jwtAuthentication": {"providers": [{
        "issuer": "https://ci.example.com", "audiences": ["agw"],
        "jwks": {"secretRef": {"name": "ci-jwks"}}}]}});
    let remote_jwks = serde_json::json!({"jwtAuthentication": {"providers": [{
        "issuer": "https://idp.example.com", "audiences": ["agw"],
        "jwks": {"remote": {"uri": "https://idp.example.com/jwks.json"}}}]}});
    for policies in [keys, mounted_jwks, remote_jwks] {
        let routes = [route(
            "claude",
            NS,
            vec![rule(vec![prefix("/")], backend_ref("team", None))],
        )];
        let backend = authenticating("team", policies.clone());
        let backends = BTreeMap::from([(format!("{NS}/team"), backend)]);
        let p = run(&routes, &backends, &[]);
        let resolved = &p.routes[0].parents[0].resolved;
        assert!(resolved.ok, "{policies}: {resolved:?}");
        let served = &p.backends[&format!("{NS}/team")];
        assert!(served.clients.is_some(), "{policies}");
        assert_eq!(p.rules[0].backend.as_deref(), Some(&*format!("{NS}/team")));
    }
}

/// A compiled listener policy with gateway keys from `team-keys`, named `listener-keys`.
fn listener_policy(section: Option<&str>) -> AttachedPolicy {
    let spec: agw_crds::AgentgatewayPolicySpec = serde_json::from_value(serde_json::json!({
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                        "name": "agentgateway-proxy"}],
        "traffic": {"apiKeyAuthentication": {"secretRef": {"name": "team-keys"}}}
    }))
    .unwrap();
    let compiled =
        agw_policy::compile_policy(&spec, &CompileOptions::new(NS, "listener-keys")).unwrap();
    AttachedPolicy {
        namespace: NS.to_owned(),
        name: "listener-keys".to_owned(),
        created: "2026-01-01T00:00:00Z".to_owned(),
        targets: vec![section.map(str::to_owned)],
        routes: Vec::new(),
        compiled: Ok(compiled.clients),
    }
}

fn run_governed(
    gw: &Gateway,
    backends: &BTreeMap<String, FoundBackend>,
    policies: &[AttachedPolicy],
) -> Program {
    let routes = [route(
        "claude",
        NS,
        vec![rule(vec![prefix("/")], backend_ref("anthropic", None))],
    )];
    program(&Inputs {
        gateway: gw,
        routes: &routes,
        namespace_labels: &BTreeMap::new(),
        backends,
        grants: &[],
        policies,
    })
}

#[test]
fn a_listener_policy_governs_the_backends_routed_through_that_listener() {
    let backends = BTreeMap::from([(format!("{NS}/anthropic"), found(NS, "anthropic"))]);
    let p = run_governed(&gateway(), &backends, &[listener_policy(Some("http"))]);
    let key = format!("{NS}/anthropic@listener-keys");
    assert_eq!(p.rules[0].backend.as_deref(), Some(key.as_str()));
    let clients = p.backends[&key].clients.as_ref().unwrap();
    assert_eq!(clients.key_sources[0].secret.as_deref(), Some("team-keys"));
    // The provider key is still mounted for the governed backend.
    assert!(p.auth.contains_key("anthropic-secret"));
    assert!(p.routes[0].parents[0].resolved.ok);
    assert!(p.policies[0].accepted.ok, "{:?}", p.policies);
}

#[test]
fn only_the_governed_listener_s_hostnames_get_the_governed_backend() {
    let mut gw = gateway();
    gw.spec.listeners.push(Listener {
        name: "team".to_owned(),
        port: 80,
        protocol: "HTTP".to_owned(),
        hostname: Some("team.example.com".to_owned()),
        ..Listener::default()
    });
    let backends = BTreeMap::from([(format!("{NS}/anthropic"), found(NS, "anthropic"))]);
    let p = run_governed(&gw, &backends, &[listener_policy(Some("team"))]);
    let by_host: BTreeMap<Vec<String>, Option<String>> = p
        .rules
        .iter()
        .map(|r| (r.matches.hostnames.clone(), r.backend.clone()))
        .collect();
    assert_eq!(
        by_host,
        BTreeMap::from([
            (
                vec!["team.example.com".to_owned()],
                Some(format!("{NS}/anthropic@listener-keys"))
            ),
            (vec![], Some(format!("{NS}/anthropic"))),
        ])
    );
    // Host-specific rules come first, so the governed listener's requests meet its policy.
    assert_eq!(p.rules[0].matches.hostnames, ["team.example.com"]);
}

#[test]
fn an_invalid_policy_or_a_backend_without_a_provider_key_serves_nothing_through_it() {
    let backends = BTreeMap::from([(format!("{NS}/anthropic"), found(NS, "anthropic"))]);
    let mut broken = listener_policy(None);
    broken.compiled = Err("spec.traffic.cors: not supported by agw".to_owned());
    let p = run_governed(&gateway(), &backends, &[broken]);
    let resolved = &p.routes[0].parents[0].resolved;
    assert!(
        !resolved.ok && resolved.message.contains("is invalid"),
        "{resolved:?}"
    );
    assert_eq!(p.rules[0].backend, None);
    assert!(p.backends.is_empty());

    let keyless = BTreeMap::from([(format!("{NS}/anthropic"), compiled(NS, "anthropic", false))]);
    let p = run_governed(&gateway(), &keyless, &[listener_policy(None)]);
    let resolved = &p.routes[0].parents[0].resolved;
    assert_eq!(resolved.reason, reasons::INVALID_BACKEND);
    assert!(resolved.message.contains("policies.auth"), "{resolved:?}");
    assert_eq!(p.rules[0].backend, None);
}

/// A policy of `namespace` naming the route `claude`, compiled from `traffic`.
fn route_policy(namespace: &str, name: &str, traffic: &serde_json::Value) -> AttachedPolicy {
    let spec: agw_crds::AgentgatewayPolicySpec = serde_json::from_value(serde_json::json!({
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "claude"}],
        "traffic": traffic.clone()
    }))
    .unwrap();
    let compiled =
        agw_policy::compile_policy(&spec, &CompileOptions::new(namespace, name)).unwrap();
    AttachedPolicy {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        created: "2026-02-01T00:00:00Z".to_owned(),
        targets: Vec::new(),
        routes: vec![format!("{NS}/claude")],
        compiled: Ok(compiled.clients),
    }
}

#[test]
fn a_route_policy_is_layered_over_its_listener_s_policy() {
    let backends = BTreeMap::from([(format!("{NS}/anthropic"), found(NS, "anthropic"))]);
    let limits = route_policy(
        NS,
        "route-limits",
        &serde_json::json!({"rateLimit": {"local": [{"requests": 5, "unit": "Minutes"}]}}),
    );
    let p = run_governed(&gateway(), &backends, &[listener_policy(None), limits]);
    let key = format!("{NS}/anthropic@listener-keys+route-limits");
    assert_eq!(
        p.rules[0].backend.as_deref(),
        Some(key.as_str()),
        "{:?}",
        p.routes
    );
    let clients = p.backends[&key].clients.as_ref().unwrap();
    // The listener's keys, the route's limit.
    assert_eq!(clients.key_sources[0].secret.as_deref(), Some("team-keys"));
    assert_eq!(clients.limits.len(), 1);
    assert!(p.policies.iter().all(|o| o.accepted.ok), "{:?}", p.policies);
}

#[test]
fn a_route_policy_reading_keys_outside_the_gateway_s_namespace_serves_nothing() {
    let backends = BTreeMap::from([(format!("{NS}/anthropic"), found(NS, "anthropic"))]);
    let elsewhere = route_policy(
        "team-a",
        "team-keys",
        &serde_json::json!({"apiKeyAuthentication": {"secretRef": {"name": "keys"}}}),
    );
    let p = run_governed(&gateway(), &backends, &[elsewhere]);
    let resolved = &p.routes[0].parents[0].resolved;
    assert!(!resolved.ok, "{resolved:?}");
    assert!(
        resolved
            .message
            .contains("reads client keys from namespace team-a"),
        "{}",
        resolved.message
    );
    assert_eq!(p.rules[0].backend, None);
}
