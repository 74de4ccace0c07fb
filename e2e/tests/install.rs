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

/// config/gateway-api holds the tested release's CRDs byte for byte (hack/vendor-gateway-api.sh),
/// so `kubectl apply --server-side -k config/gateway-api` needs no download and cannot drift.
#[test]
fn config_gateway_api_vendors_the_tested_release_unchanged() {
    let vendored = workspace_root().join("config/gateway-api");
    let release = agw_e2e::binaries::gateway_api_crds().unwrap();
    let kustomization = std::fs::read_to_string(vendored.join("kustomization.yaml")).unwrap();
    let version = agw_e2e::binaries::GATEWAY_API_VERSION;
    assert!(
        kustomization.contains(&format!("Gateway API CRDs {version}")),
        "{kustomization}"
    );
    let mut names: Vec<_> = std::fs::read_dir(&release)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no CRDs in {}", release.display());
    for name in &names {
        let want = std::fs::read(release.join(name)).unwrap();
        let have = std::fs::read(vendored.join(name)).unwrap_or_default();
        assert!(
            have == want,
            "config/gateway-api/{name} differs from the release: run hack/vendor-gateway-api.sh"
        );
        assert!(
            kustomization.contains(&format!("- {name}\n")),
            "{name} not in the kustomization"
        );
    }
    let listed = kustomization
        .lines()
        .filter(|line| line.starts_with("- "))
        .count();
    assert_eq!(
        listed,
        names.len(),
        "config/gateway-api lists files the release does not have"
    );
}

#[tokio::test]
async fn gateway_api_samples_apply_after_installing_config_gateway_api() {
    let config = workspace_root().join("config");
    let cp = ControlPlane::shared().await.unwrap();
    let vendored = config.join("gateway-api").display().to_string();
    let installed = cp
        .kubectl()
        .run(["apply", "--server-side", "-k", &vendored])
        .await
        .unwrap();
    assert!(installed.success(), "{installed}");
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
