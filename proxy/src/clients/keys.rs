//! The gateway keys a backend accepts, and finding the identity a presented key belongs to.
//!
//! Keys are held only as SHA-256 digests. A presented key is hashed, the first 8 bytes of its
//! digest pick a bucket, and every digest in that bucket is compared with the whole presented
//! digest in constant time: the time a lookup takes depends on digests only, and a digest
//! tells nothing usable about a key. Owns reading key entries from mounted Secret files or a
//! standalone manifest; must not log or keep a presented key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agw_policy::bundle::KeySource;
use agw_policy::client_keys::{self, EntryError, KeyEntry};
use agw_policy::manifest::Documents;
use subtle::ConstantTimeEq as _;

/// Who is calling, as the key table knows them.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    /// The identity name (the Secret entry's key).
    pub name: Arc<str>,
    /// Its groups.
    pub groups: Vec<String>,
}

/// Digests whose first 8 bytes agree, and their identities.
type Bucket = Vec<([u8; 32], Arc<Identity>)>;

/// The accepted keys of one backend.
#[derive(Debug, Default)]
pub struct KeyTable {
    buckets: HashMap<u64, Bucket>,
    count: usize,
}

/// Why a backend's keys could not be loaded; the whole configuration is then refused.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// A mounted key file or directory could not be read.
    #[error("cannot read client keys at {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Entries that are not keys, or keys shared by two identities.
    #[error("client keys: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Entries(Vec<EntryError>),
    /// A JWT provider's key set cannot be used.
    #[error("JWT key set of {at}: {reason}")]
    Jwks {
        /// The provider or the object holding the set.
        at: String,
        /// What is wrong (never key material).
        reason: String,
    },
    /// The standalone manifest does not hold the named Secret.
    #[error("the client key Secret {0:?} is not in this file; add it as a document")]
    MissingSecret(String),
}

impl KeyTable {
    /// A table of `entries`, refusing two identities with one key.
    pub fn new(entries: Vec<KeyEntry>) -> Result<Self, KeysError> {
        let duplicates = client_keys::check_unique(&entries);
        if !duplicates.is_empty() {
            return Err(KeysError::Entries(duplicates));
        }
        let mut table = Self::default();
        for entry in entries {
            let identity = Arc::new(Identity {
                name: Arc::from(entry.identity.as_str()),
                groups: entry.groups,
            });
            table
                .buckets
                .entry(bucket(&entry.hash))
                .or_default()
                .push((entry.hash, identity));
            table.count += 1;
        }
        Ok(table)
    }

    /// How many identities the table holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// The identity whose key is `presented`, if any.
    pub fn find(&self, presented: &[u8]) -> Option<Arc<Identity>> {
        let digest = client_keys::hash_key(presented);
        let candidates = self.buckets.get(&bucket(&digest))?;
        let mut found = None;
        // Every candidate is compared in full, so the time does not say which one matched.
        for (hash, identity) in candidates {
            if bool::from(hash.ct_eq(&digest)) {
                found = Some(identity.clone());
            }
        }
        found
    }
}

fn bucket(digest: &[u8; 32]) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(head)
}

/// Reads the entries of `sources` from the pod's mounts; returns them and the paths to watch.
pub fn from_mounts(sources: &[KeySource]) -> Result<(Vec<KeyEntry>, Vec<PathBuf>), KeysError> {
    let (mut entries, mut errors, mut watched) = (Vec::new(), Vec::new(), Vec::new());
    for source in sources {
        let dir = PathBuf::from(&source.dir);
        let secrets: Vec<(String, PathBuf)> = match &source.secret {
            Some(name) => vec![(name.clone(), dir.clone())],
            // Label-selected Secrets: one directory each; none selected yet is no identity.
            None => match std::fs::read_dir(&dir) {
                Ok(_) => visible_entries(&dir)?
                    .into_iter()
                    .filter(|(_, path)| path.is_dir())
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(source) => return Err(KeysError::Read { path: dir, source }),
            },
        };
        watched.push(dir);
        for (secret, secret_dir) in secrets {
            let location = format!("Secret {}/{secret}", source.namespace);
            let mut values = Vec::new();
            for (name, path) in visible_entries(&secret_dir)? {
                let value = std::fs::read_to_string(&path)
                    .map_err(|source| KeysError::Read { path, source })?;
                values.push((name, value));
            }
            let (ok, bad) = client_keys::parse_secret(
                &location,
                values.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            );
            entries.extend(ok);
            errors.extend(bad);
        }
    }
    if errors.is_empty() {
        Ok((entries, watched))
    } else {
        Err(KeysError::Entries(errors))
    }
}

