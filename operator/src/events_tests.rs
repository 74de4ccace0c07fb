//! The Event objects built: fields, names, precision and the API's length limits.

use super::*;

fn reporter() -> Reporter {
    Reporter {
        controller: "agw-operator".to_owned(),
        instance: "agw-operator-0".to_owned(),
    }
}

fn backend(name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("agentgateway.dev/v1alpha1".into()),
        kind: Some("Backend".into()),
        name: Some(name.into()),
        namespace: Some("team-a".into()),
        uid: Some("uid-b".into()),
        ..ObjectReference::default()
    }
}

fn invalid(note: &str) -> Occurrence {
    Occurrence {
        type_: Type::Warning,
        reason: "InvalidSpec".to_owned(),
        action: "Reconcile".to_owned(),
        note: note.to_owned(),
        related: None,
    }
}

#[test]
fn an_event_carries_what_happened_to_which_object_and_who_said_it() {
    let at = Timestamp::from_nanosecond(1_767_225_600_123_456_789).unwrap();
    let event = build(
        &reporter(),
        &backend("anthropic"),
        invalid("Accepted=False: spec.x: bad"),
        at,
        0xabc,
    );
    assert_eq!(event.metadata.name.as_deref(), Some("anthropic.abc"));
    assert_eq!(event.metadata.namespace.as_deref(), Some("team-a"));
    assert_eq!(event.regarding, Some(backend("anthropic")));
    assert_eq!(
        (
            event.type_.as_deref(),
            event.reason.as_deref(),
            event.action.as_deref(),
            event.note.as_deref(),
        ),
        (
            Some("Warning"),
            Some("InvalidSpec"),
            Some("Reconcile"),
            Some("Accepted=False: spec.x: bad"),
        )
    );
    assert_eq!(
        (
            event.reporting_controller.as_deref(),
            event.reporting_instance.as_deref()
        ),
        (Some("agw-operator"), Some("agw-operator-0"))
    );
    // Not a series: no count, no series, no deprecated fields.
    assert_eq!(
        (event.series, event.deprecated_count, event.related),
        (None, None, None)
    );
    // The API stores microseconds; the nanoseconds are dropped before it sees them.
    let time = event.event_time.unwrap().0;
    assert_eq!(time.as_nanosecond(), 1_767_225_600_123_456_000);
    let wire = serde_json::to_value(MicroTime(time)).unwrap();
    assert_eq!(wire, "2026-01-01T00:00:00.123456Z");
}

#[test]
fn two_events_about_the_same_object_have_two_names() {
    let first = event(&reporter(), &backend("anthropic"), invalid("first mistake"));
    let second = event(
        &reporter(),
        &backend("anthropic"),
        invalid("second mistake"),
    );
    let (a, b) = (first.metadata.name.unwrap(), second.metadata.name.unwrap());
    assert_ne!(a, b);
    for name in [&a, &b] {
        let hex = name.strip_prefix("anthropic.").unwrap();
        assert!(u64::from_str_radix(hex, 16).is_ok(), "{name}");
    }
    assert_eq!(
        (first.note.as_deref(), second.note.as_deref()),
        (Some("first mistake"), Some("second mistake"))
    );
}

#[test]
fn stamps_increase_even_when_the_clock_does_not() {
    let now = Timestamp::now();
    let stamps: Vec<u64> = (0..3).map(|_| unique_stamp(now)).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
}

#[test]
fn a_note_that_fits_is_kept_whole() {
    let exact = "n".repeat(NOTE_LIMIT);
    assert_eq!(truncate_note(&exact), exact);
    assert_eq!(truncate_note(""), "");
}

#[test]
fn a_long_note_is_cut_to_the_limit_with_an_ellipsis() {
    let long = "n".repeat(NOTE_LIMIT + 1);
    let cut = truncate_note(&long);
    assert_eq!(cut.len(), NOTE_LIMIT);
    assert!(cut.ends_with(ELLIPSIS), "{cut}");
    assert_eq!(
        cut.trim_end_matches(ELLIPSIS),
        "n".repeat(NOTE_LIMIT - ELLIPSIS.len())
    );
}

#[test]
fn a_long_note_is_cut_on_a_character_boundary() {
    // 'é' is two bytes and the room before the ellipsis (1021 bytes) is odd: the byte limit
    // falls inside one, which is left out whole.
    let note = "é".repeat(NOTE_LIMIT);
    let cut = truncate_note(&note);
    assert_eq!(cut.len(), NOTE_LIMIT - 1);
    assert_eq!(
        cut.strip_suffix(ELLIPSIS).unwrap(),
        "é".repeat((NOTE_LIMIT - ELLIPSIS.len()) / 2)
    );
}

#[test]
fn the_note_of_a_built_event_is_within_the_limit() {
    let event = build(
        &reporter(),
        &backend("anthropic"),
        invalid(&"ü".repeat(2 * NOTE_LIMIT)),
        Timestamp::now(),
        1,
    );
    let note = event.note.unwrap();
    assert!(
        note.len() <= NOTE_LIMIT && note.ends_with(ELLIPSIS),
        "{note}"
    );
}

#[test]
fn a_long_object_name_still_makes_a_valid_event_name() {
    // 236 characters before the suffix: the cut lands after a dot, which is dropped so the
    // name has no empty label.
    let long = format!("{}.{}", "a".repeat(235), "b".repeat(17));
    let event = build(
        &reporter(),
        &backend(&long),
        invalid("n"),
        Timestamp::now(),
        u64::MAX,
    );
    let name = event.metadata.name.unwrap();
    assert_eq!(name, format!("{}.ffffffffffffffff", "a".repeat(235)));
    assert!(name.len() <= NAME_LIMIT);
}

#[test]
fn the_reporting_instance_is_kept_within_its_limit() {
    let reporter = Reporter {
        instance: "r".repeat(FIELD_LIMIT + 10),
        ..reporter()
    };
    let event = build(&reporter, &backend("b"), invalid("n"), Timestamp::now(), 1);
    assert_eq!(event.reporting_instance.unwrap().len(), FIELD_LIMIT);
}

#[test]
fn an_event_about_a_cluster_scoped_object_goes_to_default() {
    let class = ObjectReference {
        kind: Some("GatewayClass".into()),
        name: Some("agw".into()),
        ..ObjectReference::default()
    };
    let event = build(&reporter(), &class, invalid("n"), Timestamp::now(), 1);
    assert_eq!(event.metadata.namespace.as_deref(), Some("default"));
}

#[test]
fn a_related_object_is_kept() {
    let pod = ObjectReference {
        kind: Some("Pod".into()),
        name: Some("anthropic-proxy-1".into()),
        namespace: Some("team-a".into()),
        ..ObjectReference::default()
    };
    let occurrence = Occurrence {
        related: Some(pod.clone()),
        ..invalid("n")
    };
    let event = build(&reporter(), &backend("b"), occurrence, Timestamp::now(), 1);
    assert_eq!(event.related, Some(pod));
}
