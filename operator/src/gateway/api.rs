//! The part of the Gateway API (`gateway.networking.k8s.io`, standard channel) the operator
//! reads: GatewayClass, Gateway, HTTPRoute and ReferenceGrant.
//!
//! Hand-written rather than taken from the `gateway-api` crate because that crate is built on
//! an older `kube`/`k8s-openapi` than this workspace. Only fields agw acts on are declared;
//! serde ignores the rest, so newer CRDs still parse. Statuses are written as JSON patches by
//! [`super::status`], never through these types, so no field of another controller is lost.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of the Gateway API.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// `GatewayClass.spec`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "GatewayClass",
    status = "ClassStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClassSpec {
    /// The controller that manages Gateways of this class.
    pub controller_name: String,
}

/// `GatewayClass.status`, read to carry condition transition times.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ClassStatus {
    /// Conditions.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// `Gateway.spec`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "Gateway",
    namespaced,
    status = "GatewayStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// Name of the GatewayClass.
    pub gateway_class_name: String,
    /// Listeners.
    #[serde(default)]
    pub listeners: Vec<Listener>,
}

/// One listener of a Gateway.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    /// Unique name within the Gateway (a route's `sectionName`).
    pub name: String,
    /// Host name requests must carry; absent means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Port.
    pub port: i32,
    /// `HTTP`, `HTTPS`, `TLS`, `TCP`, `UDP` or an implementation's own.
    pub protocol: String,
    /// Which routes may attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_routes: Option<AllowedRoutes>,
}

/// `listeners[].allowedRoutes`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowedRoutes {
    /// Namespaces routes may come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<RouteNamespaces>,
}

/// `allowedRoutes.namespaces`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteNamespaces {
    /// `Same` (default), `All` or `Selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// With `Selector`: labels the route's namespace must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// The `matchLabels` part of a label selector (expressions are not supported).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must all be present with these values.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions; agw does not evaluate them and refuses such a listener.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<serde_json::Value>,
}

/// `Gateway.status`, which agw owns for Gateways of its class.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    /// Where clients reach the Gateway (the Service's cluster IP).
    #[serde(default)]
    pub addresses: Vec<GatewayAddress>,
    /// Conditions.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Listener statuses.
    #[serde(default)]
    pub listeners: Vec<ListenerStatus>,
}

/// `status.addresses[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayAddress {
    /// `IPAddress` or `Hostname`.
    #[serde(rename = "type")]
    pub address_type: String,
    /// The address.
    pub value: String,
}

/// `status.listeners[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListenerStatus {
    /// Listener name.
    pub name: String,
    /// Route kinds the listener accepts.
    #[serde(default)]
    pub supported_kinds: Vec<RouteGroupKind>,
    /// Routes attached to it.
    #[serde(default)]
    pub attached_routes: i32,
    /// Conditions.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// A route kind.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteGroupKind {
    /// Group.
    pub group: String,
    /// Kind.
    pub kind: String,
}

/// `HTTPRoute.spec`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "HTTPRoute",
    namespaced,
    status = "RouteStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct HTTPRouteSpec {
    /// Gateways (or listeners of them) the route attaches to.
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    /// Host names the route serves; empty means those of the listener.
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Rules; an absent list means one rule matching everything with no backend.
    #[serde(default)]
    pub rules: Vec<RouteRule>,
}

/// `parentRefs[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// Defaults to the Gateway API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Defaults to `Gateway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Defaults to the route's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Gateway name.
    pub name: String,
    /// Listener name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// Listener port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// `rules[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteRule {
    /// Matches; empty means one match of path prefix `/`.
    #[serde(default)]
    pub matches: Vec<RouteMatch>,
    /// Filters.
    #[serde(default)]
    pub filters: Vec<RouteFilter>,
    /// Backends.
    #[serde(default)]
    pub backend_refs: Vec<BackendRef>,
}

/// `rules[].matches[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatch {
    /// Path match; defaults to prefix `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    /// Header matches.
    #[serde(default)]
    pub headers: Vec<HeaderMatch>,
    /// Query parameter matches (not supported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<serde_json::Value>,
    /// Method match (not supported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// `matches[].path`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathMatch {
    /// `PathPrefix` (default), `Exact` or `RegularExpression`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub match_type: Option<String>,
    /// The path; defaults to `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `matches[].headers[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderMatch {
    /// `Exact` (default) or `RegularExpression`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub match_type: Option<String>,
    /// Header name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// `rules[].filters[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteFilter {
    /// Filter type, e.g. `URLRewrite`.
    #[serde(rename = "type")]
    pub filter_type: String,
    /// With `URLRewrite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_rewrite: Option<UrlRewrite>,
}

/// `filters[].urlRewrite`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UrlRewrite {
    /// Host rewrite (not supported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Path rewrite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathModifier>,
}

/// `urlRewrite.path`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathModifier {
    /// `ReplacePrefixMatch` or `ReplaceFullPath`.
    #[serde(rename = "type")]
    pub modifier_type: String,
    /// With `ReplacePrefixMatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_prefix_match: Option<String>,
    /// With `ReplaceFullPath` (not supported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_full_path: Option<String>,
}

/// `rules[].backendRefs[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendRef {
    /// Defaults to the core group (`""`, a Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Defaults to `Service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Defaults to the route's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Relative weight; `0` sends nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// `HTTPRoute.status`, read to carry condition transition times and other controllers'
/// entries.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct RouteStatus {
    /// One entry per parent and controller.
    #[serde(default)]
    pub parents: Vec<serde_json::Value>,
}

/// `ReferenceGrant.spec` (`v1beta1`): lets objects in other namespaces refer to objects in
/// this one.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1beta1",
    kind = "ReferenceGrant",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantSpec {
    /// Who may refer.
    #[serde(default)]
    pub from: Vec<GrantFrom>,
    /// To what.
    #[serde(default)]
    pub to: Vec<GrantTo>,
}

/// `ReferenceGrant.spec.from[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantFrom {
    /// Group of the referring kind.
    pub group: String,
    /// Referring kind.
    pub kind: String,
    /// Namespace of the referring objects.
    pub namespace: String,
}

/// `ReferenceGrant.spec.to[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantTo {
    /// Group of the referred kind.
    pub group: String,
    /// Referred kind.
    pub kind: String,
    /// A single name; absent means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
