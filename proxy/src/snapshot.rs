//! What the proxy serves from: a validated bundle, its compiled guards and the API keys,
//! loaded together so a request never sees half of a reload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agw_policy::bundle::{self, BundleError};
use agw_policy::engine::{Engine, EngineError};
use agw_policy::manifest::{self, ManifestError, Unset};
use agw_policy::{Bundle, CompileOptions, Diagnostics};

use crate::clients::{self, BackendClients, KeyTable, KeysError};

/// Where the configuration comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A compiled bundle file (pods: mounted from the bundle Secret).
    Bundle(PathBuf),
    /// A standalone manifest with a Backend and its Secret.
    Config {
        /// The manifest file.
        path: PathBuf,
        /// Which Backend, when the file holds several.
        backend: Option<String>,
    },
}

/// Why a configuration could not be loaded; the previous one keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bundle is not one this proxy may serve.
    #[error("{path}: {source}")]
    Bundle {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: BundleError,
    },
    /// The standalone manifest could not be parsed.
    #[error("{path}: {source}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: ManifestError,
    },
    /// The Backend does not compile.
    #[error("{path}: the Backend is invalid:\n{source}")]
    Compile {
        /// The file.
        path: PathBuf,
        /// Every diagnostic.
        source: Diagnostics,
    },
    /// The manifest has no (or no unambiguous) Backend.
    #[error("{path}: {message}")]
    Backend {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The guards could not be built.
    #[error("guards could not be built: {0}")]
    Engine(#[from] EngineError),
    /// A backend's client keys could not be loaded: no request is let in on guesswork.
    #[error("backend {backend}: {source}")]
    Clients {
        /// The backend key.
        backend: String,
        /// What is wrong.
        #[source]
        source: KeysError,
    },
}

/// A loaded configuration.
#[derive(Debug)]
pub struct Snapshot {
    /// The bundle.
    pub bundle: Bundle,
    /// Its guards.
    pub engine: Engine,
    /// API key per backend key (`None`: no auth, or the key file is missing — see `key_errors`).
    pub keys: BTreeMap<String, Option<String>>,
    /// Why a key is missing, per backend key.
    pub key_errors: BTreeMap<String, String>,
    /// Files whose change triggers a reload.
    pub watched: Vec<PathBuf>,
    /// Client policy per backend key (absent: anyone, unlimited).
    pub clients: BTreeMap<String, Arc<BackendClients>>,
}

impl Source {
    /// Loads and validates everything; any error leaves the caller's current snapshot alone.
    pub fn load(&self) -> Result<Snapshot, LoadError> {
        match self {
            Self::Bundle(path) => load_bundle(path),
            Self::Config { path, backend } => load_config(path, backend.as_deref()),
        }
    }

    /// The main file.
    pub fn path(&self) -> &Path {
        match self {
            Self::Bundle(path) | Self::Config { path, .. } => path,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}

fn load_bundle(path: &Path) -> Result<Snapshot, LoadError> {
    let bytes = read(path)?;
    let bundle = bundle::parse_bundle(&bytes).map_err(|source| LoadError::Bundle {
        path: path.to_owned(),
        source,
    })?;
    let engine = Engine::from_bundle(&bundle)?;
    let mut snapshot = Snapshot {
        engine,
        keys: BTreeMap::new(),
        key_errors: BTreeMap::new(),
        watched: vec![path.to_owned()],
        clients: BTreeMap::new(),
        bundle,
    };
    for (key, backend) in &snapshot.bundle.backends {
        let Some(policy) = &backend.clients else {
            continue;
        };
        let keys = if policy.key_sources.is_empty() {
            None
        } else {
            let (entries, watched) =
                clients::keys::from_mounts(&policy.key_sources).map_err(clients_error(key))?;
            snapshot.watched.extend(watched);
            Some(KeyTable::new(entries).map_err(clients_error(key))?)
        };
        let (jwt, watched) =
            clients::jwt::load::from_mounts(&policy.jwt_providers).map_err(clients_error(key))?;
        snapshot.watched.extend(watched);
        let clients = BackendClients::new(key, policy, keys, jwt);
        snapshot.clients.insert(key.clone(), Arc::new(clients));
    }
    let auths: Vec<(String, Option<agw_policy::bundle::Auth>)> = snapshot
        .bundle
        .backends
        .iter()
        .map(|(k, b)| (k.clone(), b.auth.clone()))
        .collect();
    for (key, auth) in auths {
        let Some(auth) = auth else {
            snapshot.keys.insert(key, None);
            continue;
        };
        let file = PathBuf::from(&auth.secret_file);
        match std::fs::read_to_string(&file) {
            Ok(value) => {
                snapshot.keys.insert(key, Some(clean_key(&value)));
            }
            Err(e) => {
                let why = format!(
                    "{} (Secret {}/{} key {}): {e}",
                    file.display(),
                    auth.secret.namespace,
                    auth.secret.name,
                    auth.secret.key
                );
                snapshot.key_errors.insert(key.clone(), why);
                snapshot.keys.insert(key, None);
            }
        }
        snapshot.watched.push(file);
    }
    Ok(snapshot)
}

fn load_config(path: &Path, wanted: Option<&str>) -> Result<Snapshot, LoadError> {
    let bytes = read(path)?;
    let manifest_error = |source| LoadError::Manifest {
        path: path.to_owned(),
        source,
    };
    let documents = manifest::parse_bytes(&bytes, |name| std::env::var(name).ok(), Unset::Error)
        .map_err(manifest_error)?;
    let backend_error = |message: String| LoadError::Backend {
        path: path.to_owned(),
        message,
    };
    let doc = match (documents.backends.as_slice(), wanted) {
        ([], _) => return Err(backend_error("no Backend in this file".into())),
        (all, Some(name)) => all
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| backend_error(format!("no Backend named {name:?}")))?,
        ([only], None) => only,
        (all, None) => {
            return Err(backend_error(format!(
                "{} Backends in this file; choose one with --backend",
                all.len()
            )));
        }
    };
    let namespace = doc
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let opts =
        CompileOptions::new(namespace.clone(), doc.name.clone()).with_generation(doc.generation);
    let compiled = agw_policy::compile(&doc.spec, &opts).map_err(|source| LoadError::Compile {
        path: path.to_owned(),
        source,
    })?;
    let key = opts.backend_key();
    let api_key = match compiled
        .bundle
        .backends
        .get(&key)
        .and_then(|b| b.auth.as_ref())
    {
        None => None,
        Some(auth) => {
            let secret = documents
                .secret(&namespace, &auth.secret.name)
                .ok_or_else(|| {
                    backend_error(format!(
                        "the Backend's auth Secret {:?} is not in this file; add it as a document",
                        auth.secret.name
                    ))
                })?;
            let value = secret.data.get(&auth.secret.key).ok_or_else(|| {
                backend_error(format!(
                    "Secret {:?} has no key {:?}",
                    auth.secret.name, auth.secret.key
                ))
            })?;
            Some(clean_key(value))
        }
    };
    let engine = Engine::from_bundle(&compiled.bundle)?;
    let mut clients = BTreeMap::new();
    if let Some(policy) = compiled
        .bundle
        .backends
        .get(&key)
        .and_then(|b| b.clients.as_ref())
    {
        let keys = if policy.key_sources.is_empty() {
            None
        } else {
            let entries = clients::keys::from_documents(&policy.key_sources, &documents)
                .map_err(clients_error(&key))?;
            Some(KeyTable::new(entries).map_err(clients_error(&key))?)
        };
        let jwt = clients::jwt::load::from_documents(&policy.jwt_providers, &documents)
            .map_err(clients_error(&key))?;
        clients.insert(
            key.clone(),
            Arc::new(BackendClients::new(&key, policy, keys, jwt)),
        );
    }
    Ok(Snapshot {
        bundle: compiled.bundle,
        engine,
        keys: BTreeMap::from([(key, api_key)]),
        key_errors: BTreeMap::new(),
        watched: vec![path.to_owned()],
        clients,
    })
}

fn clients_error(backend: &str) -> impl Fn(KeysError) -> LoadError + '_ {
    move |source| LoadError::Clients {
        backend: backend.to_owned(),
        source,
    }
}

/// Secrets are often written with a trailing newline or as `Bearer <key>`.
fn clean_key(value: &str) -> String {
    let value = value.trim();
    value
        .strip_prefix("Bearer ")
        .unwrap_or(value)
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_lose_bearer_and_whitespace() {
        assert_eq!(clean_key("Bearer sk-ant-1\n"), "sk-ant-1");
        assert_eq!(clean_key(" sk-ant-2 "), "sk-ant-2");
    }
}
