//! What the golden test files share: reading a manifest's first Backend, fields kept as
//! written. Each test binary uses part of it.
#![allow(clippy::expect_used, dead_code)]

use std::path::Path;

use agw_crds::BackendSpec;
use agw_policy::manifest::{self, BackendDoc, Unset};

/// The first Backend of the manifest `bytes`.
pub fn first_backend(bytes: &[u8]) -> BackendDoc {
    manifest::parse_bytes(bytes, |_| None, Unset::KeepAsWritten)
        .expect("parses")
        .backends
        .remove(0)
}

/// The first Backend of the manifest file at `path`.
pub fn backend_file(path: &Path) -> BackendDoc {
    first_backend(&std::fs::read(path).expect("readable"))
}

/// The spec of the first Backend of the manifest `yaml`.
pub fn spec(yaml: &str) -> BackendSpec {
    first_backend(yaml.as_bytes()).spec.typed().clone()
}
