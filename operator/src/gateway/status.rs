//! Gateway API statuses, computed purely from what a reconcile observed: GatewayClass
//! `Accepted`; Gateway `Accepted`/`Programmed` with one status per listener (supported kinds,
//! attached routes, `Accepted`/`ResolvedRefs`/`Programmed`); HTTPRoute `Accepted` and
//! `ResolvedRefs` per parentRef; AgentgatewayPolicy `Accepted` per ancestor. `lastTransitionTime` is carried over while a condition's
//! status holds, so an unchanged world computes an unchanged status and nothing is written.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde_json::{Value, json};

use agw_crds::{PolicyAncestorRef, PolicyAncestorStatus};
use kube::ResourceExt;

use super::api::{GROUP, Gateway, GatewayAddress, GatewayStatus, ListenerStatus, RouteGroupKind};
use super::attach::ListenerVerdict;
use super::policies::PolicyOutcome;
use super::program::{ParentOutcome, Program, Verdict};
use super::reasons;
use crate::status::{carry_transition_time, truncate};

/// What became of a Gateway's program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollout {
    /// Applied; `available` of `desired` proxy replicas are available.
    Applied {
        /// Available replicas.
        available: i32,
        /// Desired replicas.
        desired: i32,
    },
    /// No listener can be served, so nothing was applied.
    NothingToServe,
    /// The apiserver refused an object (quota, admission, exhausted Service IPs); what was
    /// applied before stays. Retried with backoff.
    ApplyFailed(String),
}

/// [`condition`] from a [`Verdict`].
fn verdict_condition(
    type_: &str,
    verdict: &Verdict,
    generation: Option<i64>,
    previous: &[Condition],
    now: &Time,
) -> Condition {
    condition(
        type_,
        verdict.ok,
        verdict.reason,
        verdict.message.clone(),
        generation,
        previous,
        now,
    )
}

/// A condition with its transition time carried from `previous`.
pub fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    previous: &[Condition],
    now: &Time,
) -> Condition {
    let fresh = Condition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: truncate(message),
        observed_generation: generation,
        last_transition_time: now.clone(),
    };
    carry_transition_time(fresh, previous, now)
}

/// The Gateway's status.
pub fn gateway_status(
    previous: Option<&GatewayStatus>,
    program: &Program,
    rollout: &Rollout,
    address: Option<String>,
    generation: Option<i64>,
    now: &Time,
) -> GatewayStatus {
    let empty = GatewayStatus::default();
    let previous = previous.unwrap_or(&empty);
    let served = program
        .listeners
        .iter()
        .any(|(_, v)| *v == ListenerVerdict::Accepted);
    let accepted = if served {
        (
            true,
            reasons::ACCEPTED,
            "agw serves this Gateway".to_owned(),
        )
    } else {
        (
            false,
            reasons::LISTENERS_NOT_VALID,
            "no listener agw can serve: agw needs an HTTP listener".to_owned(),
        )
    };
    let programmed = programmed_verdict(program, rollout);
    let cond = |type_, (ok, reason, message): (bool, &str, String), prev: &[Condition]| {
        condition(type_, ok, reason, message, generation, prev, now)
    };
    let listeners = program
        .listeners
        .iter()
        .map(|(name, verdict)| {
            let prev = previous
                .listeners
                .iter()
                .find(|l| l.name == *name)
                .map_or(&[][..], |l| &l.conditions[..]);
            let (ok, reason, message) = match verdict {
                ListenerVerdict::Accepted => {
                    (true, reasons::ACCEPTED, "listener accepted".to_owned())
                }
                ListenerVerdict::Refused { reason, message } => (false, *reason, message.clone()),
            };
            let listener_programmed = if ok {
                programmed.clone()
            } else {
                (false, reasons::INVALID, message.clone())
            };
            ListenerStatus {
                name: name.clone(),
                supported_kinds: vec![RouteGroupKind {
                    group: GROUP.to_owned(),
                    kind: "HTTPRoute".to_owned(),
                }],
                attached_routes: program.attached.get(name).copied().unwrap_or(0),
                conditions: vec![
                    cond(reasons::ACCEPTED, (ok, reason, message), prev),
                    cond(
                        reasons::RESOLVED_REFS,
                        (
                            true,
                            reasons::RESOLVED_REFS,
                            "no references to resolve".to_owned(),
                        ),
                        prev,
                    ),
                    cond(reasons::PROGRAMMED, listener_programmed, prev),
                ],
            }
        })
        .collect();
    GatewayStatus {
        addresses: address
            .into_iter()
            .map(|value| GatewayAddress {
                address_type: "IPAddress".to_owned(),
                value,
            })
            .collect(),
        conditions: vec![
            cond(reasons::ACCEPTED, accepted, &previous.conditions),
            cond(reasons::PROGRAMMED, programmed, &previous.conditions),
        ],
        listeners,
    }
}

/// The Gateway's `Programmed` condition: status, reason, message.
fn programmed_verdict(program: &Program, rollout: &Rollout) -> (bool, &'static str, String) {
    let ready = matches!(rollout, Rollout::Applied { available, .. } if *available > 0);
    match rollout {
        Rollout::Applied { available, desired } => (
            ready,
            if ready {
                reasons::PROGRAMMED
            } else {
                reasons::PENDING
            },
            format!(
                "{} rules to {} backends; {available}/{desired} proxy replicas available",
                program.rules.len(),
                program.backends.len()
            ),
        ),
        Rollout::NothingToServe => (
            false,
            reasons::INVALID,
            "nothing is programmed while no listener is accepted".to_owned(),
        ),
        Rollout::ApplyFailed(message) => (
            false,
            reasons::INVALID,
            format!(
                "applying the bundle Secret, Deployment and Service failed (retrying): {message}"
            ),
        ),
    }
}

