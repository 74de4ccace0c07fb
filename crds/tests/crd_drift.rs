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

/// config/crd (kustomize) and the agw-crds Helm chart install the generated CRD verbatim.
#[test]
fn kustomize_and_helm_copies_of_the_crd_match() {
    let generated = agw_crds::backend_crd_yaml().expect("CRD renders");
    for path in [
        "../config/crd/backend.yaml",
        "../charts/agw-crds/files/backend.yaml",
    ] {
        let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        let copy = std::fs::read_to_string(&full).expect("the CRD file is readable");
        assert!(
            generated == copy,
            "{path} is stale; run `cargo run -p agw-crds --bin crdgen > {path}`"
        );
    }
}

#[test]
fn checked_in_agentgateway_backend_crds_match() {
    let generated = agw_crds::agentgateway_backend_crd_yaml().expect("CRD renders");
    for path in [
        "agentgatewaybackend.yaml",
        "../config/crd/agentgatewaybackend.yaml",
        "../charts/agw-crds/files/agentgatewaybackend.yaml",
    ] {
        let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        let checked_in = std::fs::read_to_string(&full).expect("the CRD file is readable");
        assert!(
            generated == checked_in,
            "{path} is stale; run `cargo run -p agw-crds --bin crdgen agentgatewaybackend > {path}`"
        );
    }
}

#[test]
fn checked_in_agentgateway_policy_crds_match() {
    let generated = agw_crds::agentgateway_policy_crd_yaml().expect("CRD renders");
    for path in [
        "agentgatewaypolicy.yaml",
        "../config/crd/agentgatewaypolicy.yaml",
        "../charts/agw-crds/files/agentgatewaypolicy.yaml",
    ] {
        let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        let checked_in = std::fs::read_to_string(&full).expect("the CRD file is readable");
        assert!(
            generated == checked_in,
            "{path} is stale; run `cargo run -p agw-crds --bin crdgen agentgatewaypolicy > {path}`"
        );
    }
}

/// Two CRDs sharing a short name make `kubectl get agbe` ambiguous: agentgateway's kind owns it.
#[test]
fn agbe_names_the_agentgateway_kind_only_and_both_schemas_are_one() {
    use kube::CustomResourceExt as _;
    let backend = agw_crds::Backend::crd();
    let agbe = agw_crds::AgentgatewayBackend::crd();
    assert_eq!(backend.spec.names.short_names, None);
    assert_eq!(agbe.spec.names.short_names, Some(vec!["agbe".to_owned()]));
    assert_eq!(agbe.spec.names.kind, "AgentgatewayBackend");
    assert_eq!(agbe.spec.group, backend.spec.group);
    let schema = |crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition| {
        let version = &crd.spec.versions[0];
        let props = version.schema.clone().expect("schema").open_api_v3_schema.expect("v3");
        // The kind's own description and title differ; spec and status must not.
        (
            serde_json::to_value(props.properties).expect("json"),
            version.additional_printer_columns.clone(),
        )
    };
    assert_eq!(schema(&backend), schema(&agbe));
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
    assert_eq!(
        guard.regex.as_ref().expect("regex").matches,
        ["credit card"]
    );
    assert_eq!(
        policies.auth.expect("auth").secret_ref.key_or_default(),
        "Authorization"
    );
}
