//! Unknown fields: the raw spec (JSON as the user wrote it) walked against the shape of the
//! Rust API types, so a field serde would silently drop is an error at its path.
//!
//! The known shape is the JSON Schema `schemars` derives from [`BackendSpec`], generated once,
//! so a field another change adds to the Rust types is known here without a list to update.
//! Values whose schema preserves unknown fields (free-form JSON such as request `defaults`
//! values, or fields agw declares only to refuse them by name) are not walked into.
//!
//! Owns: "unknown field" diagnostics. Must not: judge values (types, enums, ranges: the
//! compiler's other modules and serde do), or accept anything on its own.

use std::sync::OnceLock;

use agw_crds::BackendSpec;
use serde_json::{Map, Value};

use crate::diagnostics::{Diagnostic, FieldPath, closest};

/// Code of an unknown field.
pub const UNKNOWN_FIELD: &str = "unknown-field";

/// The schema of `BackendSpec`, subschemas inlined (no `$ref` to resolve while walking).
fn spec_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let generator = schemars::generate::SchemaSettings::openapi3()
            .with(|s| s.inline_subschemas = true)
            .into_generator();
        generator.into_root_schema_for::<BackendSpec>().to_value()
    })
}

/// Every field of `raw` (a `spec`) that the API types do not have, as errors at their paths.
pub fn unknown_fields(raw: &Value, findings: &mut Vec<Diagnostic>) {
    walk(raw, spec_schema(), &FieldPath::spec(), findings);
}

fn walk(value: &Value, schema: &Value, path: &FieldPath, findings: &mut Vec<Diagnostic>) {
    let schema = object_branch(schema);
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(map) => walk_object(map, schema, path, findings),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    walk(item, item_schema, &path.index(index), findings);
                }
            }
        }
        _ => {}
    }
}

fn walk_object(
    map: &Map<String, Value>,
    schema: &Value,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, value) in map {
            match properties.get(name) {
                Some(field_schema) => walk(value, field_schema, &path.field(name), findings),
                None => findings.push(unknown(path, name, properties)),
            }
        }
    } else if let Some(values) = schema.get("additionalProperties").filter(|s| s.is_object()) {
        for (key, value) in map {
            walk(value, values, &path.key(key), findings);
        }
    }
}

/// The branch of `anyOf`/`oneOf` that describes an object or array (an `Option<T>` can be
/// rendered as `anyOf: [T, null]`), else the schema itself.
fn object_branch(schema: &Value) -> &Value {
    ["anyOf", "oneOf", "allOf"]
        .iter()
        .filter_map(|k| schema.get(k).and_then(Value::as_array))
        .flatten()
        .find(|s| s.get("properties").is_some() || s.get("items").is_some())
        .unwrap_or(schema)
}

fn unknown(path: &FieldPath, name: &str, known: &Map<String, Value>) -> Diagnostic {
    let names: Vec<&str> = known.keys().map(String::as_str).collect();
    let diagnostic = Diagnostic::error(
        path.field(name),
        UNKNOWN_FIELD,
        format!(
            "unknown field {name:?}; the fields here are: {}",
            names.join(", ")
        ),
    );
    match closest(name, names.iter().copied()) {
        Some(near) => diagnostic.with_hint(format!("did you mean {near:?}?")),
        None => diagnostic.with_hint(
            "agw refuses what it does not know rather than ignore it; check the spelling against agentgateway's AgentgatewayBackend",
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(raw: &Value) -> Vec<(String, String)> {
        let mut findings = Vec::new();
        unknown_fields(raw, &mut findings);
        findings.into_iter().map(|d| (d.path, d.message)).collect()
    }

    #[test]
    fn the_tutorial_spec_has_no_unknown_field() {
        let spec = json!({
            "ai": {"provider": {"anthropic": {"model": "m"}, "host": "h", "port": 1}},
            "policies": {
                "ai": {
                    "routes": {"/v1/messages": "Messages", "*": "Passthrough"},
                    "promptGuard": {"request": [{
                        "response": {"message": "no", "statusCode": 400},
                        "regex": {"action": "Reject", "matches": ["x"], "builtins": ["Ssn"]},
                        "scope": ["Messages"]
                    }]}
                },
                "auth": {"secretRef": {"name": "s", "key": "k"}},
                "tls": {"sni": "x"}
            }
        });
        assert_eq!(paths(&spec), []);
    }

    #[test]
    fn unknown_fields_are_named_at_every_level() {
        let spec = json!({
            "ai": {"provider": {"anthropic": {"modle": "m"}}},
            "extra": 1,
            "policies": {"ai": {"promptGuard": {"request": [
                {"regex": {"matches": ["x"]}},
                {"regex": {"matchs": ["x"]}}
            ]}}}
        });
        let found = paths(&spec);
        let found: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            found,
            [
                "spec.ai.provider.anthropic.modle",
                "spec.extra",
                "spec.policies.ai.promptGuard.request[1].regex.matchs",
            ]
        );
    }

    #[test]
    fn the_message_lists_the_known_fields_and_suggests_the_nearest() {
        let mut findings = Vec::new();
        unknown_fields(
            &json!({"ai": {"provider": {"anthropic": {}}}, "polices": {}}),
            &mut findings,
        );
        let d = &findings[0];
        assert_eq!(d.code, UNKNOWN_FIELD);
        assert!(d.message.contains("ai, policies"), "{}", d.message);
        assert_eq!(d.hint.as_deref(), Some("did you mean \"policies\"?"));
    }

    #[test]
    fn route_keys_are_map_keys_not_fields() {
        let spec = json!({"ai": {"provider": {"anthropic": {}}},
            "policies": {"ai": {"routes": {"/anything/at/all": "Messages"}}}});
        assert_eq!(paths(&spec), []);
    }
}
