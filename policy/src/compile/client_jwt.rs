//! `spec.policies.jwtAuthentication` → the bundle's [`JwtProvider`]s.
//!
//! Owns what makes a JWT provider workable: `Strict` mode only, an issuer, at least one
//! audience, exactly one key-set source (a URL that is one, an inline set that parses, a
//! Secret or ConfigMap key whose name is a safe path segment), claim names that are not
//! empty, and no two providers for one issuer. Must not fetch a URL or read a Secret.

use std::collections::BTreeSet;

use agw_crds::client_auth::{JWT_MODES, JwtAuthentication, JwtProvider as Spec, LocalKeyRef};

use super::names::is_secret_name;
use super::{CompileOptions, UNSUPPORTED_FIELD};
use crate::bundle::{JwksSource, JwtProvider, MountedJwks};
use crate::diagnostics::{Diagnostic, FieldPath};

/// Directory, under a namespace's auth mount, where ConfigMaps holding key sets are mounted.
pub const CONFIG_MAP_DIR: &str = ".configmaps";
/// The key read when a `secretRef`/`configMapRef` names none.
pub const DEFAULT_JWKS_KEY: &str = "jwks.json";
/// Default and shortest `remote.cacheDuration`, in seconds (agentgateway's bounds).
const MIN_CACHE_SECONDS: u64 = 300;

