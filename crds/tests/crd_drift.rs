//! The checked-in CRD must be exactly what `crdgen` prints, so the installed API never
//! drifts from the Rust types. Regenerate with `cargo run -p agw-crds --bin crdgen > crds/backend.yaml`.

#[test]
fn checked_in_crd_matches_the_rust_types() {
    let generated = agw_crds::backend_crd_yaml().expect("CRD renders");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/backend.yaml");
    let checked_in = std::fs::read_to_string(path).expect("crds/backend.yaml is readable");
    assert!(
        generated == checked_in,
        "crds/backend.yaml is stale; run `cargo run -p agw-crds --bin crdgen > crds/backend.yaml`"
    );
}

#[test]
fn kustomize_copy_of_the_crd_matches() {
    let generated = agw_crds::backend_crd_yaml().expect("CRD renders");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/crd/backend.yaml");
    let copy = std::fs::read_to_string(path).expect("config/crd/backend.yaml is readable");
    assert!(
        generated == copy,
        "config/crd/backend.yaml is stale; run `cargo run -p agw-crds --bin crdgen > config/crd/backend.yaml`"
    );
}

#[test]
fn tutorial_backend_deserializes_into_the_spec() {
    let yaml = r"
ai:
  provider:
    anthropic:
      model: claude-sonnet-4-5-20250929
policies:
  ai:
    routes:
      '/v1/messages': Messages
      '*': Passthrough
    promptGuard:
      request:
      - response:
          message: Rejected due to inappropriate content
        regex:
          action: Reject
          matches:
          - credit card
  auth:
    secretRef:
      name: anthropic-secret
";
    let spec: agw_crds::BackendSpec = serde_norway::from_str(yaml).expect("tutorial spec parses");
    let policies = spec.policies.expect("policies");
    let guard = &policies
        .ai
        .expect("ai")
        .prompt_guard
        .expect("promptGuard")
        .request[0];
    assert_eq!(guard.regex.matches, ["credit card"]);
    assert_eq!(
        policies.auth.expect("auth").secret_ref.key_or_default(),
        "Authorization"
    );
}
