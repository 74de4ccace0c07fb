//! A Gateway's program: the ordered bundle rules of its attached HTTPRoutes, the compiled
//! Backends they point at, and the status each route earns on the way.
//!
//! Pure: the caller looks up the Backends (compiled by the one compiler), the ReferenceGrants
//! and namespace labels, so every Gateway API rule here is unit tested.

use std::collections::BTreeMap;

use agw_policy::bundle::{BundleBackend, Rule, RuleMatch};

use self::matches::{rewrite_of, rule_matches};
use kube::ResourceExt;

use super::api::Listener;
use super::api::{BackendRef, Gateway, HTTPRoute, ParentReference, ReferenceGrant, RouteRule};
use super::attach::{self, ListenerVerdict};
use super::policies::{self, AttachedPolicy, Governance, PolicyOutcome};
use super::reasons;

/// A Backend as the caller found it. `kind` is the kind owning the name (`Backend` or
/// `AgentgatewayBackend`, see [`crate::kinds`]); a reference of the other kind is refused.
#[derive(Clone, Debug)]
pub enum FoundBackend {
    /// It compiled; `auth` is its auth Secret (same namespace) and key, if any.
    Compiled {
        /// The kind owning the name.
        kind: &'static str,
        /// The compiled backend.
        backend: Box<BundleBackend>,
        /// Name and key of its auth Secret.
        auth: Option<(String, String)>,
    },
    /// It does not compile.
    Invalid {
        /// The kind owning the name.
        kind: &'static str,
        /// The first diagnostics.
        diagnostics: String,
    },
}

impl FoundBackend {
    fn kind(&self) -> &'static str {
        match self {
            Self::Compiled { kind, .. } | Self::Invalid { kind, .. } => kind,
        }
    }
}

/// Everything a Gateway's program is computed from.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The Gateway.
    pub gateway: &'a Gateway,
    /// HTTPRoutes that name it in a parentRef.
    pub routes: &'a [HTTPRoute],
    /// Labels of each route namespace (for `allowedRoutes.namespaces.selector`).
    pub namespace_labels: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// Backends by `namespace/name`; a missing key was not found.
    pub backends: &'a BTreeMap<String, FoundBackend>,
    /// ReferenceGrants in the namespaces of referenced Backends.
    pub grants: &'a [ReferenceGrant],
    /// AgentgatewayPolicies targeting the Gateway or its listeners.
    pub policies: &'a [AttachedPolicy],
}

pub use super::verdict::Verdict;

/// The status of one parentRef of one route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentOutcome {
    /// The parentRef as written.
    pub parent: ParentReference,
    /// `Accepted`.
    pub accepted: Verdict,
    /// `ResolvedRefs`.
    pub resolved: Verdict,
}

/// The outcome for one route.
#[derive(Clone, Debug)]
pub struct RouteOutcome {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Per parentRef that names this Gateway.
    pub parents: Vec<ParentOutcome>,
}

/// A Gateway's program.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Ordered bundle rules.
    pub rules: Vec<Rule>,
    /// Compiled backends by key.
    pub backends: BTreeMap<String, BundleBackend>,
    /// Auth Secrets to mount (name → keys), all in the Gateway's namespace.
    pub auth: BTreeMap<String, Vec<String>>,
    /// Listener verdicts, in spec order.
    pub listeners: Vec<(String, ListenerVerdict)>,
    /// Routes attached per listener name.
    pub attached: BTreeMap<String, i32>,
    /// Route statuses.
    pub routes: Vec<RouteOutcome>,
    /// The verdict of each policy at each of its targets on this Gateway.
    pub policies: Vec<PolicyOutcome>,
}

