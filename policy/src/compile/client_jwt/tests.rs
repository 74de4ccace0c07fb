use super::*;

#[test]
fn durations_in_hours_minutes_and_seconds() {
    assert_eq!(parse_duration("5m"), Some(300));
    assert_eq!(parse_duration("1h30m"), Some(5400));
    assert_eq!(parse_duration("90s"), Some(90));
    for bad in ["", "5", "m", "5 m", "5d", "-5m", "99999999999999999999h"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn urls_need_a_scheme_and_a_host() {
    for good in [
        "https://idp.example.com/.well-known/jwks.json",
        "http://127.0.0.1:8443/jwks",
        "https://idp.example.com",
    ] {
        assert!(is_url(good), "{good}");
    }
    for bad in [
        "ftp://idp/jwks",
        "https://",
        "https:///jwks",
        "https://user:pw@idp/jwks",
        "https://idp:port/jwks",
        "https://idp/has space",
        "idp.example.com/jwks",
    ] {
        assert!(!is_url(bad), "{bad}");
    }
}
