#!/usr/bin/env bash
# `cargo deny check` for `make lint`: licenses, bans and sources always; advisories when
# RustSec's advisory database is on this machine. The database is a git repository on
# GitHub (github.com/rustsec/advisory-db), which the build machines here cannot reach;
# where GitHub is reachable, MIRAI_ADVISORY_FETCH=1 lets cargo-deny fetch it and check.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${MIRAI_STATE_DIR:-/var/tmp/mirai}/tools"
export PATH="$TOOLS/bin:$PATH"
if ! command -v cargo-deny >/dev/null 2>&1; then
    echo "deny: installing cargo-deny 0.20.2 into $TOOLS (once)"
    cargo install cargo-deny --version 0.20.2 --locked --root "$TOOLS" --quiet
fi
cargo deny --log-level error check bans licenses sources
if [[ -n "${MIRAI_ADVISORY_FETCH:-}" ]]; then
    cargo deny --log-level error check advisories
else
    echo "deny: advisories not checked: no RustSec database here (MIRAI_ADVISORY_FETCH=1 where GitHub is reachable)"
fi
