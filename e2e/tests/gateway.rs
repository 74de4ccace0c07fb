//! The tutorial's Gateway API objects on a real kube-apiserver: GatewayClass `agentgateway`,
//! the Gateway `agentgateway-proxy`, the Secret, the Backend and the HTTPRoute `claude`, all
//! applied with the real `kubectl`; `agw-operator` (under the shipped RBAC) accepts them,
//! programs the `agentgateway-proxy` Deployment and explains unusable backendRefs in the
//! routes' statuses. What needs pods — the real Claude Code CLI through the Gateway, a second
//! team's route, a deleted route answering 404 without a restart, unusable refs answering 500 —
//! runs on the real node (`tests/cluster/gateway.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agw_e2e::agw::AgwProcess;
use agw_e2e::binaries::gateway_api_crds;
use agw_e2e::operator_env::OperatorEnv;
use agw_e2e::{ControlPlane, eventually};

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

#[tokio::test]
async fn the_tutorial_gateway_and_httproute_are_accepted_and_programmed() {
    let env = Env::new("gw-tutorial").await;
    let _operator = env.operator().await;
    env.tutorial().await;

    env.wait_jsonpath(
        &["gatewayclass", "agentgateway"],
        "{.status.conditions[?(@.type==\"Accepted\")].status}",
        "True",
    )
    .await;
    env.wait_jsonpath(
        &["gateway", GATEWAY],
        "{.status.conditions[?(@.type==\"Accepted\")].status}",
        "True",
    )
    .await;
    // No kubelet here, so the proxy never becomes Available: Programmed says so (the real node
    // shows it True: tests/cluster/).
    env.wait_jsonpath(
        &["gateway", GATEWAY],
        "{.status.conditions[?(@.type==\"Programmed\")].reason}",
        "Pending",
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
}

#[tokio::test]
async fn route_statuses_explain_backend_refs_that_cannot_be_used() {
    let env = Env::new("gw-refs").await;
    let _operator = env.operator().await;
    env.tutorial().await;
    env.route_condition("claude", "ResolvedRefs", "True").await;

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
    // Their paths answer 500 in the Gateway's pods, never falling through to the catch-all
    // route's backend: tests/cluster/gateway.rs, on the real node.

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

/// An AgentgatewayPolicy on the tutorial Gateway's listener: accepted per target, its key
/// Secret mounted in the Gateway's pods, the Backend served through the listener governed by
/// it in the bundle; a second policy on the same listener is `Conflicted`, one naming a
/// missing listener `TargetNotFound`, and one agw cannot enforce `Invalid` (the webhook, not
/// running here, refuses it at admission: `tests/webhook.rs`).
#[tokio::test]
async fn a_listener_policy_is_accepted_mounted_and_governs_the_listener_s_backends() {
    use k8s_openapi::api::core::v1::Secret;
    let env = Env::new("gw-policy").await;
    let _operator = env.operator().await;
    env.tutorial().await;
    env.route_condition("claude", "ResolvedRefs", "True").await;

    env.apply(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: team-keys}\nstringData:\n  alice: '{\"keyHash\": \"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"}'\n",
    )
    .await;
    let policy = |name: &str, section: &str, traffic: &str| {
        format!(
            "apiVersion: agentgateway.dev/v1alpha1\nkind: AgentgatewayPolicy\nmetadata: {{name: {name}}}\nspec:\n  targetRefs: [{{group: gateway.networking.k8s.io, kind: Gateway, name: {GATEWAY}{section}}}]\n  traffic: {traffic}\n"
        )
    };
    let keys = "{apiKeyAuthentication: {secretRef: {name: team-keys}}}";
    env.apply(&policy("listener-keys", ", sectionName: http", keys))
        .await;
    let accepted = "{.status.ancestors[0].conditions[?(@.type==\"Accepted\")].status}";
    env.wait_jsonpath(&["agpol", "listener-keys"], accepted, "True")
        .await;
    // Its key Secret resolves, counted as the proxy will read it.
    env.wait_jsonpath(
        &["agpol", "listener-keys"],
        "{.status.ancestors[0].conditions[?(@.type==\"ResolvedRefs\")].message}",
        "gateway key identities: 1, JWT providers: 0",
    )
    .await;
    env.wait_jsonpath(
        &["deployment", GATEWAY],
        "{.spec.template.spec.volumes[?(@.secret.secretName==\"team-keys\")].name}",
        "client-keys-0",
    )
    .await;
    let bundles: kube::Api<Secret> = kube::Api::namespaced(env.cp.client().unwrap(), &env.ns);
    let bundle = bundles.get(&format!("{GATEWAY}-bundle")).await.unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&bundle.data.unwrap()["bundle.json"].0).unwrap();
    let governed = format!("{}/anthropic@listener-keys", env.ns);
    let clients = &json["backends"][&governed]["clients"];
    assert_eq!(clients["keySources"][0]["secret"], "team-keys", "{json:#}");

    a_route_policy_is_layered_over_the_listener_s(&env, &bundles).await;

    // Created in the same second, the tie goes to the name, as Gateway API orders policies.
    env.apply(&policy("newer-keys", ", sectionName: http", keys))
        .await;
    env.apply(&policy("typo", ", sectionName: htp", keys)).await;
    env.apply(&policy("cors", "", "{cors: {allowOrigins: ['*']}}"))
        .await;
    let reason = "{.status.ancestors[0].conditions[?(@.type==\"Accepted\")].reason}";
    for (name, want) in [
        ("newer-keys", "Conflicted"),
        ("typo", "TargetNotFound"),
        ("cors", "Invalid"),
    ] {
        env.wait_jsonpath(&["agpol", name], reason, want).await;
    }
    // The invalid whole-Gateway policy governs no listener (http has its own), so the route
    // stays resolved; deleting the listener's policy hands http to it, failing closed.
    env.kubectl(&["delete", "agpol", "listener-keys", "newer-keys"])
        .await;
    env.route_condition("claude", "ResolvedRefs", "False").await;
    let message = env
        .kubectl(&[
            "get",
            "httproute",
            "claude",
            "-o",
            "jsonpath={.status.parents[0].conditions[?(@.type==\"ResolvedRefs\")].message}",
        ])
        .await;
    assert!(message.contains("AgentgatewayPolicy cors"), "{message}");

    // A policy that stops targeting the Gateway loses the entry agw wrote for it.
    env.apply(&policy("typo", "", keys).replace(GATEWAY, "another-gateway"))
        .await;
    env.wait_jsonpath(
        &["agpol", "typo"],
        "{.status.ancestors[*].ancestorRef.name}",
        "",
    )
    .await;
}

