//! The tutorial's Gateway API path end to end: GatewayClass `agentgateway`, the Gateway
//! `agentgateway-proxy`, the Secret, the Backend and the HTTPRoute `claude`, all applied with
//! the real `kubectl` to a real kube-apiserver; `agw-operator` (under the shipped RBAC) turns
//! them into the `agentgateway-proxy` Deployment, which the pod stand-in runs, and the real
//! Claude Code CLI talks through it to the mock Anthropic API. Also: a second team's route
//! with its own guards, a deleted route answering 404 without a restart, and the statuses
//! that explain unusable backendRefs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agw_e2e::agw::{AgwProcess, get};
use agw_e2e::binaries::gateway_api_crds;
use agw_e2e::clients::Claude;
use agw_e2e::operator_env::OperatorEnv;
use agw_e2e::standin::{PodStandIn, PodView};
use agw_e2e::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

const REJECTION: &str = "Rejected due to inappropriate content";
const GATEWAY: &str = "agentgateway-proxy";

/// The shared operator test set-up, and this file's steps on it.
struct Env(OperatorEnv);

impl std::ops::Deref for Env {
    type Target = OperatorEnv;

    fn deref(&self) -> &OperatorEnv {
        &self.0
    }
}

impl Env {
    async fn new(prefix: &str) -> Self {
        let cp = ControlPlane::shared().await.unwrap();
        cp.install_crds(&[gateway_api_crds().unwrap().as_path()])
            .await
            .unwrap();
        Self(OperatorEnv::new(prefix).await.unwrap())
    }

    async fn operator(&self) -> AgwProcess {
        self.0.operator("one", &["--gateway-api=on"]).await.unwrap()
    }

    fn stand_in(&self) -> PodStandIn {
        self.0.stand_in().unwrap()
    }

    fn sample(path: &str) -> String {
        OperatorEnv::sample(path).unwrap()
    }

    /// A sample Backend named `name`, pointed at the mock, with `guards` replacing its guards.
    fn backend(&self, name: &str, guards: Option<serde_json::Value>) -> String {
        self.0.backend(name, guards).unwrap()
    }

    async fn apply(&self, yaml: &str) {
        self.0.apply(yaml).await.unwrap();
    }

    async fn kubectl(&self, args: &[&str]) -> String {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-n", &self.ns]);
        let out = self.cp.kubectl().run(all).await.unwrap();
        assert!(out.success(), "{out}");
        out.stdout
    }

    async fn wait_jsonpath(&self, object: &[&str], path: &str, want: &str) {
        let jsonpath = format!("jsonpath={path}");
        let mut args = vec!["get"];
        args.extend(object);
        args.extend(["-n", &self.ns, "-o", &jsonpath]);
        eventually(
            Duration::from_secs(30),
            &format!("{object:?} {path} == {want}"),
            async || {
                let out = self
                    .cp
                    .kubectl()
                    .run(args.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                if out.stdout == want {
                    Ok(())
                } else {
                    Err(format!("{:?} {}", out.stdout, out.stderr))
                }
            },
        )
        .await
        .unwrap();
    }

    /// The tutorial's steps 3–6 in this namespace, with guards on the Backend (step 8).
    async fn tutorial(&self) {
        // No GatewayClass here: the operator creates `agentgateway`, as after the tutorial's
        // install (gateway_class.rs tests that on its own).
        self.apply(&Self::sample("gateway/gateway.yaml")).await;
        self.apply(&OperatorEnv::secret().unwrap()).await;
        self.apply(&self.backend("anthropic", None)).await;
        self.apply(&Self::sample("gateway/httproute.yaml")).await;
    }

    async fn route_condition(&self, route: &str, type_: &str, want: &str) {
        let path = format!("{{.status.parents[0].conditions[?(@.type==\"{type_}\")].status}}");
        self.wait_jsonpath(&["httproute", route], &path, want).await;
    }

    async fn route_reason(&self, route: &str, type_: &str) -> String {
        let path =
            format!("jsonpath={{.status.parents[0].conditions[?(@.type==\"{type_}\")].reason}}");
        self.kubectl(&["get", "httproute", route, "-o", &path])
            .await
    }
}

impl Env {
    /// The last lines of the log of the Gateway pod's `starts`-th start.
    fn pod_log_tail(&self, starts: u32) -> String {
        let log = self
            .dir
            .path()
            .join(format!("mounts/logs/{GATEWAY}-{starts}.log"));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// The Gateway's pod once the stand-in runs the Deployment's current template (attaching
    /// a route that needs a new auth volume rolls the pod, like a real rollout): what
    /// `kubectl rollout status` waits for.
    async fn rolled_out_pod(&self, stand_in: &PodStandIn) -> PodView {
        let deployments: Api<Deployment> = Api::namespaced(self.cp.client().unwrap(), &self.ns);
        eventually(
            Duration::from_secs(30),
            "the Gateway's Deployment rolled out",
            async || {
                let d = deployments.get(GATEWAY).await.map_err(|e| e.to_string())?;
                let status = d.status.clone().unwrap_or_default();
                let current = status.observed_generation == d.metadata.generation;
                if current && status.available_replicas == Some(1) {
                    Ok(())
                } else {
                    Err(format!("{status:?}"))
                }
            },
        )
        .await
        .unwrap();
        stand_in
            .pod(GATEWAY, Duration::from_secs(30))
            .await
            .unwrap()
    }
}

fn base_url(pod: &PodView, prefix: &str) -> String {
    format!("http://{}{prefix}", pod.listen)
}

#[tokio::test]
async fn the_tutorial_gateway_and_httproute_guard_claude_code() {
    let env = Env::new("gw-tutorial").await;
    let _operator = env.operator().await;
    let stand_in = env.stand_in();
    env.tutorial().await;

    env.wait_jsonpath(
        &["gatewayclass", "agentgateway"],
        "{.status.conditions[?(@.type==\"Accepted\")].status}",
        "True",
    )
    .await;
    env.wait_jsonpath(
        &["gateway", GATEWAY],
        "{.status.conditions[?(@.type==\"Programmed\")].status}",
        "True",
    )
    .await;
    env.wait_jsonpath(
        &["gateway", GATEWAY],
        "{.status.listeners[0].attachedRoutes}",
        "1",
    )
    .await;
    env.route_condition("claude", "Accepted", "True").await;
    env.route_condition("claude", "ResolvedRefs", "True").await;
    // Tutorial step 3's check, and the objects behind `kubectl port-forward deployment/...`.
    println!("{}", env.kubectl(&["get", "deployment", GATEWAY]).await);
    println!("{}", env.kubectl(&["get", "gateway", GATEWAY]).await);
    let ports = env
        .kubectl(&[
            "get",
            "deployment",
            GATEWAY,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].ports[0].containerPort}",
        ])
        .await;
    assert_eq!(
        ports, "80",
        "the proxy listens on the listener port in the pod"
    );

