#!/usr/bin/env bash
# Copies the RustSec advisory database (https://github.com/rustsec/advisory-db, CC0-1.0) into
# hack/deny/advisory-db/, for `cargo deny check advisories` on machines that cannot fetch it
# (this project's CI reaches package registries only). Run it with a clone of the database:
#   git clone https://github.com/rustsec/advisory-db /tmp/advisory-db
#   hack/deny/vendor-advisory-db.sh /tmp/advisory-db
# The snapshot's commit and date are recorded in hack/deny/advisory-db/SNAPSHOT; hack/deny/check.sh
# prints them, so a report says how fresh its advisories are.
set -euo pipefail
src=${1:?usage: vendor-advisory-db.sh <advisory-db git clone>}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/advisory-db
git -C "$src" rev-parse --verify -q HEAD >/dev/null || { echo "error: $src is not a git clone" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
# Only what cargo-deny reads: the advisories (crates/, rust/) and the licence.
git -C "$src" archive --format=tar HEAD crates rust LICENSE.txt | tar -x -C "$out"
git -C "$src" log -1 --format='commit %H%ndate %cI' >"$out/SNAPSHOT"
echo "==> vendored $(find "$out" -name 'RUSTSEC-*.md' | wc -l) advisories ($(sed -n 's/^date //p' "$out/SNAPSHOT")) into $out" >&2
