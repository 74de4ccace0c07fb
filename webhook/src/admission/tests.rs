// Test builders read like the objects they build.
#![allow(clippy::needless_pass_by_value)]

use serde_json::{Value, json};

use super::*;

fn review_of(operation: &str, object: Option<Value>, old: Option<Value>) -> Vec<u8> {
    let kind = object
        .as_ref()
        .and_then(|o| o.get("kind").cloned())
        .unwrap_or(json!("Backend"));
    let kind_name = kind.as_str().unwrap_or_default();
    let group = if is_backend_kind(kind_name) || kind_name == POLICY_KIND {
        GROUP
    } else {
        ""
    };
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": "v1alpha1", "kind": kind},
            "resource": {"group": group, "version": "v1alpha1", "resource": "backends"},
            "name": "anthropic",
            "namespace": "agentgateway-system",
            "operation": operation,
            "userInfo": {"username": "alice"},
            "object": object,
            "oldObject": old,
            "dryRun": false
        }
    }))
    .unwrap()
}

fn backend(spec: Value) -> Value {
    json!({
        "apiVersion": "agentgateway.dev/v1alpha1",
        "kind": "Backend",
        "metadata": {"name": "anthropic", "namespace": "agentgateway-system", "generation": 1},
        "spec": spec
    })
}

fn good_spec() -> Value {
    json!({
        "ai": {"provider": {"anthropic": {"model": "claude-sonnet-4-5"}}},
        "policies": {"auth": {"secretRef": {"name": "anthropic-secret"}}}
    })
}

fn bad_spec() -> Value {
    json!({
        "ai": {"provider": {"anthropic": {}}},
        "policies": {"ai": {"promptGuard": {"request": [
            {"regex": {"action": "Reject", "builtins": ["CreditCrd"]}}
        ]}}}
    })
}

fn response(body: &[u8]) -> (AdmissionResponse, Outcome) {
    let answer = review(body).unwrap();
    (answer.review.response.unwrap(), answer.outcome)
}

#[test]
fn a_valid_backend_is_allowed_and_the_uid_is_echoed() {
    let (response, outcome) = response(&review_of("CREATE", Some(backend(good_spec())), None));
    assert!(response.allowed);
    assert_eq!(response.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_eq!(outcome, Outcome::Allowed);
}

#[test]
fn a_bad_backend_is_denied_with_the_field_path_and_hint() {
    let (response, outcome) = response(&review_of("CREATE", Some(backend(bad_spec())), None));
    assert!(!response.allowed);
    assert_eq!(outcome, Outcome::Denied);
    assert_eq!(response.result.code, 422);
    let details = response.result.details.unwrap();
    assert_eq!(details.kind, "Backend");
    assert_eq!(details.name, "anthropic");
    let field = "spec.policies.ai.promptGuard.request[0].regex.builtins[0]";
    assert!(
        details.causes.iter().any(|c| c.field == field),
        "{:?}",
        details.causes
    );
    assert!(response.result.message.contains(field));
    assert!(
        response.result.message.contains("CreditCard"),
        "{}",
        response.result.message
    );
}

/// agentgateway's kind name gets exactly the Backend verdict, named by the kind the user wrote.
#[test]
fn an_agentgateway_backend_gets_the_backend_verdict() {
    let as_agbe = |spec| {
        let mut object = backend(spec);
        object["kind"] = json!("AgentgatewayBackend");
        object
    };
    let (good, outcome) = response(&review_of("CREATE", Some(as_agbe(good_spec())), None));
    assert!(good.allowed);
    assert_eq!(outcome, Outcome::Allowed);
    let (bad, outcome) = response(&review_of("CREATE", Some(as_agbe(bad_spec())), None));
    let (as_backend, _) = response(&review_of("CREATE", Some(backend(bad_spec())), None));
    assert_eq!(outcome, Outcome::Denied);
    let details = bad.result.details.unwrap();
    assert_eq!(details.kind, "AgentgatewayBackend");
    assert_eq!(details.causes, as_backend.result.details.unwrap().causes);
    assert!(
        bad.result
            .message
            .starts_with("AgentgatewayBackend.agentgateway.dev \"anthropic\" is invalid"),
        "{}",
        bad.result.message
    );
}

fn policy(spec: Value) -> Value {
    json!({
        "apiVersion": "agentgateway.dev/v1alpha1",
        "kind": "AgentgatewayPolicy",
        "metadata": {"name": "listener-keys", "namespace": "agentgateway-system", "generation": 1},
        "spec": spec
    })
}

/// A listener policy is judged by the same compiler, with field paths and hints.
#[test]
fn an_agentgateway_policy_is_judged_by_the_policy_compiler() {
    let target = json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                         "name": "agentgateway-proxy", "sectionName": "http"}]);
    let good = json!({"targetRefs": target,
                      "traffic": {"apiKeyAuthentication": {"secretRef": {"name": "team-keys"}}}});
    let (allowed, outcome) = response(&review_of("CREATE", Some(policy(good)), None));
    assert!(allowed.allowed, "{:?}", allowed.result);
    assert_eq!(outcome, Outcome::Allowed);
    let bad = json!({"targetRefs": target,
                     "traffic": {"jwtAuthentication": {"providers": [{"issuer": "https://idp",
                        "audiences": [], "jwks": {"inline": "{\"keys\": []}"}}]}, "cors": {}}});
    let (denied, outcome) = response(&review_of("CREATE", Some(policy(bad)), None));
    assert_eq!(outcome, Outcome::Denied);
    let details = denied.result.details.unwrap();
    assert_eq!(details.kind, "AgentgatewayPolicy");
    let fields: Vec<&str> = details.causes.iter().map(|c| c.field.as_str()).collect();
    assert!(
        fields.contains(&"spec.traffic.cors")
            && fields.contains(&"spec.traffic.jwtAuthentication.providers[0].audiences"),
        "{fields:?}"
    );
    let shape = json!({"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway"}]});
    let (denied, _) = response(&review_of("CREATE", Some(policy(shape)), None));
    let causes = denied.result.details.unwrap().causes;
    assert_eq!(causes[0].field, "spec.targetRefs[0]", "{causes:?}");
    assert!(causes[0].message.contains("name"), "{causes:?}");
}

