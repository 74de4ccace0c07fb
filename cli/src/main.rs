//! `agwctl`: use agw's policy compiler and guard engine offline.
//!
//! It owns argument parsing, file reading and presentation (messages, exit codes). Every
//! decision about a spec is `agw_policy`'s, so `agwctl lint` agrees with the admission
//! webhook and `agwctl check` with the proxy.
#![forbid(unsafe_code)]

mod check;
mod compile;
mod input;
mod lint;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: input could not be read or parsed.
const EXIT_UNREADABLE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "agwctl",
    version,
    about = "Lint, compile and try agw Backend policies without a cluster",
    after_help = "Examples:\n  agwctl lint config/samples/*.yaml\n  agwctl compile examples/claude-code.yaml -o bundle.json\n  agwctl check config/samples/backend-guarded.yaml --prompt 'What is a credit card'"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Lint(lint::Args),
    Compile(compile::Args),
    Check(check::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Lint(args) => lint::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Check(args) => check::run(&args),
    };
    ExitCode::from(code)
}
