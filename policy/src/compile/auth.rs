//! `spec.policies.auth` → [`Auth`]: which header carries the key and where it is mounted.
//!
//! The bundle never contains the key itself: the operator mounts the referenced Secret key
//! as a file at `<auth_mount_root>/<namespace>/<secret>/<key>` and the proxy reads it.

use agw_crds::BackendAuth;

use super::CompileOptions;
use crate::bundle::{Auth, SecretKeyLocation};
use crate::diagnostics::{Diagnostic, FieldPath};

/// Header Anthropic reads the API key from.
pub const AUTH_HEADER: &str = "x-api-key";

pub(super) fn compile(
    auth: Option<&BackendAuth>,
    opts: &CompileOptions,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Option<Auth> {
    let Some(auth) = auth else {
        findings.push(
            Diagnostic::warning(path, "no-auth", "no auth is configured: clients' own API keys are forwarded")
                .with_hint("set `secretRef` to inject the key from a Secret and keep it off developer machines"),
        );
        return None;
    };
    let secret_ref = &auth.secret_ref;
    let ref_path = path.field("secretRef");
    let name = secret_ref.name.trim();
    let key = secret_ref.key_or_default().trim();
    for (field, value) in [("name", name), ("key", key)] {
        if !is_secret_segment(value) {
            findings.push(
                Diagnostic::error(
                    ref_path.field(field),
                    "invalid-secret-ref",
                    format!("{value:?} is not a valid Secret {field}"),
                )
                .with_hint("use letters, digits, `-`, `_` and `.`, as Kubernetes does"),
            );
        }
    }
    let root = opts.auth_mount_root.trim_end_matches('/');
    Some(Auth {
        header: AUTH_HEADER.to_owned(),
        secret_file: format!("{root}/{}/{name}/{key}", opts.namespace),
        secret: SecretKeyLocation {
            namespace: opts.namespace.clone(),
            name: name.to_owned(),
            key: key.to_owned(),
        },
    })
}

/// Secret names and keys become path segments, so `..` and `/` must never get through.
fn is_secret_segment(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value != "."
        && value != ".."
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use agw_crds::SecretKeyRef;

    use super::*;

    #[test]
    fn mounts_the_default_key_under_the_namespace() {
        let auth = BackendAuth {
            secret_ref: SecretKeyRef {
                name: "anthropic-secret".into(),
                key: None,
            },
        };
        let mut findings = Vec::new();
        let out = compile(
            Some(&auth),
            &CompileOptions::new("team-a", "anthropic"),
            &FieldPath::spec(),
            &mut findings,
        );
        assert!(findings.is_empty());
        let out = out.expect("auth");
        assert_eq!(
            out.secret_file,
            "/var/run/agw/auth/team-a/anthropic-secret/Authorization"
        );
        assert_eq!(out.header, "x-api-key");
    }

    #[test]
    fn path_traversal_in_a_key_is_rejected() {
        let auth = BackendAuth {
            secret_ref: SecretKeyRef {
                name: "s".into(),
                key: Some("../../etc/passwd".into()),
            },
        };
        let mut findings = Vec::new();
        compile(
            Some(&auth),
            &CompileOptions::new("ns", "b"),
            &FieldPath::spec().field("auth"),
            &mut findings,
        );
        assert_eq!(findings[0].code, "invalid-secret-ref");
        assert_eq!(findings[0].path, "spec.auth.secretRef.key");
    }
}
