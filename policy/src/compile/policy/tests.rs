use super::*;
use crate::bundle::{AllowRule, Limit, LimitKind, LimitSubject};

fn spec(json: serde_json::Value) -> AgentgatewayPolicySpec {
    serde_json::from_value(json).unwrap()
}

fn opts() -> CompileOptions {
    CompileOptions::new("team", "listener-keys")
}

fn gateway_ref(section: Option<&str>) -> serde_json::Value {
    let mut target = serde_json::json!({
        "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "agentgateway-proxy"
    });
    if let Some(section) = section {
        target["sectionName"] = section.into();
    }
    target
}

fn errors(json: serde_json::Value) -> Vec<(String, &'static str)> {
    compile_policy(&spec(json), &opts())
        .unwrap_err()
        .errors
        .into_iter()
        .map(|d| (d.path, d.code))
        .collect()
}

#[test]
fn a_listener_policy_compiles_to_its_targets_and_client_policy() {
    let compiled = compile_policy(
        &spec(serde_json::json!({
            "targetRefs": [gateway_ref(Some("http")), gateway_ref(None),
                           {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "claude"}],
            "traffic": {
                "apiKeyAuthentication": {"secretSelector": {"matchLabels": {"keys": "team"}}},
                "authorization": {"rules": [{"groups": ["dev"]}]},
                "rateLimit": {"local": [{"requests": 60, "unit": "Minutes", "per": "Identity"}]}
            }
        })),
        &opts(),
    )
    .unwrap();
    assert_eq!(
        compiled.targets,
        [
            PolicyTarget {
                kind: "Gateway",
                name: "agentgateway-proxy".into(),
                listener: Some("http".into())
            },
            PolicyTarget {
                kind: "Gateway",
                name: "agentgateway-proxy".into(),
                listener: None
            },
            PolicyTarget {
                kind: "HTTPRoute",
                name: "claude".into(),
                listener: None
            },
        ]
    );
    // Selected key Secrets land apart from any Backend's `.selected/<backend>` directory.
    assert_eq!(
        compiled.clients.key_sources[0].dir,
        "/var/run/agw/auth/team/.policies/listener-keys"
    );
    assert_eq!(compiled.clients.allow.as_ref().unwrap().len(), 1);
    assert_eq!(compiled.clients.limits.len(), 1);
}

#[test]
fn targets_other_than_gateways_and_agentgateway_fields_agw_lacks_are_refused_by_path() {
    let found = errors(serde_json::json!({
        "targetRefs": [
            {"group": "gateway.networking.k8s.io", "kind": "Service", "name": "claude"},
            gateway_ref(Some("http")),
            gateway_ref(Some("http")),
            {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "claude",
             "sectionName": "rule-1"},
        ],
        "targetSelectors": [{"matchLabels": {"a": "b"}}],
        "traffic": {
            "cors": {"allowOrigins": ["*"]},
            "apiKeyAuthentication": {"secretRef": {"name": "keys"}, "mode": "Optional"}
        }
    }));
    assert_eq!(
        found,
        [
            (
                "spec.targetRefs[0].kind".to_owned(),
                "unsupported-policy-target"
            ),
            ("spec.targetRefs[2]".to_owned(), "duplicate-policy-target"),
            (
                "spec.targetRefs[3].sectionName".to_owned(),
                "unsupported-policy-target"
            ),
            ("spec.targetSelectors".to_owned(), UNSUPPORTED_FIELD),
            ("spec.traffic.cors".to_owned(), UNSUPPORTED_FIELD),
            (
                "spec.traffic.apiKeyAuthentication.mode".to_owned(),
                "unsupported-auth-mode"
            ),
        ]
    );
}

#[test]
fn a_policy_that_governs_nothing_or_names_identities_nobody_proves_is_refused() {
    assert_eq!(
        errors(serde_json::json!({"targetRefs": [gateway_ref(None)]})),
        [("spec.traffic".to_owned(), "policy-empty")]
    );
    assert_eq!(
        errors(serde_json::json!({
            "targetRefs": [gateway_ref(None)],
            "traffic": {"authorization": {"rules": [{"identities": ["alice"]}]}}
        })),
        [(
            "spec.traffic.authorization".to_owned(),
            "authorization-without-authentication"
        )]
    );
}

fn keyed(dir: &str) -> ClientPolicy {
    ClientPolicy {
        key_sources: vec![crate::bundle::KeySource {
            namespace: "team".into(),
            secret: Some(dir.into()),
            match_labels: None,
            dir: dir.into(),
        }],
        ..ClientPolicy::default()
    }
}

#[test]
fn a_backend_keeps_each_part_it_sets_and_inherits_the_rest_from_its_listener() {
    let limit = |amount| Limit {
        kind: LimitKind::Requests,
        amount,
        window_seconds: 60,
        per: LimitSubject::Backend,
        identities: Vec::new(),
    };
    let listener = ClientPolicy {
        allow: Some(vec![AllowRule {
            groups: vec!["dev".into()],
            ..AllowRule::default()
        }]),
        limits: vec![limit(60)],
        ..keyed("listener-keys")
    };
    // A Backend without governance gets the listener's policy whole.
    assert_eq!(beneath(None, &listener), listener);
    // A Backend that only limits keeps its limits, and still needs the listener's keys.
    let limits_only = ClientPolicy {
        limits: vec![limit(5)],
        ..ClientPolicy::default()
    };
    let merged = beneath(Some(&limits_only), &listener);
    assert_eq!(merged.key_sources, listener.key_sources);
    assert_eq!(merged.allow, listener.allow);
    assert_eq!(merged.limits, [limit(5)]);
    // A Backend with its own keys keeps them: identities are never mixed.
    let own_keys = keyed("backend-keys");
    let merged = beneath(Some(&own_keys), &listener);
    assert_eq!(merged.key_sources, own_keys.key_sources);
    assert_eq!(merged.limits, listener.limits);
}