/// A policy on the route `claude` is layered over the listener's: its limit, the listener's
/// keys, under one bundle key.
async fn a_route_policy_is_layered_over_the_listener_s(
    env: &Env,
    bundles: &kube::Api<k8s_openapi::api::core::v1::Secret>,
) {
    const ROUTE_LIMITS: &str = "apiVersion: agentgateway.dev/v1alpha1\nkind: AgentgatewayPolicy\nmetadata: {name: route-limits}\nspec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: claude}]\n  traffic: {rateLimit: {local: [{requests: 5, unit: Minutes}]}}\n";
    let accepted = "{.status.ancestors[0].conditions[?(@.type==\"Accepted\")].status}";
    env.apply(ROUTE_LIMITS).await;
    env.wait_jsonpath(&["agpol", "route-limits"], accepted, "True")
        .await;
    let layered = format!("{}/anthropic@listener-keys+route-limits", env.ns);
    let clients = eventually(Duration::from_secs(30), "the layered backend", async || {
        let bundle = bundles
            .get(&format!("{GATEWAY}-bundle"))
            .await
            .map_err(|e| e.to_string())?;
        let data = bundle.data.unwrap_or_default();
        let json: serde_json::Value =
            serde_json::from_slice(&data["bundle.json"].0).map_err(|e| e.to_string())?;
        let clients = json["backends"][&layered]["clients"].clone();
        if clients.is_null() {
            Err(json["backends"].to_string())
        } else {
            Ok(clients)
        }
    })
    .await
    .unwrap();
    assert_eq!(
        clients["keySources"][0]["secret"], "team-keys",
        "{clients:#}"
    );
    assert_eq!(clients["limits"][0]["amount"], 5, "{clients:#}");
    env.kubectl(&["delete", "agpol", "route-limits"]).await;
}
