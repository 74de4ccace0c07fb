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

#[path = "governed_tests.rs"]
mod governed;
