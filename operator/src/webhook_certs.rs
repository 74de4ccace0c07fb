//! Serving certificates for `agw-webhook`, without cert-manager.
//!
//! The leader keeps three things true, checking every `interval`:
//! - Secret `<tls-secret>-ca` holds a CA (10 years), created once and never mounted anywhere;
//! - Secret `<tls-secret>` (`kubernetes.io/tls`, mounted by the webhook pods, which reload it)
//!   holds a serving certificate for the webhook Service's DNS names signed by that CA,
//!   re-issued when less than 30 days remain or the names changed;
//! - every webhook of the ValidatingWebhookConfiguration carries that CA as `caBundle`.
//!
//! A TLS Secret without the operator's `managed-by` label belongs to someone else (a
//! cert-manager overlay): it is left alone and only its `ca.crt` is copied into `caBundle`.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::{Timestamp, ToSpan as _};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::json;

use crate::resources::FIELD_MANAGER;
use crate::{Error, Result};

/// Annotation recording when the serving certificate expires (RFC 3339).
pub const NOT_AFTER_ANNOTATION: &str = "agentgateway.dev/not-after";
/// Annotation recording the names the serving certificate is for.
pub const NAMES_ANNOTATION: &str = "agentgateway.dev/dns-names";
/// Re-issue when less than this remains.
const RENEW_BEFORE_DAYS: i64 = 30;

/// Where the webhook's certificate lives and what it must name.
#[derive(Clone, Debug)]
pub struct WebhookCertConfig {
    /// The ValidatingWebhookConfiguration to keep `caBundle` in.
    pub configuration: String,
    /// Namespace of the webhook Service and Secrets.
    pub namespace: String,
    /// Name of the webhook Service.
    pub service: String,
    /// Name of the TLS Secret the webhook mounts.
    pub secret: String,
    /// Extra names or IPs for the certificate (a webhook reached by URL).
    pub extra_names: Vec<String>,
    /// How often to check.
    pub interval: Duration,
}

impl WebhookCertConfig {
    /// The names the serving certificate is for: the Service's cluster DNS names, then extras.
    pub fn names(&self) -> Vec<String> {
        let (svc, ns) = (&self.service, &self.namespace);
        let mut names = vec![
            format!("{svc}.{ns}.svc"),
            format!("{svc}.{ns}.svc.cluster.local"),
            format!("{svc}.{ns}"),
            svc.clone(),
        ];
        names.extend(self.extra_names.iter().cloned());
        names
    }

    fn ca_secret(&self) -> String {
        format!("{}-ca", self.secret)
    }
}

/// Keeps the certificates and `caBundle` right until the task is dropped.
pub async fn maintain(client: Client, config: WebhookCertConfig) {
    loop {
        if let Err(err) = ensure(&client, &config).await {
            tracing::warn!(error = %err, "webhook certificate upkeep failed; retrying");
        }
        tokio::time::sleep(config.interval).await;
    }
}

/// One round of upkeep.
pub async fn ensure(client: &Client, config: &WebhookCertConfig) -> Result<()> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &config.namespace);
    let tls = get_secret(&secrets, &config.secret).await?;
    let ca_pem = if let Some(foreign) = tls.as_ref().filter(|s| !is_ours(s)) {
        // Someone else issues the certificate; only publish its CA.
        data(foreign, "ca.crt").unwrap_or_default()
    } else {
        let (ca_pem, issuer) = ensure_ca(&secrets, config).await?;
        if needs_issue(tls.as_ref(), config, &ca_pem, Timestamp::now()) {
            issue_serving(&secrets, config, &ca_pem, &issuer).await?;
        }
        ca_pem
    };
    if ca_pem.is_empty() {
        return Ok(());
    }
    publish_ca_bundle(client, config, &ca_pem).await
}

async fn ensure_ca(
    secrets: &Api<Secret>,
    config: &WebhookCertConfig,
) -> Result<(String, Issuer<'static, KeyPair>)> {
    let name = config.ca_secret();
    let existing = get_secret(secrets, &name).await?;
    let stored = existing
        .as_ref()
        .and_then(|secret| Some((data(secret, "ca.crt")?, data(secret, "ca.key")?)));
    if let Some((cert, key)) = stored {
        let key_pair = KeyPair::from_pem(&key).map_err(|e| pki(&name, &e))?;
        let issuer = Issuer::from_ca_cert_pem(&cert, key_pair).map_err(|e| pki(&name, &e))?;
        return Ok((cert, issuer));
    }
    let (cert, key, issuer) = new_ca(Timestamp::now()).map_err(|e| pki(&name, &e))?;
    let secret = secret(
        config,
        &name,
        "Opaque",
        BTreeMap::from([("ca.crt", cert.clone()), ("ca.key", key)]),
        BTreeMap::new(),
    );
    apply(secrets, &name, &secret).await?;
    tracing::info!(secret = %name, "created the webhook CA");
    Ok((cert, issuer))
}

