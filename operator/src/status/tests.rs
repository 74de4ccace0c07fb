use agw_crds::conditions::{reasons, types};
use k8s_openapi::jiff::Timestamp;

use super::*;

fn at(seconds: i64) -> Time {
    Time(Timestamp::from_second(seconds).unwrap())
}

fn observed() -> Observed {
    Observed {
        generation: Some(1),
        acceptance: Acceptance::Accepted { warnings: vec![] },
        references: References::Resolved,
        clients: ClientKeys::NotConfigured,
        programming: Programming::Applied {
            digest: "sha256:aa".to_owned(),
            guards: 2,
        },
        availability: Availability {
            available: 1,
            desired: 1,
            exists: true,
        },
    }
}

fn find<'a>(status: &'a BackendStatus, type_: &str) -> &'a Condition {
    status.conditions.iter().find(|c| c.type_ == type_).unwrap()
}

#[test]
fn a_healthy_backend_has_four_true_conditions_and_its_digest() {
    let status = desired(None, &observed(), &at(100));
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.bundle_digest.as_deref(), Some("sha256:aa"));
    assert_eq!(status.guards, Some(2));
    for type_ in [
        types::ACCEPTED,
        types::RESOLVED_REFS,
        types::PROGRAMMED,
        types::READY,
    ] {
        let condition = find(&status, type_);
        assert_eq!(condition.status, "True", "{type_}");
        assert_eq!(condition.observed_generation, Some(1));
        assert_eq!(condition.last_transition_time, at(100));
    }
}

#[test]
fn observing_the_same_again_changes_nothing() {
    let first = desired(None, &observed(), &at(100));
    let second = desired(Some(&first), &observed(), &at(200));
    assert_eq!(first, second, "equal status means no write");
    assert!(transitions(Some(&first), &second).is_empty());
}

#[test]
fn only_conditions_that_flip_get_a_new_transition_time() {
    let first = desired(None, &observed(), &at(100));
    let mut broken = observed();
    broken.generation = Some(2);
    broken.acceptance = Acceptance::Invalid("spec.x: bad".to_owned());
    broken.programming = Programming::KeptLastGood {
        digest: Some("sha256:aa".to_owned()),
        guards: Some(2),
    };
    let second = desired(Some(&first), &broken, &at(200));
    let accepted = find(&second, types::ACCEPTED);
    assert_eq!(accepted.status, "False");
    assert_eq!(accepted.reason, reasons::INVALID_SPEC);
    assert_eq!(accepted.message, "spec.x: bad");
    assert_eq!(accepted.last_transition_time, at(200));
    let ready = find(&second, types::READY);
    assert_eq!(ready.last_transition_time, at(100), "Ready did not change");
    assert_eq!(ready.observed_generation, Some(2));
    assert_eq!(
        second.bundle_digest.as_deref(),
        Some("sha256:aa"),
        "last good digest kept"
    );
    let flipped: Vec<_> = transitions(Some(&first), &second)
        .iter()
        .map(|c| c.type_.clone())
        .collect();
    assert_eq!(flipped, [types::ACCEPTED, types::PROGRAMMED]);
}

#[test]
fn a_new_mistake_in_an_invalid_spec_is_a_transition_of_accepted_alone() {
    let mut broken = observed();
    broken.acceptance = Acceptance::Invalid("spec.x: bad".to_owned());
    broken.programming = Programming::KeptLastGood {
        digest: Some("sha256:aa".to_owned()),
        guards: Some(2),
    };
    let first = desired(None, &broken, &at(100));
    let mut other = broken.clone();
    other.generation = Some(2);
    other.acceptance = Acceptance::Invalid("spec.y: also bad".to_owned());
    let second = desired(Some(&first), &other, &at(200));
    let flipped: Vec<_> = transitions(Some(&first), &second)
        .iter()
        .map(|c| (c.type_.clone(), c.message.clone()))
        .collect();
    assert_eq!(
        flipped,
        [(types::ACCEPTED.to_owned(), "spec.y: also bad".to_owned())]
    );
    // The same mistake again (a later generation) is not news.
    let mut same = other.clone();
    same.generation = Some(3);
    let third = desired(Some(&second), &same, &at(300));
    assert!(transitions(Some(&second), &third).is_empty());
}

