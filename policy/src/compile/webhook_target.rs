//! Where a webhook guard's checker is: `backendRef` (a Service, agentgateway's field) or
//! `url` (agw's addition), exactly one. A Service becomes
//! `http://<name>.<namespace>.svc.cluster.local:<port>`, the name the operator's proxy pods
//! resolve; the standalone proxy reads the same bundle, so both call the same place.
//!
//! Plain `http` carries prompts unencrypted, so it is accepted only where it does not cross
//! a network the operator does not own: loopback (`127.0.0.0/8`, `::1`, `localhost`) and
//! in-cluster Service names (`*.svc`, `*.svc.cluster.local`, what `backendRef` makes).
//! Anything else must be `https`. Must not: do I/O (no DNS lookup).

use std::net::IpAddr;

use agw_crds::WebhookGuard;

use super::names::is_dns_label;
use crate::diagnostics::{Diagnostic, FieldPath};

/// A resolved checker address.
#[derive(Default)]
pub(super) struct Target {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// Path prefix, `""` or starting with `/` and not ending with one.
    pub path: String,
}

/// The checker `webhook` names; `None` (with an error) when it names none or both.
pub(super) fn resolve(
    webhook: &WebhookGuard,
    path: &FieldPath,
    namespace: &str,
    findings: &mut Vec<Diagnostic>,
) -> Option<Target> {
    match (&webhook.backend_ref, &webhook.url) {
        (Some(_), Some(_)) => {
            findings.push(
                Diagnostic::error(
                    path,
                    "webhook-target",
                    "`backendRef` and `url` are both set; name the checker once",
                )
                .with_hint(
                    "`backendRef` for a Service in the cluster, `url` for the standalone proxy",
                ),
            );
            None
        }
        (None, None) => {
            findings.push(
                Diagnostic::error(path, "webhook-target", "the webhook names no checker")
                    .with_hint("set `backendRef: {name, port}` (a Service) or `url: https://…`"),
            );
            None
        }
        (Some(_), None) => service(webhook, &path.field("backendRef"), namespace, findings),
        (None, Some(url)) => parse_url(url.trim(), &path.field("url"), findings),
    }
}

fn service(
    webhook: &WebhookGuard,
    path: &FieldPath,
    namespace: &str,
    findings: &mut Vec<Diagnostic>,
) -> Option<Target> {
    let reference = webhook.backend_ref.as_ref()?;
    let before = findings.len();
    let group = reference.group.as_deref().unwrap_or("").trim();
    let kind = reference.kind.as_deref().unwrap_or("Service").trim();
    if !group.is_empty() || kind != "Service" {
        findings.push(
            Diagnostic::error(
                path.field("kind"),
                "unsupported-backend-ref",
                format!("agw resolves a webhook `backendRef` to a core Service only, not {group:?}/{kind}"),
            )
            .with_hint("name a Service (omit `group` and `kind`), or use `url`"),
        );
    }
    let name = reference.name.trim();
    if !is_dns_label(name) {
        findings.push(Diagnostic::error(
            path.field("name"),
            "invalid-backend-ref",
            format!("{name:?} is not a Service name (a DNS label)"),
        ));
    }
    let ns = reference.namespace.as_deref().map_or(namespace, str::trim);
    if ns != namespace {
        findings.push(
            Diagnostic::error(
                path.field("namespace"),
                "cross-namespace-webhook",
                format!("the Service is in namespace {ns:?}, not the Backend's {namespace:?}"),
            )
            .with_hint("agw does not read ReferenceGrants for webhook guards: put the checker's Service in the Backend's namespace, or use `url`"),
        );
    }
    let port = match reference.port.map(u16::try_from) {
        Some(Ok(port)) if port > 0 => port,
        Some(_) => {
            findings.push(Diagnostic::error(
                path.field("port"),
                "invalid-port",
                "port must be 1..65535",
            ));
            0
        }
        None => {
            findings.push(Diagnostic::error(
                path.field("port"),
                "missing-port",
                "a Service `backendRef` needs its `port`",
            ));
            0
        }
    };
    (findings.len() == before).then(|| Target {
        host: format!("{name}.{namespace}.svc.cluster.local"),
        port,
        tls: false,
        path: String::new(),
    })
}

fn parse_url(url: &str, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> Option<Target> {
    let mut refuse = |why: String| {
        findings.push(
            Diagnostic::error(path, "invalid-webhook-url", why)
                .with_hint("write `https://host[:port][/path]`, or `http://` to 127.0.0.1, localhost or a *.svc name"),
        );
        None
    };
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return refuse(format!("{url:?} is not an http or https URL"));
    };
    if rest.contains(['?', '#', '@']) || rest.chars().any(char::is_whitespace) {
        return refuse(format!(
            "{url:?}: a checker URL has no query, fragment, user info or spaces"
        ));
    }
    let (authority, prefix) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let Some((host, port)) = host_port(authority, if tls { 443 } else { 80 }) else {
        return refuse(format!("{url:?} has no valid host and port"));
    };
    if !tls && !local_host(&host) {
        return refuse(format!(
            "plain http to {host:?} would send prompts unencrypted over a network; use https"
        ));
    }
    if prefix.split('/').any(|s| s == "." || s == "..") || prefix.contains('%') {
        return refuse(format!(
            "{url:?}: the path holds dot segments or percent-encoding"
        ));
    }
    Some(Target {
        host,
        port,
        tls,
        path: prefix.trim_end_matches('/').to_owned(),
    })
}

fn host_port(authority: &str, default: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        (host.to_owned(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        }
    };
    let port = match port {
        None => default,
        Some(port) => port.parse::<u16>().ok().filter(|p| *p > 0)?,
    };
    let valid = host.parse::<IpAddr>().is_ok()
        || (!host.is_empty() && host.len() <= 253 && host.split('.').all(is_dns_label));
    valid.then(|| (host.to_ascii_lowercase(), port))
}

fn local_host(host: &str) -> bool {
    // The host was lower-cased: these are DNS suffixes, not file extensions.
    const CLUSTER: [&str; 2] = [".svc", ".svc.cluster.local"];
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    host == "localhost" || CLUSTER.iter().any(|suffix| host.ends_with(suffix))
}

/// Milliseconds of a Gateway API duration (`1h`, `30s`, `500ms`, `1m30s`: one to four
/// number–unit pairs); `None` when it is not one.
pub(super) fn duration_ms(text: &str) -> Option<u64> {
    let mut rest = text;
    let mut total: u64 = 0;
    let mut pairs = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return None;
        }
        let (number, after) = rest.split_at(digits);
        let number: u64 = number.parse().ok()?;
        let (unit_ms, after) = if let Some(after) = after.strip_prefix("ms") {
            (1, after)
        } else if let Some(after) = after.strip_prefix('h') {
            (3_600_000, after)
        } else if let Some(after) = after.strip_prefix('m') {
            (60_000, after)
        } else if let Some(after) = after.strip_prefix('s') {
            (1_000, after)
        } else {
            return None;
        };
        total = total.checked_add(number.checked_mul(unit_ms)?)?;
        pairs += 1;
        rest = after;
    }
    (1..=4).contains(&pairs).then_some(total)
}
