//! `agwctl check`: what the proxy would do with a prompt, without sending it anywhere.

use std::io::Read as _;
use std::path::PathBuf;

use agw_policy::engine::{Decision, Engine, Segment, SegmentKind};

use crate::{EXIT_UNREADABLE, input};

/// Exit code: the prompt would be rejected.
const EXIT_REJECTED: u8 = 3;

/// Try a prompt against a Backend's guards, exactly as the proxy would judge it.
///
/// Prints the decision, the guard that fired and, for Mask, the masked prompt.
/// Exit status: 0 allowed (possibly masked), 3 rejected, 1 invalid Backend, 2 unreadable input.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  agwctl check config/samples/backend-guarded.yaml --prompt 'What is a credit card'\n  echo 'mail me at jane@example.com' | agwctl check examples/claude-code.yaml"
)]
pub struct Args {
    /// Manifest file holding the Backend.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The prompt to check; read from stdin when omitted.
    #[arg(short, long)]
    prompt: Option<String>,
    /// Check the prompt as the system prompt instead of a user message.
    #[arg(long)]
    system: bool,
    /// Which Backend to use when the file holds several.
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
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
    let bundle = match agw_policy::compile(&doc.spec, &input::options(&doc, None)) {
        Ok(compiled) => compiled.bundle,
        Err(diagnostics) => {
            for error in &diagnostics.errors {
                eprintln!("{name}: {error}");
            }
            return 1;
        }
    };
    let engine = match Engine::from_bundle(&bundle) {
        Ok(engine) => engine,
        Err(err) => {
            eprintln!("{name}: {err}");
            return 1;
        }
    };
    let Some(prompt) = prompt(args) else {
        return EXIT_UNREADABLE;
    };
    let key = bundle
        .rules
        .first()
        .and_then(|r| r.backend.as_deref())
        .unwrap_or_default();
    let Some(guards) = engine.backend(key) else {
        return 1;
    };
    let kind = if args.system {
        SegmentKind::System
    } else {
        SegmentKind::Message
    };
    report(&guards.evaluate_request(&[Segment {
        kind,
        text: &prompt,
    }]))
}

fn prompt(args: &Args) -> Option<String> {
    if let Some(prompt) = &args.prompt {
        return Some(prompt.clone());
    }
    let mut text = String::new();
    match std::io::stdin().read_to_string(&mut text) {
        Ok(_) => Some(text),
        Err(e) => {
            eprintln!("cannot read the prompt from stdin: {e}");
            None
        }
    }
}

fn report(decision: &Decision) -> u8 {
    match decision {
        Decision::Allow => {
            println!("allowed: no guard matched");
            0
        }
        Decision::Reject(rejected) => {
            println!(
                "rejected by {} with status {}: {}",
                rejected.guard_id, rejected.status, rejected.message
            );
            EXIT_REJECTED
        }
        Decision::Mask(masked) => {
            let guards: Vec<String> = masked
                .hits
                .iter()
                .map(|h| format!("{} ({}×)", h.guard_id, h.count))
                .collect();
            println!("masked by {}", guards.join(", "));
            if let Some(Some(text)) = masked.texts.first() {
                println!("{text}");
            }
            0
        }
    }
}
