//! Hand-written schema fragments that `schemars` cannot derive from the Rust types.

use schemars::{Schema, SchemaGenerator, json_schema};

use crate::vocabulary::{GUARD_SCOPES, LEGACY_GUARD_SCOPES, ROUTE_TYPES};

/// `routes`: a map from path to one of the route types.
pub(crate) fn route_map(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": { "type": "string", "enum": ROUTE_TYPES },
        "nullable": true,
    })
}

/// `scope`: a set of the guard scopes; the legacy spellings stay valid for the apiserver so
/// the compiler can answer them with a warning rather than the apiserver with an error.
pub(crate) fn scope_list(_: &mut SchemaGenerator) -> Schema {
    let all: Vec<&str> = GUARD_SCOPES
        .iter()
        .copied()
        .chain(LEGACY_GUARD_SCOPES.iter().map(|(legacy, _)| *legacy))
        .collect();
    json_schema!({
        "type": "array",
        "items": { "type": "string", "enum": all },
        "x-kubernetes-list-type": "set",
        "nullable": true,
    })
}

/// A field agentgateway has and agw does not implement: any JSON is kept by the apiserver
/// (`x-kubernetes-preserve-unknown-fields`), so it reaches the compiler, which refuses it by
/// name ("not supported by agw: …") instead of the apiserver pruning it unseen.
pub(crate) fn unsupported(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-preserve-unknown-fields": true,
        "nullable": true,
    })
}

/// A value that may be any JSON (`defaults`/`overrides` values): kept whole by the apiserver.
pub(crate) fn any_json(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-preserve-unknown-fields": true,
    })
}
