//! Installation as a user does it, against the real apiserver with the real kubectl (and its
//! built-in kustomize): every manifest under `config/` is accepted by `--dry-run=server`, then
//! `kubectl apply -k config/default` installs the CRD, RBAC, operator and webhook into
//! `agw-system`. No kubelet runs here, so the pods are not started; what is checked is that
//! nothing shipped has a typo the apiserver would refuse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use agw_e2e::ControlPlane;
use agw_e2e::binaries::workspace_root;

#[tokio::test]
async fn config_default_installs_everything_into_agw_system() {
    let cp = ControlPlane::shared().await.unwrap();
    let kubectl = cp.kubectl();
    let config = workspace_root().join("config");
    let default = config.join("default").display().to_string();

    let rendered = kubectl
        .run(["kustomize", &default])
        .await
        .unwrap()
        .check()
        .unwrap();
    for kind in [
        "kind: CustomResourceDefinition",
        "kind: ClusterRole",
        "kind: Deployment",
        "kind: ValidatingWebhookConfiguration",
        "kind: Namespace",
    ] {
        assert!(
            rendered.stdout.contains(kind),
            "{kind} missing from config/default"
        );
    }

    // The samples, before the webhook configuration exists (nothing would answer it here).
    let samples_ns = cp.namespace("samples").await.unwrap();
    let samples = config.join("samples").display().to_string();
    let out = kubectl
        .run([
            "apply",
            "-k",
            &samples,
            "-n",
            &samples_ns,
            "--dry-run=server",
        ])
        .await
        .unwrap();
    assert!(out.success(), "{out}");

    // A server-side dry run needs the namespace to exist, as a real apply creates it first.
    kubectl
        .run_with_stdin(
            ["apply", "-f", "-"],
            &std::fs::read_to_string(config.join("default/namespace.yaml")).unwrap(),
        )
        .await
        .unwrap()
        .check()
        .unwrap();
    let dry = kubectl
        .run(["apply", "-k", &default, "--dry-run=server"])
        .await
        .unwrap();
    assert!(dry.success(), "{dry}");
    println!("{}", dry.stdout);

    let applied = kubectl.run(["apply", "-k", &default]).await.unwrap();
    assert!(applied.success(), "{applied}");
    let deployments = kubectl
        .run(["get", "deployments", "-n", "agw-system", "-o", "name"])
        .await
        .unwrap();
    assert!(
        deployments.stdout.contains("deployment.apps/agw-operator"),
        "{deployments}"
    );
    assert!(
        deployments.stdout.contains("deployment.apps/agw-webhook"),
        "{deployments}"
    );
    let webhook = kubectl
        .run([
            "get",
            "validatingwebhookconfiguration",
            "agw-webhook",
            "-o",
            "jsonpath={.webhooks[0].clientConfig.service.namespace}",
        ])
        .await
        .unwrap();
    assert_eq!(webhook.stdout, "agw-system", "{webhook}");
    // Applying twice changes nothing: the manifests are stable under kubectl apply.
    let again = kubectl.run(["apply", "-k", &default]).await.unwrap();
    assert!(again.success(), "{again}");
    // (kubectl's client-side apply always re-patches a PodDisruptionBudget's selector, a known
    // kubectl quirk with `patchStrategy: replace`; it changes nothing on the server.)
    let changed: Vec<&str> = again
        .stdout
        .lines()
        .filter(|line| line.ends_with(" configured") && !line.starts_with("poddisruptionbudget"))
        .collect();
    assert!(changed.is_empty(), "{again}");
}

#[tokio::test]
async fn gateway_api_samples_apply_and_config_pins_the_tested_release() {
    let config = workspace_root().join("config");
    let pinned = std::fs::read_to_string(config.join("gateway-api/kustomization.yaml")).unwrap();
    let version = agw_e2e::binaries::GATEWAY_API_VERSION;
    assert!(
        pinned.contains(&format!("/download/{version}/standard-install.yaml")),
        "config/gateway-api must install the release the tests use ({version})"
    );

    let cp = ControlPlane::shared().await.unwrap();
    let crds = agw_e2e::binaries::gateway_api_crds().unwrap();
    cp.install_crds(&[crds.as_path()]).await.unwrap();
    let ns = cp.namespace("gateway-samples").await.unwrap();
    let samples = config.join("samples/gateway").display().to_string();
    let out = cp
        .kubectl()
        .run(["apply", "-k", &samples, "-n", &ns, "--dry-run=server"])
        .await
        .unwrap();
    assert!(out.success(), "{out}");
    for object in [
        "gatewayclass.gateway.networking.k8s.io/agentgateway",
        "gateway.gateway.networking.k8s.io/agentgateway-proxy",
        "httproute.gateway.networking.k8s.io/claude",
    ] {
        assert!(out.stdout.contains(object), "{object} missing: {out}");
    }
}
