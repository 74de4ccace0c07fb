//! Which Gateways a change requeues: only those whose routes the changed object can affect.

use kube::runtime::watcher::Event;

use super::*;

fn route(namespace: &str, name: &str, gateway: &str, backend_ref: &serde_json::Value) -> HTTPRoute {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": gateway, "namespace": "gateways"}],
            "rules": [{"backendRefs": [backend_ref.clone()]}]
        }
    }))
    .unwrap()
}

fn agw_ref(name: &str, namespace: Option<&str>) -> serde_json::Value {
    let mut reference =
        serde_json::json!({"group": agw_crds::GROUP, "kind": "Backend", "name": name});
    if let Some(namespace) = namespace {
        reference["namespace"] = namespace.into();
    }
    reference
}

/// An index holding `routes` (the backends and grants stores stay empty).
fn index_of(routes: Vec<HTTPRoute>) -> Index {
    let (index, mut writers) = new();
    for route in routes {
        writers.routes.apply_watcher_event(&Event::Apply(route));
    }
    index
}

/// A Gateway `name` in namespace `gateways`, with no listeners.
fn gateway(name: &str) -> Gateway {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": name, "namespace": "gateways"},
        "spec": {"gatewayClassName": "agentgateway", "listeners": []}
    }))
    .unwrap()
}

fn names(mut gateways: Vec<ObjectRef<Gateway>>) -> Vec<String> {
    let mut names: Vec<String> = gateways.drain(..).map(|g| g.name).collect();
    names.sort();
    names
}

#[test]
fn a_backend_change_requeues_only_the_gateways_routing_to_it() {
    let index = index_of(vec![
        route("team-a", "a", "gw-a", &agw_ref("claude", None)),
        route("team-b", "b", "gw-b", &agw_ref("claude", Some("team-a"))),
        route("team-c", "c", "gw-c", &agw_ref("other", None)),
        // A Service of the same name is not a Backend.
        route(
            "team-a",
            "svc",
            "gw-svc",
            &serde_json::json!({"name": "claude", "port": 80}),
        ),
    ]);
    assert_eq!(
        names(index.gateways_using_backend("team-a", "claude")),
        ["gw-a", "gw-b"]
    );
    assert!(index.gateways_using_backend("team-b", "claude").is_empty());
}

#[test]
fn a_grant_requeues_only_gateways_whose_routes_cross_into_its_namespace() {
    let index = index_of(vec![
        route(
            "team-a",
            "local",
            "gw-local",
            &agw_ref("claude", Some("team-a")),
        ),
        route(
            "team-b",
            "cross",
            "gw-cross",
            &agw_ref("claude", Some("team-a")),
        ),
    ]);
    assert_eq!(names(index.gateways_crossing_into("team-a")), ["gw-cross"]);
    assert!(index.gateways_crossing_into("team-b").is_empty());
}

#[test]
fn a_key_secret_requeues_only_gateways_routing_to_backends_that_read_it() {
    let (index, mut writers) = new();
    for route in [
        route("team-a", "named", "gw-named", &agw_ref("named", None)),
        route(
            "team-a",
            "selected",
            "gw-selected",
            &agw_ref("selected", None),
        ),
        route("team-a", "plain", "gw-plain", &agw_ref("plain", None)),
    ] {
        writers.routes.apply_watcher_event(&Event::Apply(route));
    }
    let backend = |name: &str, keys: serde_json::Value| -> Backend {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "agentgateway.dev/v1alpha1", "kind": "Backend",
            "metadata": {"name": name, "namespace": "team-a"},
            "spec": {"ai": {"provider": {"anthropic": {}}},
                     "policies": {"apiKeyAuthentication": keys}}
        }))
        .unwrap()
    };
    for b in [
        backend(
            "named",
            serde_json::json!({"secretRef": {"name": "team-keys"}}),
        ),
        backend(
            "selected",
            serde_json::json!({"secretSelector": {"matchLabels": {"keys": "team"}}}),
        ),
        backend("plain", serde_json::json!({"secretRef": {"name": "other"}})),
    ] {
        writers.backends.apply_watcher_event(&Event::Apply(b));
    }
    let secret = |namespace: &str, name: &str, labels: serde_json::Value| {
        serde_json::from_value::<PartialObjectMeta<Secret>>(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}
        }))
        .unwrap()
    };
    let named = secret("team-a", "team-keys", serde_json::json!({}));
    assert_eq!(names(index.gateways_using_secret(&named)), ["gw-named"]);
    let labelled = secret("team-a", "bob", serde_json::json!({"keys": "team"}));
    assert_eq!(
        names(index.gateways_using_secret(&labelled)),
        ["gw-selected"]
    );
    // The same names in another namespace concern nobody.
    let elsewhere = secret("team-b", "team-keys", serde_json::json!({"keys": "team"}));
    assert!(index.gateways_using_secret(&elsewhere).is_empty());
}

#[test]
fn routes_of_a_gateway_are_its_children_in_a_stable_order() {
    let gateway = gateway("gw-a");
    let index = index_of(vec![
        route("team-z", "z", "gw-a", &agw_ref("claude", None)),
        route("team-a", "a", "gw-a", &agw_ref("claude", None)),
        route("team-a", "other", "gw-b", &agw_ref("claude", None)),
    ]);
    let routes: Vec<String> = index
        .routes_of(&gateway)
        .iter()
        .map(|r| format!("{}/{}", r.namespace().unwrap(), r.name_any()))
        .collect();
    assert_eq!(routes, ["team-a/a", "team-z/z"]);
}

