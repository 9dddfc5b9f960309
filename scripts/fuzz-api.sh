#!/usr/bin/env bash
# Fuzzes every service's OpenAPI with schemathesis against a running `mirai dev` (its own
# database and NATS prefix, a free port, the demo org admin's token): no input may
# produce a 5xx, and every response must have the content type the spec says.
# Deterministic: a fixed seed and a fixed number of examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${MIRAI_STATE_DIR:-/var/tmp/mirai}"
VENV="$STATE/venv"
BIN="${CARGO_TARGET_DIR:-$STATE/target}/debug/mirai"
"$VENV/bin/python" -c "import schemathesis" 2>/dev/null || "$VENV/bin/pip" install -q --disable-pip-version-check schemathesis
PSQL=$(ls "$VENV"/lib/python3*/site-packages/pgserver/pginstall/bin/psql | head -1)
ADMIN_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:${MIRAI_PG_PORT:-54329}/mirai}"
DB="mirai_t_fuzz_$$"
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PSQL" "$ADMIN_URL" -qc "CREATE DATABASE $DB"
cleanup() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  "$PSQL" "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# `exec`: the background job is the server itself, so the cleanup's kill reaches it.
(cd "$WORK" && DATABASE_URL="${ADMIN_URL%/*}/$DB" MIRAI_HTTP_ADDR="127.0.0.1:$PORT" MIRAI_NATS_PREFIX="fuzz$$." \
  RUST_LOG=error exec "$BIN" dev --demo >"$WORK/dev.log" 2>&1) &
PID=$!
for _ in $(seq 1 120); do [ -f "$WORK/.dev/demo.json" ] && break; sleep 0.5; done
[ -f "$WORK/.dev/demo.json" ] || { cat "$WORK/dev.log"; echo "fuzz: mirai dev did not start"; exit 1; }
TOKEN=$("$VENV/bin/python" - "$WORK/.dev/demo.json" <<'PY'
import json, sys, urllib.request
d = json.load(open(sys.argv[1]))
u = next(x for x in d["users"] if x["roles"] == ["org_admin"])
body = json.dumps({"email": u["email"], "password": u["password"], "tenant_id": d["tenant_id"]}).encode()
req = urllib.request.Request(d["fleet_url"] + "/api/v1/identity/login", data=body, headers={"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req))["access_token"])
PY
)
status=0
for svc in $("$BIN" services); do
  echo "fuzz: $svc"
  "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api/v1/$svc/openapi.json" --url "http://127.0.0.1:$PORT" \
    -H "Authorization: Bearer $TOKEN" -c not_a_server_error,content_type_conformance \
    --phases coverage,fuzzing --seed 20261123 -n 150 --no-color 2>&1 | tail -n 8 || status=1
done
if grep -q '"status":5' "$WORK/dev.log"; then
  echo "fuzz: the server logged 5xx responses:"; grep '"status":5' "$WORK/dev.log" | head -5; status=1
fi
exit $status
