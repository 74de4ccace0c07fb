//! What [`compile`](super::compile) reads: a typed spec, or a spec as its author wrote it.
//!
//! serde drops fields the Rust types lack, so a typed spec alone cannot tell "absent" from
//! "misspelled". A [`WrittenSpec`] keeps the JSON next to the typed value, and the compiler
//! walks it for unknown fields ([`super::shape`]). The webhook and manifest readers (`agwctl`,
//! the standalone proxy) hold written specs; the operator holds specs the apiserver already
//! pruned to the schema, so the typed value is all there is.
//!
//! Must not: judge the spec (that is the compiler's other modules).

use agw_crds::BackendSpec;
use serde_json::Value;

use crate::diagnostics::{Diagnostic, FieldPath};

/// A spec the compiler can read, with the JSON as written when there is one.
pub trait SpecSource {
    /// The typed spec.
    fn spec(&self) -> &BackendSpec;
    /// The spec as written, when known.
    fn written(&self) -> Option<&Value>;
}

impl SpecSource for BackendSpec {
    fn spec(&self) -> &BackendSpec {
        self
    }
    fn written(&self) -> Option<&Value> {
        None
    }
}

/// A spec and the JSON it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct WrittenSpec {
    spec: BackendSpec,
    written: Value,
}

impl WrittenSpec {
    /// Reads `written` (the value of `spec`), naming the field whose value does not fit.
    pub fn from_json(written: Value) -> Result<Self, Diagnostic> {
        let spec = serde_path_to_error::deserialize(&written).map_err(|err| {
            let inner = err.path().to_string();
            let path = match inner.as_str() {
                "" | "." => FieldPath::spec().to_string(),
                inner => format!("{}.{inner}", FieldPath::spec()),
            };
            Diagnostic::error(path, "invalid-value", err.into_inner().to_string())
        })?;
        Ok(Self { spec, written })
    }

    /// The typed spec.
    pub fn typed(&self) -> &BackendSpec {
        &self.spec
    }
}

impl SpecSource for WrittenSpec {
    fn spec(&self) -> &BackendSpec {
        &self.spec
    }
    fn written(&self) -> Option<&Value> {
        Some(&self.written)
    }
}
