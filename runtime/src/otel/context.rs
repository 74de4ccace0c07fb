//! W3C Trace Context (`traceparent`, `tracestate`): reading a client's header, strictly, and
//! writing the one sent upstream. Owns the header grammar and the id generation. Must not
//! trust a header it cannot fully parse: a malformed, oversized or all-zero `traceparent` is
//! treated as absent, and the request starts a new trace.

use std::fmt::Write as _;

use http::HeaderMap;
use http::header::HeaderValue;

/// The W3C header carrying trace id, parent span id and flags.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C header carrying vendor state; forwarded only with a valid `traceparent`.
pub const TRACESTATE: &str = "tracestate";
/// Longest `tracestate` forwarded (W3C: 32 members; vendors keep theirs short). A longer
/// one is dropped rather than cut, since a cut member would be corrupt.
pub const MAX_TRACESTATE: usize = 512;

/// A 16-byte trace id (never all zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id (never all zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// A random, non-zero id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u128(..);
            if id != 0 {
                return Self(id.to_be_bytes());
            }
        }
    }

    /// The 32 lowercase hex digits W3C and Jaeger show.
    pub fn to_hex(self) -> String {
        hex(&self.0)
    }
}

impl SpanId {
    /// A random, non-zero id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u64(..);
            if id != 0 {
                return Self(id.to_be_bytes());
            }
        }
    }

    /// The 16 lowercase hex digits W3C and Jaeger show.
    pub fn to_hex(self) -> String {
        hex(&self.0)
    }
}

/// The caller's span, as read from a valid `traceparent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// The caller's `sampled` flag.
    pub sampled: bool,
    /// The caller's `tracestate`, when well formed and short enough to forward.
    pub state: Option<HeaderValue>,
}

/// The caller's context, or `None` when there is none or it is not valid W3C (one header,
/// version `00` exactly 55 characters; a later version at least that long, read by its
/// version-00 prefix as the spec asks; lowercase hex; ids not all zero).
pub fn extract(headers: &HeaderMap) -> Option<Remote> {
    let mut values = headers.get_all(TRACEPARENT).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let (trace_id, span_id, flags) = parse(value.as_bytes())?;
    Some(Remote {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
        state: tracestate(headers),
    })
}

/// The caller's context from one `traceparent` value (no `tracestate`), by the same strict
/// rules as [`extract`]: for a `traceparent` that reached agw other than as an HTTP header map.
pub fn parse_traceparent(text: &str) -> Option<Remote> {
    let (trace_id, span_id, flags) = parse(text.as_bytes())?;
    Some(Remote {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
        state: None,
    })
}

/// The single `traceparent` header of `headers` when it is valid W3C, as text; `None` when
/// it is absent, repeated or malformed.
pub fn traceparent_of(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(TRACEPARENT).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    parse(value.as_bytes())?;
    value.to_str().ok()
}

fn parse(text: &[u8]) -> Option<(TraceId, SpanId, u8)> {
    let version = hex_bytes::<1>(text.get(0..2)?)?[0];
    match (version, text.len()) {
        (0xff, _) => return None,
        (0, 55) => {}
        // A future version may append fields after a `-`; this one's prefix still applies.
        (v, len) if v > 0 && (len == 55 || (len > 55 && text[55] == b'-')) => {}
        _ => return None,
    }
    if text.get(2) != Some(&b'-') || text.get(35) != Some(&b'-') || text.get(52) != Some(&b'-') {
        return None;
    }
    let trace_id = hex_bytes::<16>(&text[3..35])?;
    let span_id = hex_bytes::<8>(&text[36..52])?;
    let flags = hex_bytes::<1>(&text[53..55])?[0];
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some((TraceId(trace_id), SpanId(span_id), flags))
}

