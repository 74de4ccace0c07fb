//! Compiler diagnostics: what is wrong (or merely suspicious) in a spec, and where.
//!
//! Every diagnostic names the field it concerns with a path a user can find in their YAML
//! (`spec.policies.ai.promptGuard.request[0].regex.matches[1]`), a stable machine-readable
//! code, a message and, where one helps, a hint. The compiler collects all of them before
//! it gives up, so a user fixes a spec in one round trip.

use std::fmt;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The spec is accepted, but probably not what the author meant.
    Warning,
    /// The spec is rejected.
    Error,
}

/// One finding about a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Field path from the object root, e.g. `spec.policies.ai.routes["v1/messages"]`.
    pub path: String,
    /// Stable code, e.g. `unknown-builtin`; safe to match on in scripts.
    pub code: &'static str,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            path: path.into(),
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// A warning at `path`.
    pub fn warning(
        path: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            path: path.into(),
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Whether this diagnostic rejects the spec.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Everything the compiler found in a spec it rejected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    /// Findings that reject the spec; never empty when returned by `compile`.
    pub errors: Vec<Diagnostic>,
    /// Findings that would not have rejected it on their own.
    pub warnings: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Splits a mixed list by severity, keeping the order within each.
    pub fn from_findings(findings: Vec<Diagnostic>) -> Self {
        let (errors, warnings) = findings.into_iter().partition(Diagnostic::is_error);
        Self { errors, warnings }
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Builds field paths without string-formatting noise at every call site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// The root of a spec, `spec`.
    pub fn spec() -> Self {
        Self("spec".to_owned())
    }

    /// `self.name`.
    #[must_use]
    pub fn field(&self, name: &str) -> Self {
        Self(format!("{}.{name}", self.0))
    }

    /// `self[index]`.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    /// `self["key"]`, for map keys that are not identifiers (route paths).
    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        Self(format!("{}[{key:?}]", self.0))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&FieldPath> for String {
    fn from(path: &FieldPath) -> Self {
        path.0.clone()
    }
}

impl From<FieldPath> for String {
    fn from(path: FieldPath) -> Self {
        path.0
    }
}

/// Suggests the closest known name for a misspelled one (edit distance ≤ 2, or same
/// letters ignoring case and separators), for "did you mean …?" hints.
pub fn closest<'a>(input: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let squash = |s: &str| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    let wanted = squash(input);
    known
        .into_iter()
        .map(|name| (edit_distance(&wanted, &squash(name)), name))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_puts_the_hint_in_parentheses() {
        let d = Diagnostic::error("spec.x", "code", "bad").with_hint("do y");
        assert_eq!(d.to_string(), "spec.x: bad (do y)");
    }

    #[test]
    fn paths_compose() {
        let p = FieldPath::spec()
            .field("policies")
            .field("ai")
            .field("routes")
            .key("v1/messages");
        assert_eq!(p.as_str(), r#"spec.policies.ai.routes["v1/messages"]"#);
        assert_eq!(FieldPath::spec().field("a").index(2).as_str(), "spec.a[2]");
    }

    #[test]
    fn closest_tolerates_case_separators_and_typos() {
        let known = ["Messages", "Passthrough", "AnthropicTokenCount", "Models"];
        assert_eq!(closest("message", known), Some("Messages"));
        assert_eq!(closest("pass_through", known), Some("Passthrough"));
        assert_eq!(closest("Completions", known), None);
    }
}
