//! Which policy governs which listener, and what each policy's status says.

use agw_policy::bundle::ClientPolicy;

use super::*;
use crate::gateway::api::{GatewaySpec, Listener};

fn gateway(listeners: &[&str]) -> Gateway {
    Gateway::new(
        "gw",
        GatewaySpec {
            gateway_class_name: "agentgateway".to_owned(),
            listeners: listeners
                .iter()
                .map(|name| Listener {
                    name: (*name).to_owned(),
                    port: 80,
                    protocol: "HTTP".to_owned(),
                    ..Listener::default()
                })
                .collect(),
        },
    )
}

fn policy(name: &str, created: &str, targets: &[Option<&str>]) -> AttachedPolicy {
    AttachedPolicy {
        namespace: "ns".to_owned(),
        name: name.to_owned(),
        created: created.to_owned(),
        targets: targets.iter().map(|t| t.map(str::to_owned)).collect(),
        routes: Vec::new(),
        compiled: Ok(ClientPolicy::default()),
    }
}

fn reasons_of(outcomes: &[PolicyOutcome]) -> Vec<(String, Option<String>, &'static str)> {
    outcomes
        .iter()
        .map(|o| (o.policy.clone(), o.section.clone(), o.accepted.reason))
        .collect()
}

#[test]
fn a_listener_policy_takes_precedence_over_the_gateway_policy() {
    let gw = gateway(&["http", "internal"]);
    let policies = [
        policy("whole", "2026-01-01T00:00:00Z", &[None]),
        policy("internal-only", "2026-02-01T00:00:00Z", &[Some("internal")]),
    ];
    let Governance {
        listeners: governed,
        outcomes,
        ..
    } = govern(&gw, &policies);
    assert_eq!(governed["http"], 0);
    assert_eq!(governed["internal"], 1);
    assert!(outcomes.iter().all(|o| o.accepted.ok), "{outcomes:?}");
    assert_eq!(outcomes[0].accepted.message, "governs listener(s) http");
}

#[test]
fn the_oldest_policy_wins_a_target_and_the_others_say_why_not() {
    let gw = gateway(&["http"]);
    let policies = [
        policy("newer", "2026-02-01T00:00:00Z", &[Some("http")]),
        policy(
            "older",
            "2026-01-01T00:00:00Z",
            &[Some("http"), Some("nope")],
        ),
    ];
    let Governance {
        listeners: governed,
        outcomes,
        ..
    } = govern(&gw, &policies);
    assert_eq!(governed["http"], 1);
    assert_eq!(
        reasons_of(&outcomes),
        [
            (
                "ns/older".to_owned(),
                Some("http".to_owned()),
                reasons::ACCEPTED
            ),
            (
                "ns/older".to_owned(),
                Some("nope".to_owned()),
                reasons::TARGET_NOT_FOUND
            ),
            (
                "ns/newer".to_owned(),
                Some("http".to_owned()),
                reasons::CONFLICTED
            ),
        ]
    );
    assert!(outcomes[2].accepted.message.contains("older"));
}

#[test]
fn an_invalid_policy_still_holds_its_listener_so_it_fails_closed() {
    let gw = gateway(&["http", "other"]);
    let mut broken = policy("broken", "2026-01-01T00:00:00Z", &[Some("http")]);
    broken.compiled = Err("spec.traffic.cors: not supported by agw".to_owned());
    let Governance {
        listeners: governed,
        outcomes,
        ..
    } = govern(&gw, &[broken]);
    assert_eq!(governed.get("http"), Some(&0));
    assert_eq!(governed.get("other"), None);
    assert_eq!(outcomes[0].accepted.reason, reasons::INVALID);
    assert!(!outcomes[0].accepted.ok);
}

#[test]
fn the_oldest_policy_naming_a_route_governs_it() {
    let gw = gateway(&["http"]);
    let mut older = policy("route-limits", "2026-01-01T00:00:00Z", &[]);
    older.namespace = "team-a".to_owned();
    older.routes = vec!["team-a/claude".to_owned()];
    let mut newer = older.clone();
    newer.name = "route-limits-2".to_owned();
    newer.created = "2026-03-01T00:00:00Z".to_owned();
    let governance = govern(&gw, &[newer, older]);
    assert_eq!(governance.routes["team-a/claude"], 1);
    assert!(governance.listeners.is_empty());
    let verdicts: Vec<(String, Option<String>, &str)> = governance
        .outcomes
        .iter()
        .map(|o| (o.policy.clone(), o.route.clone(), o.accepted.reason))
        .collect();
    assert_eq!(
        verdicts,
        [
            (
                "team-a/route-limits".to_owned(),
                Some("team-a/claude".to_owned()),
                reasons::ACCEPTED
            ),
            (
                "team-a/route-limits-2".to_owned(),
                Some("team-a/claude".to_owned()),
                reasons::CONFLICTED
            ),
        ]
    );
}
