//! Gateway key entries: what one entry of a key Secret means (`apiKeyAuthentication`).
//!
//! An entry's key is the identity name; its value is, as in agentgateway, a JSON object
//! `{"keyHash": "sha256:<64 hex>", "metadata": {"groups": ["…"]}}` (recommended: the Secret
//! then never holds a usable key), `{"key": "<key>", …}`, or the bare key. The proxy (which
//! authenticates), the operator (which reports how many identities a Backend has) and the
//! standalone loader all read entries here, so they cannot disagree on a format. Owns the
//! format and its errors; must not log, keep or return a key — only its SHA-256.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// Shortest bare key accepted: a gateway key is a credential, not a password to remember.
pub const MIN_KEY_LEN: usize = 16;

/// One identity and the SHA-256 of its key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The identity name (the entry's key in the Secret).
    pub identity: String,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// Groups from `metadata.groups` (or `metadata.group`).
    pub groups: Vec<String>,
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEntry")
            .field("identity", &self.identity)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// Why an entry (or a set of entries) cannot be used; never quotes the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// A JSON value that is not an entry object.
    #[error(
        "{at}: not a key entry ({reason}); expected {{\"keyHash\": \"sha256:<hex>\", \"metadata\": {{\"groups\": [...]}}}} or a bare key"
    )]
    Format {
        /// `Secret <ns>/<name> data.<entry>`.
        at: String,
        /// What serde found wrong (field names only).
        reason: String,
    },
    /// Both or neither of `key` and `keyHash`.
    #[error("{at}: set exactly one of `key` and `keyHash`")]
    KeyOrHash {
        /// Where.
        at: String,
    },
    /// `keyHash` is not `sha256:` and 64 hex digits.
    #[error(
        "{at}: keyHash must be `sha256:` followed by 64 hex digits (e.g. `printf %s \"$KEY\" | sha256sum`)"
    )]
    Hash {
        /// Where.
        at: String,
    },
    /// A bare or JSON key that is too short or has whitespace.
    #[error("{at}: the key must be at least {MIN_KEY_LEN} characters without whitespace")]
    WeakKey {
        /// Where.
        at: String,
    },
    /// Two identities share a key.
    #[error("{at}: the same key as identity {other:?}; every identity needs its own key")]
    Duplicate {
        /// Where.
        at: String,
        /// The identity already holding it.
        other: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Object {
    key: Option<String>,
    key_hash: Option<String>,
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(default)]
    groups: Vec<String>,
    group: Option<String>,
    // Other metadata (creation dates, owners) is the user's; agw reads only the groups.
    #[serde(flatten)]
    _other: BTreeMap<String, serde_json::Value>,
}