    let pod = env.rolled_out_pod(&stand_in).await;
    let claude = Claude::new().unwrap();
    claude
        .tutorial_prompts(&base_url(&pod, ""), REJECTION)
        .await
        .unwrap();
    let seen = env.mock.requests().await.unwrap();
    assert!(
        seen.iter()
            .any(|r| r["headers"]["x-api-key"] == "sk-ant-from-the-secret"),
        "the Gateway's proxy injected the key from the Secret: {seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|r| r["headers"]["x-api-key"] == "sk-ant-client-dummy"),
        "the client's key never reaches the provider"
    );

    second_team_with_its_own_guards(&env, &pod, &claude).await;
    deleted_route_answers_404_without_restart(&env, &stand_in, &pod).await;
}

/// A second team, its own prefix and guards, sharing the Gateway.
async fn second_team_with_its_own_guards(env: &Env, pod: &PodView, claude: &Claude) {
    let strict = serde_json::json!([{
        "response": {"message": "Team B may not ask about Kubernetes"},
        "regex": {"action": "Reject", "matches": ["kubernetes"]}
    }]);
    env.apply(&env.backend("team-b", Some(strict))).await;
    env.apply(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: team-b}}\nspec:\n  parentRefs: [{{name: {GATEWAY}}}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /team-b}}}}]\n    filters:\n    - type: URLRewrite\n      urlRewrite: {{path: {{type: ReplacePrefixMatch, replacePrefixMatch: /}}}}\n    backendRefs: [{{group: agentgateway.dev, kind: Backend, name: team-b}}]\n"
    ))
    .await;
    env.route_condition("team-b", "ResolvedRefs", "True").await;
    env.wait_jsonpath(
        &["gateway", GATEWAY],
        "{.status.listeners[0].attachedRoutes}",
        "2",
    )
    .await;
    let team_b = eventually(
        Duration::from_secs(20),
        "team B's guard in force",
        async || {
            let out = claude
                .prompt(&base_url(pod, "/team-b"), "What is Kubernetes?")
                .await
                .map_err(|e| e.to_string())?;
            let text = format!("{}{}", out.stdout, out.stderr);
            if text.contains("Team B may not ask about Kubernetes") {
                Ok(out)
            } else {
                Err(text)
            }
        },
    )
    .await
    .unwrap();
    assert_ne!(team_b.code, Some(0), "{team_b:?}");
    let team_a = claude
        .prompt(&base_url(pod, ""), "What is Kubernetes?")
        .await
        .unwrap();
    assert!(
        team_a.stdout.contains("open-source system"),
        "the first route is unchanged: {team_a:?}"
    );
}

