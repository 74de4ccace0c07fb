//! The webhook's certificate without cert-manager: the operator (as its shipped RBAC allows)
//! issues the serving certificate into Secret `agw-webhook-tls`, publishes its CA as the
//! `caBundle` of the shipped ValidatingWebhookConfiguration, and re-issues it when it goes
//! missing; the apiserver then calls the webhook over TLS it verifies with that CA.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agw_e2e::operator::{self, OperatorOptions};
use agw_e2e::webhook::Webhook;
use agw_e2e::{ControlPlane, eventually};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::DeleteParams;

fn pem(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

async fn issued(secrets: &Api<Secret>, previous: Option<&str>) -> Secret {
    eventually(
        Duration::from_secs(20),
        "the operator to issue agw-webhook-tls",
        async || {
            let secret = secrets
                .get_opt("agw-webhook-tls")
                .await
                .map_err(|e| e.to_string())?;
            match secret {
                Some(s) if previous.is_none_or(|p| pem(&s, "tls.crt") != p) => Ok(s),
                _ => Err("not issued yet".to_owned()),
            }
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_operator_issues_the_webhook_certificate_and_publishes_its_ca() {
    let cp = ControlPlane::shared().await.unwrap();
    let ns = cp.namespace("wh-certs").await.unwrap();
    let identity = operator::grant(cp, &ns).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = OperatorOptions {
        namespace: ns.clone(),
        identity: "one".to_owned(),
        mount_root: dir.path().join("mounts"),
        log_dir: dir.path().join("logs"),
        extra_args: vec![
            "--webhook-configuration=agw-webhook".to_owned(),
            format!("--webhook-namespace={ns}"),
            "--webhook-cert-name=127.0.0.1".to_owned(),
            "--webhook-cert-interval=500ms".to_owned(),
        ],
    };
    let operator = operator::start(&identity, &options).await.unwrap();

    let secrets: Api<Secret> = Api::namespaced(cp.client().unwrap(), &ns);
    let tls = issued(&secrets, None).await;
    assert_eq!(tls.type_.as_deref(), Some("kubernetes.io/tls"));
    let webhook = Webhook::start_with_pair(&pem(&tls, "tls.crt"), &pem(&tls, "tls.key"))
        .await
        .unwrap();
    // The shipped configuration without caBundle: the operator must fill it in before the
    // apiserver can reach the webhook (register waits until a bad Backend is refused).
    webhook
        .register(cp, "agw-webhook", &[&ns])
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", operator.log_tail()));
    let configurations: Api<ValidatingWebhookConfiguration> = Api::all(cp.client().unwrap());
    let published = configurations.get("agw-webhook").await.unwrap();
    let bundle = published.webhooks.unwrap()[0]
        .client_config
        .ca_bundle
        .clone()
        .unwrap();
    assert_eq!(String::from_utf8(bundle.0).unwrap(), pem(&tls, "ca.crt"));

    // A lost certificate is re-issued from the same CA; the webhook reloads it and keeps working.
    secrets
        .delete("agw-webhook-tls", &DeleteParams::default())
        .await
        .unwrap();
    let renewed = issued(&secrets, Some(&pem(&tls, "tls.crt"))).await;
    assert_eq!(
        pem(&renewed, "ca.crt"),
        pem(&tls, "ca.crt"),
        "same CA, so caBundle stays valid"
    );
    webhook
        .replace_pair(&pem(&renewed, "tls.crt"), &pem(&renewed, "tls.key"))
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let bad = "apiVersion: agentgateway.dev/v1alpha1\nkind: Backend\nmetadata: {name: bad}\nspec:\n  ai: {provider: {anthropic: {}}}\n  policies:\n    ai:\n      promptGuard:\n        request: [{regex: {builtins: [Nope]}}]\n";
    let out = cp.kubectl().apply_stdin(&ns, bad).await.unwrap();
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("builtins[0]"), "{out}");
}
