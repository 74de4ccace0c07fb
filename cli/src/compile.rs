//! `agwctl compile`: the bundle a Backend compiles to, as the proxy would load it.

use std::path::PathBuf;

use crate::{EXIT_UNREADABLE, input};

/// Compile a Backend manifest into its rule bundle (JSON).
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  agwctl compile config/samples/backend-guarded.yaml\n  agwctl compile examples/claude-code.yaml -o /tmp/bundle.json && agw-proxy --bundle /tmp/bundle.json"
)]
pub struct Args {
    /// Manifest file holding one Backend (other documents are skipped); `-` reads stdin.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Write the bundle here instead of stdout.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Namespace to compile for, overriding the manifest's (default: `default`).
    #[arg(short, long)]
    namespace: Option<String>,
    /// Which Backend to compile when the file holds several.
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// Directory where the proxy finds auth Secret keys (`<dir>/<namespace>/<secret>/<key>`).
    #[arg(long, value_name = "DIR", default_value = agw_policy::compile::DEFAULT_AUTH_MOUNT_ROOT)]
    auth_mount_root: String,
}

pub fn run(args: &Args) -> u8 {
    let name = args.file.display();
    let doc = match input::read_backend(&args.file, args.backend.as_deref()) {
        Ok(doc) => doc,
        Err(message) => {
            eprintln!("{name}: {message}");
            return EXIT_UNREADABLE;
        }
    };
    let mut opts = input::options(&doc, args.namespace.as_deref());
    opts.auth_mount_root.clone_from(&args.auth_mount_root);
    match agw_policy::compile(&doc.spec, &opts) {
        Ok(compiled) => {
            for warning in &compiled.warnings {
                eprintln!("{name}: warning: {warning}");
            }
            write(args.output.as_ref(), &compiled.bundle.to_json())
        }
        Err(diagnostics) => {
            for error in &diagnostics.errors {
                eprintln!("{name}: {error}");
            }
            1
        }
    }
}

fn write(output: Option<&PathBuf>, json: &str) -> u8 {
    match output {
        None => {
            print!("{json}");
            0
        }
        Some(path) => match std::fs::write(path, json) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{}: cannot write: {e}", path.display());
                EXIT_UNREADABLE
            }
        },
    }
}
