//! Sealing, serializing and loading bundles.
//!
//! A bundle is *sealed* when its digest is computed: `sha256:` + hex of SHA-256 over the
//! compact JSON of the bundle with `digest` set to the empty string. Field order is the
//! struct order and maps are sorted, so equal bundles have equal bytes and digests.
//! Loading ([`parse_bundle`]) is strict: size cap, JSON Schema (the checked-in
//! `policy/bundle.schema.json`), known `apiVersion`, matching digest, and rules that refer
//! to existing backends. A proxy never runs a bundle that fails any of these.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use super::{BUNDLE_API_VERSION, Bundle, BundleBackend, BundleSource, Rule};

/// The bundle JSON Schema as checked in; a test keeps it equal to [`schema_json`].
pub const SCHEMA_JSON: &str = include_str!("../../bundle.schema.json");

/// Largest bundle the proxy accepts (a Secret holds at most 1 MiB; the rest is headroom for
/// standalone files).
pub const MAX_BUNDLE_BYTES: usize = 8 * 1024 * 1024;

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Over [`MAX_BUNDLE_BYTES`].
    #[error("bundle is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Actual size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON.
    #[error("bundle is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// An `apiVersion` this build does not know.
    #[error(
        "bundle apiVersion {found:?} is not supported; this build reads {BUNDLE_API_VERSION:?}"
    )]
    ApiVersion {
        /// What the bundle said.
        found: String,
    },
    /// Does not match the JSON Schema.
    #[error("bundle does not match its schema: {0}")]
    Schema(String),
    /// The digest does not match the content.
    #[error("bundle digest mismatch: it says {stated}, its content hashes to {actual}")]
    Digest {
        /// Digest written in the bundle.
        stated: String,
        /// Digest of the content.
        actual: String,
    },
    /// A rule names a backend the bundle does not define.
    #[error("bundle rule {index} refers to backend {backend:?}, which the bundle does not define")]
    DanglingRule {
        /// Index of the rule.
        index: usize,
        /// The missing backend key.
        backend: String,
    },
}

impl Bundle {
    /// Builds a bundle and computes its digest.
    pub fn seal(
        source: BundleSource,
        rules: Vec<Rule>,
        backends: BTreeMap<String, BundleBackend>,
    ) -> Self {
        let mut bundle = Self {
            api_version: BUNDLE_API_VERSION.to_owned(),
            source,
            rules,
            backends,
            digest: String::new(),
        };
        bundle.digest = bundle.compute_digest();
        bundle
    }

    /// The digest this bundle's content hashes to.
    pub fn compute_digest(&self) -> String {
        let unsealed = Self {
            digest: String::new(),
            ..self.clone()
        };
        let bytes = serde_json::to_vec(&unsealed).unwrap_or_default();
        format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
    }

    /// Pretty JSON with a trailing newline; deterministic, as stored in `bundle.json`.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }
}

/// The JSON Schema of [`Bundle`], generated from the Rust types.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Bundle);
    let mut json = serde_json::to_string_pretty(&schema).unwrap_or_default();
    json.push('\n');
    json
}

/// Loads a bundle, refusing anything that is not exactly a bundle this build can serve.
pub fn parse_bundle(bytes: &[u8]) -> Result<Bundle, BundleError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge {
            size: bytes.len(),
            limit: MAX_BUNDLE_BYTES,
        });
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(BundleError::Json)?;
    let found = value
        .get("apiVersion")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    if found != BUNDLE_API_VERSION {
        return Err(BundleError::ApiVersion {
            found: found.to_owned(),
        });
    }
    validate_schema(&value)?;
    let bundle: Bundle = serde_json::from_value(value).map_err(BundleError::Json)?;
    let actual = bundle.compute_digest();
    if actual != bundle.digest {
        return Err(BundleError::Digest {
            stated: bundle.digest,
            actual,
        });
    }
    if let Some((index, key)) = bundle.rules.iter().enumerate().find_map(|(index, rule)| {
        let key = rule.backend.as_ref()?;
        (!bundle.backends.contains_key(key)).then_some((index, key))
    }) {
        return Err(BundleError::DanglingRule {
            index,
            backend: key.clone(),
        });
    }
    Ok(bundle)
}

fn validate_schema(value: &serde_json::Value) -> Result<(), BundleError> {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA_JSON)
        .map_err(|e| BundleError::Schema(format!("embedded schema is invalid: {e}")))?;
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| BundleError::Schema(format!("embedded schema is invalid: {e}")))?;
    let problems: Vec<String> = validator
        .iter_errors(value)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BundleError::Schema(problems.join("; ")))
    }
}
