//! Gateway key Secrets (`spec.policies.apiKeyAuthentication`) and JWT key sets held in a
//! Secret or ConfigMap (`jwtAuthentication.providers[].jwks`) in proxy pods: which objects a
//! compiled Backend reads, where each is mounted (the directories the bundle names), and
//! which Backends a changed Secret concerns.
//!
//! Owns resolving `secretSelector` to Secret names (from the metadata-only Secret watch's
//! cache, never a list per reconcile) and the watch mapping. Must not read key values: the proxy reads and validates the entries, and re-reads
//! them when kubelet updates a mounted Secret, so a key edit needs no rollout; a change in
//! which Secrets are selected rolls the pods.

use std::collections::BTreeMap;
use std::sync::Arc;

use agw_crds::{ApiKeyAuthentication, BackendSpec, JwtAuthentication};
use agw_policy::bundle::{BundleBackend, ClientPolicy, JwksSource, MountedJwks};
use agw_policy::{client_keys, jwks};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};

use crate::Error;
use crate::status::ClientKeys;
use crate::stores::listed;

/// A key Secret (or a ConfigMap holding a JWT key set) and the directory it is mounted at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMount {
    /// Secret (or ConfigMap) name, in the Backend's namespace.
    pub secret: String,
    /// Mount path in the pod.
    pub path: String,
    /// Whether `secret` names a ConfigMap.
    pub config_map: bool,
    /// Whether it holds a JWT key set (then [`check`] leaves it to [`check_jwks`]).
    pub jwks: bool,
}

/// A JWT key set the operator checks: which object and key.
#[derive(Clone, Debug, PartialEq, Eq)]
struct JwksRef {
    kind: String,
    name: String,
    key: String,
}

/// The compiled backends of one bundle (a Backend's own, or a Gateway's), by bundle key.
pub type Backends = BTreeMap<String, BundleBackend>;

/// The key Secrets of compiled backends in `namespace`: named ones at their directory,
/// selected ones each in its own directory under the selector's, each object once (two
/// backends may share a key Secret). `secrets` is the cache of the Secret metadata watch; a
/// selector waits for its first full list, so a starting operator never rolls pods to a
/// selection it has only half seen.
pub async fn mounts(
    secrets: &Store<PartialObjectMeta<Secret>>,
    namespace: &str,
    backends: &Backends,
) -> Result<Vec<KeyMount>, Error> {
    mounts_for(secrets, namespace, &clients_of(backends)).await
}

/// The client policies of compiled backends.
pub fn clients_of(backends: &Backends) -> Vec<&ClientPolicy> {
    backends
        .values()
        .filter_map(|b| b.clients.as_ref())
        .collect()
}

/// [`mounts`] for client policies (a Backend's, or an AgentgatewayPolicy's).
pub async fn mounts_for(
    secrets: &Store<PartialObjectMeta<Secret>>,
    namespace: &str,
    clients: &[&ClientPolicy],
) -> Result<Vec<KeyMount>, Error> {
    let mut out: Vec<KeyMount> = Vec::new();
    let sources = clients.iter().flat_map(|c| c.key_sources.iter());
    for source in sources {
        match (&source.secret, &source.match_labels) {
            (Some(secret), _) => push_once(
                &mut out,
                KeyMount {
                    secret: secret.clone(),
                    path: source.dir.clone(),
                    config_map: false,
                    jwks: false,
                },
            ),
            (None, Some(labels)) => {
                listed(secrets)
                    .await
                    .map_err(|_| Error::CacheClosed("Secret"))?;
                for secret in selected(&secrets.state(), namespace, labels) {
                    let path = format!("{}/{secret}", source.dir);
                    push_once(
                        &mut out,
                        KeyMount {
                            secret,
                            path,
                            config_map: false,
                            jwks: false,
                        },
                    );
                }
            }
            (None, None) => {}
        }
    }
    for mounted in jwks_refs(clients) {
        // One Secret may hold keys for two providers: one volume.
        push_once(
            &mut out,
            KeyMount {
                secret: mounted.name.clone(),
                path: mounted.dir.clone(),
                config_map: mounted.kind == "ConfigMap",
                jwks: true,
            },
        );
    }
    Ok(out)
}

fn push_once(mounts: &mut Vec<KeyMount>, mount: KeyMount) {
    if !mounts.contains(&mount) {
        mounts.push(mount);
    }
}

fn jwks_refs<'a>(clients: &[&'a ClientPolicy]) -> impl Iterator<Item = &'a MountedJwks> {
    clients
        .iter()
        .flat_map(|c| c.jwt_providers.iter())
        .filter_map(|p| match &p.jwks {
            JwksSource::Mounted(mounted) => Some(mounted),
            JwksSource::Inline(_) | JwksSource::Remote { .. } => None,
        })
}

