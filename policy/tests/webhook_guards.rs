//! Golden files for webhook guards: the sample's bundle (a Service `backendRef` resolved to
//! its in-cluster name), and the diagnostics of webhook guards the compiler refuses.
// Test helpers: a failed expectation is the test failure.
#![allow(clippy::expect_used)]

use std::path::Path;

use agw_policy::{CompileOptions, compile};

use crate::common::spec as backend;

mod common;

#[test]
fn the_webhook_guards_sample_compiles_to_its_golden_bundle() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/samples/backend-webhook-guards.yaml");
    let spec = backend(&std::fs::read_to_string(path).expect("readable"));
    let compiled = compile(
        &spec,
        &CompileOptions::new("agentgateway-system", "anthropic"),
    )
    .expect("valid");
    let guards = &compiled.bundle.backends["agentgateway-system/anthropic"].guards;
    let request = guards.request[0].webhook.as_ref().expect("a webhook");
    assert_eq!(
        (request.host.as_str(), request.port, request.path.as_str()),
        (
            "guardrails.agentgateway-system.svc.cluster.local",
            8000,
            "/request"
        )
    );
    let response = guards.response[0].webhook.as_ref().expect("a webhook");
    assert!(response.fail_open && response.path == "/response");
    insta::assert_snapshot!(compiled.bundle.to_json());
}

const BAD: &str = r#"
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {name: bad}
spec:
  ai: {provider: {anthropic: {}}}
  policies:
    ai:
      promptGuard:
        streaming: Enabled
        request:
        - webhook: {url: "http://checker.example.com/guard", backendRef: {name: c, port: 80}}
        - webhook: {}
        - webhook:
            url: "ftp://127.0.0.1/"
            failureMode: FailSometimes
            timeout: 90s
        - webhook:
            backendRef: {name: checker, namespace: other, kind: Backend, group: agentgateway.dev}
            headers: {x-token: 'request.headers["x"]', authorization: '"Bearer x"', host: '"h"'}
            forwardHeaderMatches:
            - {name: x-api-key, value: k}
            - {type: RegularExpression, name: x-team, value: ".*"}
          regex: {builtins: [Email]}
        - webhook: {url: "http://127.0.0.1:9/check", timeout: soon}
        - webhook: {url: "http://checker.example.com/guard"}
        - webhook: {url: "http://[::1]:9000/v1/", timeout: 1m30s}
        response:
        - webhook: {url: "https://checker.example.com"}
          scope: [Messages, ToolInput]
"#;

#[test]
fn bad_webhook_guards_are_refused_at_their_field_paths() {
    let diagnostics =
        compile(&backend(BAD), &CompileOptions::new("default", "bad")).expect_err("invalid");
    insta::assert_snapshot!(diagnostics.to_string());
}
