//! `AgentgatewayPolicy`: client governance for the traffic of a Gateway or one of its
//! listeners — who may call (gateway keys, JWTs, allow rules) and how much (rate limits,
//! token budgets) — as agentgateway attaches it, with `spec.targetRefs` and `spec.traffic`.
//!
//! agw implements the four governance fields of agentgateway's traffic policy, with the
//! shapes a Backend's `spec.policies` uses ([`crate::client_auth`]); agentgateway's other
//! traffic, frontend and backend fields are declared so the compiler can refuse each by name.
//! Owns the shape only: what is valid is the compiler's (`agw_policy::compile_policy`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::client_auth::{ApiKeyAuthentication, Authorization, JwtAuthentication, RateLimit};
use crate::schema;

/// Kind name of the policy resource.
pub const POLICY_KIND: &str = "AgentgatewayPolicy";
/// The Gateway API group a target must name.
pub const GATEWAY_API_GROUP: &str = "gateway.networking.k8s.io";
/// A target kind: a Gateway, or one of its listeners with `sectionName`.
pub const TARGET_KIND: &str = "Gateway";
/// A target kind: an HTTPRoute in the policy's namespace (all its rules).
pub const ROUTE_TARGET_KIND: &str = "HTTPRoute";

/// Client governance for a Gateway's (or one listener's) traffic.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    kube(
        group = "agentgateway.dev",
        version = "v1alpha1",
        kind = "AgentgatewayPolicy",
        plural = "agentgatewaypolicies",
        shortname = "agpol",
        category = "agentgateway",
        namespaced,
        status = "status::PolicyStatus",
        doc = "Who may call through a Gateway or one of its listeners, and how much: gateway keys, JWTs, allow rules and budgets.",
        printcolumn = r#"{"name":"Accepted","type":"string","jsonPath":".status.ancestors[*].conditions[?(@.type==\"Accepted\")].status"}"#,
        printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AgentgatewayPolicySpec {
    /// What the policy attaches to, in the policy's namespace: Gateways, one listener of one
    /// (`sectionName`), or HTTPRoutes. A route's policy takes precedence over its listener's,
    /// and a listener's over its Gateway's.
    #[schemars(length(min = 1, max = 16))]
    pub target_refs: Vec<PolicyTargetRef>,
    /// agentgateway's label-selected targets. Not supported by agw: name the Gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub target_selectors: Option<serde_json::Value>,
    /// Governance of the requests: authentication, authorization and rate limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficPolicy>,
    /// agentgateway's frontend (listener connection) settings. Not supported by agw: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub frontend: Option<serde_json::Value>,
    /// agentgateway's backend (upstream connection) settings. Not supported by agw: a
    /// Backend's `spec.policies` configures its upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::unsupported")]
    pub backend: Option<serde_json::Value>,
}

/// One target: a Gateway in the policy's namespace, and optionally one of its listeners.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTargetRef {
    /// `gateway.networking.k8s.io`.
    pub group: String,
    /// `Gateway` or `HTTPRoute`.
    pub kind: String,
    /// The object's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// A Gateway listener's name; the whole Gateway when unset. Not supported for an
    /// HTTPRoute (agw governs a route's rules together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub section_name: Option<String>,
}

/// `spec.traffic`: the governance fields, as in a Backend's `spec.policies`. Other fields are
/// kept by the apiserver (`x-kubernetes-preserve-unknown-fields`) so the compiler names them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct TrafficPolicy {
    /// Clients present a gateway key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_authentication: Option<ApiKeyAuthentication>,
    /// Clients present a JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_authentication: Option<JwtAuthentication>,
    /// Which identities may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// Requests and tokens per unit of time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// agentgateway's other traffic settings (`cors`, `timeouts`, `extAuth`, …), each refused
    /// by name: agw implements the four fields above.
    #[serde(
        default,
        flatten,
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    #[schemars(skip)]
    pub unsupported: std::collections::BTreeMap<String, serde_json::Value>,
}

#[cfg(feature = "kube")]
pub use self::status::{PolicyAncestorRef, PolicyAncestorStatus, PolicyStatus};

#[cfg(feature = "kube")]
mod status {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// Gateway API's policy status: one entry per Gateway (or listener) the policy attaches to.
    #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct PolicyStatus {
        /// Per ancestor, the verdict of each controller that attaches the policy.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub ancestors: Vec<PolicyAncestorStatus>,
    }

    /// The status of the policy at one ancestor.
    #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct PolicyAncestorStatus {
        /// The Gateway (and listener) this entry is about.
        pub ancestor_ref: PolicyAncestorRef,
        /// The controller that wrote the entry.
        pub controller_name: String,
        /// `Accepted` (reasons `Accepted`, `Invalid`, `Conflicted`, `TargetNotFound`).
        #[serde(default)]
        pub conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
    }

    /// A Gateway, in Gateway API's `ParentReference` shape.
    #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct PolicyAncestorRef {
        /// `gateway.networking.k8s.io`.
        pub group: String,
        /// `Gateway`.
        pub kind: String,
        /// Its name.
        pub name: String,
        /// Its namespace.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub namespace: Option<String>,
        /// The listener, when the policy targets one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub section_name: Option<String>,
    }
}
