//! The GatewayClass controller: accepts every class whose `controllerName` is agw's, so
//! `kubectl get gatewayclass` shows `ACCEPTED True` before any Gateway exists. Classes of other
//! controllers are never touched.
//!
//! Also creates the class the tutorial's Gateway names (`agentgateway`) when it does not exist,
//! as agentgateway's install does, so `kubectl apply -k config/default` plus the Gateway API
//! CRDs, in either order, serve the tutorial's Gateway with no extra step. A class of that name
//! that already exists — a user's own, whatever its controller — is left exactly as it is.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::PostParams;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::api::{GatewayClass, GatewayClassSpec};
use super::context::GatewayContext;
use super::status;
use crate::cluster::apply_status;
use crate::cluster::kube_err;
use crate::resources::FIELD_MANAGER;
use crate::{Error, Result};

/// What [`ensure_class`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ensured {
    /// The class did not exist and was created with agw's `controllerName`.
    Created,
    /// A class of that name exists (agw's or a user's); it was not touched.
    Exists,
}

/// Creates GatewayClass `name` for `controller_name` unless a class of that name exists.
/// A create, never an apply: an existing object is never patched or taken over.
pub async fn ensure_class(client: &Client, name: &str, controller_name: &str) -> Result<Ensured> {
    let api: Api<GatewayClass> = Api::all(client.clone());
    let mut class = GatewayClass::new(
        name,
        GatewayClassSpec {
            controller_name: controller_name.to_owned(),
        },
    );
    class.metadata.labels = Some(
        [(
            "app.kubernetes.io/managed-by".to_owned(),
            FIELD_MANAGER.to_owned(),
        )]
        .into_iter()
        .collect(),
    );
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    match api.create(&params, &class).await {
        Ok(_) => Ok(Ensured::Created),
        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(Ensured::Exists),
        Err(source) => Err(kube_err(format!("creating GatewayClass {name}"))(source)),
    }
}

/// Runs until `shutdown` resolves.
pub async fn run(
    ctx: Arc<GatewayContext>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<GatewayClass> = Api::all(ctx.base.client.clone());
    Controller::new(api, watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "gatewayclass reconcile failed");
            }
        })
        .await;
}

async fn reconcile(class: Arc<GatewayClass>, ctx: Arc<GatewayContext>) -> Result<Action> {
    if class.spec.controller_name != ctx.controller_name {
        return Ok(Action::await_change());
    }
    let previous = class.status.as_ref().map_or(&[][..], |s| &s.conditions[..]);
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let accepted = status::class_accepted(previous, class.metadata.generation, &now);
    if previous.contains(&accepted) {
        return Ok(Action::await_change());
    }
    let name = class.name_any();
    let api: Api<GatewayClass> = Api::all(ctx.base.client.clone());
    apply_status(&api, &name, &json!({"conditions": [accepted]}), "").await?;
    tracing::info!(class = %name, "accepted GatewayClass");
    Ok(Action::await_change())
}

#[allow(clippy::needless_pass_by_value)] // the signature `Controller::run` expects
fn error_policy(class: Arc<GatewayClass>, error: &Error, _ctx: Arc<GatewayContext>) -> Action {
    tracing::warn!(class = %class.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
