#!/usr/bin/env bash
# Fault injection under load (`make test-faults`): a private Postgres and NATS (the installs
# `make setup` made, on their own loopback ports and in their own state dir, so the shared
# servers other tests use are never touched), `mirai dev --demo` against them, 4 clients
# posting xAPI statements and a /readyz poller throughout (scripts/fault_load.py), while
# this script kills NATS for 7 s and then stops Postgres hard for ~10 s. Then it checks:
# every acknowledged statement is stored; a NATS outage leaves /readyz at 200 and writes
# flowing into the outbox, which drains on reconnect; a database outage answers fast 503
# problems with Retry-After (no 500s, no hangs) and /readyz answers 503 within 3 s; writes
# succeed again after recovery. Prints a summary table; exits 1 naming what failed.
# MIRAI_BIN names the binary; MIRAI_FAULT_LOG_DIR, if set, receives the logs and samples.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

STATE="${MIRAI_STATE_DIR:-/var/tmp/mirai}"
VENV="$STATE/venv"
BIN="${MIRAI_BIN:-${CARGO_TARGET_DIR:-/var/tmp/mirai/target}/debug/mirai}"
FAULTS="$STATE/faults"
PG_PORT="${MIRAI_FAULT_PG_PORT:-54339}"
NATS_PORT="${MIRAI_FAULT_NATS_PORT:-42239}"
NATS_DOWN_SECS="${MIRAI_FAULT_NATS_DOWN:-7}"
PG_DOWN_SECS="${MIRAI_FAULT_PG_DOWN:-10}"

log() { echo "fault-test: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
now() { date +%s.%N; }
# shellcheck source=lib/servers.sh
. "$ROOT/scripts/lib/servers.sh"

[ -x "$BIN" ] || die "no mirai binary at $BIN (set MIRAI_BIN, or run \`make build\`)"
[ -x "$VENV/bin/nats-server" ] || die "no nats-server in $VENV (run \`make setup\`)"
PGBIN=$(ls -d "$VENV"/lib/python3*/site-packages/pgserver/pginstall/bin 2>/dev/null | head -1 || true)
[ -n "$PGBIN" ] && [ -x "$PGBIN/pg_ctl" ] || die "no Postgres install under $VENV (run \`make setup\`)"
PSQL="$PGBIN/psql"
PGDATA="$FAULTS/pgdata"
DB_ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/mirai"

mkdir -p "$STATE"
take_lock "$STATE/faults.lock"

# Everything this script started, whatever state the run left it in: the load, the fleet,
# NATS, Postgres. Idempotent (runs again from the EXIT trap after an INT/TERM).
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -d "$FAULTS" ] || exit "$status"
  if [ -n "${LOAD_PID:-}" ]; then kill "$LOAD_PID" 2>/dev/null || true; fi
  stop_mirai
  if [ "$status" != 0 ] && [ -f "$FAULTS/work/dev.log" ]; then
    log "the fleet's log (errors and warnings, last 25):"
    grep -E '"level":"(ERROR|WARN)"|ERROR|WARN|panicked' "$FAULTS/work/dev.log" | tail -n 25 >&2 || true
  fi
  if [ -n "${MIRAI_FAULT_LOG_DIR:-}" ]; then  # keep the evidence: logs, samples, phase marks
    mkdir -p "$MIRAI_FAULT_LOG_DIR"
    cp -f "$FAULTS/work/dev.log" "$FAULTS/nats.log" "$PGDATA/server.log" "$FAULTS/samples.json" "$FAULTS/phases" \
      "$MIRAI_FAULT_LOG_DIR"/ 2>/dev/null || true
  fi
  kill_pidfile "$FAULTS/load.pid" fault_load.py
  kill_pidfile "$FAULTS/mirai.pid" "$BIN"
  kill_pidfile "$FAULTS/nats.pid" "$FAULTS/nats.conf"
  stop_pg
  kill_jobs
  rm -rf "$FAULTS"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Leftovers of a run that was killed outright, then a clean state dir.