#[test]
fn a_spec_of_the_wrong_shape_names_the_field() {
    let spec = json!({"ai": {"provider": {"anthropic": {"model": 7}}}});
    let (response, _) = response(&review_of("CREATE", Some(backend(spec)), None));
    assert!(!response.allowed);
    let causes = response.result.details.unwrap().causes;
    assert_eq!(causes[0].field, "spec.ai.provider.anthropic.model");
}

#[test]
fn an_update_to_a_bad_spec_is_denied_but_an_unchanged_bad_spec_is_not() {
    let good = backend(good_spec());
    let bad = backend(bad_spec());
    let (to_bad, _) = response(&review_of("UPDATE", Some(bad.clone()), Some(good)));
    assert!(!to_bad.allowed);

    let mut relabelled = bad.clone();
    relabelled["metadata"]["labels"] = json!({"team": "a"});
    let (unchanged, outcome) = response(&review_of("UPDATE", Some(relabelled), Some(bad)));
    assert!(unchanged.allowed);
    assert_eq!(outcome, Outcome::Warned);
    assert!(unchanged.warnings.unwrap().len() >= 2);
}

#[test]
fn deletes_and_other_kinds_are_skipped() {
    let (delete, outcome) = response(&review_of("DELETE", None, Some(backend(bad_spec()))));
    assert!(delete.allowed);
    assert_eq!(outcome, Outcome::Skipped);

    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    let (other, outcome) = response(&review_of("CREATE", Some(config_map), None));
    assert!(other.allowed);
    assert_eq!(outcome, Outcome::Skipped);
    assert!(other.warnings.unwrap()[0].contains("ConfigMap"));
}

#[test]
fn a_backend_without_spec_is_denied() {
    let mut object = backend(good_spec());
    object.as_object_mut().unwrap().remove("spec");
    let (response, _) = response(&review_of("CREATE", Some(object), None));
    assert!(!response.allowed);
    assert_eq!(response.result.details.unwrap().causes[0].field, "spec");
}

#[test]
fn malformed_reviews_are_errors_not_verdicts() {
    assert!(matches!(
        review(b"not json"),
        Err(MalformedReview::Shape { .. })
    ));
    let v1beta1 =
        br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":null}"#;
    assert!(matches!(
        review(v1beta1),
        Err(MalformedReview::Version { .. })
    ));
    let empty = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#;
    assert!(matches!(review(empty), Err(MalformedReview::NoRequest)));
    let wrong =
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":5}}"#;
    let message = review(wrong).unwrap_err().to_string();
    assert!(message.contains("request.uid"), "{message}");
}
