//! `spec.policies.apiKeyAuthentication`, `jwtAuthentication` and `authorization` →
//! [`ClientPolicy`] (with the JWT providers of [`super::client_jwt`] and the limits of
//! [`super::rate_limit`]). Gateway keys and JWTs may be configured together: a request is
//! authenticated by either.
//!
//! Owns what makes a client policy workable: one key source, Secret names that are safe path
//! segments, a key Secret that is not the provider key's, a selector that selects something
//! specific, allow rules that can match, and limits per identity only when there are
//! identities. Must not read a Secret (the webhook sees none; the proxy and the operator read
//! entries through [`crate::client_keys`]).

use agw_crds::{
    ApiKeyAuthentication, Authorization, BackendPolicies, JwtAuthentication, RateLimit,
};

use super::names::is_secret_name;
use super::{CompileOptions, UNSUPPORTED_FIELD, client_jwt, rate_limit};
use crate::bundle::{AllowRule, ClientPolicy, KeySource};
use crate::diagnostics::{Diagnostic, FieldPath};

/// Directory, under a namespace's auth mount, where label-selected key Secrets of a backend
/// are mounted (`<root>/<ns>/.selected/<backend>/<secret>`). Secret names cannot start with
/// a dot, so it never collides with a named Secret's mount.
pub const SELECTED_DIR: &str = ".selected";

/// The governance fields a Backend's `spec.policies` and an `AgentgatewayPolicy`'s
/// `spec.traffic` share, compiled alike.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Governance<'a> {
    pub api_keys: Option<&'a ApiKeyAuthentication>,
    pub jwt: Option<&'a JwtAuthentication>,
    pub authorization: Option<&'a Authorization>,
    pub rate_limit: Option<&'a RateLimit>,
}

impl<'a> Governance<'a> {
    /// A Backend's.
    pub fn of_backend(policies: &'a BackendPolicies) -> Self {
        Self {
            api_keys: policies.api_key_authentication.as_ref(),
            jwt: policies.jwt_authentication.as_ref(),
            authorization: policies.authorization.as_ref(),
            rate_limit: policies.rate_limit.as_ref(),
        }
    }

    fn authenticates(&self) -> bool {
        self.api_keys.is_some() || self.jwt.is_some()
    }
}

/// Compiles a Backend's client policy; `None` when the Backend has none (anyone, unlimited).
pub(super) fn compile(
    policies: Option<&BackendPolicies>,
    opts: &CompileOptions,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Option<ClientPolicy> {
    let policies = policies?;
    let governance = Governance::of_backend(policies);
    if governance.authenticates() && policies.auth.is_none() {
        let field = if policies.api_key_authentication.is_some() {
            "apiKeyAuthentication"
        } else {
            "jwtAuthentication"
        };
        findings.push(
            Diagnostic::error(path.field(field), "client-auth-without-provider-key", "clients present their own credentials, so the provider key must come from `policies.auth`")
                .with_hint("set `policies.auth.secretRef` to the Secret holding the Anthropic API key; the client's credential is never forwarded"),
        );
    }
    let keys = KeyPlace {
        provider_secret: policies.auth.as_ref().map(|a| a.secret_ref.name.trim()),
        selected_dir: format!("{SELECTED_DIR}/{}", opts.name),
    };
    compile_governance(governance, &keys, opts, path, findings)
}

/// Where a governance block's key Secrets go, and which Secret they must not be.
pub(super) struct KeyPlace<'a> {
    /// The provider key's Secret, which must not double as a key Secret.
    pub provider_secret: Option<&'a str>,
    /// The directory, under the namespace's auth mount, of label-selected key Secrets.
    pub selected_dir: String,
}

