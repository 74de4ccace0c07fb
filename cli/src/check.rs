//! `agwctl check`: what the proxy would do with a prompt, or with a captured response
//! (JSON or SSE), without sending anything anywhere. The decisions are `agw_policy`'s: the
//! same engine and response code the proxy runs, over the same texts (the Backend's prompt
//! enrichment included, which the proxy's guards read too).

use std::io::Read as _;
use std::path::PathBuf;

use agw_policy::Bundle;
use agw_policy::bundle::{PromptMessage, PromptRole, RequestEdits};
use agw_policy::engine::{BackendGuards, Decision, Engine, GuardHit, Segment, SegmentKind};
use agw_policy::response::json::{JsonOutcome, guard_response};
use agw_policy::response::sse::SseGuard;

use crate::{EXIT_UNREADABLE, input};

/// Exit code: the prompt would be rejected.
const EXIT_REJECTED: u8 = 3;

/// Try a prompt against a Backend's guards, exactly as the proxy would judge it.
///
/// Prints the decision, the guard that fired and, for Mask, the masked prompt.
/// Exit status: 0 allowed (possibly masked), 3 rejected, 1 invalid Backend, 2 unreadable input.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  agwctl check config/samples/backend-guarded.yaml --prompt 'What is a credit card'\n  echo 'mail me at jane@example.com' | agwctl check examples/claude-code.yaml\n  agwctl check config/samples/backend-response-guards.yaml --response reply.sse"
)]
pub struct Args {
    /// Manifest file holding the Backend.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The prompt to check; read from stdin when omitted.
    #[arg(short, long, conflicts_with = "response")]
    prompt: Option<String>,
    /// A captured Messages response (JSON body or SSE stream) to run the response guards on;
    /// prints the response the client would get.
    #[arg(long, value_name = "CAPTURE")]
    response: Option<PathBuf>,
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
    let key = bundle
        .rules
        .first()
        .and_then(|r| r.backend.as_deref())
        .unwrap_or_default();
    note_webhooks(&bundle, key, args.response.is_some());
    if let Some(capture) = &args.response {
        return check_response(&bundle, &engine, key, capture);
    }
    let Some(prompt) = prompt(args) else {
        return EXIT_UNREADABLE;
    };
    let Some(guards) = engine.backend(key) else {
        return 1;
    };
    let edits = bundle
        .backends
        .get(key)
        .map(|b| b.request.clone())
        .unwrap_or_default();
    let (segments, at) = enriched(&edits, &prompt, args.system);
    report(&guards.evaluate_request(&segments), at)
}

/// Webhook guards call a checker, which an offline check does not: say so, never imply the
/// verdict below includes them.
fn note_webhooks(bundle: &Bundle, key: &str, response: bool) {
    let Some(backend) = bundle.backends.get(key) else {
        return;
    };
    let guards = if response {
        &backend.guards.response
    } else {
        &backend.guards.request
    };
    for guard in guards {
        if let Some(call) = &guard.webhook {
            eprintln!(
                "note: {} is a webhook guard (its checker is {}:{}{}); agwctl check does not call checkers, so the verdict below leaves it out",
                guard.id, call.host, call.port, call.path
            );
        }
    }
}

/// The texts the proxy's guards read for `prompt`: the Backend's prompt enrichment (which the
/// proxy applies before its guards, as agentgateway does) around it, system texts first, in
/// request order; and the index of `prompt` among them.
fn enriched<'a>(
    edits: &'a RequestEdits,
    prompt: &'a str,
    system: bool,
) -> (Vec<Segment<'a>>, usize) {
    let of = |list: &'a [PromptMessage], want_system: bool| {
        list.iter()
            .filter(move |m| (m.role == PromptRole::System) == want_system)
            .map(move |m| Segment {
                kind: if want_system {
                    SegmentKind::System
                } else {
                    SegmentKind::Message
                },
                text: m.content.as_str(),
            })
    };
    let own = Segment {
        kind: if system {
            SegmentKind::System
        } else {
            SegmentKind::Message
        },
        text: prompt,
    };
    let mut segments: Vec<Segment<'a>> = of(&edits.prepend, true).collect();
    if system {
        segments.push(own);
    }
    segments.extend(of(&edits.append, true));
    segments.extend(of(&edits.prepend, false));
    let at = if system {
        edits
            .prepend
            .iter()
            .filter(|m| m.role == PromptRole::System)
            .count()
    } else {
        segments.len()
    };
    if !system {
        segments.push(own);
    }
    segments.extend(of(&edits.append, false));
    (segments, at)
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