async fn issue_serving(
    secrets: &Api<Secret>,
    config: &WebhookCertConfig,
    ca_pem: &str,
    issuer: &Issuer<'static, KeyPair>,
) -> Result<()> {
    let now = Timestamp::now();
    let names = config.names();
    let (cert, key, not_after) =
        serving_cert(issuer, &names, now).map_err(|e| pki(&config.secret, &e))?;
    let annotations = BTreeMap::from([
        (NOT_AFTER_ANNOTATION, not_after.to_string()),
        (NAMES_ANNOTATION, names.join(",")),
    ]);
    let data = BTreeMap::from([
        ("tls.crt", cert),
        ("tls.key", key),
        ("ca.crt", ca_pem.to_owned()),
    ]);
    let secret = secret(
        config,
        &config.secret,
        "kubernetes.io/tls",
        data,
        annotations,
    );
    apply(secrets, &config.secret, &secret).await?;
    tracing::info!(secret = %config.secret, %not_after, "issued the webhook serving certificate");
    Ok(())
}

async fn publish_ca_bundle(
    client: &Client,
    config: &WebhookCertConfig,
    ca_pem: &str,
) -> Result<()> {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let kube_err = |source| Error::Kube {
        action: format!(
            "updating caBundle of ValidatingWebhookConfiguration {}",
            config.configuration
        ),
        source,
    };
    let Some(current) = api.get_opt(&config.configuration).await.map_err(kube_err)? else {
        tracing::debug!(name = %config.configuration, "no ValidatingWebhookConfiguration yet");
        return Ok(());
    };
    let wanted = ByteString(ca_pem.as_bytes().to_vec());
    let names: Vec<&str> = current
        .webhooks
        .iter()
        .flatten()
        .filter(|webhook| webhook.client_config.ca_bundle.as_ref() != Some(&wanted))
        .map(|webhook| webhook.name.as_str())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    // `webhooks` is a map keyed by name for server-side apply, so this owns caBundle alone
    // and leaves the rest of the configuration to whoever applied it.
    let patch = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": config.configuration},
        "webhooks": names.iter().map(|name| json!({"name": name, "clientConfig": {"caBundle": wanted}})).collect::<Vec<_>>(),
    });
    api.patch(
        &config.configuration,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(kube_err)?;
    tracing::info!(name = %config.configuration, "published the webhook CA in caBundle");
    Ok(())
}

/// Whether the TLS Secret must be (re-)issued.
fn needs_issue(
    tls: Option<&Secret>,
    config: &WebhookCertConfig,
    ca_pem: &str,
    now: Timestamp,
) -> bool {
    let Some(tls) = tls else {
        return true;
    };
    let annotations = tls.metadata.annotations.clone().unwrap_or_default();
    let expires = annotations
        .get(NOT_AFTER_ANNOTATION)
        .and_then(|t| t.parse::<Timestamp>().ok());
    let fresh = expires.is_some_and(|t| t > now + (RENEW_BEFORE_DAYS * 24).hours());
    let names_match = annotations.get(NAMES_ANNOTATION) == Some(&config.names().join(","));
    let same_ca = data(tls, "ca.crt").as_deref() == Some(ca_pem);
    let complete = data(tls, "tls.crt").is_some() && data(tls, "tls.key").is_some();
    !(fresh && names_match && same_ca && complete)
}

fn new_ca(now: Timestamp) -> Result<(String, String, Issuer<'static, KeyPair>), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "agw-webhook-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, now, 3650);
    let cert = params.self_signed(&key)?;
    let key_pem = key.serialize_pem();
    Ok((cert.pem(), key_pem, Issuer::new(params, key)))
}

fn serving_cert(
    issuer: &Issuer<'static, KeyPair>,
    names: &[String],
    now: Timestamp,
) -> Result<(String, String, Timestamp), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let not_after = set_validity(&mut params, now, 365);
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem(), not_after))
}

/// Valid from an hour ago (clock skew) for `days`; returns the end.
fn set_validity(params: &mut CertificateParams, now: Timestamp, days: i64) -> Timestamp {
    let start = now - 1.hours();
    let end = now + (days * 24).hours();
    params.not_before = to_offset(start);
    params.not_after = to_offset(end);
    end
}

fn to_offset(t: Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.as_second())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn is_ours(secret: &Secret) -> bool {
    secret
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/managed-by"))
        .is_some_and(|v| v == FIELD_MANAGER)
}

fn data(secret: &Secret, key: &str) -> Option<String> {
    let bytes = &secret.data.as_ref()?.get(key)?.0;
    String::from_utf8(bytes.clone()).ok()
}

fn secret(
    config: &WebhookCertConfig,
    name: &str,
    type_: &str,
    data: BTreeMap<&str, String>,
    annotations: BTreeMap<&str, String>,
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(config.namespace.clone()),
            labels: Some(BTreeMap::from([
                (
                    "app.kubernetes.io/managed-by".to_owned(),
                    FIELD_MANAGER.to_owned(),
                ),
                ("app.kubernetes.io/part-of".to_owned(), "agw".to_owned()),
            ])),
            annotations: Some(
                annotations
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        type_: Some(type_.to_owned()),
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k.to_owned(), ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    }
}

async fn get_secret(secrets: &Api<Secret>, name: &str) -> Result<Option<Secret>> {
    secrets.get_opt(name).await.map_err(|source| Error::Kube {
        action: format!("reading Secret {name}"),
        source,
    })
}

async fn apply(secrets: &Api<Secret>, name: &str, secret: &Secret) -> Result<()> {
    secrets
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(secret),
        )
        .await
        .map_err(|source| Error::Kube {
            action: format!("applying Secret {name}"),
            source,
        })?;
    Ok(())
}

fn pki(object: &str, error: &rcgen::Error) -> Error {
    Error::Pki {
        object: object.to_owned(),
        message: error.to_string(),
    }
}
