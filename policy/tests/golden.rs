//! Golden files: the bundle of each tutorial manifest, and the diagnostics of a corpus of bad
//! inputs. A change in compiler output shows up as a reviewable snapshot diff.
// Test helpers: a failed expectation is the test failure.
#![allow(clippy::expect_used)]

use std::path::Path;

use agw_policy::manifest::{self, Unset};
use agw_policy::{CompileOptions, compile};

fn backends(path: &Path) -> Vec<manifest::BackendDoc> {
    let bytes = std::fs::read(path).expect("readable");
    manifest::parse_bytes(&bytes, |_| None, Unset::KeepAsWritten)
        .expect("parses")
        .backends
}

#[test]
fn tutorial_manifests_compile_to_their_golden_bundles() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/samples");
    for name in [
        "backend-flexible",
        "backend-fixed-model",
        "backend-guarded",
        "backend-extended-guards",
    ] {
        let doc = backends(&samples.join(format!("{name}.yaml"))).remove(0);
        let compiled = compile(
            &doc.spec,
            &CompileOptions::new("agentgateway-system", doc.name),
        )
        .expect(name);
        assert!(
            compiled.warnings.is_empty(),
            "{name}: {:?}",
            compiled.warnings
        );
        let again = compile(
            &doc.spec,
            &CompileOptions::new("agentgateway-system", "anthropic"),
        )
        .expect(name);
        assert_eq!(
            compiled.bundle.to_json(),
            again.bundle.to_json(),
            "{name}: output is not deterministic"
        );
        insta::assert_snapshot!(name, compiled.bundle.to_json());
    }
}

#[test]
fn bad_inputs_give_every_diagnostic_with_its_path() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    for name in ["bad-patterns", "bad-names", "unsupported-fields"] {
        let doc = backends(&corpus.join(format!("{name}.yaml"))).remove(0);
        let diagnostics =
            compile(&doc.spec, &CompileOptions::new("default", doc.name)).expect_err(name);
        let rendered: Vec<String> = diagnostics
            .errors
            .iter()
            .chain(&diagnostics.warnings)
            .map(|d| format!("{:?} {} {d}", d.severity, d.code))
            .collect();
        insta::assert_snapshot!(name, rendered.join("\n"));
    }
}

#[test]
fn pattern_count_and_size_limits_are_reported() {
    let mut spec = backends(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/samples/backend-guarded.yaml"),
    )
    .remove(0)
    .spec
    .typed()
    .clone();
    let set_matches = |spec: &mut agw_crds::BackendSpec, matches: Vec<String>| {
        let guards = spec
            .policies
            .as_mut()
            .and_then(|p| p.ai.as_mut())
            .and_then(|a| a.prompt_guard.as_mut());
        let guard = &mut guards.expect("guards").request[0];
        guard.regex.as_mut().expect("regex").matches = matches;
    };
    set_matches(
        &mut spec,
        (0..10_000).map(|i| format!("phrase {i}")).collect(),
    );
    let err = compile(&spec, &CompileOptions::new("ns", "b")).expect_err("too many");
    assert!(
        err.errors
            .iter()
            .any(|d| d.code == "too-many-patterns" && d.message.contains("10000")),
        "{err}"
    );
    set_matches(&mut spec, vec!["a".repeat(1024 * 1024)]);
    let err = compile(&spec, &CompileOptions::new("ns", "b")).expect_err("too long");
    assert_eq!(err.errors[0].code, "regex-too-long");
    assert_eq!(
        err.errors[0].path,
        "spec.policies.ai.promptGuard.request[0].regex.matches[0]"
    );
}

/// agentgateway's scope names are canonical; agw's older ones compile to the same guard with a
/// warning naming the canonical spelling (the webhook returns it as `Warning:`).
#[test]
fn legacy_scope_spellings_compile_alike_with_a_warning() {
    let spec = |scope: serde_json::Value| {
        let spec: agw_crds::BackendSpec = serde_json::from_value(serde_json::json!({
            "ai": {"provider": {"anthropic": {}}},
            "policies": {
                "auth": {"secretRef": {"name": "s"}},
                "ai": {"promptGuard": {"request": [
                    {"regex": {"action": "Reject", "matches": ["x"]}, "scope": scope}
                ]}}
            }
        }))
        .expect("spec");
        compile(&spec, &CompileOptions::new("ns", "b")).expect("compiles")
    };
    let canonical = spec(serde_json::json!([
        "SystemPrompt",
        "Messages",
        "ToolInput",
        "ToolOutput"
    ]));
    let legacy = spec(serde_json::json!([
        "System",
        "Messages",
        "ToolUse",
        "ToolResults"
    ]));
    assert!(canonical.warnings.is_empty(), "{:?}", canonical.warnings);
    assert_eq!(
        canonical.bundle.backends["ns/b"].guards,
        legacy.bundle.backends["ns/b"].guards
    );
    let rendered: Vec<String> = legacy.warnings.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!("legacy-scopes", rendered.join("\n"));
}

/// A guard without `response` rejects with agentgateway's default message; the status stays
/// 400 because Claude Code shows a 403 as an authentication failure, hiding the message.
#[test]
fn a_guard_without_response_uses_agentgateways_default_message() {
    let spec: agw_crds::BackendSpec = serde_json::from_value(serde_json::json!({
        "ai": {"provider": {"anthropic": {}}},
        "policies": {
            "auth": {"secretRef": {"name": "s"}},
            "ai": {"promptGuard": {"request": [{"regex": {"action": "Reject", "matches": ["x"]}}]}}
        }
    }))
    .expect("spec");
    let compiled = compile(&spec, &CompileOptions::new("ns", "b")).expect("compiles");
    let reject = &compiled.bundle.backends["ns/b"].guards.request[0].reject;
    assert_eq!(
        reject.message,
        "The request was rejected due to inappropriate content"
    );
    assert_eq!(reject.status, 400);
}
