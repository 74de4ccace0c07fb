//! Which `AgentgatewayPolicy` governs each listener and each HTTPRoute of a Gateway, and the
//! verdict each policy earns there (its `status.ancestors` entry).
//!
//! Gateway API policy attachment: a policy naming a listener (`sectionName`) takes precedence
//! over one naming the whole Gateway, and one naming a route is layered over its listener's
//! (the program combines them part by part); among policies with the same target the oldest
//! wins (creation time, then namespace and name) and the others are `Conflicted`. A policy that does not
//! compile still holds its listener, which then serves nothing: a listener whose governance
//! cannot be decided must not fall back to ungoverned traffic.
//!
//! Pure: the caller compiles the policies (with [`agw_policy::compile_policy`]).

use std::collections::BTreeMap;

use agw_policy::bundle::ClientPolicy;

use super::api::Gateway;
use super::verdict::Verdict;

/// Condition reasons of a policy's `Accepted` condition (Gateway API's).
pub mod reasons {
    /// The policy applies.
    pub const ACCEPTED: &str = "Accepted";
    /// The policy does not compile.
    pub const INVALID: &str = "Invalid";
    /// An older policy has the same target.
    pub const CONFLICTED: &str = "Conflicted";
    /// The target listener does not exist.
    pub const TARGET_NOT_FOUND: &str = "TargetNotFound";
}

/// A policy governing this Gateway's traffic, as the caller found and compiled it.
#[derive(Clone, Debug)]
pub struct AttachedPolicy {
    /// Its namespace (the Gateway's, or that of the routes it names).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its creation time (RFC 3339), for precedence.
    pub created: String,
    /// The listeners it names on this Gateway; `None` is the whole Gateway.
    pub targets: Vec<Option<String>>,
    /// This Gateway's HTTPRoutes it names, as `namespace/name`.
    pub routes: Vec<String>,
    /// The client policy, or the compiler's first diagnostics.
    pub compiled: Result<ClientPolicy, String>,
}

impl AttachedPolicy {
    /// `namespace/name`, as outcomes name it.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The verdict of one policy at one of its targets on this Gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyOutcome {
    /// The policy, `namespace/name`.
    pub policy: String,
    /// The listener it names; `None` is the whole Gateway (or a route).
    pub section: Option<String>,
    /// The route it names, `namespace/name`, for a route target.
    pub route: Option<String>,
    /// `Accepted`.
    pub accepted: Verdict,
}

/// Which policy (an index in the caller's list) governs what on one Gateway.
#[derive(Clone, Debug, Default)]
pub struct Governance {
    /// Per listener name; a listener absent from the map has none.
    pub listeners: BTreeMap<String, usize>,
    /// Per route, `namespace/name`; a route absent from the map has none of its own.
    pub routes: BTreeMap<String, usize>,
    /// The verdict of every policy at every target.
    pub outcomes: Vec<PolicyOutcome>,
}

/// Decides which policy governs each listener and route, and every policy's verdicts.
pub fn govern(gateway: &Gateway, policies: &[AttachedPolicy]) -> Governance {
    let mut order: Vec<usize> = (0..policies.len()).collect();
    order.sort_by(|a, b| {
        let (a, b) = (&policies[*a], &policies[*b]);
        (&a.created, &a.namespace, &a.name).cmp(&(&b.created, &b.namespace, &b.name))
    });
    let winners = oldest_per_target(&order, |index| {
        policies[index]
            .targets
            .iter()
            .map(Option::as_deref)
            .collect()
    });
    let listeners: Vec<&str> = gateway
        .spec
        .listeners
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    let governed: BTreeMap<String, usize> = listeners
        .iter()
        .filter_map(|&name| {
            let winner = winners.get(&Some(name)).or_else(|| winners.get(&None))?;
            Some((name.to_owned(), *winner))
        })
        .collect();
    let mut outcomes = Vec::new();
    for &index in &order {
        let policy = &policies[index];
        for target in &policy.targets {
            let at = Target {
                index,
                section: target.as_deref(),
            };
            let accepted = verdict(policies, at, &winners, &listeners, &governed);
            outcomes.push(PolicyOutcome {
                policy: policy.key(),
                section: target.clone(),
                route: None,
                accepted,
            });
        }
    }
    let routes = govern_routes(policies, &order, &mut outcomes);
    Governance {
        listeners: governed,
        routes,
        outcomes,
    }
}

