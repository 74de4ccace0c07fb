//! The GatewayClass controller: accepts every class whose `controllerName` is agw's, so
//! `kubectl get gatewayclass` shows `ACCEPTED True` before any Gateway exists. Classes of other
//! controllers are never touched.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::api::GatewayClass;
use super::controller::GatewayContext;
use super::status;
use crate::controller::apply_status;
use crate::{Error, Result};

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
