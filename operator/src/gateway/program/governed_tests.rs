//! Backends served through AgentgatewayPolicies: a listener's policy, a route's layered over
//! it, and the cases that serve nothing.

use pretty_assertions::assert_eq;

use super::*;

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
