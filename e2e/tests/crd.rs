//! The Backend API as a user meets it on a real kube-apiserver, through the real kubectl: the
//! CRD in `crds/backend.yaml` is accepted (structural schema, Established), the tutorial's
//! manifests (`config/samples/`) apply, `kubectl get backends` shows the printer
//! columns, `kubectl explain` documents the spec, and what the schema rejects is refused with
//! the apiserver's message naming the field. No webhook or operator runs here: this is the CRD
//! alone.

// Helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use agw_e2e::binaries::workspace_root;
use agw_e2e::{ControlPlane, Kubectl, KubectlOutput};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;

/// The tutorial's Backends in the order the tutorial applies them.
const TUTORIAL_BACKENDS: [&str; 4] = [
    "backend-flexible.yaml",
    "backend-fixed-model.yaml",
    "backend-guarded.yaml",
    "backend-extended-guards.yaml",
];
const PINNED_MODEL: &str = "claude-sonnet-4-5-20250929";

fn sample(name: &str) -> String {
    let path: PathBuf = workspace_root().join("config").join("samples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `yaml` (one document) with `metadata.name` set to `name`.
fn renamed(yaml: &str, name: &str) -> String {
    let mut doc: serde_json::Value = serde_norway::from_str(yaml).unwrap();
    doc["metadata"]["name"] = name.into();
    serde_norway::to_string(&doc).unwrap()
}

/// Rows of `kubectl get` table output as column name → cell, using the header's column offsets
/// (cells can be empty, so splitting on whitespace would shift them).
fn table(out: &KubectlOutput) -> (Vec<String>, Vec<Vec<(String, String)>>) {
    let mut lines = out.stdout.lines();
    let header = lines.next().unwrap_or_default();
    let starts: Vec<usize> = header
        .char_indices()
        .filter(|&(i, c)| c != ' ' && (i == 0 || header.as_bytes()[i - 1] == b' '))
        .map(|(i, _)| i)
        .collect();
    let names: Vec<String> = header.split_whitespace().map(str::to_owned).collect();
    let rows = lines
        .map(|line| {
            names
                .iter()
                .enumerate()
                .map(|(k, name)| {
                    let end = starts
                        .get(k + 1)
                        .copied()
                        .unwrap_or(line.len())
                        .min(line.len());
                    let cell = line.get(starts[k].min(end)..end).unwrap_or_default().trim();
                    (name.clone(), cell.to_owned())
                })
                .collect()
        })
        .collect();
    (names, rows)
}

fn cell<'a>(row: &'a [(String, String)], column: &str) -> &'a str {
    row.iter()
        .find(|(name, _)| name == column)
        .map_or("", |(_, value)| value.as_str())
}

#[tokio::test]
async fn the_backend_crd_is_established_with_a_structural_schema() {
    let cp = ControlPlane::shared().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(cp.client().unwrap());
    let crd = crds.get("backends.agentgateway.dev").await.unwrap();
    let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
    let status = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind)
            .map(|c| c.status.clone())
    };
    assert_eq!(
        status("Established").as_deref(),
        Some("True"),
        "{conditions:#?}"
    );
    assert_eq!(
        status("NamesAccepted").as_deref(),
        Some("True"),
        "{conditions:#?}"
    );
    // The apiserver sets NonStructuralSchema when it cannot prune or default with a schema.
    assert_eq!(status("NonStructuralSchema"), None, "{conditions:#?}");
    assert_eq!(crd.spec.names.kind, "Backend");
    // `agbe` belongs to AgentgatewayBackend (tests/agentgateway_backend.rs), as in agentgateway.
    assert_eq!(crd.spec.names.short_names, None);
}

#[tokio::test]
async fn the_tutorial_backends_apply_in_order_as_one_backend() {
    let cp = ControlPlane::shared().await.unwrap();
    let ns = cp.namespace("tutorial").await.unwrap();
    let kubectl = cp.kubectl();
    let secret = kubectl
        .apply_stdin(&ns, &sample("secret.yaml"))
        .await
        .unwrap();
    assert_eq!(
        secret.stdout.trim(),
        "secret/anthropic-secret created",
        "{secret}"
    );

    for (i, file) in TUTORIAL_BACKENDS.iter().enumerate() {
        let applied = kubectl.apply_stdin(&ns, &sample(file)).await.unwrap();
        let verb = if i == 0 { "created" } else { "configured" };
        assert_eq!(
            applied.stdout.trim(),
            format!("backend.agentgateway.dev/anthropic {verb}"),
            "{file}: {applied}"
        );
        assert!(applied.stderr.is_empty(), "{file}: {applied}");
    }
    // What is stored is the last manifest: both of its guards, with the builtins as written.
    let stored = kubectl
        .run([
            "get",
            "backend",
            "anthropic",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.policies.ai.promptGuard.request[1].regex.builtins}",
        ])
        .await
        .unwrap();
    assert_eq!(stored.stdout, r#"["Email","CreditCard"]"#, "{stored}");
}

