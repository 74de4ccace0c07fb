//! `agwctl lint`: every diagnostic for every Backend in the given files.

use std::path::{Path, PathBuf};

use agw_policy::Diagnostic;

use crate::{EXIT_UNREADABLE, input};

/// Check Backend manifests and print every problem with its field path.
///
/// Exit status: 0 when clean or only warnings, 1 when any Backend has errors, 2 when a file
/// cannot be read or parsed. Documents that are not Backends (e.g. Secrets) are skipped.
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
    args.files
        .iter()
        .map(|file| lint_file(file))
        .max()
        .unwrap_or(0)
}

fn lint_file(file: &Path) -> u8 {
    let name = file.display();
    let documents = match input::read(file) {
        Ok(documents) => documents,
        Err(message) => {
            eprintln!("{name}: {message}");
            return EXIT_UNREADABLE;
        }
    };
    for note in &documents.skipped {
        eprintln!("{name}: note: {note}");
    }
    let mut code = 0;
    for doc in &documents.backends {
        let label = if documents.backends.len() > 1 {
            format!("{name}: Backend {}", doc.name)
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
    code
}

fn print_warnings(label: &str, warnings: &[Diagnostic]) {
    for warning in warnings {
        println!("{label}: warning: {warning}");
    }
}