/// Compiles the governance fields into a client policy; `None` when there are none.
pub(super) fn compile_governance(
    governance: Governance<'_>,
    keys: &KeyPlace<'_>,
    opts: &CompileOptions,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Option<ClientPolicy> {
    let authenticated = governance.authenticates();
    let key_sources = governance
        .api_keys
        .map(|api_keys| {
            key_sources(
                api_keys,
                keys,
                opts,
                &path.field("apiKeyAuthentication"),
                findings,
            )
        })
        .unwrap_or_default();
    let jwt_providers = governance
        .jwt
        .map(|jwt| client_jwt::compile(jwt, opts, &path.field("jwtAuthentication"), findings))
        .unwrap_or_default();
    let allow = governance
        .authorization
        .map(|authz| authorization(authz, authenticated, &path.field("authorization"), findings));
    let limits = governance
        .rate_limit
        .map(|limits| {
            rate_limit::compile(limits, authenticated, &path.field("rateLimit"), findings)
        })
        .unwrap_or_default();
    let policy = ClientPolicy {
        key_sources,
        jwt_providers,
        allow,
        limits,
    };
    (policy != ClientPolicy::default()).then_some(policy)
}

fn key_sources(
    keys: &ApiKeyAuthentication,
    place: &KeyPlace<'_>,
    opts: &CompileOptions,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<KeySource> {
    if let Some(mode) = keys.mode.as_deref().filter(|m| *m != "Strict") {
        findings.push(
            Diagnostic::error(
                path.field("mode"),
                "unsupported-auth-mode",
                format!(
                    "mode {mode:?} would let requests without a valid key spend the provider key"
                ),
            )
            .with_hint("use `Strict` (the default), or remove apiKeyAuthentication"),
        );
    }
    for (name, present) in [
        ("configMapSelector", keys.config_map_selector.is_some()),
        ("location", keys.location.is_some()),
    ] {
        if present {
            findings.push(
                Diagnostic::error(path.field(name), UNSUPPORTED_FIELD, format!("not supported by agw: `{name}`"))
                    .with_hint("keys come from Secrets (`secretRef` or `secretSelector`) and are read from `x-api-key` or `Authorization: Bearer`"),
            );
        }
    }
    let root = opts.auth_mount_root.trim_end_matches('/');
    let namespace = &opts.namespace;
    match (&keys.secret_ref, &keys.secret_selector) {
        (Some(secret), None) => {
            let name = secret.name.trim();
            if !is_secret_name(name) {
                findings.push(Diagnostic::error(
                    path.field("secretRef").field("name"),
                    "invalid-secret-ref",
                    format!("{name:?} is not a valid Secret name"),
                ));
            } else if place.provider_secret == Some(name) {
                findings.push(
                    Diagnostic::error(
                        path.field("secretRef").field("name"),
                        "client-keys-in-provider-secret",
                        format!("Secret {name:?} holds the provider key (policies.auth.secretRef); its entries would be read as client keys"),
                    )
                    .with_hint("keep gateway keys in a Secret of their own"),
                );
            }
            vec![KeySource {
                namespace: namespace.clone(),
                secret: Some(name.to_owned()),
                match_labels: None,
                dir: format!("{root}/{namespace}/{name}"),
            }]
        }
        (None, Some(selector)) => {
            if selector.match_labels.is_empty() {
                findings.push(
                    Diagnostic::error(
                        path.field("secretSelector").field("matchLabels"),
                        "empty-secret-selector",
                        "an empty selector would read every Secret in the namespace as client keys",
                    )
                    .with_hint(
                        "label the key Secrets, e.g. `agentgateway.dev/client-keys: team-a`",
                    ),
                );
            }
            vec![KeySource {
                namespace: namespace.clone(),
                secret: None,
                match_labels: Some(selector.match_labels.clone()),
                dir: format!("{root}/{namespace}/{}", place.selected_dir),
            }]
        }
        (secret, selector) => {
            let both = secret.is_some() && selector.is_some();
            findings.push(
                Diagnostic::error(
                    path,
                    "api-key-source",
                    if both {
                        "set only one of `secretRef` and `secretSelector`"
                    } else {
                        "no key source: set `secretRef` or `secretSelector`"
                    },
                )
                .with_hint(
                    "each Secret entry is one identity: `<name>: {\"keyHash\": \"sha256:<hex>\"}`",
                ),
            );
            Vec::new()
        }
    }
}

fn authorization(
    authz: &Authorization,
    authenticated: bool,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<AllowRule> {
    for (name, present) in [
        ("policy", authz.policy.is_some()),
        ("action", authz.action.is_some()),
    ] {
        if present {
            findings.push(
                Diagnostic::error(
                    path.field(name),
                    UNSUPPORTED_FIELD,
                    format!("not supported by agw: `{name}` (CEL authorization)"),
                )
                .with_hint("list who may call in `rules` (identities, groups, models)"),
            );
        }
    }
    if !authenticated {
        findings.push(
            Diagnostic::error(
                path,
                "authorization-without-authentication",
                "authorization needs identities, and no client authentication is configured",
            )
            .with_hint("add `apiKeyAuthentication` or `jwtAuthentication`"),
        );
    }
    if authz.rules.is_empty() && authz.policy.is_none() {
        findings.push(
            Diagnostic::error(path.field("rules"), "authorization-rules-empty", "no rules: every request would be denied")
                .with_hint("list identities or groups, or remove `authorization` to allow every authenticated identity"),
        );
    }
    authz
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let rule_path = path.field("rules").index(i);
            if rule.identities.is_empty() && rule.groups.is_empty() {
                findings.push(Diagnostic::error(
                    &rule_path,
                    "authorization-rule-empty",
                    "a rule must name `identities` or `groups`",
                ));
            }
            for (j, model) in rule.models.iter().enumerate() {
                let star = model.find('*');
                if model.is_empty() || star.is_some_and(|at| at + 1 != model.len()) {
                    findings.push(
                        Diagnostic::error(
                            rule_path.field("models").index(j),
                            "invalid-model-pattern",
                            format!("{model:?} is not a model name or a prefix ending in `*`"),
                        )
                        .with_hint("e.g. `claude-haiku-*` or `claude-sonnet-4-5-20250929`"),
                    );
                }
            }
            AllowRule {
                identities: rule.identities.clone(),
                groups: rule.groups.clone(),
                models: rule.models.clone(),
            }
        })
        .collect()
}
