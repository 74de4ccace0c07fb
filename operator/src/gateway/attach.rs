//! Which listeners of a Gateway agw serves, and which HTTPRoutes attach to them.
//!
//! Pure functions of the Gateway, the routes and the routes' namespace labels, so every rule
//! of Gateway API attachment (`sectionName`, `port`, `allowedRoutes`, hostnames) is unit
//! tested without a cluster.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::api::{GROUP, Gateway, HTTPRoute, Listener, ParentReference};
use super::reasons;

/// Whether agw serves a listener, and why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenerVerdict {
    /// Served.
    Accepted,
    /// Not served: the reason (a Gateway API listener reason) and a message.
    Refused {
        /// Condition reason.
        reason: &'static str,
        /// Condition message.
        message: String,
    },
}

/// The port agw's proxy listens on for a Gateway: that of the first `HTTP` listener.
pub fn served_port(gateway: &Gateway) -> Option<i32> {
    gateway
        .spec
        .listeners
        .iter()
        .find(|l| l.protocol == "HTTP")
        .map(|l| l.port)
}

/// The verdict for each listener, in spec order.
pub fn judge_listeners(gateway: &Gateway) -> Vec<(String, ListenerVerdict)> {
    let port = served_port(gateway);
    gateway
        .spec
        .listeners
        .iter()
        .map(|listener| (listener.name.clone(), judge_listener(listener, port)))
        .collect()
}

fn judge_listener(listener: &Listener, served: Option<i32>) -> ListenerVerdict {
    if listener.protocol != "HTTP" {
        return ListenerVerdict::Refused {
            reason: reasons::UNSUPPORTED_PROTOCOL,
            message: format!(
                "agw serves HTTP listeners; protocol {} is not supported",
                listener.protocol
            ),
        };
    }
    if served != Some(listener.port) {
        return ListenerVerdict::Refused {
            reason: reasons::PORT_UNAVAILABLE,
            message: format!(
                "an agw proxy listens on one port per Gateway ({}); give this listener that \
                 port with its own hostname, or use a second Gateway",
                served.unwrap_or_default()
            ),
        };
    }
    if listener
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref())
        .and_then(|n| n.selector.as_ref())
        .is_some_and(|s| !s.match_expressions.is_empty())
    {
        return ListenerVerdict::Refused {
            reason: reasons::INVALID_ROUTE_KINDS,
            message: "allowedRoutes.namespaces.selector.matchExpressions is not supported; \
                      use matchLabels"
                .to_owned(),
        };
    }
    ListenerVerdict::Accepted
}

/// Why a route's reference to this Gateway attached to no listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAttached {
    /// Gateway API route reason.
    pub reason: &'static str,
    /// Message.
    pub message: String,
}

/// Whether `parent` (a parentRef of `route`) refers to `gateway` at all.
pub fn refers_to(route: &HTTPRoute, parent: &ParentReference, gateway: &Gateway) -> bool {
    let group_ok = parent.group.as_deref().is_none_or(|g| g == GROUP);
    let kind_ok = parent.kind.as_deref().is_none_or(|k| k == "Gateway");
    let namespace = parent
        .namespace
        .clone()
        .or_else(|| route.namespace())
        .unwrap_or_default();
    group_ok
        && kind_ok
        && parent.name == gateway.name_any()
        && Some(namespace) == gateway.namespace()
}

