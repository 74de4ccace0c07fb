//! Goldens of the request edits (prompt enrichment, defaults, overrides, model aliases) and
//! of suffix routes: the bundle a valid spec compiles to, and every refusal with its path.
// Test helpers: a failed expectation is the test failure.
#![allow(clippy::expect_used)]

use std::path::Path;

use agw_policy::manifest;
use agw_policy::{CompileOptions, compile};

mod common;

fn corpus(name: &str) -> manifest::BackendDoc {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/corpus/{name}.yaml"));
    common::backend_file(&path)
}

#[test]
fn request_edits_compile_to_their_golden_bundle() {
    let doc = corpus("request-edits");
    let compiled = compile(&doc.spec, &CompileOptions::new("default", doc.name)).expect("compiles");
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
    let backend = &compiled.bundle.backends["default/request-edits"];
    // Suffix routes: longest first, the fallback last.
    let keys: Vec<&str> = backend.routes.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        keys,
        [
            "/v1/messages/count_tokens",
            "/v1/messages",
            "/v1/models",
            "*"
        ]
    );
    let aliases = &backend.request.model_aliases;
    assert_eq!(
        aliases.resolve("claude-3-5-haiku"),
        Some("claude-sonnet-4-5")
    );
    assert_eq!(aliases.resolve("claude-3-opus"), Some("claude-haiku-4-5"));
    assert_eq!(aliases.resolve("fast"), Some("claude-haiku-4-5"));
    insta::assert_snapshot!("request-edits", compiled.bundle.to_json());
}

#[test]
fn bad_request_edits_and_route_keys_are_refused_at_their_paths() {
    let doc = corpus("bad-request-edits");
    let diagnostics =
        compile(&doc.spec, &CompileOptions::new("default", doc.name)).expect_err("refused");
    let rendered: Vec<String> = diagnostics
        .errors
        .iter()
        .chain(&diagnostics.warnings)
        .map(|d| format!("{:?} {} {d}", d.severity, d.code))
        .collect();
    insta::assert_snapshot!("bad-request-edits", rendered.join("\n"));
}
