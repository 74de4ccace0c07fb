//! `spec.ai.provider` → [`Upstream`]: where the proxy connects, and the pinned model.

use agw_crds::{AiProvider, BackendTls};

use crate::bundle::Upstream;
use crate::diagnostics::{Diagnostic, FieldPath};

/// Anthropic's API host, used when the spec names none.
pub const DEFAULT_HOST: &str = "api.anthropic.com";
/// Port used when the spec names none; TLS is implied on it.
pub const DEFAULT_PORT: u16 = 443;

pub(super) fn compile(
    provider: &AiProvider,
    tls: Option<&BackendTls>,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Upstream {
    let host = provider.host.as_deref().map_or(DEFAULT_HOST, str::trim);
    check_host(host, &path.field("host"), findings);
    let port = provider.port.map_or(DEFAULT_PORT, |port| {
        u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .unwrap_or_else(|| {
                findings.push(
                    Diagnostic::error(
                        path.field("port"),
                        "invalid-port",
                        format!("port {port} is not between 1 and 65535"),
                    )
                    .with_hint("omit it to use 443"),
                );
                DEFAULT_PORT
            })
    });
    let path_prefix = normalize_prefix(provider.path.as_deref(), &path.field("path"), findings);
    let model = provider
        .anthropic
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    Upstream {
        host: host.to_owned(),
        port,
        tls: port == DEFAULT_PORT || tls.is_some(),
        sni: tls.and_then(|t| t.sni.clone()),
        path_prefix,
        model: model.map(str::to_owned),
    }
}

fn check_host(host: &str, path: &FieldPath, findings: &mut Vec<Diagnostic>) {
    let bad = |message: String, hint: &str| {
        Diagnostic::error(path, "invalid-host", message).with_hint(hint.to_owned())
    };
    if let Some((scheme, _)) = host.split_once("://") {
        findings.push(bad(
            format!("host {host:?} includes a scheme ({scheme}://)"),
            "give the bare host name, e.g. `api.anthropic.com`; TLS follows from the port or `policies.tls`",
        ));
    } else if host.contains(['/', '?', '#']) {
        findings.push(bad(
            format!("host {host:?} includes a path"),
            "put the path prefix in `path`",
        ));
    } else if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
        findings.push(bad(
            format!("host {host:?} includes a port"),
            "put the port in `port`",
        ));
    } else if host.is_empty() || host.len() > 253 || !host.chars().all(is_host_char) {
        findings.push(bad(
            format!("host {host:?} is not a valid host name or IP address"),
            "e.g. `api.anthropic.com`",
        ));
    }
}

fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':')
}

/// `/`, `""` and `None` mean no prefix; otherwise a leading `/` and no trailing `/`.
fn normalize_prefix(raw: Option<&str>, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> String {
    let Some(raw) = raw.map(str::trim) else {
        return String::new();
    };
    if raw.contains(['?', '#']) || raw.chars().any(char::is_whitespace) {
        findings.push(
            Diagnostic::error(
                path,
                "invalid-path",
                format!("path prefix {raw:?} must be a plain path"),
            )
            .with_hint("no query string, fragment or spaces, e.g. `/anthropic`"),
        );
        return String::new();
    }
    let trimmed = raw.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(host: Option<&str>, port: Option<i32>, path: Option<&str>) -> AiProvider {
        AiProvider {
            host: host.map(str::to_owned),
            port,
            path: path.map(str::to_owned),
            ..AiProvider::default()
        }
    }

    fn run(p: &AiProvider, tls: Option<&BackendTls>) -> (Upstream, Vec<Diagnostic>) {
        let mut findings = Vec::new();
        let up = compile(
            p,
            tls,
            &FieldPath::spec().field("ai").field("provider"),
            &mut findings,
        );
        (up, findings)
    }

    #[test]
    fn defaults_to_anthropic_over_tls() {
        let (up, findings) = run(&provider(None, None, None), None);
        assert!(findings.is_empty());
        assert_eq!(
            (up.host.as_str(), up.port, up.tls, up.path_prefix.as_str()),
            (DEFAULT_HOST, 443, true, "")
        );
    }

    #[test]
    fn local_mock_is_plain_http_unless_tls_policy_is_set() {
        let (up, _) = run(
            &provider(Some("127.0.0.1"), Some(8081), Some("/anthropic/")),
            None,
        );
        assert_eq!(
            (up.port, up.tls, up.path_prefix.as_str()),
            (8081, false, "/anthropic")
        );
        let (up, _) = run(
            &provider(Some("llm.corp"), Some(8443), None),
            Some(&BackendTls::default()),
        );
        assert!(up.tls);
    }

    #[test]
    fn host_with_scheme_port_or_path_is_rejected_with_a_hint() {
        for host in [
            "https://api.anthropic.com",
            "api.anthropic.com:443",
            "api.anthropic.com/v1",
            "bad host",
        ] {
            let (_, findings) = run(&provider(Some(host), None, None), None);
            assert_eq!(findings.len(), 1, "{host}");
            assert_eq!(findings[0].code, "invalid-host");
            assert_eq!(findings[0].path, "spec.ai.provider.host");
        }
    }
}
