//! Gateway, route and policy statuses from what a reconcile observed.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::gateway::api::ParentReference;

fn at(seconds: i64) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap_or_default())
}

fn parent(name: &str) -> ParentReference {
    ParentReference {
        name: name.to_owned(),
        ..ParentReference::default()
    }
}

fn outcome(name: &str, ok: bool) -> ParentOutcome {
    let verdict = |reason| Verdict {
        ok,
        reason,
        message: String::new(),
    };
    ParentOutcome {
        parent: parent(name),
        accepted: verdict(reasons::ACCEPTED),
        resolved: verdict(reasons::BACKEND_NOT_FOUND),
    }
}

#[test]
fn other_controllers_entries_survive_and_stale_ones_of_ours_go() {
    let foreign = json!({"parentRef": {"name": "gw"}, "controllerName": "example.com/other", "conditions": []});
    let stale =
        json!({"parentRef": {"name": "removed"}, "controllerName": "agw", "conditions": []});
    let other_gateway =
        json!({"parentRef": {"name": "gw-2"}, "controllerName": "agw", "conditions": []});
    let spec = [parent("gw"), parent("gw-2")];
    let parents = route_parents(
        &[foreign.clone(), stale, other_gateway.clone()],
        &[outcome("gw", true)],
        &spec,
        "agw",
        Some(3),
        &at(10),
    );
    assert_eq!(parents.len(), 3, "{parents:#?}");
    assert_eq!(parents[0], foreign);
    assert_eq!(parents[1], other_gateway);
    assert_eq!(parents[2]["controllerName"], "agw");
    assert_eq!(parents[2]["conditions"][0]["observedGeneration"], 3);
}

#[test]
fn an_unchanged_outcome_computes_an_unchanged_status() {
    let spec = [parent("gw")];
    let first = route_parents(&[], &[outcome("gw", true)], &spec, "agw", Some(1), &at(10));
    let again = route_parents(
        &first,
        &[outcome("gw", true)],
        &spec,
        "agw",
        Some(1),
        &at(99),
    );
    assert_eq!(
        first, again,
        "same status, same transition time: nothing to write"
    );
    let flipped = route_parents(
        &first,
        &[outcome("gw", false)],
        &spec,
        "agw",
        Some(1),
        &at(99),
    );
    assert_ne!(
        first[0]["conditions"][0]["lastTransitionTime"],
        flipped[0]["conditions"][0]["lastTransitionTime"]
    );
}

#[test]
fn a_gateway_without_ready_replicas_is_accepted_but_pending() {
    let program = Program {
        listeners: vec![("http".to_owned(), ListenerVerdict::Accepted)],
        ..Program::default()
    };
    let rollout = Rollout::Applied {
        available: 0,
        desired: 2,
    };
    let status = gateway_status(None, &program, &rollout, None, Some(1), &at(10));
    let by_type = |t: &str| {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == t)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_type("Accepted").status, "True");
    assert_eq!(
        (
            by_type("Programmed").status.as_str(),
            by_type("Programmed").reason.as_str()
        ),
        ("False", "Pending")
    );
    let ready = Rollout::Applied {
        available: 2,
        desired: 2,
    };
    let later = gateway_status(
        Some(&status),
        &program,
        &ready,
        Some("10.0.0.7".to_owned()),
        Some(1),
        &at(20),
    );
    assert_eq!(
        later.conditions[0].last_transition_time,
        at(10),
        "Accepted did not change"
    );
    assert_eq!(later.addresses[0].value, "10.0.0.7");
    assert_eq!(later.listeners[0].supported_kinds[0].kind, "HTTPRoute");
    let refused = Rollout::ApplyFailed("failed to allocate a serviceIP".to_owned());
    let failed = gateway_status(Some(&later), &program, &refused, None, Some(1), &at(30));
    let programmed = &failed.conditions[1];
    assert_eq!(
        (programmed.status.as_str(), programmed.reason.as_str()),
        ("False", "Invalid")
    );
    assert!(
        programmed.message.contains("serviceIP"),
        "{}",
        programmed.message
    );
}

#[test]
fn a_policy_keeps_other_gateways_entries_and_its_transition_time() {
    let mut gateway = Gateway::new("gw", super::super::api::GatewaySpec::default());
    gateway.metadata.namespace = Some("team".to_owned());
    let accepted = PolicyOutcome {
        policy: "team/keys".to_owned(),
        section: Some("http".to_owned()),
        route: None,
        accepted: Verdict {
            ok: true,
            reason: "Accepted",
            message: "governs listener(s) http".to_owned(),
        },
    };
    let elsewhere = PolicyAncestorStatus {
        ancestor_ref: PolicyAncestorRef {
            name: "other-gw".to_owned(),
            namespace: Some("team".to_owned()),
            ..PolicyAncestorRef::default()
        },
        controller_name: "agentgateway.dev/agw".to_owned(),
        conditions: Vec::new(),
    };
    let first = policy_ancestors(
        std::slice::from_ref(&elsewhere),
        &gateway,
        &[&accepted],
        None,
        "agentgateway.dev/agw",
        Some(1),
        &at(100),
    );
    assert_eq!(first.len(), 2);
    assert_eq!(first[0], elsewhere);
    assert_eq!(first[1].ancestor_ref.section_name.as_deref(), Some("http"));
    // Recomputed later with the same verdict, nothing changes: nothing is written.
    let again = policy_ancestors(
        &first,
        &gateway,
        &[&accepted],
        None,
        "agentgateway.dev/agw",
        Some(1),
        &at(200),
    );
    assert_eq!(again, first);
    // Its keys resolve: a second condition says how many identities, never which.
    let resolved = Verdict {
        ok: true,
        reason: "ResolvedRefs",
        message: "gateway key identities: 2, JWT providers: 0".to_owned(),
    };
    let with_keys = policy_ancestors(
        &first,
        &gateway,
        &[&accepted],
        Some(&resolved),
        "agentgateway.dev/agw",
        Some(1),
        &at(300),
    );
    let types: Vec<&str> = with_keys[1]
        .conditions
        .iter()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(types, ["Accepted", "ResolvedRefs"]);
    // Accepted held, so its transition time is still the first one.
    assert_eq!(with_keys[1].conditions[0], first[1].conditions[0]);
}