/// The accepted listeners `parent` attaches `route` to, or why none.
pub fn attach<'g>(
    gateway: &'g Gateway,
    verdicts: &[(String, ListenerVerdict)],
    route: &HTTPRoute,
    parent: &ParentReference,
    namespace_labels: &BTreeMap<String, String>,
) -> Result<Vec<&'g Listener>, NotAttached> {
    let named: Vec<&Listener> = gateway
        .spec
        .listeners
        .iter()
        .filter(|l| parent.section_name.as_ref().is_none_or(|s| *s == l.name))
        .filter(|l| parent.port.is_none_or(|p| p == l.port))
        .filter(|l| {
            verdicts
                .iter()
                .any(|(name, v)| *name == l.name && *v == ListenerVerdict::Accepted)
        })
        .collect();
    if named.is_empty() {
        return Err(NotAttached {
            reason: reasons::NO_MATCHING_PARENT,
            message: "no accepted listener of the Gateway matches the parentRef's sectionName \
                      and port"
                .to_owned(),
        });
    }
    let allowed: Vec<&Listener> = named
        .into_iter()
        .filter(|l| namespace_allowed(gateway, l, route, namespace_labels))
        .collect();
    if allowed.is_empty() {
        return Err(NotAttached {
            reason: reasons::NOT_ALLOWED_BY_LISTENERS,
            message: format!(
                "the listeners' allowedRoutes do not admit routes from namespace {}",
                route.namespace().unwrap_or_default()
            ),
        });
    }
    let matching: Vec<&Listener> = allowed
        .into_iter()
        .filter(|l| hostnames_intersect(l.hostname.as_deref(), &route.spec.hostnames))
        .collect();
    if matching.is_empty() {
        return Err(NotAttached {
            reason: reasons::NO_MATCHING_LISTENER_HOSTNAME,
            message: "none of the route's hostnames matches a listener's hostname".to_owned(),
        });
    }
    Ok(matching)
}

fn namespace_allowed(
    gateway: &Gateway,
    listener: &Listener,
    route: &HTTPRoute,
    labels: &BTreeMap<String, String>,
) -> bool {
    let namespaces = listener
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref());
    match namespaces.and_then(|n| n.from.as_deref()).unwrap_or("Same") {
        "All" => true,
        "Selector" => namespaces
            .and_then(|n| n.selector.as_ref())
            .is_some_and(|s| s.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))),
        _ => route.namespace() == gateway.namespace(),
    }
}

/// Whether a listener hostname and a route's hostnames can both hold for some request.
fn hostnames_intersect(listener: Option<&str>, route: &[String]) -> bool {
    let Some(listener) = listener else {
        return true;
    };
    route.is_empty()
        || route
            .iter()
            .any(|r| host_covers(listener, r) || host_covers(r, listener))
}

