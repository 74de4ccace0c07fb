//! Gateway API support: Gateways of agw's GatewayClass, and the HTTPRoutes attached to them,
//! become one bundle Secret, one proxy Deployment and one Service per Gateway (named after
//! it, as the tutorial's `kubectl port-forward deployment/agentgateway-proxy` expects).
//!
//! Owns: the Gateway API types agw reads ([`api`]), attachment ([`attach`]), translation of
//! routes into bundle rules ([`program`]), the statuses Gateway API users expect
//! ([`status`]) and the controllers ([`controller`], [`class`]).
//!
//! Must not: judge a Backend's spec (that is [`agw_policy::compile`], as for a Backend's own
//! proxy), send traffic to a Backend that does not compile, or let a rule whose backend is
//! unusable fall through to another rule.

pub mod api;
pub mod attach;
pub mod class;
pub mod context;
pub mod controller;
pub mod index;
mod lookup;
pub mod policies;
pub mod program;
pub mod resources;
pub mod status;
pub mod verdict;

/// The `controllerName` agw's GatewayClass carries unless the operator is told otherwise.
pub const DEFAULT_CONTROLLER_NAME: &str = "agentgateway.dev/agw";

/// The GatewayClass the operator creates when absent: the one the tutorial's Gateway names.
pub const DEFAULT_CLASS_NAME: &str = "agentgateway";

/// Condition types and reasons of the Gateway API that agw writes.
pub mod reasons {
    /// Condition type and reason `Accepted`.
    pub const ACCEPTED: &str = "Accepted";
    /// Condition type and reason `Programmed`.
    pub const PROGRAMMED: &str = "Programmed";
    /// Condition type and reason `ResolvedRefs`.
    pub const RESOLVED_REFS: &str = "ResolvedRefs";
    /// The Gateway's proxy has no available replica yet.
    pub const PENDING: &str = "Pending";
    /// A Gateway with no listener agw can serve.
    pub const LISTENERS_NOT_VALID: &str = "ListenersNotValid";
    /// A Gateway whose program could not be applied.
    pub const INVALID: &str = "Invalid";
    /// Listener protocol other than HTTP.
    pub const UNSUPPORTED_PROTOCOL: &str = "UnsupportedProtocol";
    /// A second listener port.
    pub const PORT_UNAVAILABLE: &str = "PortUnavailable";
    /// A listener's allowed routes that agw cannot evaluate.
    pub const INVALID_ROUTE_KINDS: &str = "InvalidRouteKinds";
    /// A parentRef whose sectionName/port matches no accepted listener.
    pub const NO_MATCHING_PARENT: &str = "NoMatchingParent";
    /// A route from a namespace the listeners do not admit.
    pub const NOT_ALLOWED_BY_LISTENERS: &str = "NotAllowedByListeners";
    /// A route whose hostnames match no listener.
    pub const NO_MATCHING_LISTENER_HOSTNAME: &str = "NoMatchingListenerHostname";
    /// A match type or filter agw does not implement.
    pub const UNSUPPORTED_VALUE: &str = "UnsupportedValue";
    /// A backendRef to something other than a Backend.
    pub const INVALID_KIND: &str = "InvalidKind";
    /// A backendRef to a Backend that does not exist.
    pub const BACKEND_NOT_FOUND: &str = "BackendNotFound";
    /// A cross-namespace backendRef without a ReferenceGrant.
    pub const REF_NOT_PERMITTED: &str = "RefNotPermitted";
    /// A backendRef to a Backend the compiler refuses (agw's own reason).
    pub const INVALID_BACKEND: &str = "InvalidBackend";
    /// A GatewayClass whose parameters agw cannot use.
    pub const INVALID_PARAMETERS: &str = "InvalidParameters";
}
