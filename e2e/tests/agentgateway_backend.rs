//! The tutorial as agentgateway's live docs render it: `kind: AgentgatewayBackend` (short name
//! `agbe`) next to agw's `Backend`, on a real kube-apiserver through the real kubectl. The
//! CRDs list and explain both kinds; the operator (under the shipped RBAC) programs an
//! AgentgatewayBackend exactly like a Backend; a Backend of the same name is refused as
//! `NameConflict` instead of fighting over the proxy objects; an HTTPRoute's
//! `kind: AgentgatewayBackend` backendRef is Accepted. The real Claude Code CLI through an
//! AgentgatewayBackend's pods runs on the real node (`tests/cluster/gateway.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agw_e2e::binaries::gateway_api_crds;
use agw_e2e::operator_env::OperatorEnv;
use agw_e2e::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, ResourceExt};

const AGBE: &str = "AgentgatewayBackend";

/// `yaml` (one document) as `kind` named `name`.
fn as_kind(yaml: &str, kind: &str, name: &str) -> String {
    let mut doc: serde_json::Value = serde_norway::from_str(yaml).unwrap();
    doc["kind"] = kind.into();
    doc["metadata"]["name"] = name.into();
    serde_norway::to_string(&doc).unwrap()
}

async fn kubectl(cp: &ControlPlane, ns: &str, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["-n", ns]);
    let out = cp.kubectl().run(all).await.unwrap();
    assert!(out.success(), "{out}");
    out.stdout
}

/// Names in the first column of `kubectl get` output, and the header.
fn listed(table: &str) -> (Vec<&str>, Vec<&str>) {
    let mut lines = table.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let names = lines.filter_map(|l| l.split_whitespace().next()).collect();
    (header, names)
}

#[tokio::test]
async fn both_kinds_list_with_their_columns_and_agbe_names_agentgateway_backends() {
    let cp = ControlPlane::shared().await.unwrap();
    let ns = cp.namespace("agbe-columns").await.unwrap();
    let samples = ["backend-flexible.yaml", "backend-guarded.yaml"];
    for file in samples {
        let yaml = OperatorEnv::sample(file).unwrap();
        let name = file.trim_end_matches(".yaml");
        let out = cp
            .kubectl()
            .apply_stdin(&ns, &as_kind(&yaml, AGBE, &format!("agbe-{name}")))
            .await
            .unwrap();
        assert!(out.success(), "{out}");
    }
    let backend = OperatorEnv::sample("backend-fixed-model.yaml").unwrap();
    let out = cp
        .kubectl()
        .apply_stdin(&ns, &as_kind(&backend, "Backend", "plain"))
        .await
        .unwrap();
    assert!(out.success(), "{out}");

    let columns = ["NAME", "ACCEPTED", "READY", "MODEL", "GUARDS", "AGE"];
    for resource in [
        "agentgatewaybackends",
        "agbe",
        "agentgatewaybackend.agentgateway.dev",
    ] {
        let table = kubectl(cp, &ns, &["get", resource]).await;
        let (header, names) = listed(&table);
        assert_eq!(header, columns, "{table}");
        assert_eq!(
            names,
            ["agbe-backend-flexible", "agbe-backend-guarded"],
            "{table}"
        );
    }
    let table = kubectl(cp, &ns, &["get", "backends"]).await;
    let (header, names) = listed(&table);
    assert_eq!(header, columns, "{table}");
    assert_eq!(names, ["plain"], "{table}");

    let explained = kubectl(
        cp,
        &ns,
        &["explain", "agentgatewaybackend.spec.policies.ai"],
    )
    .await;
    assert!(
        explained.contains("KIND:       AgentgatewayBackend"),
        "{explained}"
    );
    for field in ["promptGuard", "routes"] {
        assert!(explained.contains(field), "{field}: {explained}");
    }
}

async fn condition(env: &OperatorEnv, kind: &str, name: &str, type_: &str) -> (String, String) {
    let path = format!(
        "jsonpath={{.status.conditions[?(@.type==\"{type_}\")].status}} {{.status.conditions[?(@.type==\"{type_}\")].reason}}"
    );
    let out = kubectl(env.cp, &env.ns, &["get", kind, name, "-o", &path]).await;
    let (status, reason) = out.split_once(' ').unwrap_or_default();
    (status.to_owned(), reason.to_owned())
}

