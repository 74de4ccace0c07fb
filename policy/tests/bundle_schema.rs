//! The checked-in bundle schema must be what the Rust types generate: the proxy validates
//! bundles against the checked-in file, the compiler writes the types.
//! Regenerate with `AGW_BLESS=1 cargo test -p agw-policy --test bundle_schema`.

#[test]
fn checked_in_schema_matches_the_rust_types() {
    let generated = agw_policy::bundle::schema_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/bundle.schema.json");
    if std::env::var_os("AGW_BLESS").is_some() {
        std::fs::write(path, &generated).expect("write schema");
    }
    assert!(
        generated == agw_policy::bundle::SCHEMA_JSON,
        "policy/bundle.schema.json is stale; run `AGW_BLESS=1 cargo test -p agw-policy --test bundle_schema`"
    );
}