if [ -d "$FAULTS" ]; then
  log "cleaning up a previous run's leftovers in $FAULTS"
  kill_pidfile "$FAULTS/load.pid" fault_load.py
  kill_pidfile "$FAULTS/mirai.pid" " dev --demo"
  kill_pidfile "$FAULTS/nats.pid" "$FAULTS/nats.conf"
  stop_pg
  rm -rf "$FAULTS"
fi
for p in "$PG_PORT" "$NATS_PORT"; do
  port_open "$p" && die "127.0.0.1:$p is in use by something else (set MIRAI_FAULT_PG_PORT / MIRAI_FAULT_NATS_PORT)"
done
mkdir -p "$FAULTS/work" "$FAULTS/nats" "$FAULTS/state"
chmod 755 "$FAULTS"
PHASES="$FAULTS/phases"
: >"$PHASES"
mark() { echo "$1 ${2:-$(now)}" >>"$PHASES"; }
T0=$(now)

# --- private Postgres (as setup.sh makes it, smaller) ------------------------------------
init_pg
cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 200
shared_buffers = 128MB
fsync = on
synchronous_commit = on
max_locks_per_transaction = 256
log_min_messages = warning
CONF
start_pg || { tail -n 20 "$PGDATA/server.log" >&2; die "the private Postgres did not start"; }
timeout 10 "$PSQL" "postgres://postgres@127.0.0.1:$PG_PORT/postgres" -qc "CREATE DATABASE mirai"

# --- private NATS (setup.sh's configuration: JetStream, the dev users and permissions) ---
NATS_MON_PORT=$(free_port)  # monitoring, to count what the LRS stream holds
write_nats_conf "$FAULTS" "$NATS_PORT" "http: 127.0.0.1:$NATS_MON_PORT"
start_nats() { launch_nats "$FAULTS" "$NATS_PORT"; }
start_nats

# --- the fleet --------------------------------------------------------------------------
HTTP_PORT=$(free_port)
URL="http://127.0.0.1:$HTTP_PORT"
(cd "$FAULTS/work" && DATABASE_URL="$DB_ADMIN_URL" NATS_URL="nats://127.0.0.1:$NATS_PORT" \
  MIRAI_HTTP_ADDR="127.0.0.1:$HTTP_PORT" MIRAI_STATE_DIR="$FAULTS/state" MIRAI_NATS_PREFIX= \
  RUST_LOG="${RUST_LOG:-warn}" exec "$BIN" dev --demo >"$FAULTS/work/dev.log" 2>&1 9>&-) &
MIRAI_PID=$!
echo "$MIRAI_PID" >"$FAULTS/mirai.pid"

# HTTP status of GET <url> within <timeout> s, or `timeout`/`down`.
http_status() {
  python3 - "$1" "${2:-3}" <<'PY'
import sys, urllib.request, urllib.error, socket
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).status)
except urllib.error.HTTPError as e:
    print(e.code)
except (socket.timeout, TimeoutError):
    print("timeout")
except Exception:
    print("down")
PY
}
wait_ready() {  # <seconds>: until /readyz is 200 and the fleet still runs
  local deadline=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    kill -0 "$MIRAI_PID" 2>/dev/null || { tail -n 30 "$FAULTS/work/dev.log" >&2; die "mirai dev exited"; }
    [ "$(http_status "$URL/readyz" 2)" = 200 ] && return 0
    sleep 0.25
  done
  return 1
}
wait_ready 120 || { tail -n 30 "$FAULTS/work/dev.log" >&2; die "/readyz was not 200 within 120 s of starting mirai dev"; }
for _ in $(seq 1 240); do [ -s "$FAULTS/work/.dev/demo.json" ] && break; sleep 0.25; done
[ -s "$FAULTS/work/.dev/demo.json" ] || { tail -n 30 "$FAULTS/work/dev.log" >&2; die "no .dev/demo.json within 60 s"; }
log "private fleet ready on $URL (Postgres :$PG_PORT, NATS :$NATS_PORT) after $(python3 -c "print(f'{$(now) - $T0:.1f}')") s"

