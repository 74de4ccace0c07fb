//! Kubernetes and DNS names as the compiler accepts them in references (Secrets, ConfigMaps,
//! Services, hosts). Owns only the syntax checks, shared by every module that validates a
//! reference, so none of them imports another for it.

/// A Secret name is a DNS subdomain; it becomes a path segment, so `..` and `/` never pass.
pub(super) fn is_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
        && !name.contains("..")
}

/// One label of a DNS name (a host part, or a Service name): letters, digits and inner `-`.
pub(super) fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}
