//! Trace export settings from `--otlp-endpoint` and the OpenTelemetry SDK environment
//! (`OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `…_HEADERS`, `…_PROTOCOL`, `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_SDK_DISABLED`). Owns their
//! precedence and validation: a value agw cannot honour stops the binary at startup with the
//! variable named, never silently falls back. Must not start anything.

use http::{HeaderName, HeaderValue, Uri};

use super::export::Target;
use super::proto::Resource;
use super::sampler::{Sampler, SamplerError};
use super::span::Value;

/// Everything the tracer needs; `None` from [`Config::load`] means tracing is off.
#[derive(Clone, Debug)]
pub struct Config {
    pub target: Target,
    pub resource: Resource,
    pub sampler: Sampler,
}

/// A trace setting agw refuses.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is not an http:// or https:// URL with a host")]
    Endpoint { name: &'static str, value: String },
    #[error(
        "{name}={value:?}: agw exports traces as OTLP over HTTP/protobuf only (a collector's \
         port 4318); set it to http/protobuf or unset it"
    )]
    Protocol { name: &'static str, value: String },
    #[error("{name}: {entry:?} is not a `key=value` entry of a comma-separated list")]
    List { name: &'static str, entry: String },
    #[error("{name}: {key:?} cannot be sent as an HTTP header")]
    Header { name: &'static str, key: String },
    #[error(transparent)]
    Sampler(#[from] SamplerError),
}

impl Config {
    /// The settings of the binary `service` (the default `service.name` and the
    /// instrumentation scope) from `flag` (`--otlp-endpoint`, which wins) and `env`;
    /// `Ok(None)` when no endpoint is set or `OTEL_SDK_DISABLED=true`.
    pub fn load(
        service: &'static str,
        flag: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let Some(url) = endpoint(flag, &env)? else {
            return Ok(None);
        };
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(value) = env(name).filter(|v| v.trim() != "http/protobuf") {
                return Err(ConfigError::Protocol { name, value });
            }
        }
        let mut headers = Vec::new();
        for name in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            for (key, value) in pairs(name, env(name).as_deref())? {
                let header = HeaderName::from_bytes(key.as_bytes()).ok();
                let value = HeaderValue::from_str(&value).ok();
                let (Some(header), Some(value)) = (header, value) else {
                    return Err(ConfigError::Header { name, key });
                };
                headers.push((header, value));
            }
        }
        let sampler = Sampler::from_env(
            env("OTEL_TRACES_SAMPLER").as_deref(),
            env("OTEL_TRACES_SAMPLER_ARG").as_deref(),
        )?;
        Ok(Some(Self {
            target: Target { url, headers },
            resource: resource(service, &env)?,
            sampler,
        }))
    }
}

/// `--otlp-endpoint` or `OTEL_EXPORTER_OTLP_ENDPOINT` are base URLs (`/v1/traces` is
/// appended); `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is the traces URL itself, as the spec says.
fn endpoint(
    flag: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Uri>, ConfigError> {
    let nonempty = |v: String| (!v.trim().is_empty()).then_some(v);
    let (name, value, base) = if let Some(flag) = flag {
        ("--otlp-endpoint", flag.to_owned(), true)
    } else if let Some(value) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").and_then(nonempty) {
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value, false)
    } else if let Some(value) = env("OTEL_EXPORTER_OTLP_ENDPOINT").and_then(nonempty) {
        ("OTEL_EXPORTER_OTLP_ENDPOINT", value, true)
    } else {
        return Ok(None);
    };
    let value = value.trim().to_owned();
    let url = if base {
        format!("{}/v1/traces", value.trim_end_matches('/'))
    } else {
        value.clone()
    };
    let bad = || ConfigError::Endpoint {
        name,
        value: value.clone(),
    };
    let uri: Uri = url.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(Some(uri))
}