pending() {  # outbox rows not yet published [created before <epoch>]
  local cond=""
  [ -z "${1:-}" ] || cond=" AND created_at < to_timestamp($1)"
  timeout 3 "$PSQL" "$DB_ADMIN_URL" -X -tAc "SELECT count(*) FROM lrs.outbox WHERE published_at IS NULL$cond" 2>/dev/null || echo "?"
}

# --- load throughout ----------------------------------------------------------------------
python3 "$ROOT/scripts/fault_load.py" load --url "$URL" --demo "$FAULTS/work/.dev/demo.json" \
  --out "$FAULTS/samples.json" --stop-file "$FAULTS/stop" --max-seconds 150 9>&- &
LOAD_PID=$!
echo "$LOAD_PID" >"$FAULTS/load.pid"
mark load_start
sleep 3

# --- NATS: kill -9, 7 s down, restart on the same store and port --------------------------
log "killing NATS (kill -9) for ${NATS_DOWN_SECS} s"
kill -9 "$NATS_PID"; { wait "$NATS_PID"; } 2>/dev/null || true
mark nats_kill
peak=0
end=$(( $(date +%s%N) + NATS_DOWN_SECS * 1000000000 ))
while [ "$(date +%s%N)" -lt "$end" ]; do
  n=$(pending); [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt "$peak" ] && peak=$n
  sleep 0.5
done
mark outbox_peak "$peak"
start_nats
NATS_START=$(now)
mark nats_start "$NATS_START"
log "NATS back (outbox peaked at $peak pending); waiting for the outage's rows to drain"
drained=""
for _ in $(seq 1 60); do  # up to 15 s
  n=$(pending "$NATS_START")
  if [ "$n" = 0 ]; then drained=$(now); break; fi
  sleep 0.25
done
n=${n//[^0-9]/}
if [ -n "$drained" ]; then mark outbox_drained "$drained"; else mark outbox_undrained "${n:--1}"; fi
rest=$(python3 -c "print(max(0.0, 5 - ($(now) - $NATS_START)))")
sleep "$rest"

# --- Postgres: immediate stop, ~10 s down, restart ----------------------------------------
log "stopping Postgres (pg_ctl stop -m immediate) for ${PG_DOWN_SECS} s"
run_as_pg timeout 20 "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 15 stop >/dev/null
# Marked once pg_ctl says it is stopped: on a loaded machine the stop itself can take over
# a second, and a probe answered by a Postgres still shutting down is not "while down".
mark pg_stop
sleep "$PG_DOWN_SECS"
mark pg_start
start_pg || { tail -n 20 "$PGDATA/server.log" >&2; die "the private Postgres did not restart"; }
log "Postgres back; waiting for /readyz 200"
if wait_ready 30; then mark ready_again; else mark ready_again; log "/readyz not 200 within 30 s of the restart"; fi
sleep 3

# --- stop the load, let the outbox settle, verify -----------------------------------------
mark load_stop
touch "$FAULTS/stop"
for _ in $(seq 1 60); do kill -0 "$LOAD_PID" 2>/dev/null || break; sleep 0.25; done
kill -0 "$LOAD_PID" 2>/dev/null && { kill "$LOAD_PID"; sleep 2; }
wait "$LOAD_PID" || die "the load generator failed"
LOAD_PID=""
[ -s "$FAULTS/samples.json" ] || die "the load generator wrote no samples"
for _ in $(seq 1 60); do [ "$(pending)" = 0 ] && break; sleep 0.25; done

set +e
timeout 120 python3 "$ROOT/scripts/fault_load.py" verify --url "$URL" --demo "$FAULTS/work/.dev/demo.json" \
  --samples "$FAULTS/samples.json" --phases "$PHASES" --psql "$PSQL" --db-url "$DB_ADMIN_URL" \
  --nats-monitor "http://127.0.0.1:$NATS_MON_PORT"
verdict=$?
set -e
if grep -q '"status":500\|status=500' "$FAULTS/work/dev.log"; then
  log "the fleet logged 500s:"; grep '"status":500\|status=500' "$FAULTS/work/dev.log" | head -5 >&2; verdict=1
fi
log "total $(python3 -c "print(f'{$(now) - $T0:.0f}')") s"
exit "$verdict"
