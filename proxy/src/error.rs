//! Every error the proxy itself answers with, mapped to status and Anthropic error type in
//! one place, so clients (Claude Code, the SDKs) show them the way they show API errors.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::body::{ProxyBody, full};

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
    #[error("could not read the request body: {0}")]
    BadBody(String),
    /// The upstream could not be reached.
    #[error("upstream connect error: {0}")]
    Upstream(String),
    /// The upstream did not answer in time.
    #[error("upstream did not respond within {0:?}")]
    UpstreamTimeout(std::time::Duration),
    /// The auth key file is missing or unreadable.
    #[error("the provider API key is not available: {0}")]
    NoKey(String),
}

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
        }
    }

    /// The response sent to the client.
    pub fn into_response(self) -> Response<ProxyBody> {
        let (status, kind) = self.status();
        error_response(status, kind, &self.to_string())
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
