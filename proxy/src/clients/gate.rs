//! The request path's two calls into the client policy: [`Gate::open`] authenticates from
//! the headers before the body is read (an unknown caller cannot make the proxy read 32 MiB),
//! [`Gate::admit`] applies the allow list and budgets once the model is known, and arranges
//! for the response's tokens to be charged. Owns the metrics and log fields of those
//! decisions; must not touch the request itself.

use std::sync::Arc;

use http::HeaderMap;
use serde::Deserialize;

use super::{BackendClients, Identity};
use crate::access_log::{Entry, Settle};
use crate::error::{ProxyError, Result};
use crate::guard::Models;
use crate::metrics::{ClientLabels, IdentityLabels};
use crate::snapshot::Snapshot;
use crate::state::State;

/// A request's caller, between authentication and admission.
#[derive(Debug)]
pub struct Gate {
    clients: Option<Arc<BackendClients>>,
    caller: Option<Arc<Identity>>,
}

impl Gate {
    /// Authenticates the caller of backend `key` (a no-op without a client policy).
    pub async fn open(
        state: &State,
        snapshot: &Snapshot,
        key: &str,
        headers: &HeaderMap,
        log: &mut Entry,
    ) -> Result<Self> {
        let Some(clients) = snapshot.clients.get(key).cloned() else {
            return Ok(Self {
                clients: None,
                caller: None,
            });
        };
        let caller = clients.authenticate(headers).await.inspect_err(|err| {
            count(state, key, "", err);
        })?;
        if let Some(identity) = &caller {
            log.identity(&identity.name);
        }
        Ok(Self {
            clients: Some(clients),
            caller,
        })
    }

    /// Admits the request (its Messages `body`, when read) or refuses it with 403 or 429.
    pub async fn admit(
        &self,
        state: &State,
        body: Option<&[u8]>,
        models: &Models<'_>,
        log: &mut Entry,
    ) -> Result<()> {
        let Some(clients) = &self.clients else {
            return Ok(());
        };
        // The allow list judges the model the provider will be asked for: an alias or a pin
        // may name another model than the client did.
        let requested = body
            .filter(|_| clients.needs_model())
            .and_then(|body| serde_json::from_slice::<ModelOnly>(body).ok())
            .and_then(|m| m.model);
        let model = body
            .filter(|_| clients.needs_model())
            .and_then(|_| models.sent(requested.as_deref()));
        let name = self.caller.as_ref().map_or("", |id| &*id.name);
        let backend = &*clients.backend;
        let ticket = clients
            .admit(&state.limiter, self.caller.as_ref(), model.as_deref())
            .await
            .inspect_err(|err| count(state, backend, name, err))?;
        state
            .metrics
            .client_decisions
            .get_or_create(&labels(backend, name, "allowed"))
            .inc();
        let tokens = state
            .metrics
            .client_tokens
            .get_or_create(&IdentityLabels {
                backend: backend.to_owned(),
                identity: name.to_owned(),
            })
            .clone();
        log.on_usage(Settle(Box::new(move |usage| {
            tokens.inc_by(ticket.settle(usage));
        })));
        Ok(())
    }
}

/// The one field of a Messages body the allow list reads; the rest is skipped unparsed.
#[derive(Deserialize)]
struct ModelOnly {
    model: Option<String>,
}

fn count(state: &State, backend: &str, identity: &str, err: &ProxyError) {
    let decision = match err {
        ProxyError::Unauthenticated { .. } | ProxyError::TokenRefused(_) => "unauthenticated",
        ProxyError::Forbidden { .. } => "forbidden",
        ProxyError::RateLimited { .. } => "rate_limited",
        _ => "error",
    };
    state
        .metrics
        .client_decisions
        .get_or_create(&labels(backend, identity, decision))
        .inc();
}

fn labels(backend: &str, identity: &str, decision: &str) -> ClientLabels {
    ClientLabels {
        backend: backend.to_owned(),
        identity: identity.to_owned(),
        decision: decision.to_owned(),
    }
}
