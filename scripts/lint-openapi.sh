#!/usr/bin/env bash
# Lints every committed OpenAPI document with Redocly's recommended rules (@redocly/cli
# from npm, installed once under the state dir): security declared on every operation,
# servers, summaries. Errors fail `make lint`; warnings are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${MIRAI_STATE_DIR:-/var/tmp/mirai}"
NPM_DIR="$STATE/npm"
REDOCLY="$NPM_DIR/node_modules/.bin/redocly"
if [ ! -x "$REDOCLY" ]; then
  mkdir -p "$NPM_DIR"
  (cd "$NPM_DIR" && npm install --silent --no-audit --no-fund @redocly/cli@2.77.0 >/dev/null)
fi
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$REDOCLY" lint --extends=recommended --format=summary schemas/openapi/*.json