/// Many reconciles wait for the index at once when the operator starts; every one of them must
/// be woken (a store's own readiness future wakes only its latest waiter).
#[tokio::test]
async fn every_waiting_reconcile_wakes_once_all_stores_are_listed() {
    let (index, mut writers) = new();
    signal_ready(&writers);
    let reconciles: Vec<_> = (0..16)
        .map(|_| {
            let index = index.clone();
            tokio::spawn(async move { index.ready().await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        reconciles.iter().all(|w| !w.is_finished()),
        "ready before any list"
    );
    writers.routes.apply_watcher_event(&Event::InitDone);
    writers.backends.apply_watcher_event(&Event::InitDone);
    writers
        .agentgateway_backends
        .apply_watcher_event(&Event::InitDone);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        reconciles.iter().all(|w| !w.is_finished()),
        "ready with grants unlisted"
    );
    writers.grants.apply_watcher_event(&Event::InitDone);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        reconciles.iter().all(|w| !w.is_finished()),
        "ready with Secrets unlisted"
    );
    writers.secrets.apply_watcher_event(&Event::InitDone);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        reconciles.iter().all(|w| !w.is_finished()),
        "ready with policies unlisted"
    );
    writers.policies.apply_watcher_event(&Event::InitDone);
    for reconcile in reconciles {
        tokio::time::timeout(std::time::Duration::from_secs(5), reconcile)
            .await
            .expect("every reconcile wakes")
            .unwrap()
            .unwrap();
    }
}

#[test]
fn a_policy_requeues_the_gateways_it_targets_and_a_key_secret_the_gateways_of_its_policies() {
    let (index, mut writers) = new();
    let policy: AgentgatewayPolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayPolicy",
        "metadata": {"name": "keys", "namespace": "gateways"},
        "spec": {
            "targetRefs": [
                {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw-a",
                 "sectionName": "http"},
                {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw-b"}
            ],
            "traffic": {"apiKeyAuthentication": {"secretSelector": {"matchLabels": {"k": "v"}}}}
        }
    }))
    .unwrap();
    assert_eq!(names(targeted_gateways(&policy)), ["gw-a", "gw-b"]);
    assert_eq!(policy_targets(&policy, "gw-a"), [Some("http".to_owned())]);
    assert_eq!(policy_targets(&policy, "gw-b"), [None]);
    assert!(policy_targets(&policy, "gw-c").is_empty());
    writers.policies.apply_watcher_event(&Event::Apply(policy));
    let secret = |namespace: &str| {
        serde_json::from_value::<PartialObjectMeta<Secret>>(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "dev", "namespace": namespace, "labels": {"k": "v"}}
        }))
        .unwrap()
    };
    assert_eq!(
        names(index.gateways_using_secret(&secret("gateways"))),
        ["gw-a", "gw-b"]
    );
    assert!(index.gateways_using_secret(&secret("elsewhere")).is_empty());
}

#[test]
fn a_policy_that_stopped_targeting_a_gateway_is_still_reported_on_until_its_entry_goes() {
    let (index, mut writers) = new();
    let policy: AgentgatewayPolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayPolicy",
        "metadata": {"name": "moved", "namespace": "gateways"},
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw-new"}],
            "traffic": {"rateLimit": {"local": [{"requests": 5, "unit": "Minutes"}]}}
        },
        "status": {"ancestors": [
            {"ancestorRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                             "name": "gw-old", "namespace": "gateways"},
             "controllerName": "agentgateway.dev/agw", "conditions": []},
            {"ancestorRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                             "name": "gw-theirs", "namespace": "gateways"},
             "controllerName": "example.com/other", "conditions": []}
        ]}
    }))
    .unwrap();
    assert_eq!(
        names(reported_gateways(&policy, "agentgateway.dev/agw")),
        ["gw-old"]
    );
    writers.policies.apply_watcher_event(&Event::Apply(policy));
    let reporting = |name: &str| {
        index
            .policies_reporting_on(&gateway(name), &[], "agentgateway.dev/agw")
            .len()
    };
    assert_eq!(reporting("gw-new"), 1, "it targets gw-new");
    assert_eq!(reporting("gw-old"), 1, "gw-old must remove its entry");
    assert_eq!(
        reporting("gw-theirs"),
        0,
        "another controller's entry is not ours"
    );
}

#[test]
fn a_route_policy_governs_the_gateways_its_route_attaches_to() {
    let (index, mut writers) = new();
    writers.routes.apply_watcher_event(&Event::Apply(route(
        "team-a",
        "claude",
        "gw-a",
        &agw_ref("anthropic", None),
    )));
    let policy: AgentgatewayPolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayPolicy",
        "metadata": {"name": "limits", "namespace": "team-a"},
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "claude"}],
            "traffic": {"rateLimit": {"local": [{"requests": 5, "unit": "Minutes"}]}}
        }
    }))
    .unwrap();
    assert_eq!(policy_routes(&policy), ["claude"]);
    assert_eq!(names(index.gateways_governed_by(&policy)), ["gw-a"]);
    writers.policies.apply_watcher_event(&Event::Apply(policy));
    // The policy lives in the route's namespace, not the Gateway's.
    let policies = |name: &str| {
        let gateway = gateway(name);
        index
            .policies_of(&gateway, &index.routes_of(&gateway))
            .len()
    };
    assert_eq!(policies("gw-a"), 1);
    assert_eq!(policies("gw-b"), 0);
}
