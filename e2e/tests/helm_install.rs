//! Installing and upgrading agw with the real Helm CLI (built by `hack/helm/build.sh`, found
//! through `AGW_HELM`) against the real kube-apiserver, as the README says: a second
//! `helm upgrade -i` changes nothing and `helm uninstall` removes what the release installed;
//! an upgrade from the previous chart version keeps existing Backends. Offline chart tests
//! (lint, goldens, drift from `config/`) are in `helm.rs`.
//!
//! Each test has a private control plane: the charts install cluster-scoped objects (the
//! webhook configuration, the ClusterRole) and own the CRDs, which would disturb tests that
//! share one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use agw_e2e::binaries::workspace_root;
use agw_e2e::helm::chart;
use agw_e2e::manifests;
use agw_e2e::{ControlPlane, Helm, Kubectl};
use serde_json::Value;
use tempfile::TempDir;

const NAMESPACE: &str = "agw-system";
const CRD_NAMES: [&str; 3] = [
    "backends.agentgateway.dev",
    "agentgatewaybackends.agentgateway.dev",
    "agentgatewaypolicies.agentgateway.dev",
];

/// A private control plane without the CRDs it installs at start, so the agw-crds chart owns
/// them as on a fresh cluster, and with the release namespace made as the README makes it.
async fn fresh_cluster() -> (ControlPlane, Helm, TempDir) {
    let cp = ControlPlane::start().await.unwrap();
    let kubectl = cp.kubectl();
    let mut args = vec!["delete", "crd", "--wait"];
    args.extend(CRD_NAMES);
    kubectl.run(args).await.unwrap().check().unwrap();
    let restricted = "pod-security.kubernetes.io/enforce=restricted";
    for args in [
        vec!["create", "namespace", NAMESPACE],
        vec!["label", "namespace", NAMESPACE, restricted],
    ] {
        kubectl.run(args).await.unwrap().check().unwrap();
    }
    let (helm, home) = Helm::with_private_home().unwrap_or_else(|e| panic!("{e}"));
    let helm = helm.with_kubeconfig(cp.kubeconfig());
    (cp, helm, home)
}

/// `helm upgrade -i` of both charts, as the README says; `extra` goes to the agw chart.
async fn upgrade_install(helm: &Helm, kubectl: &Kubectl, crds: &str, agw: &str, extra: &[&str]) {
    helm.run(["upgrade", "-i", "agw-crds", crds, "-n", NAMESPACE])
        .await
        .unwrap()
        .check()
        .unwrap();
    let mut wait = vec!["wait", "--for=condition=Established", "--timeout=30s"];
    let crd_refs = CRD_NAMES.map(|n| format!("crd/{n}"));
    wait.extend(crd_refs.iter().map(String::as_str));
    kubectl.run(wait).await.unwrap().check().unwrap();
    let mut args = vec!["upgrade", "-i", "agw", agw, "-n", NAMESPACE];
    args.extend(extra);
    helm.run(args).await.unwrap().check().unwrap();
}