/// Computes the program.
pub fn program(inputs: &Inputs<'_>) -> Program {
    let gateway = inputs.gateway;
    let governance = policies::govern(gateway, inputs.policies);
    let mut out = Program {
        listeners: attach::judge_listeners(gateway),
        policies: governance.outcomes.clone(),
        ..Program::default()
    };
    let mut ordered: Vec<(SortKey, Rule)> = Vec::new();
    for route in inputs.routes {
        let no_labels = BTreeMap::new();
        let namespace = route.namespace().unwrap_or_default();
        let labels = inputs
            .namespace_labels
            .get(&namespace)
            .unwrap_or(&no_labels);
        let mut parents = Vec::new();
        let mut attached_listeners = Vec::new();
        for parent in &route.spec.parent_refs {
            if !attach::refers_to(route, parent, gateway) {
                continue;
            }
            match attach::attach(gateway, &out.listeners, route, parent, labels) {
                Ok(listeners) => {
                    for l in &listeners {
                        *out.attached.entry(l.name.clone()).or_default() += 1;
                    }
                    attached_listeners.extend(listeners);
                    parents.push((parent.clone(), None));
                }
                Err(refused) => parents.push((parent.clone(), Some(refused))),
            }
        }
        let translated = (!attached_listeners.is_empty())
            .then(|| translate_governed(inputs, route, &attached_listeners, &governance));
        let outcome = RouteOutcome {
            namespace,
            name: route.name_any(),
            parents: parents
                .into_iter()
                .map(|(parent, refused)| parent_outcome(parent, refused, translated.as_ref()))
                .collect(),
        };
        if let Some(Ok(done)) = translated {
            ordered.extend(done.rules);
            out.backends.extend(done.backends);
            merge_auth(&mut out.auth, done.auth);
        }
        out.routes.push(outcome);
    }
    ordered.sort_by(|a, b| a.0.cmp(&b.0));
    out.rules = ordered.into_iter().map(|(_, rule)| rule).collect();
    out
}

/// Adds auth Secrets and their keys to `into`, each key once.
fn merge_auth(into: &mut BTreeMap<String, Vec<String>>, from: BTreeMap<String, Vec<String>>) {
    for (secret, keys) in from {
        let known = into.entry(secret).or_default();
        for key in keys {
            if !known.contains(&key) {
                known.push(key);
            }
        }
    }
}

/// An attached route's contribution to the program, merged only when the whole route is
/// supported (an unsupported rule never leaves half a route behind).
#[derive(Debug)]
struct Contribution {
    /// `ResolvedRefs`.
    resolved: Verdict,
    /// Rules with their precedence.
    rules: Vec<(SortKey, Rule)>,
    /// Backends the rules use.
    backends: BTreeMap<String, BundleBackend>,
    /// Auth Secrets those backends need.
    auth: BTreeMap<String, Vec<String>>,
}

type Translated = Result<Contribution, Verdict>;

fn parent_outcome(
    parent: ParentReference,
    refused: Option<attach::NotAttached>,
    translated: Option<&Translated>,
) -> ParentOutcome {
    let (accepted, resolved) = match (refused, translated) {
        (Some(refused), _) => (
            Verdict {
                ok: false,
                reason: refused.reason,
                message: refused.message,
            },
            resolved_ok(),
        ),
        (None, Some(Ok(done))) => (accepted_ok(), done.resolved.clone()),
        (None, Some(Err(unsupported))) => (unsupported.clone(), resolved_ok()),
        (None, None) => (accepted_ok(), resolved_ok()),
    };
    ParentOutcome {
        parent,
        accepted,
        resolved,
    }
}

fn accepted_ok() -> Verdict {
    Verdict {
        ok: true,
        reason: reasons::ACCEPTED,
        message: "attached to the Gateway".to_owned(),
    }
}

fn resolved_ok() -> Verdict {
    Verdict {
        ok: true,
        reason: reasons::RESOLVED_REFS,
        message: "every backendRef resolved to a valid Backend".to_owned(),
    }
}

/// Gateway API precedence: host-specific first, exact paths before prefixes, longer paths,
/// more header matches, then the older route, then namespace/name, then rule and match order.
type SortKey = (
    bool,
    bool,
    std::cmp::Reverse<usize>,
    std::cmp::Reverse<usize>,
    String,
    String,
    usize,
    usize,
);

