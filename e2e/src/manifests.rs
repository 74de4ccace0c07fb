//! Rendered manifests as objects, for comparing two renderings (`helm template` against
//! `kubectl kustomize`). Owns: splitting multi-document YAML into objects keyed by
//! kind/namespace/name, and removing exactly the metadata Helm adds of its own. Must not:
//! normalize anything else — every difference it hides is one the drift test cannot see.

use std::collections::BTreeMap;

use serde::Deserialize as _;
use serde_json::Value;

use crate::error::{Error, Result};

/// Labels Helm charts put on every object to record the release; not part of what agw installs.
pub const HELM_LABELS: &[&str] = &[
    "helm.sh/chart",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
];

/// Annotations that are instructions to Helm itself (the agw-crds chart's `keep` policy).
pub const HELM_ANNOTATIONS: &[&str] = &["helm.sh/resource-policy"];

/// `Kind namespace/name` (namespace empty for cluster-scoped objects).
pub type ObjectKey = String;

/// Every object of a multi-document YAML stream (empty documents skipped), by key. `what`
/// names the stream in errors. Two objects with one key are an error: one would hide the other.
pub fn objects(what: &str, yaml: &str) -> Result<BTreeMap<ObjectKey, Value>> {
    let mut out = BTreeMap::new();
    for document in serde_norway::Deserializer::from_str(yaml) {
        let value = Value::deserialize(document).map_err(|e| invalid(what, e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let key = key(&value).ok_or_else(|| invalid(what, format!("no kind or name: {value}")))?;
        if out.insert(key.clone(), value).is_some() {
            return Err(invalid(what, format!("{key} appears twice")));
        }
    }
    Ok(out)
}

/// The object's `Kind namespace/name`.
pub fn key(object: &Value) -> Option<ObjectKey> {
    let kind = object.get("kind")?.as_str()?;
    let meta = object.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    let namespace = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
    Some(format!("{kind} {namespace}/{name}"))
}

/// Removes [`HELM_LABELS`] and [`HELM_ANNOTATIONS`] from the object's own metadata (a map left
/// empty is removed too, as it was absent before Helm). Selectors and pod templates are not
/// touched: the chart must not put Helm's labels there.
pub fn strip_helm_metadata(object: &mut Value) {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, keys) in [("labels", HELM_LABELS), ("annotations", HELM_ANNOTATIONS)] {
        let Some(map) = meta.get_mut(field).and_then(Value::as_object_mut) else {
            continue;
        };
        for key in keys {
            map.remove(*key);
        }
        if map.is_empty() {
            meta.remove(field);
        }
    }
}

fn invalid(what: &str, message: String) -> Error {
    Error::InvalidManifest {
        path: what.into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_keyed_and_helm_metadata_alone_is_stripped() {
        let yaml = "# header\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  \
                    namespace: ns\n  labels:\n    helm.sh/chart: agw-0.1.0\n    app: x\n---\n\
                    apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  labels:\n    \
                    app.kubernetes.io/managed-by: Helm\n  annotations:\n    \
                    helm.sh/resource-policy: keep\n    other: kept\n";
        let mut objects = objects("test", yaml).unwrap();
        assert_eq!(
            objects.keys().collect::<Vec<_>>(),
            ["Namespace /ns", "ServiceAccount ns/a"]
        );
        for object in objects.values_mut() {
            strip_helm_metadata(object);
        }
        assert_eq!(
            objects["ServiceAccount ns/a"]["metadata"]["labels"],
            serde_json::json!({"app": "x"})
        );
        let ns = &objects["Namespace /ns"]["metadata"];
        assert!(ns.get("labels").is_none(), "{ns}");
        assert_eq!(ns["annotations"], serde_json::json!({"other": "kept"}));
    }

    #[test]
    fn a_key_twice_is_an_error() {
        let doc = "kind: A\nmetadata: {name: x}\n";
        let err = objects("twice", &format!("{doc}---\n{doc}")).unwrap_err();
        assert!(err.to_string().contains("A /x appears twice"), "{err}");
    }
}