/// Every object carrying Helm's managed-by label, with its resourceVersion.
async fn helm_objects(kubectl: &Kubectl) -> BTreeMap<String, String> {
    let kinds = "crd,clusterrole,clusterrolebinding,validatingwebhookconfiguration,deployment,\
                 service,serviceaccount,role,rolebinding,poddisruptionbudget";
    let out = kubectl
        .run([
            "get",
            kinds,
            "-A",
            "-l",
            "app.kubernetes.io/managed-by=Helm",
            "-o",
            "json",
        ])
        .await
        .unwrap()
        .check()
        .unwrap();
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let items = list["items"].as_array().unwrap();
    items
        .iter()
        .map(|o| {
            let key = manifests::key(o).unwrap();
            (
                key,
                o["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn upgrade_install_twice_changes_nothing_and_uninstall_removes_it() {
    let (cp, helm, _home) = fresh_cluster().await;
    let kubectl = cp.kubectl();
    let (crds, agw) = (chart("agw-crds"), chart("agw"));

    upgrade_install(&helm, &kubectl, &crds, &agw, &[]).await;
    let first = helm_objects(&kubectl).await;
    // What the label selector finds is every object of both releases, nothing less.
    let mut released = Vec::new();
    for release in ["agw-crds", "agw"] {
        let manifest = helm
            .run(["get", "manifest", release, "-n", NAMESPACE])
            .await
            .unwrap()
            .check()
            .unwrap();
        released.extend(
            manifests::objects(release, &manifest.stdout)
                .unwrap()
                .into_keys(),
        );
    }
    released.sort();
    assert_eq!(first.keys().cloned().collect::<Vec<_>>(), released);

    upgrade_install(&helm, &kubectl, &crds, &agw, &[]).await;
    pretty_assertions::assert_eq!(
        helm_objects(&kubectl).await,
        first,
        "the second run changed objects"
    );
    let history = helm
        .run(["history", "agw", "-n", NAMESPACE])
        .await
        .unwrap()
        .check()
        .unwrap();
    assert!(
        history.stdout.lines().any(|l| l.starts_with('2')),
        "{history}"
    );

    helm.run(["uninstall", "agw", "-n", NAMESPACE])
        .await
        .unwrap()
        .check()
        .unwrap();
    let left = helm_objects(&kubectl).await;
    let crd_keys: BTreeSet<String> = CRD_NAMES
        .iter()
        .map(|n| format!("CustomResourceDefinition /{n}"))
        .collect();
    assert_eq!(left.into_keys().collect::<BTreeSet<_>>(), crd_keys);

    // The CRDs chart keeps its CRDs (helm.sh/resource-policy: keep): an uninstall must not
    // delete every Backend in the cluster.
    let out = helm
        .run(["uninstall", "agw-crds", "-n", NAMESPACE])
        .await
        .unwrap()
        .check()
        .unwrap();
    assert!(
        out.stdout.contains("kept due to the resource policy"),
        "{out}"
    );
    let kept = helm_objects(&kubectl)
        .await
        .into_keys()
        .collect::<BTreeSet<_>>();
    assert_eq!(kept, crd_keys);
    let listed = helm
        .run(["list", "-A", "-q"])
        .await
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(listed.stdout.trim(), "", "{listed}");
}

/// Packages both charts as an older version, with another appVersion (so other image tags)
/// and one operator replica: what a user installed before upgrading.
async fn previous_version(helm: &Helm, dir: &Path) -> (String, String) {
    let mut packages = Vec::new();
    for name in ["agw-crds", "agw"] {
        let copy = dir.join("src").join(name);
        copy_dir(&workspace_root().join("charts").join(name), &copy);
        let chart_yaml = copy.join("Chart.yaml");
        let text = std::fs::read_to_string(&chart_yaml).unwrap();
        let text = text
            .replace("version: 0.1.0", "version: 0.0.9")
            .replace("appVersion: \"0.1.0\"", "appVersion: \"0.0.9\"");
        assert!(
            text.contains("version: 0.0.9") && text.contains("appVersion: \"0.0.9\""),
            "{text}"
        );
        std::fs::write(&chart_yaml, text).unwrap();
        if name == "agw" {
            let values = copy.join("values.yaml");
            let text = std::fs::read_to_string(&values).unwrap();
            std::fs::write(&values, text.replacen("  replicas: 2", "  replicas: 1", 1)).unwrap();
        }
        let out_dir = dir.display().to_string();
        let copy = copy.display().to_string();
        helm.run(["package", &*copy, "--destination", &*out_dir])
            .await
            .unwrap()
            .check()
            .unwrap();
        packages.push(dir.join(format!("{name}-0.0.9.tgz")).display().to_string());
    }
    (packages[0].clone(), packages[1].clone())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

const BACKEND: &str = "apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata:
  name: anthropic
spec:
  ai:
    provider:
      anthropic: {}
  policies:
    auth:
      secretRef:
        name: anthropic-secret
";

#[tokio::test]
async fn upgrade_from_the_previous_chart_version_keeps_backends() {
    let (cp, helm, _home) = fresh_cluster().await;
    let kubectl = cp.kubectl();
    let packages = tempfile::tempdir().unwrap();
    let (old_crds, old_agw) = previous_version(&helm, packages.path()).await;
    // No webhook pod runs on a bare apiserver; Ignore lets Backends through unchecked.
    let ignore = ["--set", "webhook.failurePolicy=Ignore"];

    upgrade_install(&helm, &kubectl, &old_crds, &old_agw, &ignore).await;
    let get_operator = [
        "get",
        "deployment",
        "agw-operator",
        "-n",
        NAMESPACE,
        "-o",
        "json",
    ];
    let operator: Value = serde_json::from_str(
        &kubectl
            .run(get_operator)
            .await
            .unwrap()
            .check()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(operator["spec"]["replicas"], 1);
    let ns = cp.namespace("team").await.unwrap();
    kubectl
        .apply_stdin(&ns, BACKEND)
        .await
        .unwrap()
        .check()
        .unwrap();
    let get_backend = ["get", "backend", "anthropic", "-n", &*ns, "-o", "json"];
    let before: Value = serde_json::from_str(
        &kubectl
            .run(get_backend)
            .await
            .unwrap()
            .check()
            .unwrap()
            .stdout,
    )
    .unwrap();

    upgrade_install(&helm, &kubectl, &chart("agw-crds"), &chart("agw"), &ignore).await;
    let operator: Value = serde_json::from_str(
        &kubectl
            .run(get_operator)
            .await
            .unwrap()
            .check()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(operator["spec"]["replicas"], 2, "the upgrade did not apply");
    let image = &operator["spec"]["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, "ghcr.io/agw-dev/agw-operator:0.1.0");
    let crd = kubectl
        .run(["get", "crd", CRD_NAMES[0], "-o", "json"])
        .await
        .unwrap()
        .check()
        .unwrap();
    let crd: Value = serde_json::from_str(&crd.stdout).unwrap();
    assert_eq!(crd["metadata"]["labels"]["helm.sh/chart"], "agw-crds-0.1.0");

    // The same object (uid), with the same spec, still served and still writable.
    let after: Value = serde_json::from_str(
        &kubectl
            .run(get_backend)
            .await
            .unwrap()
            .check()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_eq!(after["spec"], before["spec"]);
    let patch = r#"{"spec":{"policies":{"auth":{"secretRef":{"name":"rotated"}}}}}"#;
    let patched = kubectl
        .run([
            "patch",
            "backend",
            "anthropic",
            "-n",
            &*ns,
            "--type=merge",
            "-p",
            patch,
        ])
        .await
        .unwrap();
    assert!(patched.success(), "{patched}");
}
