//! Golden files: the AdmissionReview answered for each tutorial Backend and for the corpus of
//! bad inputs shared with the compiler's golden tests. A change in what `kubectl apply` prints
//! shows up here as a reviewable snapshot diff.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn object(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("readable");
    let mut object: Value = serde_norway::from_str(&text).expect("one YAML document");
    object["metadata"]["namespace"] = json!("agentgateway-system");
    object
}

fn answer(operation: &str, object: &Value, old: Option<&Value>) -> Value {
    let request = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-0000-0000-000000000001",
            "kind": {"group": "agentgateway.dev", "version": "v1alpha1", "kind": "Backend"},
            "resource": {"group": "agentgateway.dev", "version": "v1alpha1", "resource": "backends"},
            "name": object["metadata"]["name"],
            "namespace": "agentgateway-system",
            "operation": operation,
            "userInfo": {"username": "kubernetes-admin"},
            "object": object,
            "oldObject": old,
            "dryRun": false
        }
    });
    let body = serde_json::to_vec(&request).expect("serializable");
    let answer = agw_webhook::admission::review(&body).expect("well-formed review");
    serde_json::to_value(&answer.review).expect("serializable")
}

#[test]
fn tutorial_backends_are_allowed() {
    for name in [
        "backend-flexible",
        "backend-fixed-model",
        "backend-guarded",
        "backend-extended-guards",
    ] {
        let object = object(&repo().join(format!("config/samples/{name}.yaml")));
        insta::assert_json_snapshot!(name, answer("CREATE", &object, None));
    }
}

#[test]
fn bad_inputs_are_denied_with_every_field() {
    for name in ["bad-patterns", "bad-names", "unsupported-fields"] {
        let object = object(&repo().join(format!("policy/tests/corpus/{name}.yaml")));
        insta::assert_json_snapshot!(name, answer("CREATE", &object, None));
    }
}

#[test]
fn an_update_to_a_bad_spec_is_denied() {
    let good = object(&repo().join("config/samples/backend-guarded.yaml"));
    let mut bad = good.clone();
    bad["spec"]["policies"]["ai"]["promptGuard"]["request"][0]["regex"]["matches"] =
        json!(["(?<=card)number"]);
    insta::assert_json_snapshot!("update-to-lookbehind", answer("UPDATE", &bad, Some(&good)));
}
