//! `spec.policies.ai.audit` → [`Audit`]: whether the proxy records prompt and response text
//! for this Backend, and how much of it. Owns the size bounds; must not decide where records
//! go (that is the proxy's `--audit-log`).

use agw_crds::AuditCapture;

use crate::bundle::Audit;
use crate::diagnostics::{Diagnostic, FieldPath};

/// Bytes of text kept per direction when `maxBytes` is not set.
pub const DEFAULT_MAX_BYTES: u32 = 64 * 1024;
/// Smallest `maxBytes`: less would cut most prompts to nothing useful.
pub const MIN_MAX_BYTES: u32 = 1024;
/// Largest `maxBytes`: an audit record is one line, held in memory until written.
pub const MAX_MAX_BYTES: u32 = 1024 * 1024;

pub(super) fn compile(
    audit: Option<&AuditCapture>,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> Option<Audit> {
    let audit = audit?;
    let Some(requested) = audit.max_bytes else {
        return Some(Audit {
            max_bytes: DEFAULT_MAX_BYTES,
        });
    };
    match u32::try_from(requested) {
        Ok(max_bytes) if (MIN_MAX_BYTES..=MAX_MAX_BYTES).contains(&max_bytes) => {
            Some(Audit { max_bytes })
        }
        _ => {
            findings.push(
                Diagnostic::error(
                    path.field("maxBytes"),
                    "audit-max-bytes",
                    format!("maxBytes {requested} is outside {MIN_MAX_BYTES}..={MAX_MAX_BYTES}"),
                )
                .with_hint("omit it for the default of 65536 bytes per direction"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(max_bytes: Option<i64>) -> (Option<Audit>, Vec<Diagnostic>) {
        let mut findings = Vec::new();
        let spec = AuditCapture { max_bytes };
        let path = FieldPath::spec()
            .field("policies")
            .field("ai")
            .field("audit");
        (compile(Some(&spec), &path, &mut findings), findings)
    }

    #[test]
    fn absent_means_off() {
        let mut findings = Vec::new();
        assert_eq!(compile(None, &FieldPath::spec(), &mut findings), None);
        assert!(findings.is_empty());
    }

    #[test]
    fn present_means_on_with_the_default_size() {
        assert_eq!(
            run(None).0,
            Some(Audit {
                max_bytes: DEFAULT_MAX_BYTES
            })
        );
        assert_eq!(run(Some(4096)).0, Some(Audit { max_bytes: 4096 }));
    }

    #[test]
    fn a_size_out_of_bounds_is_an_error_at_its_field() {
        for bad in [0, -1, 1023, 1_048_577, i64::MAX] {
            let (audit, findings) = run(Some(bad));
            assert_eq!(audit, None);
            assert_eq!(findings.len(), 1, "{bad}");
            assert!(findings[0].is_error());
            let text = format!("{:?}", findings[0]);
            assert!(text.contains("spec.policies.ai.audit.maxBytes"), "{text}");
        }
    }
}
