//! The GatewayClass the tutorial's Gateway names: agw-operator (under the shipped RBAC)
//! creates `agentgateway` when the Gateway API is served and no such class exists, and Accepts
//! it; a class that already exists under the name it is told to ensure — a user's, with
//! another controller — is left exactly as it was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agw_e2e::binaries::gateway_api_crds;
use agw_e2e::operator_env::OperatorEnv;
use agw_e2e::{ControlPlane, eventually};

async fn env(prefix: &str) -> OperatorEnv {
    let cp = ControlPlane::shared().await.unwrap();
    cp.install_crds(&[gateway_api_crds().unwrap().as_path()])
        .await
        .unwrap();
    OperatorEnv::new(prefix).await.unwrap()
}

async fn class_field(env: &OperatorEnv, class: &str, path: &str) -> String {
    let jsonpath = format!("jsonpath={path}");
    let out = env
        .cp
        .kubectl()
        .run(["get", "gatewayclass", class, "-o", &jsonpath])
        .await
        .unwrap();
    if out.success() {
        out.stdout
    } else {
        format!("<{}>", out.stderr.trim())
    }
}

#[tokio::test]
async fn the_operator_creates_and_accepts_the_tutorials_class() {
    let env = env("class-created").await;
    let _operator = env.operator("one", &["--gateway-api=on"]).await.unwrap();
    let accepted = r#"{.status.conditions[?(@.type=="Accepted")].status}"#;
    eventually(
        Duration::from_secs(30),
        "GatewayClass agentgateway Accepted",
        async || match class_field(&env, "agentgateway", accepted).await.as_str() {
            "True" => Ok(()),
            other => Err(other.to_owned()),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        class_field(&env, "agentgateway", "{.spec.controllerName}").await,
        "agentgateway.dev/agw"
    );
    let label = r"{.metadata.labels.app\.kubernetes\.io/managed-by}";
    assert_eq!(
        class_field(&env, "agentgateway", label).await,
        "agw-operator"
    );
}

#[tokio::test]
async fn a_users_own_class_of_that_name_is_left_alone() {
    let env = env("class-kept").await;
    let users = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n\
                 metadata: {name: teams-own-class}\nspec: {controllerName: example.com/other}\n";
    env.cp
        .kubectl()
        .run_with_stdin(["apply", "-f", "-"], users)
        .await
        .unwrap()
        .check()
        .unwrap();
    let before = class_field(&env, "teams-own-class", "{.metadata.resourceVersion}").await;
    let operator = env
        .operator(
            "one",
            &["--gateway-api=on", "--gateway-class=teams-own-class"],
        )
        .await
        .unwrap();
    // The operator has looked at it once it serves Gateways; give it a moment past that.
    eventually(
        Duration::from_secs(30),
        "the operator serves Gateways",
        async || {
            let log = operator.log_text();
            if log.contains("reconciling Gateways") {
                Ok(())
            } else {
                Err(log)
            }
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        class_field(&env, "teams-own-class", "{.metadata.resourceVersion}").await,
        before
    );
    assert_eq!(
        class_field(&env, "teams-own-class", "{.spec.controllerName}").await,
        "example.com/other"
    );
}