/// Deleting the route takes its paths away, without restarting the proxy.
async fn deleted_route_answers_404_without_restart(
    env: &Env,
    stand_in: &PodStandIn,
    pod: &PodView,
) {
    let starts = stand_in.current(GATEWAY).unwrap().starts;
    env.kubectl(&["delete", "httproute", "claude"]).await;
    eventually(
        Duration::from_secs(20),
        "404 once the route is gone",
        async || {
            let (status, body) = get(pod.listen, "/v1/models")
                .await
                .map_err(|e| e.to_string())?;
            if status == 404 && body.contains("not_found_error") {
                Ok(())
            } else {
                Err(format!("{status} {body}"))
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        stand_in.current(GATEWAY).unwrap().starts,
        starts,
        "no restart"
    );
    env.wait_jsonpath(
        &["gateway", GATEWAY],
        "{.status.listeners[0].attachedRoutes}",
        "1",
    )
    .await;
}

#[tokio::test]
async fn route_statuses_explain_backend_refs_that_cannot_be_used() {
    let env = Env::new("gw-refs").await;
    let _operator = env.operator().await;
    let stand_in = env.stand_in();
    env.tutorial().await;
    env.route_condition("claude", "ResolvedRefs", "True").await;
    let pod = env.rolled_out_pod(&stand_in).await;

    let route = |name: &str, prefix: &str, backend_ref: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}}}\nspec:\n  parentRefs: [{{name: {GATEWAY}}}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: {prefix}}}}}]\n    backendRefs: [{backend_ref}]\n"
        )
    };
    env.apply(&route(
        "missing",
        "/missing",
        "{group: agentgateway.dev, kind: Backend, name: nope}",
    ))
    .await;
    env.apply(&route(
        "service",
        "/service",
        "{name: some-service, port: 80}",
    ))
    .await;
    env.apply(&route(
        "elsewhere",
        "/elsewhere",
        "{group: agentgateway.dev, kind: Backend, name: anthropic, namespace: kube-system}",
    ))
    .await;
    let broken = serde_json::json!([{"regex": {"action": "Reject", "matches": ["(?=lookahead)"]}}]);
    env.apply(&env.backend("broken", Some(broken))).await;
    env.apply(&route(
        "invalid",
        "/invalid",
        "{group: agentgateway.dev, kind: Backend, name: broken}",
    ))
    .await;

    for (name, reason) in [
        ("missing", "BackendNotFound"),
        ("service", "InvalidKind"),
        ("elsewhere", "RefNotPermitted"),
        ("invalid", "InvalidBackend"),
    ] {
        env.route_condition(name, "ResolvedRefs", "False").await;
        assert_eq!(
            env.route_reason(name, "ResolvedRefs").await,
            reason,
            "{name}"
        );
        env.route_condition(name, "Accepted", "True").await;
    }
    // Their paths answer 500 and never fall through to the catch-all route's backend.
    eventually(
        Duration::from_secs(20),
        "500 for an unusable backend",
        async || {
            // The pod as the stand-in runs it now, so a restart shows as such in the message.
            let now = stand_in.current(GATEWAY).ok_or("no pod")?;
            let (status, body) = get(now.listen, "/invalid/v1/models").await.map_err(|e| {
                format!(
                    "{e}; first taken {pod:?}, now {now:?}; its log ends:\n{}",
                    env.pod_log_tail(now.starts)
                )
            })?;
            if status == 500 && body.contains("not available") {
                Ok(())
            } else {
                Err(format!("{status} {body}"))
            }
        },
    )
    .await
    .unwrap();
    let before = env.mock.requests().await.unwrap().len();
    let now = stand_in.current(GATEWAY).unwrap();
    println!(
        "gateway pod: start {} (first taken: start {})",
        now.starts, pod.starts
    );
    let (status, _) = get(now.listen, "/missing/v1/models").await.unwrap();
    assert_eq!(status, 500);
    assert_eq!(
        env.mock.requests().await.unwrap().len(),
        before,
        "nothing reached the provider"
    );

    // A route to a listener that does not exist is not accepted.
    env.apply(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: no-listener}}\nspec:\n  parentRefs: [{{name: {GATEWAY}, sectionName: https}}]\n  rules: [{{backendRefs: [{{group: agentgateway.dev, kind: Backend, name: anthropic}}]}}]\n"
    ))
    .await;
    env.route_condition("no-listener", "Accepted", "False")
        .await;
    assert_eq!(
        env.route_reason("no-listener", "Accepted").await,
        "NoMatchingParent"
    );
}
