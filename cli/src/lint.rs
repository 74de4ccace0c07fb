//! `agwctl lint`: every diagnostic for every Backend and AgentgatewayPolicy in the given
//! files, from the compiler the webhook uses.

use std::path::{Path, PathBuf};

use agw_policy::Diagnostic;

use crate::{EXIT_UNREADABLE, input};

/// Exit status when no file holds a Backend of either kind or a policy: a lint that checked
/// nothing must not look like a clean one.
pub const EXIT_NO_BACKEND: u8 = 4;

/// Check Backend manifests (`kind: Backend` or `AgentgatewayBackend`) and AgentgatewayPolicies,
/// and print every problem with its field path.
///
/// Exit status: 0 when clean or only warnings, 1 when any object has errors, 2 when a file
/// cannot be read or parsed, 4 when the files hold no Backend or policy at all (nothing was
/// checked). Other documents (e.g. Secrets) are skipped.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  agwctl lint config/samples/*.yaml\n  kubectl get backend anthropic -o yaml | agwctl lint -"
)]
pub struct Args {
    /// Manifest files (multi-document YAML); `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

pub fn run(args: &Args) -> u8 {
    let mut code = 0;
    let mut backends = 0;
    for file in &args.files {
        let (file_code, found) = lint_file(file);
        code = code.max(file_code);
        backends += found;
    }
    if backends == 0 && code == 0 {
        let files: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
        eprintln!(
            "{}: no Backend, AgentgatewayBackend or AgentgatewayPolicy (apiVersion agentgateway.dev/v1alpha1) found; nothing was checked",
            files.join(", ")
        );
        return EXIT_NO_BACKEND;
    }
    code
}

/// The exit status for one file, and how many Backends and policies it holds.
fn lint_file(file: &Path) -> (u8, usize) {
    let name = file.display();
    let documents = match input::read(file) {
        Ok(documents) => documents,
        Err(message) => {
            eprintln!("{name}: {message}");
            return (EXIT_UNREADABLE, 0);
        }
    };
    for note in &documents.skipped {
        eprintln!("{name}: note: {note}");
    }
    let mut code = 0;
    let several = documents.backends.len() + documents.policies.len() > 1;
    for doc in &documents.backends {
        let label = if several {
            format!("{name}: {} {}", doc.kind, doc.name)
        } else {
            name.to_string()
        };
        let verdict = agw_policy::compile(&doc.spec, &input::options(doc, None));
        code = code.max(report(&label, verdict.map(|c| c.warnings)));
    }
    for doc in &documents.policies {
        let label = if several {
            format!("{name}: AgentgatewayPolicy {}", doc.name)
        } else {
            name.to_string()
        };
        let namespace = doc.namespace.as_deref().unwrap_or(input::DEFAULT_NAMESPACE);
        let options = agw_policy::CompileOptions::new(namespace, doc.name.clone());
        let verdict = agw_policy::compile_policy(&doc.spec, &options);
        code = code.max(report(&label, verdict.map(|c| c.warnings)));
    }
    (code, documents.backends.len() + documents.policies.len())
}

/// Prints a compiler verdict under `label`: 1 when it has errors, 0 otherwise.
fn report(label: &str, verdict: Result<Vec<Diagnostic>, agw_policy::Diagnostics>) -> u8 {
    match verdict {
        Ok(warnings) => {
            print_warnings(label, &warnings);
            0
        }
        Err(diagnostics) => {
            for error in &diagnostics.errors {
                println!("{label}: {error}");
            }
            print_warnings(label, &diagnostics.warnings);
            1
        }
    }
}

fn print_warnings(label: &str, warnings: &[Diagnostic]) {
    for warning in warnings {
        println!("{label}: warning: {warning}");
    }
}
