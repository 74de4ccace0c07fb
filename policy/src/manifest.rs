//! Manifests as users write them: multi-document YAML holding Backends and their Secrets.
//!
//! `agwctl` and the standalone proxy read the tutorial's files directly, so this module
//! accepts exactly what `kubectl apply -f` would: any number of documents, Backends
//! (`agentgateway.dev/v1alpha1`, kind `Backend` or `AgentgatewayBackend`) and Secrets (`stringData` and base64 `data`); every other
//! kind is skipped with a note. Errors name the document and the line and column. YAML
//! aliases are expanded by the parser with a repetition limit and nesting is bounded, so a
//! "billion laughs" or deeply nested document is an error, not a hang.

use std::collections::BTreeMap;
use std::fmt;

use agw_crds::{API_VERSION, AgentgatewayPolicySpec, POLICY_KIND, is_backend_kind};
use serde::Deserialize;

use crate::compile::WrittenSpec;

/// Largest manifest file accepted.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Deepest YAML nesting accepted (the Backend schema needs about ten levels).
pub const MAX_DEPTH: usize = 64;

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The input is not UTF-8 text.
    #[error("input is not UTF-8 text (invalid byte at offset {offset}); is this a binary file?")]
    NotUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// Over [`MAX_MANIFEST_BYTES`].
    #[error("input is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Actual size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A document is not valid YAML, or does not fit the Backend or Secret shape.
    #[error("document {document}{at}: {message}")]
    Yaml {
        /// 1-based document number.
        document: usize,
        /// ` (line L, column C)` when known.
        at: Location,
        /// What the parser said.
        message: String,
    },
    /// A `${VAR}` reference names a variable that is not set and has no default.
    #[error(
        "document {document}, line {line}: environment variable {name} is not set (write ${{{name}:-default}} for a default)"
    )]
    UnsetVariable {
        /// 1-based document number.
        document: usize,
        /// 1-based line.
        line: usize,
        /// The variable.
        name: String,
    },
}

/// Result alias for this module.
pub type Result<T, E = ManifestError> = std::result::Result<T, E>;

/// An optional line/column, rendered as ` (line L, column C)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Location(pub Option<(usize, usize)>);

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((line, column)) => write!(f, " (line {line}, column {column})"),
            None => Ok(()),
        }
    }
}

/// A Backend document (`kind: Backend` or `kind: AgentgatewayBackend`).
#[derive(Clone, Debug, PartialEq)]
pub struct BackendDoc {
    /// 1-based document number in the file.
    pub document: usize,
    /// `Backend` or `AgentgatewayBackend`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    /// `metadata.generation`, when set.
    pub generation: Option<i64>,
    /// The spec as written: [`crate::compile`] reports its unknown fields too.
    pub spec: WrittenSpec,
}

/// An `AgentgatewayPolicy` document.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDoc {
    /// 1-based document number in the file.
    pub document: usize,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    /// The spec.
    pub spec: AgentgatewayPolicySpec,
}

/// A Secret document, values decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretDoc {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    /// Keys and values (`data` decoded, `stringData` taking precedence as in Kubernetes).
    pub data: BTreeMap<String, String>,
    /// `metadata.labels`, for `apiKeyAuthentication.secretSelector`.
    pub labels: BTreeMap<String, String>,
}

impl fmt::Debug for SecretDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secret values never reach logs or test output.
        f.debug_struct("SecretDoc")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("labels", &self.labels)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What a manifest file holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Documents {
    /// Backends, in file order.
    pub backends: Vec<BackendDoc>,
    /// Secrets, in file order.
    pub secrets: Vec<SecretDoc>,
    /// AgentgatewayPolicies, in file order.
    pub policies: Vec<PolicyDoc>,
    /// Documents skipped, as `document N: kind K` notes for the user.
    pub skipped: Vec<String>,
}

