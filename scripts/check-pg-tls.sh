#!/usr/bin/env bash
# Postgres over TLS, end to end (`make test-pg-tls`): the chart connects with
# `DATABASE_URL=...?sslmode=verify-full&sslrootcert=<ca>`, and sqlx is built with rustls.
# On a private Postgres that refuses every non-TLS TCP connection (hostssl trust +
# hostnossl reject) and a private NATS (the dev users), each on its own loopback port and
# in its own state dir (the shared servers are never touched), it checks:
#   a. `mirai migrate` with sslmode=verify-full and the right CA succeeds;
#   b. the same with an unrelated CA fails, on certificate verification;
#   c. the same with sslmode=disable fails (the server refuses non-TLS);
#   d. the fleet (`mirai serve`) with the verify-full URL reaches /readyz 200, and Postgres reports every
#      connection of the services' runtime roles (mirai_<service>) as TLS (pg_stat_ssl).
# The throwaway CAs and server certificate are made here with the openssl CLI. The
# pgserver wheel's Postgres (`make setup`) is built without OpenSSL, so this uses a
# Postgres that has it: $MIRAI_PGTLS_PGBIN, else the wheel's if it has SSL, else Debian's
# (/usr/lib/postgresql/*/bin, the `postgresql` package). MIRAI_BIN names the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

STATE="${MIRAI_STATE_DIR:-/var/tmp/mirai}"
VENV="$STATE/venv"
BIN="${MIRAI_BIN:-${CARGO_TARGET_DIR:-/var/tmp/mirai/target}/debug/mirai}"
DIR="$STATE/pgtls"
PG_PORT="${MIRAI_PGTLS_PG_PORT:-54349}"
NATS_PORT="${MIRAI_PGTLS_NATS_PORT:-42249}"
READY_SECS="${MIRAI_PGTLS_READY_SECS:-60}"

log() { echo "pg-tls: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
# shellcheck source=lib/servers.sh
. "$ROOT/scripts/lib/servers.sh"
FAILS=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }

[ -x "$BIN" ] || die "no mirai binary at $BIN (set MIRAI_BIN, or run \`make build\`)"
[ -x "$VENV/bin/nats-server" ] || die "no nats-server in $VENV (run \`make setup\`)"
command -v openssl >/dev/null || die "no openssl CLI (apt-get install openssl)"

# A Postgres built with OpenSSL (`ssl = on` needs it).
has_ssl() { [ -x "$1/postgres" ] && [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/psql" ] &&
  { "$1/pg_config" --configure 2>/dev/null | grep -q -- '--with-openssl' ||
    { command -v ldd >/dev/null && ldd "$1/postgres" 2>/dev/null | grep -q libssl; }; }; }
find_pgbin() {
  PGBIN=""
  for cand in ${MIRAI_PGTLS_PGBIN:-} $(ls -d "$VENV"/lib/python3*/site-packages/pgserver/pginstall/bin 2>/dev/null) \
    $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -rn); do
    if has_ssl "$cand"; then PGBIN=$cand; return; fi
  done
}
find_pgbin
if [ -z "$PGBIN" ] && command -v apt-get >/dev/null; then
  echo "check-pg-tls: installing Debian's postgresql (the pgserver wheel is built without OpenSSL)" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null || true
  find_pgbin
fi
[ -n "$PGBIN" ] || die "no Postgres built with OpenSSL (the pgserver wheel's is not): apt-get install postgresql, or set MIRAI_PGTLS_PGBIN"
PSQL="$PGBIN/psql"
PGDATA="$DIR/pgdata"
CERTS="$DIR/certs"

mkdir -p "$STATE"
take_lock "$STATE/pgtls.lock"

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -d "$DIR" ] || exit "$status"
  stop_mirai
  if [ "$status" != 0 ]; then
    if [ -f "$DIR/work/dev.log" ]; then
      log "mirai dev's log (errors and warnings, last 15):"
      grep -E '"level":"(ERROR|WARN)"|ERROR|WARN|panicked|Error' "$DIR/work/dev.log" | tail -n 15 >&2 || true
    fi
    if [ -f "$PGDATA/server.log" ]; then
      log "Postgres's log (last 10):"; tail -n 10 "$PGDATA/server.log" >&2 || true
    fi
  fi
  kill_pidfile "$DIR/mirai.pid" "$BIN"
  kill_pidfile "$DIR/nats.pid" "$DIR/nats.conf"
  stop_pg
  kill_jobs
  rm -rf "$DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Leftovers of a run that was killed outright, then a clean state dir.
if [ -d "$DIR" ]; then
  log "cleaning up a previous run's leftovers in $DIR"
  kill_pidfile "$DIR/mirai.pid" " dev"
  kill_pidfile "$DIR/nats.pid" "$DIR/nats.conf"
  stop_pg
  rm -rf "$DIR"
fi
for p in "$PG_PORT" "$NATS_PORT"; do
  port_open "$p" && die "127.0.0.1:$p is in use by something else (set MIRAI_PGTLS_PG_PORT / MIRAI_PGTLS_NATS_PORT)"
