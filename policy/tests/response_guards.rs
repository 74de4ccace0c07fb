//! Golden files for response guards: the sample's bundle, and the diagnostics of response
//! guards the compiler refuses (field paths, codes, hints).
// Test helpers: a failed expectation is the test failure.
#![allow(clippy::expect_used)]

use std::path::Path;

use agw_policy::{CompileOptions, compile};

use crate::common::spec as backend;

mod common;

#[test]
fn the_response_guards_sample_compiles_to_its_golden_bundle() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config/samples/backend-response-guards.yaml");
    let spec = backend(&std::fs::read_to_string(path).expect("readable"));
    let compiled = compile(
        &spec,
        &CompileOptions::new("agentgateway-system", "anthropic"),
    )
    .expect("valid");
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
    let guards = &compiled.bundle.backends["agentgateway-system/anthropic"].guards;
    assert!(guards.streaming);
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
        streaming: Always
        response:
        - regex: {action: Mask, matches: ["secret [a-z]+", "(?<=x)y", ".{4000,}"]}
          scope: [SystemPrompt, ToolInput]
        - regex: {action: Drop, builtins: [Passport]}
        - regex: {}
"#;

#[test]
fn bad_response_guards_are_refused_at_their_field_paths() {
    let diagnostics =
        compile(&backend(BAD), &CompileOptions::new("default", "bad")).expect_err("invalid");
    insta::assert_snapshot!(diagnostics.to_string());
}

const STREAMED: &str = r#"
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {name: streamed}
spec:
  ai: {provider: {anthropic: {}}}
  policies:
    ai:
      promptGuard:
        streaming: Enabled
        response:
        - regex: {matches: ["token-[a-z0-9]{1,300}", "secret [a-z]+", ".{4000,}", "ok [a-z]{1,20}"]}
"#;

#[test]
fn streamed_guards_must_fit_the_window() {
    let diagnostics = compile(
        &backend(STREAMED),
        &CompileOptions::new("default", "streamed"),
    )
    .expect_err("invalid");
    let errors: Vec<String> = diagnostics
        .errors
        .iter()
        .map(|d| format!("{} {}", d.path, d.code))
        .collect();
    assert_eq!(
        errors,
        [
            "spec.policies.ai.promptGuard.response[0].regex.matches[0] stream-match-unbounded",
            "spec.policies.ai.promptGuard.response[0].regex.matches[1] stream-match-unbounded",
            "spec.policies.ai.promptGuard.response[0].regex.matches[2] stream-match-unbounded",
        ]
    );
    // Without streaming the same guards are fine (JSON responses are read whole), with a
    // warning that streams would pass unguarded.
    let unstreamed = STREAMED.replace("streaming: Enabled", "");
    let compiled = compile(
        &backend(&unstreamed),
        &CompileOptions::new("default", "streamed"),
    )
    .expect("valid");
    let warnings: Vec<&str> = compiled.warnings.iter().map(|d| d.code).collect();
    assert!(
        warnings.contains(&"response-guards-skip-streams"),
        "{warnings:?}"
    );
}
