#!/usr/bin/env bash
# Drops databases left by earlier test runs (mirai_t_*) and stale templates (mirai_tpl_*),
# so a run starts clean and templates are rebuilt from the current migrations.
set -euo pipefail
STATE="${MIRAI_STATE_DIR:-/var/tmp/mirai}"
URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:${MIRAI_PG_PORT:-54329}/mirai}"
PSQL=$(ls "$STATE"/venv/lib/python3*/site-packages/pgserver/pginstall/bin/psql 2>/dev/null | head -1 || true)
[ -n "$PSQL" ] || PSQL=psql
for db in $("$PSQL" "$URL" -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'mirai\_t\_%' OR datname LIKE 'mirai\_tpl\_%'"); do
  "$PSQL" "$URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
done
