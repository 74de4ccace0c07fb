//! Reading manifest files (or stdin) into Backend documents.

use std::io::Read as _;
use std::path::Path;

use agw_policy::CompileOptions;
use agw_policy::manifest::{self, BackendDoc, Documents, Unset};

/// Namespace assumed for Backends whose manifest names none, as kubectl does.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Reads `path` (`-` for stdin) and parses its documents, with `${VAR}` from the environment.
/// An unset variable is left as written: offline checks need the policy, not the API key.
pub fn read(path: &Path) -> Result<Documents, String> {
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        buf
    } else {
        std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?
    };
    manifest::parse_bytes(
        &bytes,
        |name| std::env::var(name).ok(),
        Unset::KeepAsWritten,
    )
    .map_err(|e| e.to_string())
}

/// Compile options for a Backend document.
pub fn options(doc: &BackendDoc, namespace_override: Option<&str>) -> CompileOptions {
    let namespace = namespace_override
        .or(doc.namespace.as_deref())
        .unwrap_or(DEFAULT_NAMESPACE);
    CompileOptions::new(namespace, doc.name.clone()).with_generation(doc.generation)
}

/// Reads `path` and picks its one Backend, or the one named `wanted`.
pub fn read_backend(path: &Path, wanted: Option<&str>) -> Result<BackendDoc, String> {
    let documents = read(path)?;
    pick(&documents.backends, wanted).cloned()
}

fn pick<'a>(
    backends: &'a [agw_policy::manifest::BackendDoc],
    wanted: Option<&str>,
) -> Result<&'a agw_policy::manifest::BackendDoc, String> {
    match (backends, wanted) {
        ([], _) => Err("no Backend in this file".to_owned()),
        (_, Some(wanted)) => backends
            .iter()
            .find(|b| b.name == wanted)
            .ok_or_else(|| format!("no Backend named {wanted:?} in this file")),
        ([only], None) => Ok(only),
        (many, None) => Err(format!(
            "{} Backends in this file; pick one with --backend ({})",
            many.len(),
            many.iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
