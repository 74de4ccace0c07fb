//! Response guards built straight from bundle types, for this module's tests.

use crate::bundle::{Builtin, Detector, Guard, GuardAction, GuardScope, RegexDetector, Rejection};
use crate::engine::BackendGuards;

pub(super) const MESSAGES: GuardScope = GuardScope {
    system: false,
    messages: true,
    tool_results: false,
    tool_use: false,
};

pub(super) fn guard(id: &str, action: GuardAction, detectors: Vec<Detector>) -> Guard {
    Guard {
        id: id.to_owned(),
        action,
        reject: Rejection {
            status: 400,
            message: format!("stopped by {id}"),
        },
        scope: MESSAGES,
        detectors,
        webhook: None,
    }
}

pub(super) fn phrase(pattern: &str) -> Detector {
    Detector::Regex(RegexDetector {
        pattern: pattern.to_owned(),
        path: "p".to_owned(),
    })
}

/// The case: email and card masked, plus a custom phrase masked.
pub(super) fn maskers() -> BackendGuards {
    let builtins = [
        Builtin::Email,
        Builtin::CreditCard,
        Builtin::Ssn,
        Builtin::PhoneNumber,
    ]
    .into_iter()
    .map(Detector::Builtin)
    .collect();
    BackendGuards::from_guards(&[
        guard("response[0]", GuardAction::Mask, builtins),
        guard(
            "response[1]",
            GuardAction::Mask,
            vec![phrase("project falcon")],
        ),
    ])
    .expect("builds")
}

/// A Reject on a phrase, before a Mask on emails.
pub(super) fn rejecter() -> BackendGuards {
    BackendGuards::from_guards(&[
        guard(
            "response[0]",
            GuardAction::Reject,
            vec![phrase("credit card")],
        ),
        guard(
            "response[1]",
            GuardAction::Mask,
            vec![Detector::Builtin(Builtin::Email)],
        ),
    ])
    .expect("builds")
}
