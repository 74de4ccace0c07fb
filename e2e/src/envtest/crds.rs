//! CustomResourceDefinitions on a test control plane. Owns: reading CRD manifests (the repo's
//! `crds/*.yaml`, or others such as the Gateway API's), server-side applying them, and waiting
//! until each is Established *and* served by discovery — kubectl maps kinds through discovery,
//! so a CRD that is Established but not yet listed fails `kubectl apply` with "no matches for
//! kind". Must not: accept a CRD the apiserver does not: a non-structural schema is an error
//! here, which is how the tests prove `crds/backend.yaml` is valid.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};
use serde::Deserialize as _;

use crate::binaries::workspace_root;
use crate::error::{Error, Result};

/// Field manager of everything the harness applies.
pub const FIELD_MANAGER: &str = "agw-e2e";
const ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(30);

/// The repository's CRD manifests: `<root>/crds/*.yaml`, sorted.
pub fn repo_crd_files() -> Result<Vec<PathBuf>> {
    let dir = workspace_root().join("crds");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
            .path();
        if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Every CustomResourceDefinition in `path` (a file of one or more YAML documents, or a
/// directory of such files). Documents of other kinds are an error: a CRD file that also holds
/// something else is not what the caller thinks it is.
pub fn read_crds(path: &Path) -> Result<Vec<CustomResourceDefinition>> {
    if path.is_dir() {
        let mut all = Vec::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(format!("listing {}", path.display()), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
            })
            .collect();
        files.sort();
        for file in files {
            all.extend(read_crds(&file)?);
        }
        return Ok(all);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let invalid = |message: String| Error::InvalidManifest {
        path: path.to_path_buf(),
        message,
    };
    let mut crds = Vec::new();
    for (index, document) in serde_norway::Deserializer::from_str(&text).enumerate() {
        let value = serde_json::Value::deserialize(document)
            .map_err(|e| invalid(format!("document {index}: {e}")))?;
        if value.is_null() {
            continue; // an empty document, e.g. after a trailing `---`
        }
        if value.get("kind").and_then(serde_json::Value::as_str) != Some("CustomResourceDefinition")
        {
            return Err(invalid(format!(
                "document {index} is not a CustomResourceDefinition"
            )));
        }
        let crd =
            serde_json::from_value(value).map_err(|e| invalid(format!("document {index}: {e}")))?;
        crds.push(crd);
    }
    Ok(crds)
}

/// Applies `crds` and waits until each is Established and listed by discovery. Returns their
/// names.
pub async fn install(client: &Client, crds: &[CustomResourceDefinition]) -> Result<Vec<String>> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::with_capacity(crds.len());
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let mut crd = crd.clone();
        // Server-side apply refuses a body carrying server-owned metadata.
        crd.metadata.resource_version = None;
        crd.metadata.managed_fields = None;
        crd.status = None;
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(|e| Error::kube(format!("applying CustomResourceDefinition {name}"), e))?;
        names.push(name);
    }
    for crd in crds {
        wait_established(&api, crd).await?;
        wait_discoverable(client, crd).await?;
        wait_published(client, crd).await?;
    }
    Ok(names)
}

async fn wait_established(
    api: &Api<CustomResourceDefinition>,
    crd: &CustomResourceDefinition,
) -> Result<()> {
    let name = crd.metadata.name.clone().unwrap_or_default();
    let established = await_condition(api.clone(), &name, conditions::is_crd_established());
    match tokio::time::timeout(ESTABLISHED_TIMEOUT, established).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Error::Watch {
            what: format!("CustomResourceDefinition {name}"),
            message: e.to_string(),
        }),
        Err(_) => Err(Error::Timeout {
            what: format!("CustomResourceDefinition {name} to be Established"),
            waited: ESTABLISHED_TIMEOUT,
        }),
    }
}

async fn wait_discoverable(client: &Client, crd: &CustomResourceDefinition) -> Result<()> {
    let plural = &crd.spec.names.plural;
    let started = Instant::now();
    for version in crd.spec.versions.iter().filter(|v| v.served) {
        let group_version = format!("{}/{}", crd.spec.group, version.name);
        loop {
            let listed = client.list_api_group_resources(&group_version).await;
            if listed.is_ok_and(|list| list.resources.iter().any(|r| &r.name == plural)) {
                break;
            }
            if started.elapsed() > ESTABLISHED_TIMEOUT {
                return Err(Error::Timeout {
                    what: format!("{plural} to appear in discovery of {group_version}"),
                    waited: ESTABLISHED_TIMEOUT,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// Waits until the OpenAPI v3 document of each served version describes the kind: the
/// apiserver publishes CRD schemas asynchronously, and `kubectl explain` (and client-side
/// validation) read them from there.
async fn wait_published(client: &Client, crd: &CustomResourceDefinition) -> Result<()> {
    let kind = &crd.spec.names.kind;
    let started = Instant::now();
    for version in crd.spec.versions.iter().filter(|v| v.served) {
        let path = format!("/openapi/v3/apis/{}/{}", crd.spec.group, version.name);
        loop {
            if let Ok(request) = http::Request::get(path.as_str()).body(Vec::new())
                && let Ok(document) = client.request::<serde_json::Value>(request).await
                && describes_kind(&document, &crd.spec.group, &version.name, kind)
            {
                break;
            }
            if started.elapsed() > ESTABLISHED_TIMEOUT {
                return Err(Error::Timeout {
                    what: format!("{kind} to be published at {path}"),
                    waited: ESTABLISHED_TIMEOUT,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// Whether an OpenAPI v3 document has a schema tagged with this group/version/kind.
fn describes_kind(document: &serde_json::Value, group: &str, version: &str, kind: &str) -> bool {
    let Some(schemas) = document
        .pointer("/components/schemas")
        .and_then(serde_json::Value::as_object)
    else {
        return false;
    };
    schemas
        .values()
        .filter_map(|s| s.get("x-kubernetes-group-version-kind")?.as_array())
        .flatten()
        .any(|gvk| {
            gvk.get("group").and_then(serde_json::Value::as_str) == Some(group)
                && gvk.get("version").and_then(serde_json::Value::as_str) == Some(version)
                && gvk.get("kind").and_then(serde_json::Value::as_str) == Some(kind)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repo_crds_parse() {
        let files = repo_crd_files().unwrap();
        assert!(
            files.iter().any(|f| f.ends_with("crds/backend.yaml")),
            "{files:?}"
        );
        let plurals: Vec<String> = files
            .iter()
            .flat_map(|f| read_crds(f).unwrap())
            .map(|c| c.spec.names.plural)
            .collect();
        for plural in ["agentgatewaybackends", "agentgatewaypolicies", "backends"] {
            assert!(
                plurals.iter().any(|p| p == plural),
                "{plural} in {plurals:?}"
            );
        }
    }

    #[test]
    fn a_document_of_another_kind_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.yaml");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        )
        .unwrap();
        let err = read_crds(&file).unwrap_err().to_string();
        assert!(
            err.contains("document 0 is not a CustomResourceDefinition"),
            "{err}"
        );
    }
}
