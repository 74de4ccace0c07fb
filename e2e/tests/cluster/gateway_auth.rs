//! Governance through the tutorial's Gateway on the real node, with pods and the real Claude
//! Code CLI: an `AgentgatewayPolicy` on the listener makes every developer present a gateway
//! key (a key Secret the Gateway's pods mount), while a Backend with gateway keys of its own
//! keeps them on its route. The statuses behind these are checked without a node in
//! `tests/gateway.rs`.

use std::time::Duration;

use agw_e2e::agw::get;
use agw_e2e::clients::Claude;
use agw_e2e::eventually;
use agw_e2e::tutorial::{self, NAMESPACE};

use crate::env::Env;

const GATEWAY: &str = "agentgateway-proxy";
const ALICE_KEY: &str = "agw-test-alice-key-0123456789";
const BOB_KEY: &str = "agw-test-bob-key-0123456789ab";

/// A key Secret holding one identity's key.
fn key_secret(ns: &str, name: &str, identity: &str, key: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\nstringData:\n  {identity}: '{{\"key\": \"{key}\"}}'\n"
    )
}

#[tokio::test]
#[ignore = "needs the real node: hack/cluster/up.sh + install-agw.sh (hack/test.sh)"]
async fn a_listener_policy_asks_every_developer_for_a_gateway_key() {
    let env = Env::new().await;
    let ns = "gw-governed";
    env.tutorial_gateway(ns, "Backend").await;
    env.apply(&key_secret(ns, "team-keys", "alice", ALICE_KEY))
        .await;
    env.apply(&format!(
        "apiVersion: agentgateway.dev/v1alpha1\nkind: AgentgatewayPolicy\nmetadata: {{name: developers, namespace: {ns}}}\nspec:\n  targetRefs: [{{group: gateway.networking.k8s.io, kind: Gateway, name: {GATEWAY}, sectionName: http}}]\n  traffic:\n    apiKeyAuthentication: {{secretRef: {{name: team-keys}}}}\n"
    ))
    .await;
    // Team B's Backend brings its own keys (bob's) on its own prefix.
    env.apply(&key_secret(ns, "team-b-keys", "bob", BOB_KEY))
        .await;
    env.apply(&team_b_backend(&env, ns)).await;
    env.apply(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: team-b, namespace: {ns}}}\nspec:\n  parentRefs: [{{name: {GATEWAY}}}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /team-b}}}}]\n    filters:\n    - type: URLRewrite\n      urlRewrite: {{path: {{type: ReplacePrefixMatch, replacePrefixMatch: /}}}}\n    backendRefs: [{{group: agentgateway.dev, kind: Backend, name: team-b}}]\n"
    ))
    .await;
    env.wait_gateway_rolled_out(ns, "team-b-keys").await;
    let accepted = env
        .jsonpath(
            ns,
            &["agpol/developers"],
            "{.status.ancestors[0].conditions[?(@.type==\"Accepted\")].status}",
        )
        .await;
    assert_eq!(accepted, "True");

    let forward = env
        .port_forward(ns, &format!("deployment/{GATEWAY}"), 80)
        .await;
    // The bundle reaches running pods through the kubelet's Secret volume sync.
    eventually(
        Duration::from_secs(90),
        "a keyless request gets 401",
        async || match get(forward.local(), "/v1/models").await {
            Ok((401, body)) if body.contains("authentication_error") => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await
    .unwrap();
    let before = env.mock.requests().await.unwrap().len();
    let claude = Claude::new().unwrap();
    let url = forward.url();
    let alice = claude
        .prompt_with_key(&url, "What is Kubernetes?", ALICE_KEY)
        .await
        .unwrap();
    assert!(
        alice.code == Some(0) && alice.stdout.contains("open-source system"),
        "alice through the governed listener: {alice:?}"
    );
    let wrong = claude
        .prompt_with_key(&url, "What is Kubernetes?", BOB_KEY)
        .await
        .unwrap();
    assert_ne!(
        wrong.code,
        Some(0),
        "bob's key is not a listener key: {wrong:?}"
    );
    // Team B's own keys win on its route: bob in, alice out.
    let team_b = format!("{url}/team-b");
    let bob = claude
        .prompt_with_key(&team_b, "What is Kubernetes?", BOB_KEY)
        .await
        .unwrap();
    assert!(bob.code == Some(0), "bob on team B's route: {bob:?}");
    let alice_b = claude
        .prompt_with_key(&team_b, "What is Kubernetes?", ALICE_KEY)
        .await
        .unwrap();
    assert_ne!(
        alice_b.code,
        Some(0),
        "alice on team B's route: {alice_b:?}"
    );
    let reached = env.mock.requests().await.unwrap()[before..].to_vec();
    let messages = reached
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v1/messages"))
        })
        .count();
    assert!(
        messages >= 2,
        "alice's and bob's prompts reached the provider: {reached:?}"
    );
    // The provider saw the organization's key, never a developer's.
    let seen = serde_json::to_string(&reached).unwrap();
    assert!(
        !seen.contains(ALICE_KEY) && !seen.contains(BOB_KEY),
        "a gateway key was forwarded: {seen}"
    );
}

/// Team B's Backend: the tutorial's, named `team-b`, with gateway keys of its own.
fn team_b_backend(env: &Env, ns: &str) -> String {
    let yaml = tutorial::backend("Backend", env.upstream(), false).replace(NAMESPACE, ns);
    let mut doc: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
    doc["metadata"]["name"] = "team-b".into();
    doc["spec"]["policies"]["apiKeyAuthentication"] =
        serde_json::json!({"secretRef": {"name": "team-b-keys"}});
    serde_norway::to_string(&doc).unwrap()
}