done
mkdir -p "$DIR/work" "$DIR/nats" "$DIR/state" "$CERTS"
chmod 755 "$DIR" "$CERTS"
T0=$(date +%s)

# Only what this script sets reaches the binary's database and NATS settings.
for v in $(env | sed -n 's/^\(MIRAI_[A-Z0-9_]*__\(DATABASE_URL\|DB_PASSWORD\)\)=.*/\1/p'); do unset "$v"; done
unset DATABASE_URL NATS_URL MIRAI_NATS_ADMIN_PASSWORD MIRAI_DB_APP_PASSWORD

# --- 1. certificates: a CA (P-256), a server cert for 127.0.0.1 it signs, an unrelated CA --
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
make_ca() {  # <name> <CN>
  ec_key "$CERTS/$1.key"
  openssl req -x509 -new -key "$CERTS/$1.key" -sha256 -days 2 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$CERTS/$1.pem" 2>/dev/null
}
make_ca ca "mirai pg-tls test CA"
make_ca other-ca "mirai pg-tls unrelated CA"
ec_key "$CERTS/server.key"
openssl req -new -key "$CERTS/server.key" -subj "/CN=127.0.0.1" -out "$CERTS/server.csr" 2>/dev/null
cat >"$CERTS/server.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
EXT
openssl x509 -req -in "$CERTS/server.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -CAcreateserial \
  -days 2 -sha256 -extfile "$CERTS/server.ext" -out "$CERTS/server.crt" 2>/dev/null
