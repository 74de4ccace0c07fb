//! Head sampling as the OpenTelemetry SDKs define it for `OTEL_TRACES_SAMPLER` and
//! `OTEL_TRACES_SAMPLER_ARG`. Owns the sampler names and the ratio arithmetic; must not
//! look at anything but the trace id and the caller's sampled flag (the decision has to be
//! the same in every process that sees the trace).

use super::context::TraceId;

/// One of the SDK samplers agw implements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampler {
    AlwaysOn,
    AlwaysOff,
    /// Keeps this fraction of traces, chosen by trace id.
    Ratio(f64),
    /// Follows the caller's sampled flag when there is a caller, else the root sampler.
    ParentBased(Root),
}

/// What a parent-based sampler does for a request that starts a trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Root {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
}

/// An `OTEL_TRACES_SAMPLER` value agw cannot honour; refused rather than ignored.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SamplerError {
    #[error(
        "OTEL_TRACES_SAMPLER={0:?} is not supported; use always_on, always_off, traceidratio, \
         parentbased_always_on (the default), parentbased_always_off or parentbased_traceidratio"
    )]
    Unknown(String),
    #[error("OTEL_TRACES_SAMPLER_ARG={0:?} is not a ratio between 0 and 1 (for example 0.25)")]
    BadRatio(String),
}

impl Sampler {
    /// The sampler `name` (`OTEL_TRACES_SAMPLER`, default `parentbased_always_on`) with its
    /// ratio `arg` (`OTEL_TRACES_SAMPLER_ARG`, default 1.0; only the ratio samplers take one).
    pub fn from_env(name: Option<&str>, arg: Option<&str>) -> Result<Self, SamplerError> {
        let ratio = || match arg {
            None => Ok(1.0),
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| SamplerError::BadRatio(text.to_owned())),
        };
        Ok(match name.map_or("parentbased_always_on", str::trim) {
            "always_on" => Self::AlwaysOn,
            "always_off" => Self::AlwaysOff,
            "traceidratio" => Self::Ratio(ratio()?),
            "parentbased_always_on" => Self::ParentBased(Root::AlwaysOn),
            "parentbased_always_off" => Self::ParentBased(Root::AlwaysOff),
            "parentbased_traceidratio" => Self::ParentBased(Root::Ratio(ratio()?)),
            other => return Err(SamplerError::Unknown(other.to_owned())),
        })
    }

    /// Whether to record the trace `trace`, whose caller said `parent` (`None`: no caller).
    pub fn sample(self, trace: TraceId, parent: Option<bool>) -> bool {
        let root = match (self, parent) {
            (Self::ParentBased(_), Some(sampled)) => return sampled,
            (Self::ParentBased(root), None) => root,
            (Self::AlwaysOn, _) => Root::AlwaysOn,
            (Self::AlwaysOff, _) => Root::AlwaysOff,
            (Self::Ratio(ratio), _) => Root::Ratio(ratio),
        };
        match root {
            Root::AlwaysOn => true,
            Root::AlwaysOff => false,
            Root::Ratio(ratio) => by_ratio(trace, ratio),
        }
    }
}

/// The SDKs' `TraceIdRatioBased`: the trace id's low 8 bytes, shifted to 63 bits, below
/// `ratio * 2^63`. Deterministic, so every hop with the same ratio agrees.
fn by_ratio(trace: TraceId, ratio: f64) -> bool {
    let mut low = [0; 8];
    low.copy_from_slice(&trace.0[8..]);
    let value = u64::from_be_bytes(low) >> 1;
    // Rounding of the bound at the ends does not matter: 0 keeps nothing, 1 keeps all.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let bound = (ratio * (1u64 << 63) as f64) as u64;
    ratio >= 1.0 || value < bound
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(low: u64) -> TraceId {
        let mut id = [1; 16];
        id[8..].copy_from_slice(&low.to_be_bytes());
        TraceId(id)
    }

    #[test]
    fn names_and_args_follow_the_sdk_environment() {
        assert_eq!(
            Sampler::from_env(None, None),
            Ok(Sampler::ParentBased(Root::AlwaysOn))
        );
        assert_eq!(
            Sampler::from_env(Some("always_off"), None),
            Ok(Sampler::AlwaysOff)
        );
        assert_eq!(
            Sampler::from_env(Some("traceidratio"), Some("0.25")),
            Ok(Sampler::Ratio(0.25))
        );
        assert_eq!(
            Sampler::from_env(Some("parentbased_traceidratio"), None),
            Ok(Sampler::ParentBased(Root::Ratio(1.0)))
        );
        assert!(matches!(
            Sampler::from_env(Some("jaeger_remote"), None),
            Err(SamplerError::Unknown(_))
        ));
        for bad in ["1.5", "-0.1", "half", "NaN"] {
            assert!(
                matches!(
                    Sampler::from_env(Some("traceidratio"), Some(bad)),
                    Err(SamplerError::BadRatio(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn parent_based_follows_the_caller() {
        let sampler = Sampler::ParentBased(Root::AlwaysOff);
        assert!(sampler.sample(trace(0), Some(true)));
        assert!(!sampler.sample(trace(0), None));
        assert!(!Sampler::ParentBased(Root::AlwaysOn).sample(trace(0), Some(false)));
    }

    #[test]
    fn the_ratio_splits_by_trace_id() {
        let half = Sampler::Ratio(0.5);
        assert!(half.sample(trace(0x7fff_ffff_ffff_fffe), None));
        assert!(!half.sample(trace(0x8000_0000_0000_0000), None));
        assert!(!Sampler::Ratio(0.0).sample(trace(0), None));
        assert!(Sampler::Ratio(1.0).sample(trace(u64::MAX), None));
        let kept = (0..10_000u64)
            .filter(|i| {
                Sampler::Ratio(0.25).sample(trace(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)), None)
            })
            .count();
        assert!((2_000..3_000).contains(&kept), "{kept}");
    }
}