#[test]
fn another_condition_s_message_alone_is_not_news() {
    let first = desired(None, &observed(), &at(100));
    let mut scaling = observed();
    scaling.availability.desired = 3;
    scaling.availability.available = 2;
    let second = desired(Some(&first), &scaling, &at(200));
    let (before, after) = (find(&first, types::READY), find(&second, types::READY));
    assert_eq!(
        (&before.status, &before.reason),
        (&after.status, &after.reason)
    );
    assert_ne!(before.message, after.message, "1/1 became 2/3");
    assert!(transitions(Some(&first), &second).is_empty());
}

#[test]
fn a_missing_secret_or_key_is_named() {
    let mut missing = observed();
    missing.references = References::SecretNotFound {
        secret: "ns/anthropic-secret".to_owned(),
    };
    let status = desired(None, &missing, &at(1));
    let refs = find(&status, types::RESOLVED_REFS);
    assert_eq!(
        (refs.status.as_str(), refs.reason.as_str()),
        ("False", reasons::SECRET_NOT_FOUND)
    );
    assert!(refs.message.contains("ns/anthropic-secret"));

    missing.references = References::KeyNotFound {
        secret: "ns/anthropic-secret".to_owned(),
        key: "Authorization".to_owned(),
    };
    let status = desired(None, &missing, &at(1));
    let refs = find(&status, types::RESOLVED_REFS);
    assert_eq!(refs.reason, reasons::KEY_NOT_FOUND);
    assert!(refs.message.contains("Authorization"));
}

#[test]
fn long_diagnostics_are_cut_on_a_character_boundary() {
    let mut invalid = observed();
    invalid.acceptance = Acceptance::Invalid("é".repeat(MAX_MESSAGE));
    let status = desired(None, &invalid, &at(1));
    let message = &find(&status, types::ACCEPTED).message;
    assert!(message.len() <= MAX_MESSAGE + 20);
    assert!(message.ends_with("(truncated)"));
}

#[test]
fn a_refused_apply_says_why_and_keeps_the_served_digest() {
    let first = desired(None, &observed(), &at(100));
    let mut refused = observed();
    refused.programming = Programming::ApplyFailed {
        message:
            "applying Service ns/anthropic-proxy: failed to allocate a serviceIP: range is full"
                .to_owned(),
        digest: first.bundle_digest.clone(),
        guards: first.guards,
    };
    let second = desired(Some(&first), &refused, &at(200));
    let programmed = find(&second, types::PROGRAMMED);
    assert_eq!(programmed.status, "False");
    assert_eq!(programmed.reason, reasons::APPLY_FAILED);
    assert!(
        programmed.message.contains("range is full"),
        "{}",
        programmed.message
    );
    assert_eq!(second.bundle_digest, first.bundle_digest);
}

#[test]
fn client_keys_give_the_identity_count_or_say_which_entry_is_wrong() {
    let mut observed = observed();
    observed.clients = ClientKeys::Valid {
        identities: 2,
        jwt_providers: 0,
    };
    let status = desired(None, &observed, &at(100));
    assert_eq!(status.identities, Some(2));
    assert_eq!(status.jwt_providers, None);
    assert_eq!(find(&status, types::RESOLVED_REFS).status, "True");
    observed.clients = ClientKeys::Invalid("Secret ns/keys data.dave: not a key entry".into());
    let status = desired(None, &observed, &at(100));
    assert_eq!(status.identities, None);
    let refs = find(&status, types::RESOLVED_REFS);
    assert_eq!(refs.status, "False");
    assert_eq!(refs.reason, reasons::INVALID_CLIENT_KEYS);
    assert!(refs.message.contains("data.dave"), "{}", refs.message);
}

#[test]
fn jwt_providers_are_counted_and_a_missing_key_set_is_named() {
    let mut observed = observed();
    observed.clients = ClientKeys::Valid {
        identities: 0,
        jwt_providers: 2,
    };
    let status = desired(None, &observed, &at(100));
    assert_eq!(status.jwt_providers, Some(2));
    assert_eq!(find(&status, types::RESOLVED_REFS).status, "True");
    observed.clients = ClientKeys::InvalidJwks("ConfigMap ns/idp-jwks not found".into());
    let status = desired(None, &observed, &at(100));
    assert_eq!(status.jwt_providers, None);
    let refs = find(&status, types::RESOLVED_REFS);
    assert_eq!(refs.status, "False");
    assert_eq!(refs.reason, reasons::INVALID_JWKS);
    assert!(
        refs.message.contains("ConfigMap ns/idp-jwks not found"),
        "{}",
        refs.message
    );
}
