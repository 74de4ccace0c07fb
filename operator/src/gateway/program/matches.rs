//! The bundle matches and path rewrite of one HTTPRoute rule, or the `UnsupportedValue`
//! verdict for a match kind or filter agw does not implement.

use agw_policy::bundle::{HeaderMatch as BundleHeader, RuleMatch};

use super::Verdict;
use crate::gateway::api::RouteRule;
use crate::gateway::reasons;

pub(super) fn unsupported(message: String) -> Verdict {
    Verdict {
        ok: false,
        reason: reasons::UNSUPPORTED_VALUE,
        message,
    }
}

/// The bundle matches of a rule.
pub(super) fn rule_matches(
    rule: &RouteRule,
    rule_index: usize,
    hostnames: &[String],
) -> Result<Vec<RuleMatch>, Verdict> {
    if rule.matches.is_empty() {
        return Ok(vec![RuleMatch {
            path_prefix: Some("/".to_owned()),
            hostnames: hostnames.to_vec(),
            ..RuleMatch::default()
        }]);
    }
    rule.matches
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = format!("spec.rules[{rule_index}].matches[{i}]");
            if !m.query_params.is_empty() || m.method.is_some() {
                return Err(unsupported(format!(
                    "{at}: agw matches on path, headers and hostnames; queryParams and method are not supported"
                )));
            }
            let path = m.path.clone().unwrap_or_default();
            let value = path.value.unwrap_or_else(|| "/".to_owned());
            let (path_prefix, exact_path) = match path.match_type.as_deref().unwrap_or("PathPrefix") {
                "PathPrefix" => (Some(value), None),
                "Exact" => (None, Some(value)),
                other => {
                    return Err(unsupported(format!(
                        "{at}.path.type: {other} is not supported; use PathPrefix or Exact"
                    )));
                }
            };
            let headers = m
                .headers
                .iter()
                .map(|h| match h.match_type.as_deref().unwrap_or("Exact") {
                    "Exact" => Ok(BundleHeader {
                        name: h.name.to_ascii_lowercase(),
                        value: h.value.clone(),
                    }),
                    other => Err(unsupported(format!(
                        "{at}.headers: type {other} is not supported; use Exact"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RuleMatch {
                path_prefix,
                exact_path,
                hostnames: hostnames.to_vec(),
                headers,
            })
        })
        .collect()
}

/// The `ReplacePrefixMatch` of a rule's `URLRewrite`, the only filter agw applies.
pub(super) fn rewrite_of(rule: &RouteRule, rule_index: usize) -> Result<Option<String>, Verdict> {
    let mut replacement = None;
    for (i, filter) in rule.filters.iter().enumerate() {
        let at = format!("spec.rules[{rule_index}].filters[{i}]");
        let path = filter
            .url_rewrite
            .as_ref()
            .filter(|_| filter.filter_type == "URLRewrite")
            .filter(|r| r.hostname.is_none())
            .and_then(|r| r.path.as_ref())
            .filter(|p| p.modifier_type == "ReplacePrefixMatch");
        let Some(prefix) = path.and_then(|p| p.replace_prefix_match.clone()) else {
            return Err(unsupported(format!(
                "{at}: agw supports only URLRewrite with path.type ReplacePrefixMatch"
            )));
        };
        let prefix_matches_only = rule.matches.iter().all(|m| {
            m.path
                .as_ref()
                .and_then(|p| p.match_type.as_deref())
                .is_none_or(|t| t == "PathPrefix")
        });
        if !prefix_matches_only {
            return Err(unsupported(format!(
                "{at}: ReplacePrefixMatch needs every match of the rule to be a PathPrefix"
            )));
        }
        replacement = Some(prefix);
    }
    Ok(replacement)
}
