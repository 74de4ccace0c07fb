//! `Backend.status`, written by the operator with server-side apply.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a Backend.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Digest of the bundle the proxy serves (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_digest: Option<String>,
    /// Number of prompt guards in the served bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guards: Option<i32>,
    /// Identities with a gateway key in the key Secrets (`apiKeyAuthentication`); absent
    /// without client authentication. The names and keys stay in the Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<i32>,
    /// JWT issuers configured (`jwtAuthentication.providers`) whose key sets resolve; absent
    /// without JWT authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_providers: Option<i32>,
    /// `Accepted`, `ResolvedRefs`, `Programmed` and `Ready` (see `agw_crds::conditions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// What the operator needs from either Backend kind (`Backend`, `AgentgatewayBackend`): both
/// carry the same spec and status, so one reconciler serves them.
pub trait BackendObject:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
{
    /// The spec.
    fn backend_spec(&self) -> &crate::BackendSpec;
    /// The status, when one was written.
    fn backend_status(&self) -> Option<&BackendStatus>;
}

impl BackendObject for crate::Backend {
    fn backend_spec(&self) -> &crate::BackendSpec {
        &self.spec
    }
    fn backend_status(&self) -> Option<&BackendStatus> {
        self.status.as_ref()
    }
}

impl BackendObject for crate::AgentgatewayBackend {
    fn backend_spec(&self) -> &crate::BackendSpec {
        &self.spec.0
    }
    fn backend_status(&self) -> Option<&BackendStatus> {
        self.status.as_ref()
    }
}