/// The rules of an attached route, translated once per group of its listeners that share a
/// governing policy (listeners differ by hostname, so each group's rules match only its own
/// hostnames), with the route's own policy layered over each; the whole route's
/// `Accepted=False` verdict for a feature agw lacks.
fn translate_governed(
    inputs: &Inputs<'_>,
    route: &HTTPRoute,
    listeners: &[&Listener],
    governance: &Governance,
) -> Translated {
    let route_key = format!(
        "{}/{}",
        route.namespace().unwrap_or_default(),
        route.name_any()
    );
    let route_policy = governance.routes.get(&route_key).copied();
    let mut groups: BTreeMap<Option<usize>, Vec<&Listener>> = BTreeMap::new();
    for listener in listeners {
        let group = groups
            .entry(governance.listeners.get(&listener.name).copied())
            .or_default();
        if !group.iter().any(|l| l.name == listener.name) {
            group.push(listener);
        }
    }
    let mut whole: Option<Contribution> = None;
    for (listener_policy, group) in groups {
        // Most general first: the listener's policy, then the route's.
        let mut layers: Vec<&AttachedPolicy> = Vec::new();
        for index in [listener_policy, route_policy].into_iter().flatten() {
            let policy = &inputs.policies[index];
            if !layers.iter().any(|l| std::ptr::eq(*l, policy)) {
                layers.push(policy);
            }
        }
        let part = translate(inputs, route, &group, &layers)?;
        whole = Some(match whole {
            None => part,
            Some(mut so_far) => {
                if so_far.resolved.ok {
                    so_far.resolved = part.resolved;
                }
                so_far.rules.extend(part.rules);
                so_far.backends.extend(part.backends);
                merge_auth(&mut so_far.auth, part.auth);
                so_far
            }
        });
    }
    whole.ok_or_else(|| Verdict {
        ok: false,
        reason: reasons::NO_MATCHING_PARENT,
        message: "attached to no listener".to_owned(),
    })
}

/// The rules of an attached route through `listeners`, governed by the policies `layers`
/// (most general first), or the `Accepted=False` verdict for a feature agw lacks.
fn translate(
    inputs: &Inputs<'_>,
    route: &HTTPRoute,
    listeners: &[&Listener],
    layers: &[&AttachedPolicy],
) -> Translated {
    let mut scratch = Program::default();
    let hostnames = attach::effective_hostnames(route, listeners);
    let created = route
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    let identity = format!(
        "{}/{}",
        route.namespace().unwrap_or_default(),
        route.name_any()
    );
    let default_rules = [RouteRule::default()];
    let rules = if route.spec.rules.is_empty() {
        &default_rules[..]
    } else {
        &route.spec.rules[..]
    };
    let mut problems: Vec<Verdict> = Vec::new();
    let mut produced = Vec::new();
    for (rule_index, rule) in rules.iter().enumerate() {
        let replace_prefix = rewrite_of(rule, rule_index)?;
        let backend = match resolve_backend(inputs, route, rule, rule_index, layers, &mut scratch) {
            Ok(key) => key,
            Err(problem) => {
                problems.push(problem);
                None
            }
        };
        for (match_index, matches) in rule_matches(rule, rule_index, &hostnames)?
            .into_iter()
            .enumerate()
        {
            let key = (
                matches.hostnames.is_empty(),
                matches.exact_path.is_none(),
                std::cmp::Reverse(path_len(&matches)),
                std::cmp::Reverse(matches.headers.len()),
                created.clone(),
                identity.clone(),
                rule_index,
                match_index,
            );
            produced.push((
                key,
                Rule {
                    matches,
                    backend: backend.clone(),
                    replace_prefix: replace_prefix.clone(),
                },
            ));
        }
    }
    Ok(Contribution {
        resolved: problems.into_iter().next().unwrap_or_else(resolved_ok),
        rules: produced,
        backends: scratch.backends,
        auth: scratch.auth,
    })
}

fn path_len(m: &RuleMatch) -> usize {
    m.exact_path
        .as_deref()
        .or(m.path_prefix.as_deref())
        .map_or(0, str::len)
}