openssl verify -CAfile "$CERTS/ca.pem" "$CERTS/server.crt" >/dev/null || die "the test server certificate does not verify"
[ "$(id -u)" = 0 ] && { run_as_pg true 2>/dev/null || true; chown "$PG_USER_OS" "$CERTS"/*.key; }
chmod 0600 "$CERTS"/*.key
chmod 0644 "$CERTS"/*.pem "$CERTS/server.crt"

# --- 2. private Postgres: TLS on, non-TLS TCP refused --------------------------------------
init_pg
cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 100
shared_buffers = 64MB
fsync = off
max_locks_per_transaction = 256
log_min_messages = warning
ssl = on
ssl_cert_file = '$CERTS/server.crt'
ssl_key_file = '$CERTS/server.key'
CONF
cat >"$PGDATA/pg_hba.conf" <<HBA
# TYPE     DATABASE  USER  ADDRESS       METHOD
hostssl    all       all   127.0.0.1/32  trust
hostnossl  all       all   0.0.0.0/0     reject
HBA
start_pg || { tail -n 20 "$PGDATA/server.log" >&2; die "the private Postgres did not start"; }
PSQL_TLS="sslmode=verify-full&sslrootcert=$CERTS/ca.pem"
timeout 10 "$PSQL" "postgresql://postgres@127.0.0.1:$PG_PORT/postgres?$PSQL_TLS" -X -qc "CREATE DATABASE mirai" >/dev/null
psql_mirai() { timeout 10 "$PSQL" "postgresql://postgres@127.0.0.1:$PG_PORT/mirai?$PSQL_TLS" -X -tAc "$1"; }
# The server side of the setup: libpq's own non-TLS attempt is refused.
if timeout 10 "$PSQL" "postgresql://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable" -X -tAc "SELECT 1" >/dev/null 2>&1; then
  die "the private Postgres accepted a non-TLS connection (pg_hba.conf not in force)"
fi

# --- private NATS (the dev users and permissions) -----------------------------------------
write_nats_conf "$DIR" "$NATS_PORT"
launch_nats "$DIR" "$NATS_PORT"
log "private Postgres ($("$PGBIN/postgres" --version | sed 's/^postgres (PostgreSQL) //') from $PGBIN, TLS only) on :$PG_PORT, NATS on :$NATS_PORT"

DB_BASE="postgres://postgres@127.0.0.1:$PG_PORT/mirai"
URL_OK="$DB_BASE?sslmode=verify-full&sslrootcert=$CERTS/ca.pem"
URL_OTHER_CA="$DB_BASE?sslmode=verify-full&sslrootcert=$CERTS/other-ca.pem"
URL_NO_TLS="$DB_BASE?sslmode=disable"
mirai_env() {  # <DATABASE_URL> <command...>: execs (call it in a subshell), so $! is the command's pid
  local db=$1; shift
  exec env DATABASE_URL="$db" NATS_URL="nats://127.0.0.1:$NATS_PORT" MIRAI_NATS_PREFIX= \
    MIRAI_STATE_DIR="$DIR/state" RUST_LOG="${RUST_LOG:-warn}" "$@"
}
# The services to check: all of them, or, on a Postgres without pgvector (Debian's, when
# the wheel's has no OpenSSL), those that keep no vectors. TLS is the kit's, the same for
# every service; the vector services are covered on the wheel's Postgres by every other test.
SERVICES=$("$BIN" services)
if [ ! -f "$("$PGBIN/pg_config" --sharedir 2>/dev/null)/extension/vector.control" ]; then
  SERVICES=$(for s in $SERVICES; do case $s in search|ai-gateway) ;; *) printf '%s ' "$s" ;; esac; done)
  log "this Postgres has no pgvector: checking the services that keep no vectors ($SERVICES)"
fi
# shellcheck disable=SC2086 # a list of service names
migrate() {  # <DATABASE_URL> <output file>: the exit status of `mirai migrate`
  (cd "$DIR/work" && mirai_env "$1" timeout 30 "$BIN" migrate $SERVICES >"$2" 2>&1 9>&-)
}
excerpt() { tr '\n' ' ' <"$1" | sed 's/  */ /g' | cut -c1-240; }

# --- a. verify-full with the right CA --------------------------------------------------------
if migrate "$URL_OK" "$DIR/a.out"; then
  pass "a: mirai migrate, sslmode=verify-full + the server's CA: $(excerpt "$DIR/a.out")"
else
  fail "a: mirai migrate, sslmode=verify-full + the server's CA failed: $(excerpt "$DIR/a.out")"
fi

# --- b. verify-full with an unrelated CA --------------------------------------------------------
if migrate "$URL_OTHER_CA" "$DIR/b.out"; then
  fail "b: mirai migrate with an unrelated CA succeeded (the server was not verified)"
elif grep -qiE 'certificate|tls|ssl|UnknownIssuer' "$DIR/b.out"; then
  pass "b: unrelated CA refused: $(excerpt "$DIR/b.out")"
else
  fail "b: mirai migrate with an unrelated CA failed, but not on TLS: $(excerpt "$DIR/b.out")"
fi

# --- c. sslmode=disable ---------------------------------------------------------------------------
if migrate "$URL_NO_TLS" "$DIR/c.out"; then
  fail "c: mirai migrate with sslmode=disable succeeded (the server took a non-TLS connection)"
elif grep -qiE 'pg_hba|no encryption|ssl|tls' "$DIR/c.out"; then
  pass "c: sslmode=disable refused by the server: $(excerpt "$DIR/c.out")"
else
  fail "c: mirai migrate with sslmode=disable failed, but not on the server's TLS rule: $(excerpt "$DIR/c.out")"
fi

# --- d. mirai dev over TLS: /readyz, then pg_stat_ssl for the runtime roles ---------------------
HTTP_PORT=$(free_port)
# shellcheck disable=SC2086 # a list of service names
(cd "$DIR/work" && mirai_env "$URL_OK" env MIRAI_HTTP_ADDR="127.0.0.1:$HTTP_PORT" MIRAI_ALLOW_DEV_SECRETS=1 \
  "$BIN" serve $SERVICES >"$DIR/work/dev.log" 2>&1 9>&-) &
MIRAI_PID=$!
echo "$MIRAI_PID" >"$DIR/mirai.pid"
readyz() {
  python3 - "http://127.0.0.1:$HTTP_PORT/readyz" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("down")
PY
}
ready=""; status=down; start=$(date +%s.%N); deadline=$(( $(date +%s) + READY_SECS ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  kill -0 "$MIRAI_PID" 2>/dev/null || break
  status=$(readyz)
  if [ "$status" = 200 ]; then ready=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')"); break; fi
  sleep 0.25
done
if [ -n "$ready" ]; then
  pass "d: mirai serve (verify-full DATABASE_URL) /readyz 200 after ${ready} s"
  rows=$(psql_mirai "SELECT usename || '=' || CASE WHEN ssl THEN 't' ELSE 'f' END FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
                     WHERE usename LIKE 'mirai\_%' ORDER BY 1" 2>&1) || rows="psql failed: $rows"
  summary=$(echo "$rows" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
  missing=""
  for s in $SERVICES; do
    echo "$rows" | grep -q "^mirai_${s//-/_}=" || missing="$missing mirai_${s//-/_}"
  done
  if [ -z "$rows" ]; then
    fail "d: pg_stat_ssl shows no connection of a runtime role (mirai_%)"
  elif echo "$rows" | grep -qv '=t$'; then
    fail "d: runtime-role connections not all TLS: $summary"
  elif [ -n "$missing" ]; then
    fail "d: every runtime-role connection is TLS ($summary), but none for:$missing"
  else
    pass "d: pg_stat_ssl: every runtime-role connection is TLS ($summary)"
  fi
else
  kill -0 "$MIRAI_PID" 2>/dev/null && why="last /readyz: $status" || why="mirai dev exited"
  fail "d: mirai dev (verify-full DATABASE_URL) not ready within $READY_SECS s ($why): $(grep -E 'ERROR|Error|Caused|panicked' "$DIR/work/dev.log" | tail -n 4 | tr '\n' ' ' | cut -c1-300)"
fi

log "total $(( $(date +%s) - T0 )) s"
if [ "$FAILS" -gt 0 ]; then log "$FAILS check(s) failed"; exit 1; fi
log "all checks passed"