async fn wait_condition(env: &OperatorEnv, kind: &str, name: &str, type_: &str, want: &str) {
    eventually(
        Duration::from_secs(30),
        &format!("{kind} {name}: {type_}={want}"),
        async || {
            let (status, reason) = condition(env, kind, name, type_).await;
            if status == want {
                Ok(())
            } else {
                Err(format!("{status} ({reason})"))
            }
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_agentgateway_backend_serves_the_tutorial_and_its_namesake_is_refused() {
    let env = OperatorEnv::new("agbe-operator").await.unwrap();
    let _operator = env.operator("one", &[]).await.unwrap();
    env.apply(&OperatorEnv::secret().unwrap()).await.unwrap();
    let agbe = as_kind(&env.backend("anthropic", None).unwrap(), AGBE, "anthropic");
    env.apply(&agbe).await.unwrap();
    wait_condition(&env, AGBE, "anthropic", "Accepted", "True").await;
    wait_condition(&env, AGBE, "anthropic", "Programmed", "True").await;
    let uid = kubectl(
        env.cp,
        &env.ns,
        &["get", "agbe", "anthropic", "-o", "jsonpath={.metadata.uid}"],
    )
    .await;
    let deployments: Api<Deployment> = Api::namespaced(env.cp.client().unwrap(), &env.ns);
    let owner_uid = async || {
        let deployment = deployments.get("anthropic-proxy").await.unwrap();
        let owner = deployment.owner_references()[0].clone();
        assert_eq!(owner.kind, AGBE);
        owner.uid
    };
    assert_eq!(owner_uid().await, uid);
    let bundle_digest = async || {
        let args = [
            "get",
            "agbe",
            "anthropic",
            "-o",
            "jsonpath={.status.bundleDigest}",
        ];
        kubectl(env.cp, &env.ns, &args).await
    };
    let digest = bundle_digest().await;

    // A Backend of the same name, created later, would program the same objects: refused.
    // creationTimestamp has whole seconds and a tie goes to Backend, so "later" must be a
    // later second than the AgentgatewayBackend's.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let backend = env
        .backend("anthropic", Some(serde_json::json!([])))
        .unwrap();
    env.apply(&backend).await.unwrap();
    wait_condition(&env, "backend", "anthropic", "Accepted", "False").await;
    let (_, reason) = condition(&env, "backend", "anthropic", "Ready").await;
    assert_eq!(reason, "NameConflict");
    let message = kubectl(
        env.cp,
        &env.ns,
        &[
            "get",
            "backend",
            "anthropic",
            "-o",
            "jsonpath={.status.conditions[0].message}",
        ],
    )
    .await;
    assert!(message.contains("AgentgatewayBackend"), "{message}");
    // The AgentgatewayBackend keeps its objects and its guards.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(owner_uid().await, uid);
    wait_condition(&env, AGBE, "anthropic", "Programmed", "True").await;
    let kept = bundle_digest().await;
    assert_eq!(
        kept, digest,
        "the AgentgatewayBackend's bundle is untouched"
    );

    // Once the owner is gone, the Backend takes the name over.
    kubectl(env.cp, &env.ns, &["delete", "agbe", "anthropic"]).await;
    wait_condition(&env, "backend", "anthropic", "Accepted", "True").await;
}

/// Tutorial steps 3–6 with `kind: AgentgatewayBackend` in the Backend and the HTTPRoute: the
/// route is Accepted with its refs resolved, and the Gateway's Deployment carries it.
#[tokio::test]
async fn an_httproute_to_an_agentgateway_backend_is_accepted() {
    let cp = ControlPlane::shared().await.unwrap();
    cp.install_crds(&[gateway_api_crds().unwrap().as_path()])
        .await
        .unwrap();
    let env = OperatorEnv::new("agbe-gateway").await.unwrap();
    let _operator = env.operator("one", &["--gateway-api=on"]).await.unwrap();
    // The class `agentgateway` is the operator's to create (as after the tutorial's install).
    env.apply(&OperatorEnv::sample("gateway/gateway.yaml").unwrap())
        .await
        .unwrap();
    env.apply(&OperatorEnv::secret().unwrap()).await.unwrap();
    let agbe = as_kind(&env.backend("anthropic", None).unwrap(), AGBE, "anthropic");
    env.apply(&agbe).await.unwrap();
    let route = OperatorEnv::sample("gateway/httproute.yaml")
        .unwrap()
        .replace("kind: Backend", &format!("kind: {AGBE}"));
    assert!(route.contains("kind: AgentgatewayBackend"));
    env.apply(&route).await.unwrap();

    for type_ in ["Accepted", "ResolvedRefs"] {
        let path =
            format!("jsonpath={{.status.parents[0].conditions[?(@.type==\"{type_}\")].status}}");
        eventually(
            Duration::from_secs(30),
            &format!("HTTPRoute claude {type_}=True"),
            async || {
                let out = kubectl(
                    env.cp,
                    &env.ns,
                    &["get", "httproute", "claude", "-o", &path],
                )
                .await;
                if out == "True" { Ok(()) } else { Err(out) }
            },
        )
        .await
        .unwrap();
    }
    // The Gateway's Deployment carries the route: it mounts the AgentgatewayBackend's Secret.
    let volumes = "jsonpath={.spec.template.spec.volumes[*].secret.secretName}";
    eventually(
        Duration::from_secs(30),
        "the Gateway's pods mount the AgentgatewayBackend's auth Secret",
        async || {
            let args = ["get", "deployment", "agentgateway-proxy", "-o", volumes];
            let out = kubectl(env.cp, &env.ns, &args).await;
            if out.contains("anthropic-secret") {
                Ok(())
            } else {
                Err(out)
            }
        },
    )
    .await
    .unwrap();
}

/// The shipped webhook registration covers `agentgatewaybackends`: a bad one fails `kubectl
/// apply` naming the field, exactly as a Backend would.
#[tokio::test]
async fn the_webhook_judges_agentgateway_backends_like_backends() {
    let cp = ControlPlane::shared().await.unwrap();
    let ns = cp.namespace("agbe-webhook").await.unwrap();
    let webhook = agw_e2e::webhook::Webhook::start().await.unwrap();
    webhook
        .register(cp, &format!("agw-webhook-{ns}"), &[&ns])
        .await
        .unwrap();
    let good = as_kind(
        &OperatorEnv::sample("backend-guarded.yaml").unwrap(),
        AGBE,
        "good",
    );
    let out = cp.kubectl().apply_stdin(&ns, &good).await.unwrap();
    assert!(out.success(), "{out}");
    let bad = good
        .replace("name: good", "name: bad")
        .replace("- credit card", "- credit(?=card)");
    assert!(bad.contains("credit(?=card)"), "{bad}");
    let out = cp.kubectl().apply_stdin(&ns, &bad).await.unwrap();
    assert_eq!(out.code(), Some(1), "{out}");
    for expected in [
        "The AgentgatewayBackend \"bad\" is invalid",
        "spec.policies.ai.promptGuard.request[0].regex.matches[0]",
        "lookahead",
    ] {
        assert!(out.stderr.contains(expected), "{expected}: {out}");
    }
}
