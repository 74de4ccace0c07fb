//! Client policies (`apiKeyAuthentication`, `authorization`, `rateLimit`): the team sample's
//! golden bundle, and every diagnostic of policies that cannot work, with their paths.
// Test helpers: a failed expectation is the test failure.
#![allow(clippy::expect_used)]

use std::path::Path;

use agw_policy::{CompileOptions, compile};

use crate::common::backend_file as backend;

mod common;

#[test]
fn the_team_sample_compiles_to_its_golden_bundle() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/samples/backend-team.yaml");
    let doc = backend(&path);
    let compiled = compile(
        &doc.spec,
        &CompileOptions::new("agentgateway-system", doc.name),
    )
    .expect("compiles");
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
    insta::assert_snapshot!(compiled.bundle.to_json());
}

#[test]
fn jwt_providers_compile_to_their_golden_bundle() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/jwt.yaml");
    let doc = backend(&path);
    let compiled = compile(&doc.spec, &CompileOptions::new("team-a", doc.name)).expect("compiles");
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
    insta::assert_snapshot!(compiled.bundle.to_json());
}

#[test]
fn client_policies_that_cannot_work_are_refused_at_their_paths() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    for name in [
        "bad-client-auth",
        "bad-client-auth-anonymous",
        "bad-client-keys",
        "bad-client-keys-secret",
        "bad-jwt",
        "bad-jwt-empty",
    ] {
        let doc = backend(&corpus.join(format!("{name}.yaml")));
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
fn a_backend_without_client_policy_has_none_in_its_bundle() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/samples/backend-guarded.yaml");
    let doc = backend(&path);
    let compiled = compile(&doc.spec, &CompileOptions::new("ns", doc.name)).expect("compiles");
    assert!(
        compiled
            .bundle
            .backends
            .values()
            .all(|b| b.clients.is_none())
    );
    assert!(!compiled.bundle.to_json().contains("clients"));
}