/// The backend key of a rule, registering the compiled backend (governed by the policies
/// `layers`, if any) and its auth Secret; `None` (requests get a 500) with the
/// `ResolvedRefs=False` verdict when it cannot be used.
fn resolve_backend(
    inputs: &Inputs<'_>,
    route: &HTTPRoute,
    rule: &RouteRule,
    rule_index: usize,
    layers: &[&AttachedPolicy],
    out: &mut Program,
) -> Result<Option<String>, Verdict> {
    let refs: Vec<&BackendRef> = rule
        .backend_refs
        .iter()
        .filter(|r| r.weight != Some(0))
        .collect();
    let Some(reference) = refs.first() else {
        return Ok(None);
    };
    let at = format!("spec.rules[{rule_index}].backendRefs[0]");
    let refused = |reason, message: String| Verdict {
        ok: false,
        reason,
        message: format!("{at}: {message}"),
    };
    let kind = reference.kind.as_deref().unwrap_or_default();
    if reference.group.as_deref() != Some(agw_crds::GROUP) || !agw_crds::is_backend_kind(kind) {
        return Err(refused(
            reasons::INVALID_KIND,
            format!(
                "agw routes to Backends; set group: {} and kind: {} or {}",
                agw_crds::GROUP,
                agw_crds::BACKEND_KIND,
                agw_crds::AGENTGATEWAY_BACKEND_KIND
            ),
        ));
    }
    let route_ns = route.namespace().unwrap_or_default();
    let namespace = reference
        .namespace
        .clone()
        .unwrap_or_else(|| route_ns.clone());
    if namespace != route_ns
        && !granted(inputs.grants, &route_ns, &namespace, kind, &reference.name)
    {
        return Err(refused(
            reasons::REF_NOT_PERMITTED,
            format!(
                "{kind} {namespace}/{} is in another namespace and no ReferenceGrant there \
                 lets HTTPRoutes from {route_ns} refer to it",
                reference.name
            ),
        ));
    }
    let key = format!("{namespace}/{}", reference.name);
    let gateway_ns = inputs.gateway.namespace().unwrap_or_default();
    match inputs.backends.get(&key) {
        None => Err(refused(
            reasons::BACKEND_NOT_FOUND,
            format!("{kind} {key} does not exist"),
        )),
        Some(found) if found.kind() != kind => Err(refused(
            reasons::INVALID_BACKEND,
            format!(
                "{kind} {key} is NameConflict: {} {key} owns the name (created first; a tie \
                 goes to Backend)",
                found.kind()
            ),
        )),
        Some(FoundBackend::Invalid { diagnostics, .. }) => Err(refused(
            reasons::INVALID_BACKEND,
            format!("{kind} {key} is invalid (Accepted=False): {diagnostics}"),
        )),
        Some(FoundBackend::Compiled { auth: Some(_), .. }) if namespace != gateway_ns => {
            Err(refused(
                reasons::REF_NOT_PERMITTED,
                format!(
                    "{kind} {key} has an auth Secret (and any client key Secrets), and a pod can \
                     mount Secrets only from its own namespace ({gateway_ns}); put the Backend \
                     and its Secrets there"
                ),
            ))
        }
        Some(FoundBackend::Compiled { backend, auth, .. }) => {
            let (key, backend) = governed::backend(&key, kind, backend, layers, &gateway_ns)
                .map_err(|message| refused(reasons::INVALID_BACKEND, message))?;
            if let Some((secret, secret_key)) = auth {
                let keys = out.auth.entry(secret.clone()).or_default();
                if !keys.contains(secret_key) {
                    keys.push(secret_key.clone());
                }
            }
            out.backends.insert(key.clone(), backend);
            if refs.len() > 1 {
                tracing::debug!(route = %route.name_any(), "only the first backendRef of a rule is used");
            }
            Ok(Some(key))
        }
    }
}

/// Whether a ReferenceGrant in `to_ns` lets HTTPRoutes in `from_ns` refer to the `kind` object
/// `name` (the grant names the kind the route uses).
fn granted(grants: &[ReferenceGrant], from_ns: &str, to_ns: &str, kind: &str, name: &str) -> bool {
    grants
        .iter()
        .filter(|g| g.namespace().as_deref() == Some(to_ns))
        .any(|g| {
            g.spec.from.iter().any(|f| {
                f.group == super::api::GROUP && f.kind == "HTTPRoute" && f.namespace == from_ns
            }) && g.spec.to.iter().any(|t| {
                t.group == agw_crds::GROUP
                    && t.kind == kind
                    && t.name.as_deref().is_none_or(|n| n == name)
            })
        })
}

mod governed;
mod matches;

#[cfg(test)]
mod tests;
