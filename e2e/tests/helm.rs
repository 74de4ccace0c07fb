//! The Helm charts (`charts/agw-crds`, `charts/agw`) with the real Helm CLI (built by
//! `hack/helm/build.sh`, found through `AGW_HELM`), offline: lint, render goldens, no drift from
//! `config/`, values refused at render time, flags the agw binaries accept (build them first:
//! `cargo build --workspace --bins`). Installs and upgrades against the real kube-apiserver are
//! in `helm_install.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use agw_e2e::Helm;
use agw_e2e::binaries::{EnvtestBinaries, agw_binary, workspace_root};
use agw_e2e::helm::chart;
use agw_e2e::manifests::{self, strip_helm_metadata};
use tempfile::TempDir;

const NAMESPACE: &str = "agw-system";
/// Optional APIs the options golden enables (Helm's `--api-versions`).
const OPTIONAL_APIS: [&str; 2] = [
    "--api-versions=cert-manager.io/v1/Certificate",
    "--api-versions=monitoring.coreos.com/v1/ServiceMonitor",
];

/// A helm with private home directories (the TempDir must outlive it).
fn helm() -> (Helm, TempDir) {
    Helm::with_private_home().unwrap_or_else(|e| panic!("{e}"))
}

fn options_values() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/helm/options-values.yaml")
        .display()
        .to_string()
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

async fn template(helm: &Helm, release: &str, chart_name: &str, extra: &[&str]) -> String {
    let mut args = owned(&[
        "template",
        release,
        &chart(chart_name),
        "--namespace",
        NAMESPACE,
    ]);
    args.extend(owned(extra));
    helm.run(&args).await.unwrap().check().unwrap().stdout
}

/// `helm lint` has no `--api-versions`, so the options values are linted without the two
/// options that need an optional API (the golden renders those).
#[tokio::test]
async fn both_charts_pass_helm_lint_strict() {
    let (helm, _home) = helm();
    let values = options_values();
    let runs = [
        owned(&["lint", "--strict", &chart("agw-crds")]),
        owned(&["lint", "--strict", &chart("agw")]),
        owned(&[
            "lint",
            "--strict",
            &chart("agw"),
            "--values",
            &values,
            "--set",
            "certificates.issuer=self-issued,metrics.serviceMonitor.enabled=false",
        ]),
    ];
    for args in runs {
        let out = helm.run(&args).await.unwrap();
        assert!(out.success(), "{out}");
        assert!(
            out.stdout.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{out}"
        );
    }
}

#[tokio::test]
async fn templates_match_the_goldens() {
    let (helm, _home) = helm();
    let default = template(&helm, "agw", "agw", &[]).await;
    insta::assert_snapshot!("agw_default_values", default);
    let values = options_values();
    let mut extra = vec!["--values", &*values];
    extra.extend(OPTIONAL_APIS);
    let options = template(&helm, "agw", "agw", &extra).await;
    insta::assert_snapshot!("agw_all_options", options);
}

/// With default values the two charts install exactly what `kubectl apply -k config/default`
/// installs. Normalized: Helm's own release labels and its keep annotation
/// (`manifests::strip_helm_metadata`), and the Namespace object, which only config/default
/// has — Helm installs into a release namespace that exists before the release does (`helm
/// upgrade -i --create-namespace` or `kubectl create namespace`).
#[tokio::test]
async fn default_values_render_what_config_default_renders() {
    let (helm, _home) = helm();
    let crds = template(&helm, "agw-crds", "agw-crds", &[]).await;
    let control_plane = template(&helm, "agw", "agw", &[]).await;
    let mut from_helm = manifests::objects("helm template agw-crds", &crds).unwrap();
    from_helm.extend(manifests::objects("helm template agw", &control_plane).unwrap());
    for object in from_helm.values_mut() {
        strip_helm_metadata(object);
    }

    let kubectl = EnvtestBinaries::locate().unwrap().kubectl;
    let config = workspace_root().join("config/default");
    let out = tokio::process::Command::new(&kubectl)
        .arg("kustomize")
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8(out.stdout).unwrap();
    let mut from_config =
        manifests::objects("kubectl kustomize config/default", &rendered).unwrap();
    let namespace = from_config.remove(&format!("Namespace /{NAMESPACE}"));
    assert!(
        namespace.is_some(),
        "config/default no longer creates {NAMESPACE}"
    );

    assert_eq!(
        from_helm.keys().collect::<Vec<_>>(),
        from_config.keys().collect::<Vec<_>>(),
        "the charts and config/default install different objects"
    );
    for (key, object) in &from_config {
        pretty_assertions::assert_eq!(&from_helm[key], object, "{key} differs");
    }
}

#[tokio::test]
async fn bad_values_are_refused_at_render_time_with_their_path() {
    let (helm, _home) = helm();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--set", "logFormat=xml"],
            "at '/logFormat': value must be one of 'json', 'text'",
        ),
        (
            &["--set", "operator.replica=3"],
            "at '/operator': additional properties 'replica' not allowed",
        ),
        (
            &["--set", "proxy.resources.limits.cpu=1"],
            "at '/proxy/resources/limits': additional properties 'cpu' not allowed",
        ),
        (
            &["--set", "proxy.rateLimitRedis=http://redis:6379"],
            "at '/proxy/rateLimitRedis': 'http://redis:6379' does not match pattern",
        ),
        (
            &["--set", "metrics.serviceMonitor.enabled=true"],
            "metrics.serviceMonitor.enabled=true needs the monitoring.coreos.com/v1/ServiceMonitor API",
        ),
        (
            &["--set", "certificates.issuer=cert-manager"],
            "certificates.issuer=cert-manager needs the cert-manager.io/v1/Certificate API",
        ),
    ];
    for (set, expected) in cases {
        let mut args = owned(&["template", "agw", &chart("agw")]);
        args.extend(owned(set));
        let out = helm.run(&args).await.unwrap();
        assert!(!out.success(), "{set:?} rendered:\n{out}");
        assert!(
            out.stderr.contains(expected),
            "{set:?}: want {expected:?} in\n{out}"
        );
    }
}

/// Every flag the charts pass (defaults and every option) is one the real binaries accept:
/// `--version` after them exits 0 only if clap parsed each one before it.
#[tokio::test]
async fn the_binaries_accept_the_args_the_chart_renders() {
    let (helm, _home) = helm();
    let values = options_values();
    let mut options = vec!["--values", &*values];
    options.extend(OPTIONAL_APIS);
    for extra in [&[][..], &options[..]] {
        let rendered = template(&helm, "agw", "agw", extra).await;
        let objects = manifests::objects("helm template agw", &rendered).unwrap();
        for (name, binary) in [
            ("agw-operator", "agw-operator"),
            ("agw-webhook", "agw-webhook"),
        ] {
            let deployment = &objects[&format!("Deployment {NAMESPACE}/{name}")];
            let args: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            let out = tokio::process::Command::new(agw_binary(binary))
                .args(&args)
                .arg("--version")
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{binary} {args:?} refused:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
