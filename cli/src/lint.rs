//! `agwctl lint`: every diagnostic for every Backend in the given files.

use std::path::{Path, PathBuf};

use agw_policy::Diagnostic;

use crate::{EXIT_UNREADABLE, input};

/// Exit status when no file holds a Backend of either kind: a lint that checked nothing must
/// not look like a clean one.
pub const EXIT_NO_BACKEND: u8 = 4;

/// Check Backend manifests (`kind: Backend` or `AgentgatewayBackend`) and print every problem
/// with its field path.
///
/// Exit status: 0 when clean or only warnings, 1 when any Backend has errors, 2 when a file
/// cannot be read or parsed, 4 when the files hold no Backend at all (nothing was checked).
/// Documents that are not Backends (e.g. Secrets) are skipped.
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
            "{}: no Backend or AgentgatewayBackend (apiVersion agentgateway.dev/v1alpha1) found; nothing was checked",
            files.join(", ")
        );
        return EXIT_NO_BACKEND;
    }
    code
}

/// The exit status for one file, and how many Backends it holds.
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
    for doc in &documents.backends {
        let label = if documents.backends.len() > 1 {
            format!("{name}: {} {}", doc.kind, doc.name)
        } else {
            name.to_string()
        };
        match agw_policy::compile(&doc.spec, &input::options(doc, None)) {
            Ok(compiled) => print_warnings(&label, &compiled.warnings),
            Err(diagnostics) => {
                for error in &diagnostics.errors {
                    println!("{label}: {error}");
                }
                print_warnings(&label, &diagnostics.warnings);
                code = 1;
            }
        }
    }
    (code, documents.backends.len())
}

fn print_warnings(label: &str, warnings: &[Diagnostic]) {
    for warning in warnings {
        println!("{label}: warning: {warning}");
    }
}
