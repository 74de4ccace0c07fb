//! Condition types and reasons that agw writes to `Backend.status.conditions`.
//!
//! They are constants so the operator, the tests and the printer columns agree on spelling.
//! The shape is the standard `metav1.Condition`.

/// Condition types, in the order a Backend progresses through them.
pub mod types {
    /// The spec compiled: the compiler found no error.
    pub const ACCEPTED: &str = "Accepted";
    /// Every object the spec refers to (the auth Secret and its key) exists.
    pub const RESOLVED_REFS: &str = "ResolvedRefs";
    /// The bundle Secret, Deployment and Service were applied; the digest is in status.
    pub const PROGRAMMED: &str = "Programmed";
    /// The proxy Deployment has available replicas serving the current bundle.
    pub const READY: &str = "Ready";
}

/// Condition reasons (CamelCase, as `metav1.Condition.reason` requires).
pub mod reasons {
    /// `Accepted=True`.
    pub const ACCEPTED: &str = "Accepted";
    /// `Accepted=False`: the compiler rejected the spec; the message lists the diagnostics.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// Every condition `False`: a namesake of the other Backend kind (`Backend` /
    /// `AgentgatewayBackend`) in the namespace owns the name and its proxy objects.
    pub const NAME_CONFLICT: &str = "NameConflict";
    /// `ResolvedRefs=True`.
    pub const RESOLVED_REFS: &str = "ResolvedRefs";
    /// `ResolvedRefs=False`: the auth Secret does not exist.
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// `ResolvedRefs=False`: the auth Secret exists but lacks the key.
    pub const KEY_NOT_FOUND: &str = "KeyNotFound";
    /// `ResolvedRefs=False`: a key Secret of `apiKeyAuthentication` is missing, has an entry
    /// that is not a key (the message names the entry, never its value), or gives two
    /// identities one key.
    pub const INVALID_CLIENT_KEYS: &str = "InvalidClientKeys";
    /// `ResolvedRefs=False`: a JWT key set of `jwtAuthentication` (a Secret or ConfigMap
    /// key) is missing or is not a usable JSON Web Key Set.
    pub const INVALID_JWKS: &str = "InvalidJwks";
    /// `Programmed=True`.
    pub const PROGRAMMED: &str = "Programmed";
    /// `Programmed=False`: applying the owned objects failed; the message says which.
    pub const APPLY_FAILED: &str = "ApplyFailed";
    /// `Programmed=False` / `Ready=False`: waiting for an earlier step.
    pub const PENDING: &str = "Pending";
    /// `Ready=True`: the Deployment reports available replicas.
    pub const DEPLOYMENT_AVAILABLE: &str = "DeploymentAvailable";
    /// `Ready=False`: the Deployment has no available replica yet.
    pub const DEPLOYMENT_UNAVAILABLE: &str = "DeploymentUnavailable";
}
