//! Prompt enrichment against the Backend's own request guards.
//!
//! The proxy runs the guards on the enriched prompt (agentgateway's order), so an enrichment
//! text a Reject guard matches would reject every request, and one a Mask guard matches would
//! be masked in every request. Both are found here, with the same engine the proxy runs.
//! Owns: those two findings. Must not: judge the enrichment's shape (`enrich` does).

use agw_crds::PromptEnrichment;

use super::enrich::role;
use crate::bundle::{GuardSet, PromptRole};
use crate::diagnostics::{Diagnostic, FieldPath};
use crate::engine::{BackendGuards, Decision, Segment, SegmentKind};

pub(super) fn check(
    guards: &GuardSet,
    spec: Option<&PromptEnrichment>,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) {
    let Some(spec) = spec.filter(|_| !guards.request.is_empty()) else {
        return;
    };
    // Guards that do not build were reported where they are written.
    let Ok(engine) = BackendGuards::from_guard_set(guards) else {
        return;
    };
    for (list, name) in [(&spec.prepend, "prepend"), (&spec.append, "append")] {
        for (index, message) in list.iter().enumerate() {
            // Indexed as written: entries `enrich` refused are skipped, not renumbered.
            let Some(role) = role(&message.role) else {
                continue;
            };
            let kind = if role == PromptRole::System {
                SegmentKind::System
            } else {
                SegmentKind::Message
            };
            let segment = Segment {
                kind,
                text: &message.content,
            };
            let at = path.field(name).index(index).field("content");
            match engine.evaluate_request(&[segment]) {
                Decision::Allow => {}
                Decision::Reject(rejected) => findings.push(
                    Diagnostic::error(
                        at,
                        "enrichment-rejected",
                        format!(
                            "guard {} rejects this text, and the guards read the enriched prompt, so every request would be rejected",
                            rejected.guard_id
                        ),
                    )
                    .with_hint("reword the text so the guard does not match it"),
                ),
                Decision::Mask(masked) => {
                    let ids: Vec<&str> = masked.hits.iter().map(|h| h.guard_id.as_str()).collect();
                    findings.push(
                        Diagnostic::warning(
                            at,
                            "enrichment-masked",
                            format!(
                                "guard {} masks part of this text in every request",
                                ids.join(", ")
                            ),
                        )
                        .with_hint("reword the text so the guard does not match it"),
                    );
                }
            }
        }
    }
}