/// The route's new `status.parents`: entries of other controllers and for other parents kept,
/// agw's entries for this Gateway's parentRefs replaced, and agw's entries for parentRefs the
/// route no longer has dropped.
pub fn route_parents(
    previous: &[Value],
    outcome: &[ParentOutcome],
    spec_parents: &[super::api::ParentReference],
    controller: &str,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Value> {
    let ours =
        |entry: &Value| entry.get("controllerName").and_then(Value::as_str) == Some(controller);
    let parent_of = |entry: &Value| {
        entry
            .get("parentRef")
            .and_then(|p| serde_json::from_value::<super::api::ParentReference>(p.clone()).ok())
    };
    let mut parents: Vec<Value> = previous
        .iter()
        .filter(|entry| {
            !ours(entry)
                || parent_of(entry).is_some_and(|p| {
                    spec_parents.contains(&p) && !outcome.iter().any(|o| o.parent == p)
                })
        })
        .cloned()
        .collect();
    for o in outcome {
        let prev: Vec<Condition> = previous
            .iter()
            .filter(|e| ours(e) && parent_of(e).as_ref() == Some(&o.parent))
            .filter_map(|e| e.get("conditions").cloned())
            .filter_map(|c| serde_json::from_value::<Vec<Condition>>(c).ok())
            .flatten()
            .collect();
        let cond = |type_, v: &Verdict| verdict_condition(type_, v, generation, &prev, now);
        parents.push(json!({
            "parentRef": o.parent,
            "controllerName": controller,
            "conditions": [cond(reasons::ACCEPTED, &o.accepted), cond(reasons::RESOLVED_REFS, &o.resolved)],
        }));
    }
    parents
}

/// A policy's `status.ancestors`: its entries for other Gateways or controllers as they
/// were, and agw's entries for `gateway`, one per target, from `outcomes`: `Accepted`, and
/// `ResolvedRefs` from `resolved` (its key Secrets and key sets) where it is accepted.
pub fn policy_ancestors(
    previous: &[PolicyAncestorStatus],
    gateway: &Gateway,
    outcomes: &[&PolicyOutcome],
    resolved: Option<&Verdict>,
    controller: &str,
    generation: Option<i64>,
    now: &Time,
) -> Vec<PolicyAncestorStatus> {
    let ours = |entry: &PolicyAncestorStatus| {
        entry.controller_name == controller
            && entry.ancestor_ref.name == gateway.name_any()
            && entry.ancestor_ref.namespace == gateway.namespace()
    };
    let mut ancestors: Vec<PolicyAncestorStatus> =
        previous.iter().filter(|e| !ours(e)).cloned().collect();
    // A route target's ancestor is the Gateway itself, as a whole-Gateway target's is: one
    // entry per ancestor, its verdicts joined.
    let mut by_section: Vec<(Option<String>, Verdict)> = Vec::new();
    for outcome in outcomes {
        match by_section.iter_mut().find(|(s, _)| *s == outcome.section) {
            Some((_, verdict)) => *verdict = joined(verdict, &outcome.accepted),
            None => by_section.push((outcome.section.clone(), outcome.accepted.clone())),
        }
    }
    for (section, accepted) in by_section {
        let ancestor_ref = PolicyAncestorRef {
            group: GROUP.to_owned(),
            kind: "Gateway".to_owned(),
            name: gateway.name_any(),
            namespace: gateway.namespace(),
            section_name: section,
        };
        let prev: Vec<Condition> = previous
            .iter()
            .filter(|e| ours(e) && e.ancestor_ref == ancestor_ref)
            .flat_map(|e| e.conditions.iter().cloned())
            .collect();
        let cond = |type_, v: &Verdict| verdict_condition(type_, v, generation, &prev, now);
        let mut conditions = vec![cond(reasons::ACCEPTED, &accepted)];
        if let Some(resolved) = resolved.filter(|_| accepted.ok) {
            conditions.push(cond(reasons::RESOLVED_REFS, resolved));
        }
        ancestors.push(PolicyAncestorStatus {
            ancestor_ref,
            controller_name: controller.to_owned(),
            conditions,
        });
    }
    ancestors
}

/// Two verdicts at one ancestor as one: true when both are, with the first refusal's reason,
/// and both messages.
fn joined(first: &Verdict, second: &Verdict) -> Verdict {
    let reason = if first.ok {
        second.reason
    } else {
        first.reason
    };
    Verdict {
        ok: first.ok && second.ok,
        reason,
        message: format!("{}; {}", first.message, second.message),
    }
}

/// The GatewayClass's `Accepted` condition.
pub fn class_accepted(previous: &[Condition], generation: Option<i64>, now: &Time) -> Condition {
    condition(
        reasons::ACCEPTED,
        true,
        reasons::ACCEPTED,
        "agw-operator manages Gateways of this class".to_owned(),
        generation,
        previous,
        now,
    )
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