#[tokio::test]
async fn kubectl_get_backends_shows_the_printer_columns() {
    let cp = ControlPlane::shared().await.unwrap();
    let ns = cp.namespace("columns").await.unwrap();
    let kubectl = cp.kubectl();
    for file in TUTORIAL_BACKENDS {
        let name = file
            .trim_start_matches("backend-")
            .trim_end_matches(".yaml");
        let applied = kubectl
            .apply_stdin(&ns, &renamed(&sample(file), name))
            .await
            .unwrap();
        assert!(applied.success(), "{file}: {applied}");
    }

    for resource in ["backends", "backend", "backends.agentgateway.dev"] {
        let listed = kubectl.run(["get", resource, "-n", &ns]).await.unwrap();
        assert!(listed.success(), "{listed}");
        let (header, rows) = table(&listed);
        assert_eq!(
            header,
            ["NAME", "ACCEPTED", "READY", "MODEL", "GUARDS", "AGE"],
            "{listed}"
        );
        let names: Vec<&str> = rows.iter().map(|r| cell(r, "NAME")).collect();
        assert_eq!(
            names,
            ["extended-guards", "fixed-model", "flexible", "guarded"],
            "{listed}"
        );
        for row in &rows {
            let model = if cell(row, "NAME") == "fixed-model" {
                PINNED_MODEL
            } else {
                ""
            };
            assert_eq!(cell(row, "MODEL"), model, "{listed}");
            // No operator runs here, so nothing has set a status yet.
            assert_eq!(
                (
                    cell(row, "ACCEPTED"),
                    cell(row, "READY"),
                    cell(row, "GUARDS")
                ),
                ("", "", ""),
                "{listed}"
            );
            assert!(cell(row, "AGE").ends_with('s'), "{listed}");
        }
    }
}

#[tokio::test]
async fn kubectl_explain_documents_the_policies() {
    let cp = ControlPlane::shared().await.unwrap();
    let kubectl = cp.kubectl();
    let explained = kubectl
        .run(["explain", "backend.spec.policies"])
        .await
        .unwrap();
    assert!(explained.success(), "{explained}");
    assert!(
        explained.stdout.contains("KIND:       Backend"),
        "{explained}"
    );
    assert!(
        explained.stdout.contains("GROUP:      agentgateway.dev"),
        "{explained}"
    );
    for field in ["ai\t<Object>", "auth\t<Object>"] {
        assert!(
            explained.stdout.contains(field),
            "{field} missing:\n{explained}"
        );
    }
    let action = kubectl
        .run([
            "explain",
            "agbe.spec.policies.ai.promptGuard.request.regex.action",
        ])
        .await
        .unwrap();
    assert!(action.success(), "{action}");
    assert!(
        action
            .stdout
            .contains("FIELD: action <string>\nENUM:\n    Reject\n    Mask\n"),
        "{action}"
    );
}

#[tokio::test]
async fn a_backend_the_schema_rejects_fails_apply_with_the_field_path() {
    let cp = ControlPlane::shared().await.unwrap();
    let ns = cp.namespace("schema").await.unwrap();
    let kubectl = cp.kubectl();
    let bad = sample("backend-guarded.yaml")
        .replace("action: Reject", "action: Block")
        .replace(
            "message: \"Rejected due to inappropriate content\"",
            "message: nope\n            statusCode: 200",
        );
    assert!(
        bad.contains("action: Block") && bad.contains("statusCode: 200"),
        "the sample changed shape:\n{bad}"
    );

    let applied = kubectl.apply_stdin(&ns, &bad).await.unwrap();
    assert_eq!(applied.code(), Some(1), "{applied}");
    assert!(applied.stdout.is_empty(), "{applied}");
    for expected in [
        r#"The Backend "anthropic" is invalid"#,
        r#"spec.policies.ai.promptGuard.request[0].regex.action: Unsupported value: "Block": supported values: "Reject", "Mask""#,
        "spec.policies.ai.promptGuard.request[0].response.statusCode: Invalid value: 200: spec.policies.ai.promptGuard.request[0].response.statusCode in body should be greater than or equal to 400",
    ] {
        assert!(
            applied.stderr.contains(expected),
            "expected {expected:?} in:\n{applied}"
        );
    }
    let stored = kubectl
        .run(["get", "backend", "anthropic", "-n", &ns])
        .await
        .unwrap();
    assert_eq!(stored.code(), Some(1), "{stored}");
    assert!(stored.stderr.contains("NotFound"), "{stored}");
}

/// agentgateway's request edits are stored as written: `defaults`/`overrides` values of any
/// JSON type survive the apiserver (`x-kubernetes-preserve-unknown-fields` on `value` only),
/// and `kubectl explain` documents enrichment.
#[tokio::test]
async fn request_edits_keep_any_json_value_and_are_explained() {
    let cp = ControlPlane::shared().await.unwrap();
    let ns = cp.namespace("edits").await.unwrap();
    let kubectl = cp.kubectl();
    let corpus = workspace_root().join("policy/tests/corpus/request-edits.yaml");
    let applied = kubectl
        .apply_stdin(&ns, &std::fs::read_to_string(corpus).unwrap())
        .await
        .unwrap();
    assert!(applied.success(), "{applied}");
    let thinking = jsonpath(&kubectl, &ns, ".spec.policies.ai.overrides[2].value").await;
    let thinking: serde_json::Value = serde_json::from_str(&thinking).unwrap();
    assert_eq!(
        thinking,
        serde_json::json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert_eq!(
        jsonpath(&kubectl, &ns, ".spec.policies.ai.overrides[0].value").await,
        "4096"
    );
    assert_eq!(
        jsonpath(&kubectl, &ns, ".spec.policies.ai.modelAliases.fast").await,
        "claude-haiku-4-5"
    );
    let explained = kubectl
        .run(["explain", "agbe.spec.policies.ai.prompt.prepend.role"])
        .await
        .unwrap();
    assert!(explained.success(), "{explained}");
    assert!(explained.stdout.contains("case-insensitive"), "{explained}");
}

/// One field of the stored `request-edits` AgentgatewayBackend, by JSONPath.
async fn jsonpath(kubectl: &Kubectl, ns: &str, path: &str) -> String {
    let output = format!("jsonpath={{{path}}}");
    let out = kubectl
        .run([
            "get",
            "agbe",
            "request-edits",
            "-n",
            ns,
            "-o",
            output.as_str(),
        ])
        .await
        .unwrap();
    assert!(out.success(), "{out}");
    out.stdout
}
