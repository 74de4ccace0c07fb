//! Leader election over a `coordination.k8s.io/v1` Lease, so that of several operator
//! replicas exactly one reconciles.
//!
//! The rules are client-go's: a holder renews every `renew_every`; a candidate takes the Lease
//! over only when its record (holder and renew time) has not changed for `duration` as measured
//! on the candidate's own clock, so clock skew between nodes cannot cut a healthy leader short.
//! Every write carries the `resourceVersion` it read: two candidates can never both win. A
//! leader that cannot renew within `duration` stops reconciling (the caller exits), and one
//! that shuts down cleanly releases the Lease so a standby takes over at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};

use crate::{Error, Result};

/// Where and how to hold the Lease.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Lease name.
    pub name: String,
    /// Lease namespace.
    pub namespace: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a Lease is valid without renewal.
    pub duration: Duration,
    /// How often the holder renews (and a candidate retries).
    pub renew_every: Duration,
}

/// Competes for, holds and releases the Lease.
#[derive(Debug)]
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    /// The last record seen held by someone else, and when it was first seen.
    observed: Mutex<Option<(String, Instant)>>,
}

impl Elector {
    /// An elector for `config`.
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: Mutex::new(None),
        }
    }

    /// Returns once this replica holds the Lease.
    pub async fn acquire(&self) {
        let mut logged = false;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return,
                Ok(false) if !logged => {
                    tracing::info!(lease = %self.config.name, "another replica leads; standing by");
                    logged = true;
                }
                Ok(false) => {}
                Err(err) => tracing::warn!(error = %err, "cannot read or write the Lease"),
            }
            tokio::time::sleep(self.config.renew_every).await;
        }
    }

    /// Renews the Lease until it is lost; returns when this replica must stop leading.
    pub async fn hold(&self) {
        let mut last_renewal = Instant::now();
        loop {
            tokio::time::sleep(self.config.renew_every).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewal = Instant::now(),
                Ok(false) => {
                    tracing::error!(lease = %self.config.name, "the Lease was taken by another replica");
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot renew the Lease");
                    if last_renewal.elapsed() >= self.config.duration {
                        tracing::error!("the Lease expired without renewal");
                        return;
                    }
                }
            }
        }
    }

    /// Gives the Lease up (on a clean shutdown), so a standby need not wait for it to expire.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        spec.acquire_time = None;
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.config.name, "released the Lease"),
            Err(err) => tracing::warn!(error = %err, "cannot release the Lease"),
        }
    }

    /// One round: creates, renews or takes over the Lease. `Ok(true)` when this replica holds it.
    async fn try_acquire_or_renew(&self) -> Result<bool> {
        let now = MicroTime(Timestamp::now());
        let current = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.error("reading", e))?;
        let Some(mut lease) = current else {
            return self.create(now).await;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder != self.config.identity {
            if !holder.is_empty() && !self.expired(spec) {
                return Ok(false);
            }
            spec.holder_identity = Some(self.config.identity.clone());
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(self.duration_seconds());
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            // Someone else wrote first; this round is lost.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(self.error("updating", err)),
        }
    }

    async fn create(&self, now: MicroTime) -> Result<bool> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(self.duration_seconds()),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(self.error("creating", err)),
        }
    }

    /// Whether the holder's record has stood still for a whole lease duration on our clock.
    fn expired(&self, spec: &LeaseSpec) -> bool {
        let record = format!("{:?}/{:?}", spec.holder_identity, spec.renew_time);
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.duration, Duration::from_secs);
        let Ok(mut observed) = self.observed.lock() else {
            return false;
        };
        match observed.as_ref() {
            Some((seen, since)) if *seen == record => since.elapsed() >= duration,
            _ => {
                *observed = Some((record, Instant::now()));
                false
            }
        }
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.config.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    fn error(&self, action: &str, source: kube::Error) -> Error {
        Error::Kube {
            action: format!(
                "{action} Lease {}/{}",
                self.config.namespace, self.config.name
            ),
            source,
        }
    }
}