/// Lowercase hex only: W3C forbids uppercase, and a header that breaks the grammar anywhere
/// is not trusted anywhere.
fn hex_bytes<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// One `tracestate` header of printable ASCII up to [`MAX_TRACESTATE`] bytes; otherwise none.
fn tracestate(headers: &HeaderMap) -> Option<HeaderValue> {
    let mut values = headers.get_all(TRACESTATE).iter();
    let value = values.next()?;
    let ok = values.next().is_none()
        && !value.is_empty()
        && value.len() <= MAX_TRACESTATE
        && value.as_bytes().iter().all(|b| (0x20..0x7f).contains(b));
    ok.then(|| value.clone())
}

/// The `traceparent` naming `span` of `trace` as the parent of the next hop.
pub fn traceparent(trace: TraceId, span: SpanId, sampled: bool) -> HeaderValue {
    let mut text = String::with_capacity(55);
    let _ = write!(
        text,
        "00-{}-{}-{:02x}",
        trace.to_hex(),
        span.to_hex(),
        u8::from(sampled)
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_valid_traceparent_is_continued_and_written_back_the_same() {
        let remote = extract(&headers(&[
            (TRACEPARENT, VALID),
            (TRACESTATE, "congo=t61rcWkgMzE"),
        ]))
        .unwrap();
        assert_eq!(remote.trace_id.to_hex(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(remote.span_id.to_hex(), "b7ad6b7169203331");
        assert!(remote.sampled);
        assert_eq!(remote.state.unwrap(), "congo=t61rcWkgMzE");
        assert_eq!(traceparent(remote.trace_id, remote.span_id, true), VALID);
        let unsampled = extract(&headers(&[(TRACEPARENT, &VALID.replace("-01", "-00"))])).unwrap();
        assert!(!unsampled.sampled);
    }

    #[test]
    fn a_malformed_or_huge_traceparent_is_not_trusted() {
        let huge = format!("{VALID}{}", "0".repeat(10_000));
        let bad = [
            "",
            "garbage",
            &VALID.to_uppercase(),
            &VALID.replace("00-", "ff-"),
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            &VALID.replace('-', "_"),
            &format!("{VALID}-extra"), // version 00 has no extra fields
            &huge,
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        ];
        for value in bad {
            assert_eq!(
                extract(&headers(&[(TRACEPARENT, value)])),
                None,
                "{value:?}"
            );
        }
        // Two headers: which one the client meant is unknown, so neither is trusted.
        assert_eq!(
            extract(&headers(&[(TRACEPARENT, VALID), (TRACEPARENT, VALID)])),
            None
        );
    }

    #[test]
    fn a_traceparent_as_text_follows_the_same_rules() {
        let remote = parse_traceparent(VALID).unwrap();
        assert_eq!(remote.span_id.to_hex(), "b7ad6b7169203331");
        assert_eq!(parse_traceparent(&VALID.to_uppercase()), None);
        assert_eq!(
            traceparent_of(&headers(&[(TRACEPARENT, VALID)])),
            Some(VALID)
        );
        assert_eq!(traceparent_of(&headers(&[(TRACEPARENT, "garbage")])), None);
        assert_eq!(
            traceparent_of(&headers(&[(TRACEPARENT, VALID), (TRACEPARENT, VALID)])),
            None
        );
    }

    #[test]
    fn a_later_version_is_read_by_its_prefix() {
        let future = VALID.replacen("00", "01", 1) + "-whatever";
        let remote = extract(&headers(&[(TRACEPARENT, &future)])).unwrap();
        assert_eq!(remote.span_id.to_hex(), "b7ad6b7169203331");
    }

    #[test]
    fn an_oversized_or_binary_tracestate_is_dropped() {
        let long = "a=".to_owned() + &"b".repeat(MAX_TRACESTATE);
        for state in [long.as_str(), "a=\tb"] {
            let remote = extract(&headers(&[(TRACEPARENT, VALID), (TRACESTATE, state)])).unwrap();
            assert_eq!(remote.state, None, "{state:?}");
        }
    }

    #[test]
    fn random_ids_are_never_zero_and_differ() {
        assert_ne!(TraceId::random(), TraceId::random());
        assert_ne!(SpanId::random().0, [0; 8]);
    }
}
