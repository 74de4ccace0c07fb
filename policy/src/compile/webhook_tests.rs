use super::cel_string_literal;
use super::webhook_target::duration_ms;

#[test]
fn durations_follow_gateway_api() {
    assert_eq!(duration_ms("500ms"), Some(500));
    assert_eq!(duration_ms("2s"), Some(2_000));
    assert_eq!(duration_ms("1m30s"), Some(90_000));
    assert_eq!(duration_ms("1h"), Some(3_600_000));
    for bad in ["", "2", "s", "1.5s", "2 s", "123456s", "1s1s1s1s1s", "-1s"] {
        assert_eq!(duration_ms(bad), None, "{bad:?}");
    }
}

#[test]
fn only_cel_string_literals_are_evaluated() {
    assert_eq!(
        cel_string_literal(r#""Bearer abc""#).as_deref(),
        Some("Bearer abc")
    );
    assert_eq!(cel_string_literal("'x'").as_deref(), Some("x"));
    assert_eq!(cel_string_literal(r#""a\"b""#).as_deref(), Some("a\"b"));
    for other in [
        "abc",
        r#"request.headers["x"]"#,
        r#""a" + "b""#,
        r#""\n""#,
        "'",
        r#""unterminated"#,
    ] {
        assert_eq!(cel_string_literal(other), None, "{other:?}");
    }
}