/// `service.name` from `OTEL_SERVICE_NAME`, else from `OTEL_RESOURCE_ATTRIBUTES`, else
/// `default` (the binary's name); the other resource attributes as given.
fn resource(
    default: &'static str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Resource, ConfigError> {
    let given = pairs(
        "OTEL_RESOURCE_ATTRIBUTES",
        env("OTEL_RESOURCE_ATTRIBUTES").as_deref(),
    )?;
    let service = env("OTEL_SERVICE_NAME")
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            given
                .iter()
                .find(|(k, _)| k == "service.name")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| default.to_owned());
    let mut attributes = vec![
        ("service.name".to_owned(), Value::Str(service)),
        (
            "service.version".to_owned(),
            Value::Str(env!("CARGO_PKG_VERSION").to_owned()),
        ),
        (
            "telemetry.sdk.name".to_owned(),
            Value::Str("agw".to_owned()),
        ),
        (
            "telemetry.sdk.language".to_owned(),
            Value::Str("rust".to_owned()),
        ),
    ];
    for (key, value) in given {
        if !attributes.iter().any(|(k, _)| *k == key) {
            attributes.push((key, Value::Str(value)));
        }
    }
    Ok(Resource {
        attributes,
        scope_name: default,
        scope_version: env!("CARGO_PKG_VERSION"),
    })
}

/// A `key=value,key=value` list (W3C Baggage style, values percent-decoded).
fn pairs(name: &'static str, list: Option<&str>) -> Result<Vec<(String, String)>, ConfigError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let bad = || ConfigError::List {
                name,
                entry: entry.to_owned(),
            };
            let (key, value) = entry.split_once('=').ok_or_else(bad)?;
            let key = key.trim();
            if key.is_empty() {
                return Err(bad());
            }
            Ok((
                key.to_owned(),
                percent_decode(value.trim()).ok_or_else(bad)?,
            ))
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(flag: Option<&str>, vars: &[(&str, &str)]) -> Result<Option<Config>, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load("agw-proxy", flag, |name| vars.get(name).cloned())
    }

    fn service(config: &Config) -> &Value {
        &config.resource.attributes[0].1
    }

    #[test]
    fn no_endpoint_means_no_tracing() {
        assert!(load(None, &[("OTEL_SERVICE_NAME", "x")]).unwrap().is_none());
        let disabled = [("OTEL_SDK_DISABLED", "true")];
        assert!(
            load(Some("http://127.0.0.1:4318"), &disabled)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_flag_wins_and_base_urls_get_the_traces_path() {
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318/"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://traces.example/custom",
            ),
        ];
        let flag = load(Some("http://127.0.0.1:4318"), &env).unwrap().unwrap();
        assert_eq!(flag.target.url, "http://127.0.0.1:4318/v1/traces");
        let traces = load(None, &env).unwrap().unwrap();
        assert_eq!(traces.target.url, "https://traces.example/custom");
        let base = load(None, &env[..1]).unwrap().unwrap();
        assert_eq!(base.target.url, "http://env:4318/v1/traces");
        assert_eq!(service(&base), &Value::Str("agw-proxy".into()));
        assert_eq!(
            base.sampler,
            Sampler::ParentBased(super::super::sampler::Root::AlwaysOn)
        );
    }

    #[test]
    fn service_name_headers_and_resource_attributes_are_read() {
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=ignored,deployment.environment=prod%20eu",
            ),
            ("OTEL_SERVICE_NAME", "gateway"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=abc%3D,tenant=t1"),
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ];
        let config = load(None, &env).unwrap().unwrap();
        assert_eq!(service(&config), &Value::Str("gateway".into()));
        assert!(config.resource.attributes.contains(&(
            "deployment.environment".into(),
            Value::Str("prod eu".into())
        )));
        assert_eq!(config.target.headers[0].1, "abc=");
        assert_eq!(config.sampler, Sampler::Ratio(0.1));
    }

    #[test]
    fn each_binary_is_its_own_default_service() {
        let env = |name: &str| {
            (name == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://c:4318".to_owned())
        };
        let config = Config::load("agw-operator", None, env).unwrap().unwrap();
        assert_eq!(service(&config), &Value::Str("agw-operator".into()));
        assert_eq!(config.resource.scope_name, "agw-operator");
    }

    #[test]
    fn what_agw_cannot_honour_is_refused_by_name() {
        type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case<'_>; 5] = [
            (Some("127.0.0.1:4318"), &[], "--otlp-endpoint"),
            (Some("ftp://x"), &[], "--otlp-endpoint"),
            (
                Some("http://c:4318"),
                &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                Some("http://c:4318"),
                &[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")],
                "OTEL_EXPORTER_OTLP_HEADERS",
            ),
            (
                Some("http://c:4318"),
                &[("OTEL_TRACES_SAMPLER", "xray")],
                "OTEL_TRACES_SAMPLER",
            ),
        ];
        for (flag, env, named) in cases {
            let err = load(flag, env).unwrap_err().to_string();
            assert!(err.contains(named), "{err}");
        }
    }
}