/// The oldest policy naming a route governs it; the verdicts of every route target.
fn govern_routes(
    policies: &[AttachedPolicy],
    order: &[usize],
    outcomes: &mut Vec<PolicyOutcome>,
) -> BTreeMap<String, usize> {
    let winners = oldest_per_target(order, |index| policies[index].routes.clone());
    for &index in order {
        let policy = &policies[index];
        for route in &policy.routes {
            let claim = format!("governs HTTPRoute {route}");
            let serving = format!("HTTPRoute {route} serves");
            let accepted =
                refusal(policies, index, winners[route], &claim, &serving).unwrap_or(Verdict {
                    ok: true,
                    reason: reasons::ACCEPTED,
                    message: claim,
                });
            outcomes.push(PolicyOutcome {
                policy: policy.key(),
                section: None,
                route: Some(route.clone()),
                accepted,
            });
        }
    }
    winners
}

/// The oldest policy (first in `order`) naming each target wins it.
fn oldest_per_target<K: Ord>(
    order: &[usize],
    targets: impl Fn(usize) -> Vec<K>,
) -> BTreeMap<K, usize> {
    let mut winners = BTreeMap::new();
    for &index in order {
        for target in targets(index) {
            winners.entry(target).or_insert(index);
        }
    }
    winners
}

/// Why policy `index` does not govern a target `winner` won, if it does not: `Conflicted`
/// when an older policy won it (which `claim`s it), `Invalid` when it does not compile (what
/// is `serving` nothing meanwhile).
fn refusal(
    policies: &[AttachedPolicy],
    index: usize,
    winner: usize,
    claim: &str,
    serving: &str,
) -> Option<Verdict> {
    let (reason, message) = if winner == index {
        let problem = policies[index].compiled.as_ref().err()?;
        (
            reasons::INVALID,
            format!("{problem}; {serving} nothing until it is fixed"),
        )
    } else {
        let older = policies[winner].key();
        (
            reasons::CONFLICTED,
            format!("the older policy {older} {claim}; one policy governs a target"),
        )
    };
    Some(Verdict {
        ok: false,
        reason,
        message,
    })
}

/// One target of one policy.
#[derive(Clone, Copy)]
struct Target<'a> {
    /// The policy's index.
    index: usize,
    /// The listener; `None` is the whole Gateway.
    section: Option<&'a str>,
}

fn verdict(
    policies: &[AttachedPolicy],
    Target {
        index,
        section: target,
    }: Target<'_>,
    winners: &BTreeMap<Option<&str>, usize>,
    listeners: &[&str],
    governed: &BTreeMap<String, usize>,
) -> Verdict {
    if let Some(listener) = target.filter(|l| !listeners.contains(l)) {
        return Verdict {
            ok: false,
            reason: reasons::TARGET_NOT_FOUND,
            message: format!("the Gateway has no listener {listener:?}"),
        };
    }
    let winner = winners.get(&target).copied().unwrap_or(index);
    if let Some(refused) = refusal(
        policies,
        index,
        winner,
        "has the same target",
        "its listeners serve",
    ) {
        return refused;
    }
    let mine: Vec<&str> = governed
        .iter()
        .filter(|(_, w)| **w == index)
        .map(|(l, _)| l.as_str())
        .filter(|l| target.is_none_or(|t| t == *l))
        .collect();
    let message = if mine.is_empty() {
        "every listener has a policy of its own, which takes precedence".to_owned()
    } else {
        format!("governs listener(s) {}", mine.join(", "))
    };
    Verdict {
        ok: true,
        reason: reasons::ACCEPTED,
        message,
    }
}

#[cfg(test)]
#[path = "policies_tests.rs"]
mod tests;
