//! The Gateway API path on the real node, with pods: the tutorial as agentgateway's live docs
//! render it (`kind: AgentgatewayBackend` in the Backend and the HTTPRoute), and a Gateway
//! shared by two teams — each route with its own guards, unusable backendRefs answering 500
//! without reaching the provider, and a deleted route answering 404 in the running pods
//! (bundle Secret update, no restart). The statuses behind these are checked without a node in
//! `tests/gateway.rs` and `tests/agentgateway_backend.rs`.

use std::time::Duration;

use agw_e2e::agw::get;
use agw_e2e::clients::Claude;
use agw_e2e::cluster::PortForward;
use agw_e2e::eventually;
use agw_e2e::tutorial::{self, NAMESPACE, REJECTION};

use crate::env::Env;

const GATEWAY: &str = "agentgateway-proxy";
const TEAM_B_REJECTION: &str = "Team B may not ask about Kubernetes";

/// Tutorial steps 3–9 with the kind the live docs print today: the Gateway's pods and the
/// AgentgatewayBackend's own pods both answer Claude and reject the credit-card prompt.
#[tokio::test]
#[ignore = "needs the real node: hack/cluster/up.sh + install-agw.sh (hack/test.sh)"]
async fn the_tutorial_with_agentgateway_backend_as_the_live_docs_render_it() {
    let env = Env::new().await;
    let ns = "live-docs";
    let kind = "AgentgatewayBackend";
    env.tutorial_gateway(ns, kind).await;
    env.wait_available(ns, "anthropic-proxy").await;
    env.wait_gateway_rolled_out(ns, "anthropic-secret").await;
    wait_route(&env, ns, "claude", "ResolvedRefs", "True").await;

    env.assert_listed_accepted_and_ready(ns, "agbe", "anthropic")
        .await;

    let claude = Claude::new().unwrap();
    for target in [
        format!("deployment/{GATEWAY}"),
        "svc/anthropic-proxy".to_owned(),
    ] {
        let forward = env.port_forward(ns, &target, 80).await;
        wait_status(&forward, "/v1/models", 200, "").await;
        claude
            .tutorial_prompts(&forward.url(), REJECTION)
            .await
            .unwrap_or_else(|e| panic!("through {target}: {e}"));
    }
}

/// One Gateway, two teams: team B's prefix has its own guard, team A's route is unchanged by
/// it; routes whose backendRefs cannot be used answer 500 and never reach the provider; the
/// deleted route's paths answer 404 once the bundle reaches the running pods, which are
/// neither replaced nor restarted.
#[tokio::test]
#[ignore = "needs the real node: hack/cluster/up.sh + install-agw.sh (hack/test.sh)"]
async fn teams_share_a_gateway_and_deleted_or_unusable_routes_never_reach_the_provider() {
    let env = Env::new().await;
    let ns = "gw-teams";
    env.tutorial_gateway(ns, "Backend").await;
    env.apply(&team_b_backend(&env, ns)).await;
    env.apply(&route(
        ns,
        "team-b",
        "/team-b",
        "{group: agentgateway.dev, kind: Backend, name: team-b}",
        true,
    ))
    .await;
    env.apply(&route(
        ns,
        "missing",
        "/missing",
        "{group: agentgateway.dev, kind: Backend, name: nope}",
        false,
    ))
    .await;
    env.apply(&route(
        ns,
        "service",
        "/service",
        "{name: some-service, port: 80}",
        false,
    ))
    .await;
    wait_route(&env, ns, "team-b", "ResolvedRefs", "True").await;
    wait_route(&env, ns, "missing", "ResolvedRefs", "False").await;
    wait_route(&env, ns, "service", "ResolvedRefs", "False").await;
    env.wait_gateway_rolled_out(ns, "anthropic-secret").await;

    let forward = env
        .port_forward(ns, &format!("deployment/{GATEWAY}"), 80)
        .await;
    wait_status(&forward, "/missing/v1/models", 500, "not available").await;
    let claude = Claude::new().unwrap();
    two_teams_with_their_own_guards(&forward, &claude).await;
    unusable_refs_never_reach_the_provider(&env, &forward).await;
    deleted_route_answers_404_without_restart(&env, ns, &forward).await;
}

