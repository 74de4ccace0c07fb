//! What the proxy tells its admin port (served by [`agw_runtime::admin`]): ready once a
//! bundle is loaded, its Prometheus metrics, and its own route `GET /errors?after=<seq>`,
//! the recent faults ([`crate::recent_errors`]) as JSON, which the operator polls to publish
//! Events. Must not serve anything itself, nor put request content in an answer.

use std::sync::Arc;

use agw_runtime::admin::Health;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::state::State;

/// The path of the recent faults.
pub const ERRORS_PATH: &str = "/errors";

/// The proxy's state as the admin port sees it.
#[derive(Debug)]
pub struct Admin(pub Arc<State>);

impl Health for Admin {
    fn ready(&self) -> Result<(), &'static str> {
        if self.0.is_ready() {
            Ok(())
        } else {
            Err("no bundle loaded")
        }
    }

    fn metrics(&self) -> String {
        self.0.metrics.encode()
    }

    fn route(&self, path: &str, query: Option<&str>) -> Option<Response<Full<Bytes>>> {
        (path == ERRORS_PATH).then(|| errors(&self.0, query))
    }
}

/// `/errors?after=<seq>`: the faults after `seq` (0 when absent); 400 for another query.
fn errors(state: &State, query: Option<&str>) -> Response<Full<Bytes>> {
    let Some(after) = after(query) else {
        return answer(
            StatusCode::BAD_REQUEST,
            "text/plain",
            Bytes::from_static(b"expected /errors or /errors?after=<sequence number>\n"),
        );
    };
    let page = state.access_log.recent_errors().after(after);
    match serde_json::to_vec(&page) {
        Ok(json) => answer(StatusCode::OK, "application/json", Bytes::from(json)),
        Err(err) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            Bytes::from(format!("cannot encode the recent errors: {err}\n")),
        ),
    }
}

/// The `after` of the query: 0 without a query, `None` for anything but `after=<u64>`.
fn after(query: Option<&str>) -> Option<u64> {
    match query {
        None | Some("") => Some(0),
        Some(query) => query.strip_prefix("after=")?.parse().ok(),
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_is_a_sequence_number_or_nothing() {
        assert_eq!(after(None), Some(0));
        assert_eq!(after(Some("")), Some(0));
        assert_eq!(after(Some("after=17")), Some(17));
        for bad in ["after=", "after=-1", "after=x", "before=3", "after=1&x=2"] {
            assert_eq!(after(Some(bad)), None, "{bad}");
        }
    }
}