/// Compiles every provider, reporting every problem.
pub(super) fn compile(
    jwt: &JwtAuthentication,
    opts: &CompileOptions,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Vec<JwtProvider> {
    if let Some(mode) = jwt.mode.as_deref().filter(|m| !JWT_MODES.contains(m)) {
        findings.push(
            Diagnostic::error(
                path.field("mode"),
                "unsupported-auth-mode",
                format!(
                    "mode {mode:?} would let requests without a valid token spend the provider key"
                ),
            )
            .with_hint("use `Strict` (the default), or remove jwtAuthentication"),
        );
    }
    if jwt.providers.is_empty() {
        findings.push(
            Diagnostic::error(
                path.field("providers"),
                "jwt-no-providers",
                "no providers: no token could ever be accepted",
            )
            .with_hint(
                "add `providers: [{issuer: ..., audiences: [...], jwks: {remote: {uri: ...}}}]`",
            ),
        );
    }
    let mut issuers = BTreeSet::new();
    let mut out = Vec::new();
    for (i, provider) in jwt.providers.iter().enumerate() {
        let at = path.field("providers").index(i);
        let issuer = provider.issuer.trim();
        if issuer.is_empty() {
            findings.push(Diagnostic::error(
                at.field("issuer"),
                "jwt-issuer",
                "the issuer (`iss`) must not be empty",
            ));
        } else if !issuers.insert(issuer) {
            findings.push(Diagnostic::error(
                at.field("issuer"),
                "jwt-issuer-duplicate",
                format!(
                    "issuer {issuer:?} is configured twice; a token's `iss` picks one provider"
                ),
            ));
        }
        let audiences = audiences(provider, &at.field("audiences"), findings);
        if let Some(jwks) = jwks(provider, opts, &at.field("jwks"), findings) {
            out.push(JwtProvider {
                issuer: issuer.to_owned(),
                audiences,
                jwks,
                claims: provider.claims.clone(),
                identity_claim: claim_name(
                    provider.identity_claim.as_deref(),
                    "sub",
                    &at.field("identityClaim"),
                    findings,
                ),
                groups_claim: provider
                    .groups_claim
                    .as_deref()
                    .map(|c| claim_name(Some(c), "", &at.field("groupsClaim"), findings)),
            });
        }
        for (name, _) in provider.claims.iter().filter(|(n, _)| n.trim().is_empty()) {
            findings.push(Diagnostic::error(
                at.field("claims"),
                "jwt-claim-name",
                format!("claim name {name:?} is empty"),
            ));
        }
    }
    out
}

fn audiences(provider: &Spec, path: &FieldPath, findings: &mut Vec<Diagnostic>) -> Vec<String> {
    let audiences: Vec<String> = provider
        .audiences
        .iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    if audiences.is_empty() {
        findings.push(
            Diagnostic::error(
                path,
                "jwt-audiences-empty",
                "no audience: a token minted for any other service of this issuer would pass",
            )
            .with_hint(
                "list the `aud` values your identity provider puts in tokens for this gateway",
            ),
        );
    }
    audiences
}

fn claim_name(
    name: Option<&str>,
    default: &str,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> String {
    let name = name.map_or(default, str::trim);
    if name.is_empty() {
        findings.push(Diagnostic::error(
            path,
            "jwt-claim-name",
            "the claim name must not be empty",
        ));
    }
    name.to_owned()
}

fn jwks(
    provider: &Spec,
    opts: &CompileOptions,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Option<JwksSource> {
    let jwks = &provider.jwks;
    let set = [
        jwks.remote.is_some(),
        jwks.inline.is_some(),
        jwks.secret_ref.is_some(),
        jwks.config_map_ref.is_some(),
    ];
    let count = set.iter().filter(|s| **s).count();
    if count != 1 {
        findings.push(
            Diagnostic::error(
                path,
                "jwks-source",
                if count == 0 {
                    "no key set: set one of `remote`, `inline`, `secretRef` or `configMapRef`"
                } else {
                    "set only one of `remote`, `inline`, `secretRef` and `configMapRef`"
                },
            )
            .with_hint(
                "e.g. `jwks: {remote: {uri: https://idp.example.com/.well-known/jwks.json}}`",
            ),
        );
        return None;
    }
    if let Some(remote) = &jwks.remote {
        if remote.backend_ref.is_some() {
            findings.push(
                Diagnostic::error(
                    path.field("remote").field("backendRef"),
                    UNSUPPORTED_FIELD,
                    "not supported by agw: `backendRef`",
                )
                .with_hint("give the key set's URL in `uri`"),
            );
        }
        let uri = remote.uri.trim();
        if !is_url(uri) {
            findings.push(
                Diagnostic::error(
                    path.field("remote").field("uri"),
                    "jwks-uri",
                    format!("{uri:?} is not an http(s) URL with a host"),
                )
                .with_hint("e.g. `https://idp.example.com/.well-known/jwks.json`"),
            );
        }
        let cache_seconds = match remote.cache_duration.as_deref().map(str::trim) {
            None => MIN_CACHE_SECONDS,
            Some(text) => match parse_duration(text) {
                Some(seconds) if seconds >= MIN_CACHE_SECONDS => seconds,
                _ => {
                    findings.push(Diagnostic::error(
                        path.field("remote").field("cacheDuration"),
                        "jwks-cache-duration",
                        format!("{text:?} is not a duration of at least 5m (e.g. `10m`, `1h`)"),
                    ));
                    MIN_CACHE_SECONDS
                }
            },
        };
        return Some(JwksSource::Remote {
            uri: uri.to_owned(),
            cache_seconds,
        });
    }
    if let Some(inline) = &jwks.inline {
        if let Err(err) = crate::jwks::parse(inline.as_bytes()) {
            findings.push(Diagnostic::error(
                path.field("inline"),
                "jwks-invalid",
                err.to_string(),
            ));
        }
        return Some(JwksSource::Inline(inline.clone()));
    }
    let (kind, field, reference) = match (&jwks.secret_ref, &jwks.config_map_ref) {
        (Some(secret), _) => ("Secret", "secretRef", secret),
        (None, Some(map)) => ("ConfigMap", "configMapRef", map),
        (None, None) => return None,
    };
    mounted(kind, reference, opts, &path.field(field), findings).map(JwksSource::Mounted)
}

fn mounted(
    kind: &str,
    reference: &LocalKeyRef,
    opts: &CompileOptions,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Option<MountedJwks> {
    let name = reference.name.trim();
    let key = reference.key.as_deref().map_or(DEFAULT_JWKS_KEY, str::trim);
    let mut ok = true;
    if !is_secret_name(name) {
        findings.push(Diagnostic::error(
            path.field("name"),
            "invalid-secret-ref",
            format!("{name:?} is not a valid {kind} name"),
        ));
        ok = false;
    }
    let key_ok = !key.is_empty()
        && key.len() <= 253
        && !key.starts_with('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !key_ok {
        findings.push(Diagnostic::error(
            path.field("key"),
            "invalid-secret-ref",
            format!("{key:?} is not a valid {kind} key"),
        ));
        ok = false;
    }
    let root = opts.auth_mount_root.trim_end_matches('/');
    let namespace = &opts.namespace;
    let dir = if kind == "Secret" {
        format!("{root}/{namespace}/{name}")
    } else {
        format!("{root}/{namespace}/{CONFIG_MAP_DIR}/{name}")
    };
    ok.then(|| MountedJwks {
        kind: kind.to_owned(),
        namespace: namespace.clone(),
        name: name.to_owned(),
        key: key.to_owned(),
        dir,
    })
}

fn is_url(uri: &str) -> bool {
    let Some(rest) = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, port)| {
            if port.parse::<u16>().is_ok() {
                host
            } else {
                ""
            }
        });
    !host.is_empty()
        && !authority.contains('@')
        && !uri.contains(char::is_whitespace)
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '[' | ']' | ':'))
}

/// `90s`, `5m`, `1h30m`: seconds.
fn parse_duration(text: &str) -> Option<u64> {
    let (mut total, mut number) = (0u64, String::new());
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let value: u64 = std::mem::take(&mut number).parse().ok()?;
        total = total.checked_add(value.checked_mul(unit)?)?;
    }
    (number.is_empty() && !text.is_empty()).then_some(total)
}

#[cfg(test)]
mod tests;
