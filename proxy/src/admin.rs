//! What the proxy tells its admin port (served by [`agw_runtime::admin`]): ready once a
//! bundle is loaded, and its Prometheus metrics. Must not serve anything itself.

use std::sync::Arc;

use agw_runtime::admin::Health;

use crate::state::State;

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
}
