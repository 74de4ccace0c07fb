//! The manifests of the Claude Code tutorial (`agentgateway.dev`, "Claude Code CLI proxy"),
//! steps 3–8, as the docs print them: the docs' snippets filled in (namespace
//! `agentgateway-system`, Gateway class `agentgateway`, the Backend's kind), nothing else
//! changed — except where the test must point the Backend at the mock Anthropic API
//! (`spec.ai.provider.host`/`port`), which a user does not need. Owns: that text.
//! Must not: drift from the tutorial; a change here is a change to what users paste.

/// The tutorial's namespace (`agw-docs/snippets/namespace.md`).
pub const NAMESPACE: &str = "agentgateway-system";
/// The message of the tutorial's prompt guard (step 8).
pub const REJECTION: &str = "Rejected due to inappropriate content";

/// Step 3: the Gateway.
pub fn gateway() -> String {
    format!(
        r"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: agentgateway-proxy
  namespace: {NAMESPACE}
  labels:
    app: agentgateway
spec:
  gatewayClassName: agentgateway
  listeners:
  - protocol: HTTP
    port: 80
    name: http
    allowedRoutes:
      namespaces:
        from: All
"
    )
}

/// Step 4: the Secret, with `api_key` for `$ANTHROPIC_API_KEY`.
pub fn secret(api_key: &str) -> String {
    format!(
        r"apiVersion: v1
kind: Secret
metadata:
  name: anthropic-secret
  namespace: {NAMESPACE}
  labels:
    app: agentgateway
type: Opaque
stringData:
  Authorization: {api_key}
"
    )
}

/// Where the tutorial's Backend sends requests in a test: the mock's address, which a user
/// leaves out (the default is api.anthropic.com:443).
#[derive(Clone, Copy, Debug)]
pub struct Upstream<'a> {
    /// `spec.ai.provider.host`.
    pub host: &'a str,
    /// `spec.ai.provider.port`.
    pub port: u16,
}

/// Step 5 (flexible model, `anthropic: {}`), or step 8 when `guarded`: the Backend of kind
/// `kind` (`Backend`, or `AgentgatewayBackend` as the live docs render the kind snippet).
pub fn backend(kind: &str, upstream: Upstream<'_>, guarded: bool) -> String {
    let Upstream { host, port } = upstream;
    let guard = if guarded {
        r#"      promptGuard:
        request:
        - response:
            message: "Rejected due to inappropriate content"
          regex:
            action: Reject
            matches:
            - "credit card"
"#
    } else {
        ""
    };
    format!(
        r"apiVersion: agentgateway.dev/v1alpha1
kind: {kind}
metadata:
  name: anthropic
  namespace: {NAMESPACE}
  labels:
    app: agentgateway
spec:
  ai:
    provider:
      anthropic: {{}}
      host: {host}
      port: {port}
  policies:
    ai:
      routes:
        '/v1/messages': Messages
        '*': Passthrough
{guard}    auth:
      secretRef:
        name: anthropic-secret
"
    )
}

/// Step 6: the HTTPRoute to the Backend of kind `kind`.
pub fn http_route(kind: &str) -> String {
    format!(
        r"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: claude
  namespace: {NAMESPACE}
  labels:
    app: agentgateway
spec:
  parentRefs:
    - name: agentgateway-proxy
      namespace: {NAMESPACE}
  rules:
    - matches:
      - path:
          type: PathPrefix
          value: /
      backendRefs:
      - name: anthropic
        namespace: {NAMESPACE}
        group: agentgateway.dev
        kind: {kind}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> serde_json::Value {
        serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }

    #[test]
    fn every_manifest_is_valid_yaml_in_the_tutorials_namespace() {
        let upstream = Upstream {
            host: "10.255.0.1",
            port: 18080,
        };
        for yaml in [
            gateway(),
            secret("sk-ant-x"),
            backend("Backend", upstream, false),
            backend("AgentgatewayBackend", upstream, true),
            http_route("Backend"),
        ] {
            assert_eq!(parse(&yaml)["metadata"]["namespace"], NAMESPACE, "{yaml}");
        }
        let guarded = parse(&backend("Backend", upstream, true));
        let guard = &guarded["spec"]["policies"]["ai"]["promptGuard"]["request"][0];
        assert_eq!(guard["response"]["message"], REJECTION);
        assert_eq!(guard["regex"]["matches"][0], "credit card");
        assert_eq!(guarded["spec"]["ai"]["provider"]["port"], 18080);
    }
}