/// Reads the entries of `sources` from the Secrets of a standalone manifest.
pub fn from_documents(
    sources: &[KeySource],
    documents: &Documents,
) -> Result<Vec<KeyEntry>, KeysError> {
    let (mut entries, mut errors) = (Vec::new(), Vec::new());
    for source in sources {
        let secrets: Vec<_> = match (&source.secret, &source.match_labels) {
            (Some(name), _) => vec![
                documents
                    .secret(&source.namespace, name)
                    .ok_or_else(|| KeysError::MissingSecret(name.clone()))?,
            ],
            (None, Some(labels)) => documents
                .secrets
                .iter()
                .filter(|s| {
                    s.namespace
                        .as_deref()
                        .is_none_or(|ns| ns == source.namespace)
                })
                .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
                .collect(),
            (None, None) => Vec::new(),
        };
        for secret in secrets {
            let location = format!("Secret {}/{}", source.namespace, secret.name);
            let (ok, bad) = client_keys::parse_secret(
                &location,
                secret.data.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            );
            entries.extend(ok);
            errors.extend(bad);
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(KeysError::Entries(errors))
    }
}

/// A directory's entries as a mounted Secret shows them: kubelet's own `..data` links and
/// timestamped directories (names starting with `..`) are not entries.
fn visible_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, KeysError> {
    let read = std::fs::read_dir(dir).map_err(|source| KeysError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| KeysError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, key: &str) -> KeyEntry {
        client_keys::parse_entry("test", name, key).unwrap()
    }

    #[test]
    fn finds_the_identity_of_a_key_and_no_other() {
        let table = KeyTable::new(vec![
            entry("alice", "agw-alice-0123456789"),
            entry("bob", "agw-bob-0123456789ab"),
        ])
        .unwrap();
        assert_eq!(table.len(), 2);
        let found = table.find(b"agw-alice-0123456789").unwrap();
        assert_eq!(&*found.name, "alice");
        assert!(table.find(b"agw-alice-012345678").is_none());
        assert!(table.find(b"").is_none());
    }

    #[test]
    fn reads_a_mounted_secret_and_skips_kubelet_internals() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("..2026_01_01");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("alice"), "agw-alice-0123456789").unwrap();
        std::os::unix::fs::symlink(&data, dir.path().join("..data")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("..data/alice"), dir.path().join("alice"))
            .unwrap();
        let sources = [KeySource {
            namespace: "ns".into(),
            secret: Some("keys".into()),
            match_labels: None,
            dir: dir.path().display().to_string(),
        }];
        let (entries, watched) = from_mounts(&sources).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].identity, "alice");
        assert_eq!(watched, [dir.path().to_owned()]);
    }

    #[test]
    fn selected_secrets_are_one_directory_each_and_none_yet_is_no_identity() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(".selected/anthropic");
        let source = |dir: &Path| KeySource {
            namespace: "ns".into(),
            secret: None,
            match_labels: Some([("team".to_owned(), "a".to_owned())].into()),
            dir: dir.display().to_string(),
        };
        let (entries, _) = from_mounts(&[source(&dir)]).unwrap();
        assert!(entries.is_empty(), "no Secret selected yet");
        for (secret, identity, key) in [
            ("k1", "alice", "agw-alice-0123456789"),
            ("k2", "bob", "agw-bob-0123456789ab"),
        ] {
            std::fs::create_dir_all(dir.join(secret)).unwrap();
            std::fs::write(dir.join(secret).join(identity), key).unwrap();
        }
        let (entries, watched) = from_mounts(&[source(&dir)]).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.identity.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert_eq!(watched, [dir]);
    }

    #[test]
    fn a_bad_entry_refuses_the_table_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("carol"), r#"{"keyhash": "x"}"#).unwrap();
        let sources = [KeySource {
            namespace: "ns".into(),
            secret: Some("keys".into()),
            match_labels: None,
            dir: dir.path().display().to_string(),
        }];
        let err = from_mounts(&sources).unwrap_err().to_string();
        assert!(err.contains("Secret ns/keys data.carol"), "{err}");
    }
}
