//! The Claude Code-like Messages request the load sends.

use super::*;

pub(super) const SYSTEM: &str = "You are an interactive CLI tool that helps users with software engineering tasks. \
Use the instructions below and the tools available to you to assist the user. Be concise, direct and to the point. \
When you run a non-trivial bash command, explain what the command does and why you are running it. ";

pub(super) const CODE: &str = "fn handle(req: Request<Incoming>) -> Result<Response<Body>, Error> {\n    \
let path = req.uri().path().to_owned();\n    let started = Instant::now();\n    \
match router.lookup(&path) {\n        Some(route) => route.forward(req).await.map_err(Error::from),\n        \
None => Ok(not_found(&path)),\n    }\n}\n";

/// A Claude Code-like Messages request (system blocks, tools, a tool round trip, the prompt)
/// of about `size` bytes, that the tutorial's guards allow.
pub(super) fn request_body(size: usize) -> Bytes {
    let tool = |name: &str, description: &str| {
        serde_json::json!({
            "name": name,
            "description": description,
            "input_schema": {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command to execute"},
                    "timeout": {"type": "number", "description": "Optional timeout in milliseconds"}
                },
                "required": ["command"],
                "additionalProperties": false
            }
        })
    };
    let mut file = String::new();
    let mut reminder = String::from(
        "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n",
    );
    let base = serde_json::to_vec(&build(&tool, SYSTEM, &reminder, &file))
        .unwrap()
        .len();
    let mut n = 0;
    while base + file.len() + reminder.len() < size {
        if n % 4 == 0 {
            let _ = writeln!(
                reminder,
                "- Keep the handler small; see docs/design.md section {n}."
            );
        }
        let _ = write!(file, "// revision {n}\n{CODE}");
        n += 1;
    }
    reminder.push_str("</system-reminder>");
    let body = build(&tool, SYSTEM, &reminder, &file);
    Bytes::from(serde_json::to_vec(&body).unwrap())
}

pub(super) fn build(
    tool: &dyn Fn(&str, &str) -> serde_json::Value,
    system: &str,
    reminder: &str,
    file: &str,
) -> serde_json::Value {
    serde_json::json!({
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": system.repeat(4), "cache_control": {"type": "ephemeral"}}
        ],
        "tools": [
            tool("Bash", "Executes a given bash command in a persistent shell session."),
            tool("Read", "Reads a file from the local filesystem."),
            tool("Grep", "A powerful search tool built on ripgrep.")
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": reminder},
                {"type": "text", "text": "Read src/server.rs and tell me what handle does."}
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "I'll read the file."},
                {"type": "tool_use", "id": "toolu_01A", "name": "Read", "input": {"file_path": "/work/src/server.rs"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": file},
                {"type": "text", "text": "What is Kubernetes?"}
            ]}
        ],
        "metadata": {"user_id": "user_bench_session"},
        "stream": false
    })
}
