//! What Gateway reconciles share: the operator's [`Context`], the GatewayClass
//! `controllerName` agw answers to and the watch-fed [`Index`]. Its own module so the Gateway
//! controller and the lookups it calls both depend on it, not on each other.

use std::sync::Arc;

use super::index::Index;
use crate::cluster::Context;

/// What Gateway reconciles need beyond the Backend controller's context.
#[derive(Clone, Debug)]
pub struct GatewayContext {
    /// Shared with the Backend controller.
    pub base: Arc<Context>,
    /// The `controllerName` of GatewayClasses agw manages.
    pub controller_name: String,
    /// Routes, Backends and ReferenceGrants as the Gateway controller's watches see them.
    pub index: Index,
}