/// `*.example.com` covers `a.example.com` (one or more labels), a name covers itself.
fn host_covers(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// The host names the proxy should require for a route attached to `listeners`: the route's
/// own, else the listeners' (empty — any host — when one of them accepts any).
pub fn effective_hostnames(route: &HTTPRoute, listeners: &[&Listener]) -> Vec<String> {
    if !route.spec.hostnames.is_empty() {
        return route.spec.hostnames.clone();
    }
    let mut names: Vec<String> = Vec::new();
    for listener in listeners {
        match &listener.hostname {
            None => return Vec::new(),
            Some(name) if !names.contains(name) => names.push(name.clone()),
            Some(_) => {}
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::api::{
        AllowedRoutes, GatewaySpec, HTTPRouteSpec, LabelSelector, RouteNamespaces,
    };

    fn listener(name: &str, port: i32, protocol: &str) -> Listener {
        Listener {
            name: name.to_owned(),
            port,
            protocol: protocol.to_owned(),
            ..Listener::default()
        }
    }

    fn gateway(listeners: Vec<Listener>) -> Gateway {
        let mut gw = Gateway::new(
            "gw",
            GatewaySpec {
                gateway_class_name: "agentgateway".to_owned(),
                listeners,
            },
        );
        gw.metadata.namespace = Some("infra".to_owned());
        gw
    }

    fn route(namespace: &str, hostnames: &[&str]) -> HTTPRoute {
        let mut route = HTTPRoute::new(
            "r",
            HTTPRouteSpec {
                hostnames: hostnames.iter().map(|h| (*h).to_owned()).collect(),
                ..HTTPRouteSpec::default()
            },
        );
        route.metadata.namespace = Some(namespace.to_owned());
        route
    }

    fn parent(section: Option<&str>) -> ParentReference {
        ParentReference {
            name: "gw".to_owned(),
            namespace: Some("infra".to_owned()),
            section_name: section.map(str::to_owned),
            ..ParentReference::default()
        }
    }

    #[test]
    fn only_http_on_the_first_http_port_is_served() {
        let gw = gateway(vec![
            listener("tls", 443, "HTTPS"),
            listener("http", 80, "HTTP"),
            listener("alt", 8080, "HTTP"),
        ]);
        let verdicts = judge_listeners(&gw);
        assert!(
            matches!(verdicts[0].1, ListenerVerdict::Refused { reason, .. } if reason == reasons::UNSUPPORTED_PROTOCOL)
        );
        assert_eq!(verdicts[1].1, ListenerVerdict::Accepted);
        assert!(
            matches!(verdicts[2].1, ListenerVerdict::Refused { reason, .. } if reason == reasons::PORT_UNAVAILABLE)
        );
        assert_eq!(served_port(&gw), Some(80));
    }

    #[test]
    fn same_namespace_is_the_default() {
        let gw = gateway(vec![listener("http", 80, "HTTP")]);
        let verdicts = judge_listeners(&gw);
        let labels = BTreeMap::new();
        assert!(attach(&gw, &verdicts, &route("infra", &[]), &parent(None), &labels).is_ok());
        let other = attach(&gw, &verdicts, &route("team", &[]), &parent(None), &labels);
        assert_eq!(other.unwrap_err().reason, reasons::NOT_ALLOWED_BY_LISTENERS);
    }

    #[test]
    fn selector_admits_labelled_namespaces() {
        let mut l = listener("http", 80, "HTTP");
        l.allowed_routes = Some(AllowedRoutes {
            namespaces: Some(RouteNamespaces {
                from: Some("Selector".to_owned()),
                selector: Some(LabelSelector {
                    match_labels: BTreeMap::from([("team".to_owned(), "ai".to_owned())]),
                    ..LabelSelector::default()
                }),
            }),
        });
        let gw = gateway(vec![l]);
        let verdicts = judge_listeners(&gw);
        let ai = BTreeMap::from([("team".to_owned(), "ai".to_owned())]);
        let r = route("team", &[]);
        assert!(attach(&gw, &verdicts, &r, &parent(None), &ai).is_ok());
        assert!(attach(&gw, &verdicts, &r, &parent(None), &BTreeMap::new()).is_err());
    }

    #[test]
    fn section_name_and_hostnames_must_match() {
        let mut l = listener("http", 80, "HTTP");
        l.hostname = Some("*.example.com".to_owned());
        let gw = gateway(vec![l]);
        let verdicts = judge_listeners(&gw);
        let labels = BTreeMap::new();
        let wrong_section = attach(
            &gw,
            &verdicts,
            &route("infra", &[]),
            &parent(Some("x")),
            &labels,
        );
        assert_eq!(
            wrong_section.unwrap_err().reason,
            reasons::NO_MATCHING_PARENT
        );
        let foreign = attach(
            &gw,
            &verdicts,
            &route("infra", &["api.other.org"]),
            &parent(None),
            &labels,
        );
        assert_eq!(
            foreign.unwrap_err().reason,
            reasons::NO_MATCHING_LISTENER_HOSTNAME
        );
        let r = route("infra", &["claude.example.com"]);
        let attached = attach(&gw, &verdicts, &r, &parent(None), &labels).unwrap();
        assert_eq!(effective_hostnames(&r, &attached), ["claude.example.com"]);
        let any = route("infra", &[]);
        let attached = attach(&gw, &verdicts, &any, &parent(None), &labels).unwrap();
        assert_eq!(effective_hostnames(&any, &attached), ["*.example.com"]);
    }

    #[test]
    fn parent_refs_name_the_gateway_by_group_kind_namespace_and_name() {
        let gw = gateway(vec![listener("http", 80, "HTTP")]);
        let r = route("infra", &[]);
        assert!(refers_to(&r, &parent(None), &gw));
        let implicit = ParentReference {
            name: "gw".to_owned(),
            ..ParentReference::default()
        };
        assert!(refers_to(&r, &implicit, &gw));
        assert!(!refers_to(&route("team", &[]), &implicit, &gw));
        let service = ParentReference {
            kind: Some("Service".to_owned()),
            ..parent(None)
        };
        assert!(!refers_to(&r, &service, &gw));
    }
}
