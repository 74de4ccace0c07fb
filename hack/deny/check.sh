#!/usr/bin/env bash
# `cargo deny check` (licences, bans, sources, advisories) on the workspace, as CI runs it.
# cargo-deny is installed from crates.io into ${AGW_CACHE:-$HOME/.cache/agw}/tools on first use.
# The advisory database is the snapshot vendored in hack/deny/advisory-db (this machine reaches
# package registries only, not GitHub); cargo-deny reads it from a local git repository made
# from that snapshot, and its date is printed so the report says how fresh it is.
set -euo pipefail
DENY_VERSION=0.20.2

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${AGW_CACHE:-$HOME/.cache/agw}
log() { printf '==> %s\n' "$*" >&2; }

root=$cache/tools/cargo-deny-$DENY_VERSION
if [[ ! -x $root/bin/cargo-deny ]]; then
  log "installing cargo-deny $DENY_VERSION from crates.io into $root (once; a few minutes)"
  cargo install cargo-deny --locked --version "$DENY_VERSION" --root "$root" --quiet
fi

snapshot=$repo/hack/deny/advisory-db
key=$(cd "$snapshot" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
# cargo-deny keeps the default database (https://github.com/rustsec/advisory-db) in
# <db-path>/advisory-db-<xxhash of that url>, and with --offline opens it as a git checkout
# (the commit date is the database's age). The snapshot is put exactly there.
dbs=$cache/deny/db-$key
db=$dbs/advisory-db-3157b0e258782691
if [[ ! -f $dbs.stamp ]]; then
  log "making a git repository of the vendored advisory database in $db"
  rm -rf "$dbs"
  mkdir -p "$db"
  cp -R "$snapshot/." "$db/"
  date=$(sed -n 's/^date //p' "$snapshot/SNAPSHOT")
  git -C "$db" init -q
  git -C "$db" add -A
  GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date git -C "$db" \
    -c user.name=agw -c user.email=agw@localhost -c commit.gpgsign=false \
    commit -q -m "RustSec advisory-db snapshot ($(sed -n 's/^commit //p' "$snapshot/SNAPSHOT"))"
  touch "$dbs.stamp"
fi

config=$cache/deny/deny-$key.toml
sed "s|^\[advisories\]$|[advisories]\ndb-path = \"$dbs\"|" "$repo/deny.toml" >"$config"
log "advisory database: RustSec snapshot of $(sed -n 's/^date //p' "$snapshot/SNAPSHOT") (hack/deny/advisory-db/SNAPSHOT)"
cd "$repo"
# cargo-deny reads `cargo metadata` for every platform, so it needs every crate of Cargo.lock
# (Windows-only ones too) where a build fetched only this host's: fetch them first, from the
# registry (a no-op once they are in ~/.cargo).
cargo fetch --locked --quiet
# --offline: nothing else is fetched (the advisories are the snapshot; crates come from Cargo.lock).
exec "$root/bin/cargo-deny" --log-level warn --config "$config" --offline --locked check "$@"