impl Documents {
    /// The Secret `name` in `namespace` (a Secret without namespace matches any).
    pub fn secret(&self, namespace: &str, name: &str) -> Option<&SecretDoc> {
        self.secrets
            .iter()
            .find(|s| s.name == name && s.namespace.as_deref().is_none_or(|ns| ns == namespace))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    generation: Option<i64>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct BackendManifest {
    #[serde(default)]
    metadata: Metadata,
    spec: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretManifest {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    data: BTreeMap<String, String>,
    #[serde(default)]
    string_data: BTreeMap<String, String>,
}

/// Reads bytes as a manifest, after checking size and encoding.
pub fn parse_bytes(
    bytes: &[u8],
    env: impl Fn(&str) -> Option<String>,
    unset: Unset,
) -> Result<Documents> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            size: bytes.len(),
            limit: MAX_MANIFEST_BYTES,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ManifestError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    parse_with(text, &env, unset)
}

/// What to do with a `${VAR}` whose variable is unset and has no default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unset {
    /// Fail, naming the variable (the proxy: a missing API key must not go unnoticed).
    Error,
    /// Keep the reference as written (offline checks that need the policy, not the key).
    KeepAsWritten,
}

/// Parses every document of `text`. `env` resolves `${VAR}` references; pass `|_| None` to
/// leave files without references unchanged and fail on any reference.
pub fn parse_documents(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Documents> {
    parse_with(text, &env, Unset::Error)
}

fn parse_with(
    text: &str,
    env: &impl Fn(&str) -> Option<String>,
    unset: Unset,
) -> Result<Documents> {
    let mut documents = Documents::default();
    for (index, chunk) in split_documents(text).into_iter().enumerate() {
        let number = index + 1;
        let expanded = expand_env(chunk.text, number, chunk.first_line, env, unset)?;
        let value = load(&expanded, number, chunk.first_line)?;
        if value.is_null() {
            continue;
        }
        classify(value, number, chunk.first_line, &mut documents)?;
    }
    Ok(documents)
}

struct Chunk<'a> {
    text: &'a str,
    first_line: usize,
}

/// Splits on `---` lines, remembering where each document starts for line numbers.
fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let (mut start, mut first_line, mut offset) = (0, 1, 0);
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end();
        if bare == "---" || bare.starts_with("--- ") || bare == "..." {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line,
            });
            start = offset + line.len();
            first_line = number + 2;
        }
        offset += line.len();
    }
    chunks.push(Chunk {
        text: &text[start..],
        first_line,
    });
    chunks
}

fn load(text: &str, document: usize, first_line: usize) -> Result<serde_json::Value> {
    let yaml_error = |e: serde_norway::Error| {
        let at = e
            .location()
            .map(|l| (l.line() + first_line - 1, l.column()));
        ManifestError::Yaml {
            document,
            at: Location(at),
            message: e.to_string(),
        }
    };
    let value: serde_norway::Value = serde_norway::from_str(text).map_err(yaml_error)?;
    if depth(&value, 0) > MAX_DEPTH {
        return Err(ManifestError::Yaml {
            document,
            at: Location(None),
            message: format!("nesting is deeper than {MAX_DEPTH} levels"),
        });
    }
    serde_json::to_value(&value).map_err(|e| ManifestError::Yaml {
        document,
        at: Location(None),
        message: e.to_string(),
    })
}

/// Nesting depth, stopping as soon as the limit is passed.
fn depth(value: &serde_norway::Value, level: usize) -> usize {
    if level > MAX_DEPTH {
        return level;
    }
    match value {
        serde_norway::Value::Sequence(items) => items
            .iter()
            .map(|v| depth(v, level + 1))
            .max()
            .unwrap_or(level),
        serde_norway::Value::Mapping(map) => map
            .values()
            .map(|v| depth(v, level + 1))
            .max()
            .unwrap_or(level),
        serde_norway::Value::Tagged(tagged) => depth(&tagged.value, level + 1),
        _ => level,
    }
}