/// Prints `decision`; for a Mask, the masked text at index `prompt` of the texts judged.
fn report(decision: &Decision, prompt: usize) -> u8 {
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
            println!("masked by {}", describe(&masked.hits));
            if let Some(Some(text)) = masked.texts.get(prompt) {
                println!("{text}");
            }
            0
        }
    }
}

fn check_response(bundle: &Bundle, engine: &Engine, key: &str, capture: &PathBuf) -> u8 {
    let text = match std::fs::read(capture).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => {
            eprintln!("{}: not UTF-8: {e}", capture.display());
            return EXIT_UNREADABLE;
        }
        Err(e) => {
            eprintln!("{}: {e}", capture.display());
            return EXIT_UNREADABLE;
        }
    };
    let Some(guards) = engine.response(key) else {
        println!("allowed: the Backend has no response guards");
        return 0;
    };
    if !is_sse(&text) {
        return report_json(guards, &text, capture);
    }
    if !bundle.backends.get(key).is_some_and(|b| b.guards.streaming) {
        println!(
            "allowed: streamed responses pass unguarded (promptGuard.streaming is not Enabled)"
        );
        return 0;
    }
    let mut stream = SseGuard::new();
    let mut out = stream.push(guards, text.as_bytes());
    out.extend(stream.finish(guards));
    let hits = stream.take_hits();
    let code = match stream.stopped() {
        Some(stopped) => {
            let r = &stopped.rejected;
            println!("stream stopped by {}: {}", r.guard_id, r.message);
            EXIT_REJECTED
        }
        None if hits.is_empty() => {
            println!("allowed: no guard matched");
            0
        }
        None => {
            println!("masked by {}", describe(&hits));
            0
        }
    };
    print!("{}", String::from_utf8_lossy(&out));
    code
}

/// An SSE capture starts with a field line; a JSON body with `{`.
fn is_sse(text: &str) -> bool {
    let first = text.trim_start();
    ["event:", "data:", "id:", ":"]
        .iter()
        .any(|field| first.starts_with(field))
}

fn report_json(guards: &BackendGuards, text: &str, capture: &std::path::Path) -> u8 {
    match guard_response(guards, text) {
        Ok(JsonOutcome::Allow) => {
            println!("allowed: no guard matched");
            0
        }
        Ok(JsonOutcome::Mask { body, hits }) => {
            println!("masked by {}", describe(&hits));
            println!("{body}");
            0
        }
        Ok(JsonOutcome::Reject(r)) => {
            println!(
                "rejected by {} with status {}: {}",
                r.guard_id, r.status, r.message
            );
            EXIT_REJECTED
        }
        Err(e) => {
            eprintln!("{}: {e}", capture.display());
            EXIT_UNREADABLE
        }
    }
}

fn describe(hits: &[GuardHit]) -> String {
    hits.iter()
        .map(|h| format!("{} ({}×)", h.guard_id, h.count))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: PromptRole, content: &str) -> PromptMessage {
        PromptMessage {
            role,
            content: content.to_owned(),
        }
    }

    #[test]
    fn enrichment_surrounds_the_prompt_in_request_order() {
        let edits = RequestEdits {
            prepend: vec![
                message(PromptRole::User, "u1"),
                message(PromptRole::System, "s1"),
            ],
            append: vec![
                message(PromptRole::System, "s2"),
                message(PromptRole::Assistant, "a2"),
            ],
            ..RequestEdits::default()
        };
        let texts = |system| {
            let (segments, at) = enriched(&edits, "P", system);
            let texts: Vec<&str> = segments.iter().map(|s| s.text).collect();
            (texts, at)
        };
        assert_eq!(texts(false), (vec!["s1", "s2", "u1", "P", "a2"], 3));
        assert_eq!(texts(true), (vec!["s1", "P", "s2", "u1", "a2"], 1));
        let none = RequestEdits::default();
        let (segments, at) = enriched(&none, "P", false);
        assert_eq!((segments.len(), at), (1, 0));
    }
}
