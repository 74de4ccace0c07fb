//! Every error the proxy itself answers with, mapped to status and Anthropic error type in
//! one place, so clients (Claude Code, the SDKs) show them the way they show API errors.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::body::{ProxyBody, full};

/// Any error, boxed: the sources the proxy keeps come from hyper, http and its body types.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error and its sources on one line. hyper's client errors say only `client error
/// (Connect)`; the cause (`Connection refused`, a certificate problem) is in the chain, and a
/// client must see it in the answer's message.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(inner) = source {
            write!(f, ": {inner}")?;
            source = inner.source();
        }
        Ok(())
    }
}

/// Errors answered by the proxy, not the upstream.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No bundle loaded yet.
    #[error("agw is starting: no policy bundle is loaded yet")]
    NotReady,
    /// No rule or route matched.
    #[error("no route for {0}")]
    NoRoute(String),
    /// A rule matched, but its backend could not be resolved (see the route's status).
    #[error("the backend of the route for {0} is not available; see the HTTPRoute's status")]
    BackendUnavailable(String),
    /// Body over the limit.
    #[error("request body is over the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Body is not the JSON the route needs.
    #[error("request body is not valid JSON: {0}")]
    BadJson(String),
    /// The body is JSON, but not one a guard can read unambiguously (a duplicate key, nesting
    /// too deep), or a guard's edit could not apply: refused rather than forwarded unread.
    #[error("request body cannot be guarded: {0}")]
    Unguardable(String),
    /// A guarded route got a body it cannot read: compressed, or not `application/json`.
    #[error("{0}")]
    UnsupportedMedia(String),
    /// The client's body could not be read (closed early, truncated).
    #[error("could not read the request body: {}", Chain(&**.0))]
    BadBody(#[source] BoxError),
    /// The upstream could not be reached.
    #[error("upstream connect error: {}", Chain(&**.0))]
    Upstream(#[source] BoxError),
    /// The upstream did not answer in time.
    #[error("upstream did not respond within {0:?}")]
    UpstreamTimeout(std::time::Duration),
    /// The auth key file is missing or unreadable.
    #[error("the provider API key is not available: {0}")]
    NoKey(String),
    /// The backend authenticates clients and the request has no (or no known) gateway key.
    #[error("{}", if *.presented {
        "agw: the gateway key is not valid; ask your platform team for yours and set it in ANTHROPIC_AUTH_TOKEN (or apiKeyHelper)"
    } else {
        "agw: a gateway key is required; set ANTHROPIC_AUTH_TOKEN (or apiKeyHelper) to the key your platform team issued"
    })]
    Unauthenticated {
        /// Whether a key was presented at all.
        presented: bool,
    },
    /// The backend authenticates clients and the presented JWT is refused (why, never the
    /// token itself).
    #[error(
        "agw: the token was refused: {0}; get a fresh token from your identity provider (ANTHROPIC_AUTH_TOKEN or apiKeyHelper)"
    )]
    TokenRefused(#[source] crate::clients::jwt::TokenError),
    /// The identity is not on the backend's allow list (for this model).
    #[error("agw: identity {identity:?} is not allowed to use this backend{}", .model.as_ref().map(|m| format!(" with model {m:?}")).unwrap_or_default())]
    Forbidden {
        /// The identity.
        identity: String,
        /// The model asked for, when the allow list looks at models.
        model: Option<String>,
    },
    /// A request or token budget is spent until its window ends.
    #[error("agw: rate limit of {what} reached; it resets in {}", humantime::format_duration(std::time::Duration::from_secs(*.retry_after)))]
    RateLimited {
        /// Seconds until the window ends.
        retry_after: u64,
        /// The limit, for people (`1000 tokens per day (UTC)`).
        what: String,
    },
}

/// Longest wait for which a client is told it may retry a 429: Claude Code and the SDKs
/// retry with backoff, which suits a per-minute limit but would turn a spent daily budget
/// into a retry storm that never succeeds.
pub const MAX_RETRIED_WAIT_SECS: u64 = 60;

/// Result alias for the request path.
pub type Result<T, E = ProxyError> = std::result::Result<T, E>;

impl ProxyError {
    /// Status and Anthropic error type.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Self::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "overloaded_error"),
            Self::NoRoute(_) => (StatusCode::NOT_FOUND, "not_found_error"),
            Self::BackendUnavailable(_) => (StatusCode::INTERNAL_SERVER_ERROR, "api_error"),
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "request_too_large"),
            Self::UnsupportedMedia(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request_error")
            }
            Self::BadJson(_) | Self::BadBody(_) | Self::Unguardable(_) => {
                (StatusCode::BAD_REQUEST, "invalid_request_error")
            }
            Self::Upstream(_) | Self::NoKey(_) => (StatusCode::BAD_GATEWAY, "api_error"),
            Self::UpstreamTimeout(_) => (StatusCode::GATEWAY_TIMEOUT, "api_error"),
            Self::Unauthenticated { .. } | Self::TokenRefused(_) => {
                (StatusCode::UNAUTHORIZED, "authentication_error")
            }
            Self::Forbidden { .. } => (StatusCode::FORBIDDEN, "permission_error"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"),
        }
    }

    /// A stable category for logs (`error.type`), never the message.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotReady => "not_ready",
            Self::NoRoute(_) => "no_route",
            Self::BackendUnavailable(_) => "backend_unavailable",
            Self::TooLarge { .. } => "request_too_large",
            Self::BadJson(_) => "bad_json",
            Self::BadBody(_) => "bad_body",
            Self::Unguardable(_) => "unguardable",
            Self::UnsupportedMedia(_) => "unsupported_media",
            Self::Upstream(_) => "upstream_connect",
            Self::UpstreamTimeout(_) => "upstream_timeout",
            Self::NoKey(_) => "no_key",
            Self::Unauthenticated { .. } => "unauthenticated",
            Self::TokenRefused(_) => "token_refused",
            Self::Forbidden { .. } => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
        }
    }

    /// The response sent to the client.
    pub fn into_response(self) -> Response<ProxyBody> {
        let (status, kind) = self.status();
        let mut response = error_response(status, kind, &self.to_string());
        let retry = match &self {
            Self::Unauthenticated { .. } | Self::TokenRefused(_) | Self::Forbidden { .. } => {
                Some(false)
            }
            Self::RateLimited { retry_after, .. } => {
                if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                Some(*retry_after <= MAX_RETRIED_WAIT_SECS)
            }
            _ => None,
        };
        if let Some(retry) = retry {
            let value = HeaderValue::from_static(if retry { "true" } else { "false" });
            response.headers_mut().insert("x-should-retry", value);
        }
        response
    }
}

/// An Anthropic-format error: `{"type":"error","error":{"type":…,"message":…}}`.
pub fn error_response(status: StatusCode, kind: &str, message: &str) -> Response<ProxyBody> {
    // Written out (not a json! map) to keep Anthropic's key order: type, then error.
    let body = format!(
        r#"{{"type":"error","error":{{"type":{},"message":{}}}}}"#,
        serde_json::Value::from(kind),
        serde_json::Value::from(message)
    );
    let mut response = Response::new(full(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