async fn two_teams_with_their_own_guards(forward: &PortForward, claude: &Claude) {
    let team_b = claude
        .prompt(&format!("{}/team-b", forward.url()), "What is Kubernetes?")
        .await
        .unwrap();
    let printed = format!("{}{}", team_b.stdout, team_b.stderr);
    assert!(
        team_b.code != Some(0) && printed.contains(TEAM_B_REJECTION),
        "{team_b:?}"
    );
    let team_a = claude
        .prompt(&forward.url(), "What is Kubernetes?")
        .await
        .unwrap();
    assert!(
        team_a.code == Some(0) && team_a.stdout.contains("open-source system"),
        "team A's route keeps its own guards: {team_a:?}"
    );
    claude
        .tutorial_prompts(&forward.url(), REJECTION)
        .await
        .unwrap();
}

async fn unusable_refs_never_reach_the_provider(env: &Env, forward: &PortForward) {
    let before = env.mock.requests().await.unwrap().len();
    for path in ["/missing/v1/messages", "/service/v1/models"] {
        let (status, body) = get(forward.local(), path).await.unwrap();
        assert_eq!(status, 500, "{path}: {body}");
    }
    assert_eq!(
        env.mock.requests().await.unwrap().len(),
        before,
        "nothing reached the provider"
    );
}

async fn deleted_route_answers_404_without_restart(env: &Env, ns: &str, forward: &PortForward) {
    let selector = format!("gateway.networking.k8s.io/gateway-name={GATEWAY}");
    let pods = env.pods(ns, &selector).await;
    let out = env
        .kubectl(&["delete", "httproute", "claude", "-n", ns])
        .await;
    assert!(out.success(), "{out}");
    wait_status(forward, "/v1/models", 404, "not_found_error").await;
    // Team B's prefix is still served by the same pods.
    let (status, body) = get(forward.local(), "/team-b/v1/models").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(pods, env.pods(ns, &selector).await, "no pod was replaced");
    let restarts = env
        .jsonpath(
            ns,
            &["pods", "-l", &selector],
            "{.items[*].status.containerStatuses[*].restartCount}",
        )
        .await;
    assert!(
        restarts.split_whitespace().all(|r| r == "0"),
        "no container restarted: {restarts}"
    );
}

/// Team B's Backend: the tutorial's, named `team-b`, with a guard of its own.
fn team_b_backend(env: &Env, ns: &str) -> String {
    let yaml = tutorial::backend("Backend", env.upstream(), false).replace(NAMESPACE, ns);
    let mut doc: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
    doc["metadata"]["name"] = "team-b".into();
    doc["spec"]["policies"]["ai"]["promptGuard"] = serde_json::json!({"request": [{
        "response": {"message": TEAM_B_REJECTION},
        "regex": {"action": "Reject", "matches": ["kubernetes"]}
    }]});
    serde_norway::to_string(&doc).unwrap()
}

/// An HTTPRoute on the Gateway for `prefix`; `rewrite` strips the prefix before the Backend.
fn route(ns: &str, name: &str, prefix: &str, backend_ref: &str, rewrite: bool) -> String {
    let filters = if rewrite {
        "    filters:\n    - type: URLRewrite\n      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}\n"
    } else {
        ""
    };
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  parentRefs: [{{name: {GATEWAY}}}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: {prefix}}}}}]\n{filters}    backendRefs: [{backend_ref}]\n"
    )
}

async fn wait_route(env: &Env, ns: &str, route: &str, type_: &str, want: &str) {
    let path = format!("{{.status.parents[0].conditions[?(@.type==\"{type_}\")].status}}");
    let object = format!("httproute/{route}");
    let what = format!("{object} {type_}={want}");
    let waited = eventually(Duration::from_mins(1), &what, async || {
        let got = env.jsonpath(ns, &[&object], &path).await;
        if got == want { Ok(()) } else { Err(got) }
    });
    if let Err(e) = waited.await {
        panic!("{e}\n{}", env.cluster.describe(ns).await);
    }
}

/// Waits until `path` answers `status` with `body_part` in its body through `forward`: a
/// bundle change reaches running pods through the kubelet's Secret volume sync.
async fn wait_status(forward: &PortForward, path: &str, status: u16, body_part: &str) {
    eventually(
        Duration::from_secs(90),
        &format!("{path} answers {status}"),
        async || match get(forward.local(), path).await {
            Ok((got, body)) if got == status && body.contains(body_part) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await
    .unwrap();
}