/// Reads what client policies authenticate with, as the proxy will: the key Secrets of
/// `mounts` (see [`check`]) and the JWT key sets (see [`check_jwks`]), into the identity and
/// provider counts, or why they are not usable; `NotConfigured` when none authenticates.
/// One verdict for a Backend's own settings and an AgentgatewayPolicy's.
pub async fn verify(
    client: &Client,
    namespace: &str,
    clients: &[&ClientPolicy],
    mounts: &[KeyMount],
) -> Result<ClientKeys, Error> {
    if !clients.iter().any(|c| c.authenticates()) {
        return Ok(ClientKeys::NotConfigured);
    }
    let keys = check(client, namespace, mounts).await?;
    check_jwks(client, namespace, clients, keys).await
}

/// Reads the JWT key sets client policies mount, as the proxy will: `keys` with the number
/// of providers, or why a set is missing or unusable.
async fn check_jwks(
    client: &Client,
    namespace: &str,
    clients: &[&ClientPolicy],
    keys: ClientKeys,
) -> Result<ClientKeys, Error> {
    let providers: usize = clients.iter().map(|c| c.jwt_providers.len()).sum();
    let mut problems = Vec::new();
    for mounted in jwks_refs(clients) {
        let wanted = JwksRef {
            kind: mounted.kind.clone(),
            name: mounted.name.clone(),
            key: mounted.key.clone(),
        };
        if let Some(problem) = read_jwks(client, namespace, &wanted).await? {
            problems.push(problem);
        }
    }
    Ok(match keys {
        _ if !problems.is_empty() => ClientKeys::InvalidJwks(problems.join("; ")),
        ClientKeys::Valid { identities, .. } => ClientKeys::Valid {
            identities,
            jwt_providers: providers,
        },
        ClientKeys::NotConfigured if providers > 0 => ClientKeys::Valid {
            identities: 0,
            jwt_providers: providers,
        },
        other => other,
    })
}

async fn read_jwks(
    client: &Client,
    namespace: &str,
    wanted: &JwksRef,
) -> Result<Option<String>, Error> {
    let at = format!("{} {namespace}/{}", wanted.kind, wanted.name);
    let kube_error = |source| Error::Kube {
        action: format!("reading {at}"),
        source,
    };
    let value: Option<Vec<u8>> = if wanted.kind == "ConfigMap" {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let Some(map) = api.get_opt(&wanted.name).await.map_err(kube_error)? else {
            return Ok(Some(format!("{at} not found")));
        };
        map.data
            .unwrap_or_default()
            .remove(&wanted.key)
            .map(String::into_bytes)
    } else {
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let Some(secret) = api.get_opt(&wanted.name).await.map_err(kube_error)? else {
            return Ok(Some(format!("{at} not found")));
        };
        secret
            .data
            .unwrap_or_default()
            .remove(&wanted.key)
            .map(|v| v.0)
    };
    Ok(match value {
        None => Some(format!("{at} has no key {:?}", wanted.key)),
        Some(text) => jwks::parse(&text)
            .err()
            .map(|e| format!("{at} key {}: {e}", wanted.key)),
    })
}

/// The names of the Secrets in `namespace` whose labels include all of `labels`, sorted.
fn selected(
    secrets: &[Arc<PartialObjectMeta<Secret>>],
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut names: Vec<String> = secrets
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(namespace) && has_labels(s.as_ref(), labels))
        .map(|s| s.name_any())
        .collect();
    names.sort();
    names
}

/// Reads the key Secrets of `mounts` as the proxy will: the identity count, or every reason
/// an entry is not usable (named, never quoted). A missing Secret is a reason too: the pod
/// cannot start without it.
async fn check(client: &Client, namespace: &str, mounts: &[KeyMount]) -> Result<ClientKeys, Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let (mut entries, mut problems) = (Vec::new(), Vec::new());
    for mount in mounts.iter().filter(|m| !m.jwks) {
        let found = secrets
            .get_opt(&mount.secret)
            .await
            .map_err(|source| Error::Kube {
                action: format!("reading Secret {namespace}/{}", mount.secret),
                source,
            })?;
        let Some(secret) = found else {
            problems.push(format!("Secret {namespace}/{} not found", mount.secret));
            continue;
        };
        let values: Vec<(String, String)> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
            .collect();
        let location = format!("Secret {namespace}/{}", mount.secret);
        let (ok, bad) = client_keys::parse_secret(
            &location,
            values.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        entries.extend(ok);
        problems.extend(bad.iter().map(ToString::to_string));
    }
    problems.extend(
        client_keys::check_unique(&entries)
            .iter()
            .map(ToString::to_string),
    );
    Ok(if problems.is_empty() {
        ClientKeys::Valid {
            identities: entries.len(),
            jwt_providers: 0,
        }
    } else {
        ClientKeys::Invalid(problems.join("; "))
    })
}

