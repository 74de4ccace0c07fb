#!/usr/bin/env bash
# Installs the real clients the e2e tests drive, into a cache (idempotent):
#   - the Claude Code CLI (npm @anthropic-ai/claude-code)
#   - the official Anthropic Python SDK (pip anthropic) and pytest in a virtualenv
# Progress goes to stderr; stdout carries AGW_CLAUDE_BIN=… and AGW_PYTHON=… for callers.
set -euo pipefail

CLAUDE_CODE_VERSION=2.1.331
ANTHROPIC_SDK_VERSION=2.13.0

cache=${AGW_CACHE:-$HOME/.cache/agw}/clients
log() { printf '==> %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "error: $1 is required to install the test clients ($2)" >&2; exit 1; }; }

need npm "install Node.js 18+ with npm"
need python3 "install Python 3.9+"

node_dir=$cache/node-claude-code-$CLAUDE_CODE_VERSION
claude=$node_dir/node_modules/.bin/claude
if [[ ! -x $claude ]]; then
  log "installing @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION into $node_dir"
  mkdir -p "$node_dir"
  npm install --silent --no-audit --no-fund --prefix "$node_dir" "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" >&2
fi
"$claude" --version >/dev/null 2>&1 || { echo "error: $claude does not run" >&2; exit 1; }
log "Claude Code CLI: $("$claude" --version 2>/dev/null)"

venv=$cache/python-anthropic-$ANTHROPIC_SDK_VERSION
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import anthropic, pytest' 2>/dev/null; then
  log "installing anthropic==$ANTHROPIC_SDK_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "anthropic==$ANTHROPIC_SDK_VERSION" "pytest==9.2.0" >&2
fi
log "Anthropic SDK: $("$venv/bin/python" -c 'import anthropic; print(anthropic.__version__)')"

echo "AGW_CLAUDE_BIN=$claude"
echo "AGW_PYTHON=$venv/bin/python"
