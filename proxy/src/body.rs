//! Body types and helpers shared by the request path.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};

/// Error type of proxied bodies: a named type rather than a bare `Box<dyn Error>`, whose
/// conversions hyper's connection bounds cannot always prove for every lifetime.
#[derive(Debug)]
pub struct BoxError(Box<dyn std::error::Error + Send + Sync>);

impl BoxError {
    /// Wraps any error.
    pub fn new(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(err))
    }
}

impl std::fmt::Display for BoxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BoxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Every body the proxy sends or forwards.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// A body from bytes in memory.
pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}