/// Whether `secret` (in the Backend's namespace) holds, or may now hold, its client keys.
pub fn refers_to<S: kube::Resource>(spec: &BackendSpec, secret: &S) -> bool {
    let policies = spec.policies.as_ref();
    keys_refer_to(
        policies.and_then(|p| p.api_key_authentication.as_ref()),
        policies.and_then(|p| p.jwt_authentication.as_ref()),
        secret,
    )
}

/// Whether `secret` (in the namespace of whoever configured them) holds, or may now hold,
/// the gateway keys or a JWT key set of these settings — a Backend's or a policy's.
pub fn keys_refer_to<S: kube::Resource>(
    api_keys: Option<&ApiKeyAuthentication>,
    jwt: Option<&JwtAuthentication>,
    secret: &S,
) -> bool {
    let jwks = jwt.is_some_and(|jwt| {
        jwt.providers.iter().any(|p| {
            p.jwks
                .secret_ref
                .as_ref()
                .is_some_and(|r| r.name.trim() == secret.name_any())
        })
    });
    if jwks {
        return true;
    }
    let Some(keys) = api_keys else {
        return false;
    };
    let named = keys
        .secret_ref
        .as_ref()
        .is_some_and(|r| r.name.trim() == secret.name_any());
    let selected = keys
        .secret_selector
        .as_ref()
        .is_some_and(|s| has_labels(secret, &s.match_labels));
    named || selected
}

/// Whether `object` carries every label of `wanted` (a `matchLabels` selector).
fn has_labels<R: kube::Resource>(object: &R, wanted: &BTreeMap<String, String>) -> bool {
    let have = object.labels();
    wanted.iter().all(|(k, v)| have.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use agw_crds::{ApiKeyAuthentication, BackendPolicies, LocalSecretRef, SecretSelector};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::core::PartialObjectMetaExt as _;

    use super::*;

    fn secret(name: &str, labels: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }
    }

    fn spec(keys: ApiKeyAuthentication) -> BackendSpec {
        BackendSpec {
            policies: Some(BackendPolicies {
                api_key_authentication: Some(keys),
                ..BackendPolicies::default()
            }),
            ..BackendSpec::default()
        }
    }

    #[test]
    fn a_named_or_selected_secret_concerns_the_backend() {
        let named = spec(ApiKeyAuthentication {
            secret_ref: Some(LocalSecretRef {
                name: "team-keys".into(),
            }),
            ..ApiKeyAuthentication::default()
        });
        assert!(refers_to(&named, &secret("team-keys", &[])));
        assert!(!refers_to(&named, &secret("other", &[])));
        let selected = spec(ApiKeyAuthentication {
            secret_selector: Some(SecretSelector {
                match_labels: BTreeMap::from([("team".into(), "a".into())]),
            }),
            ..ApiKeyAuthentication::default()
        });
        assert!(refers_to(
            &selected,
            &secret("k1", &[("team", "a"), ("x", "y")])
        ));
        assert!(!refers_to(&selected, &secret("k2", &[("team", "b")])));
        assert!(!refers_to(
            &BackendSpec::default(),
            &secret("team-keys", &[])
        ));
    }

    #[test]
    fn a_selector_picks_secrets_of_its_namespace_carrying_all_its_labels() {
        let meta = |namespace: &str, name: &str, labels: &[(&str, &str)]| {
            let mut meta = secret(name, labels).metadata;
            meta.namespace = Some(namespace.to_owned());
            Arc::new(meta.into_request_partial::<Secret>())
        };
        let cache = [
            meta("team", "b-keys", &[("agw.dev/keys", "team"), ("x", "y")]),
            meta("team", "a-keys", &[("agw.dev/keys", "team")]),
            meta("team", "other", &[("agw.dev/keys", "other")]),
            meta("elsewhere", "c-keys", &[("agw.dev/keys", "team")]),
            meta("team", "unlabelled", &[]),
        ];
        let wanted = BTreeMap::from([("agw.dev/keys".to_owned(), "team".to_owned())]);
        assert_eq!(selected(&cache, "team", &wanted), ["a-keys", "b-keys"]);
        assert!(selected(&cache, "nobody", &wanted).is_empty());
    }
}