/// SHA-256 of a presented key.
pub fn hash_key(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// Reads one entry; `at` names it in errors (`Secret team-a/dev-keys data.alice`).
pub fn parse_entry(at: &str, identity: &str, value: &str) -> Result<KeyEntry, EntryError> {
    let value = value.trim();
    if !value.starts_with('{') {
        return Ok(KeyEntry {
            identity: identity.to_owned(),
            hash: hash_bare(at, value)?,
            groups: Vec::new(),
        });
    }
    let object: Object = serde_json::from_str(value).map_err(|e| EntryError::Format {
        at: at.to_owned(),
        // serde's message names fields and positions, never the value of a string.
        reason: e.to_string(),
    })?;
    let hash = match (object.key, object.key_hash) {
        (Some(key), None) => hash_bare(at, key.trim())?,
        (None, Some(hash)) => {
            parse_hash(&hash).ok_or_else(|| EntryError::Hash { at: at.to_owned() })?
        }
        _ => return Err(EntryError::KeyOrHash { at: at.to_owned() }),
    };
    let mut groups = object.metadata.groups;
    groups.extend(object.metadata.group);
    groups.sort();
    groups.dedup();
    Ok(KeyEntry {
        identity: identity.to_owned(),
        hash,
        groups,
    })
}

/// Reads every entry of one Secret (`entries` as name → value), reporting every problem.
pub fn parse_secret<'a>(
    location: &str,
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (Vec<KeyEntry>, Vec<EntryError>) {
    let (mut ok, mut errors) = (Vec::new(), Vec::new());
    for (identity, value) in entries {
        match parse_entry(&format!("{location} data.{identity}"), identity, value) {
            Ok(entry) => ok.push(entry),
            Err(err) => errors.push(err),
        }
    }
    (ok, errors)
}

/// Refuses two identities with one key (which one would a request be?).
pub fn check_unique(entries: &[KeyEntry]) -> Vec<EntryError> {
    let mut seen: BTreeMap<[u8; 32], &str> = BTreeMap::new();
    let mut errors = Vec::new();
    for entry in entries {
        if let Some(other) = seen.insert(entry.hash, &entry.identity) {
            errors.push(EntryError::Duplicate {
                at: format!("identity {:?}", entry.identity),
                other: other.to_owned(),
            });
        }
    }
    errors
}

fn hash_bare(at: &str, key: &str) -> Result<[u8; 32], EntryError> {
    if key.len() < MIN_KEY_LEN || key.contains(char::is_whitespace) {
        return Err(EntryError::WeakKey { at: at.to_owned() });
    }
    Ok(hash_key(key.as_bytes()))
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let hex = text.trim().strip_prefix("sha256:")?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "Secret ns/keys data.alice";

    #[test]
    fn a_hash_entry_with_groups() {
        let hash = hex::encode(hash_key(b"agw-alice-0123456789"));
        let value = format!(
            r#"{{"keyHash": "sha256:{hash}", "metadata": {{"groups": ["dev", "ops"], "owner": "x"}}}}"#
        );
        let entry = parse_entry(AT, "alice", &value).unwrap();
        assert_eq!(entry.hash, hash_key(b"agw-alice-0123456789"));
        assert_eq!(entry.groups, ["dev", "ops"]);
    }

    #[test]
    fn a_bare_key_and_a_json_key_hash_alike() {
        let bare = parse_entry(AT, "alice", "agw-alice-0123456789\n").unwrap();
        let json = parse_entry(
            AT,
            "alice",
            r#"{"key": "agw-alice-0123456789", "metadata": {"group": "dev"}}"#,
        )
        .unwrap();
        assert_eq!(bare.hash, json.hash);
        assert_eq!(json.groups, ["dev"]);
    }

    #[test]
    fn unknown_formats_are_refused_without_quoting_the_value() {
        let cases = [
            (r#"{"keyhash": "sha256:00"}"#, "not a key entry"),
            (
                r#"{"key": "agw-alice-0123456789", "keyHash": "sha256:00"}"#,
                "exactly one",
            ),
            (r#"{"keyHash": "md5:abc"}"#, "sha256:"),
            (r#"{"keyHash": "sha256:abcd"}"#, "64 hex"),
            ("short", "at least 16"),
            ("has a space in it ok", "without whitespace"),
        ];
        for (value, expected) in cases {
            let err = parse_entry(AT, "alice", value).unwrap_err().to_string();
            assert!(err.starts_with(AT), "{err}");
            assert!(err.contains(expected), "{value}: {err}");
            assert!(!err.contains("agw-alice-0123456789"), "{err}");
        }
    }

    #[test]
    fn two_identities_with_one_key_are_refused() {
        let (entries, errors) = parse_secret(
            "Secret ns/keys",
            [
                ("alice", "agw-same-key-0123456789"),
                ("bob", "agw-same-key-0123456789"),
            ],
        );
        assert!(errors.is_empty());
        let dup = check_unique(&entries);
        assert_eq!(dup.len(), 1);
        assert!(dup[0].to_string().contains("\"alice\""), "{}", dup[0]);
    }

    #[test]
    fn debug_never_shows_the_hash() {
        let entry = parse_entry(AT, "alice", "agw-alice-0123456789").unwrap();
        let shown = format!("{entry:?}");
        assert!(!shown.contains("hash"), "{shown}");
    }
}