fn classify(
    value: serde_json::Value,
    document: usize,
    first_line: usize,
    out: &mut Documents,
) -> Result<()> {
    let shape_error = |e: serde_json::Error| ManifestError::Yaml {
        document,
        at: Location(Some((first_line, 1))),
        message: e.to_string(),
    };
    let header: Header = serde_json::from_value(value.clone()).map_err(shape_error)?;
    match (header.api_version.as_str(), header.kind.as_str()) {
        (API_VERSION, kind) if is_backend_kind(kind) => {
            let manifest: BackendManifest = serde_json::from_value(value).map_err(shape_error)?;
            let spec = WrittenSpec::from_json(manifest.spec).map_err(|d| ManifestError::Yaml {
                document,
                at: Location(Some((first_line, 1))),
                message: d.to_string(),
            })?;
            let Metadata {
                name,
                namespace,
                generation,
                ..
            } = manifest.metadata;
            out.backends.push(BackendDoc {
                document,
                kind: kind.to_owned(),
                name,
                namespace,
                generation,
                spec,
            });
        }
        (API_VERSION, POLICY_KIND) => {
            let manifest: BackendManifest = serde_json::from_value(value).map_err(shape_error)?;
            let spec = serde_path_to_error::deserialize(manifest.spec).map_err(|e| {
                ManifestError::Yaml {
                    document,
                    at: Location(Some((first_line, 1))),
                    message: format!("spec.{}: {}", e.path(), e.inner()),
                }
            })?;
            out.policies.push(PolicyDoc {
                document,
                name: manifest.metadata.name,
                namespace: manifest.metadata.namespace,
                spec,
            });
        }
        ("v1", "Secret") => {
            let manifest: SecretManifest = serde_json::from_value(value).map_err(shape_error)?;
            let mut data = BTreeMap::new();
            for (key, encoded) in manifest.data {
                let decoded = decode_base64(&encoded).ok_or_else(|| ManifestError::Yaml {
                    document,
                    at: Location(None),
                    message: format!("Secret data key {key:?} is not valid base64"),
                })?;
                data.insert(key, decoded);
            }
            data.extend(manifest.string_data);
            out.secrets.push(SecretDoc {
                name: manifest.metadata.name,
                namespace: manifest.metadata.namespace,
                data,
                labels: manifest.metadata.labels,
            });
        }
        (api_version, kind) => {
            out.skipped.push(format!(
                "document {document}: skipped {kind} ({api_version}), not a Backend, AgentgatewayBackend, AgentgatewayPolicy or Secret"
            ));
        }
    }
    Ok(())
}

/// Expands `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`. Full-line comments are left
/// alone, so documentation like "# ${VAR} is expanded" needs no variable.
fn expand_env(
    text: &str,
    document: usize,
    first_line: usize,
    env: &impl Fn(&str) -> Option<String>,
    unset: Unset,
) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        if in_comment(&rest[..at], &out) {
            let line_end = rest[at..].find('\n').map_or(rest.len(), |i| at + i);
            out.push_str(&rest[..line_end]);
            rest = &rest[line_end..];
            continue;
        }
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some((reference, after)) =
            tail.strip_prefix("${").and_then(|t| t.split_once('}'))
        {
            let (name, default) = match reference.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (reference, None),
            };
            let value = env(name)
                .filter(|v| !v.is_empty())
                .or_else(|| default.map(str::to_owned));
            let line = first_line + text[..text.len() - rest.len() + at].matches('\n').count();
            let value = match (value, unset) {
                (Some(value), _) => value,
                (None, Unset::KeepAsWritten) => format!("${{{reference}}}"),
                (None, Unset::Error) => {
                    return Err(ManifestError::UnsetVariable {
                        document,
                        line,
                        name: name.to_owned(),
                    });
                }
            };
            out.push_str(&value);
            rest = after;
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether the `$` about to be read sits on a line that is a comment (`#` first).
fn in_comment(pending: &str, written: &str) -> bool {
    if let Some(i) = pending.rfind('\n') {
        return pending[i + 1..].trim_start().starts_with('#');
    }
    let tail = written.rfind('\n').map_or(written, |i| &written[i + 1..]);
    format!("{tail}{pending}").trim_start().starts_with('#')
}

/// Standard base64 (with or without padding, whitespace ignored) into UTF-8 text.
fn decode_base64(encoded: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut bytes = Vec::with_capacity(encoded.len() * 3 / 4);
    for c in encoded
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push(u8::try_from((bits >> count) & 0xff).ok()?);
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests;
