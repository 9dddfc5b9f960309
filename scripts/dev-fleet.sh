# Sourced by the scripts that test a running fleet (fuzz-api.sh, readme-walkthrough.sh):
# `start_dev_fleet <name>` starts `mirai dev --demo` on a database, NATS prefix, free port
# and temp working dir of its own (WORK holds .dev/demo.json and dev.log), waits until the
# demo credentials are written, and on exit kills the server and drops the database.
# Sets STATE, VENV, BIN, PSQL, ADMIN_URL, DB, WORK, PORT and PID.
STATE="${MIRAI_STATE_DIR:-/var/tmp/mirai}"
VENV="$STATE/venv"
BIN="${CARGO_TARGET_DIR:-$STATE/target}/debug/mirai"
PSQL=$(ls "$VENV"/lib/python3*/site-packages/pgserver/pginstall/bin/psql 2>/dev/null | head -1 || true)
[ -n "$PSQL" ] || PSQL=psql
ADMIN_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:${MIRAI_PG_PORT:-54329}/mirai}"
WORK=$(mktemp -d)

stop_dev_fleet() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  [ -n "${DB:-}" ] && "$PSQL" "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -rf "$WORK"
}

start_dev_fleet() {
  local name=$1
  DB="mirai_t_${name}_$$"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$PSQL" "$ADMIN_URL" -qc "CREATE DATABASE $DB"
  trap stop_dev_fleet EXIT
  # `exec`: the background job is the server itself, so the cleanup's kill reaches it.
  (cd "$WORK" && DATABASE_URL="${ADMIN_URL%/*}/$DB" MIRAI_HTTP_ADDR="127.0.0.1:$PORT" MIRAI_NATS_PREFIX="$name$$." \
    RUST_LOG=error exec "$BIN" dev --demo >"$WORK/dev.log" 2>&1) &
  PID=$!
  for _ in $(seq 1 120); do [ -f "$WORK/.dev/demo.json" ] && break; kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
  [ -f "$WORK/.dev/demo.json" ] || { cat "$WORK/dev.log"; echo "$name: mirai dev did not start"; exit 1; }
}
