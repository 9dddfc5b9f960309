# Sourced by scripts/setup.sh, fault-test.sh and check-pg-tls.sh: Postgres run as an
# unprivileged OS user (initdb refuses root), and the private Postgres and NATS servers the
# fault and TLS checks start on loopback ports of their own, found again and stopped by pid
# file. The caller defines `die` (and sets PGBIN, PGDATA, VENV, ROOT where it uses them).

PG_USER_OS="${PG_USER_OS:-mirai-pg}"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run_as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id "$PG_USER_OS" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER_OS"
    runuser -u "$PG_USER_OS" -- "$@"
  else
    "$@"
  fi
}

# One run at a time (a second would wipe the first one's servers). Children are started
# with fd 9 closed (`9>&-`), so a leftover server never holds the lock.
take_lock() {  # <lock file>
  exec 9>"$1"
  flock -w 120 9 || die "another run holds $1"
}

# A pid file names our process only if that process still runs the command we started.
kill_pidfile() {  # <pid file> <pattern in its command line>
  local f=$1 pattern=$2 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "$pattern"; then
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# Stops `mirai` ($MIRAI_PID) gracefully, then for good after 5 s.
stop_mirai() {
  if [ -n "${MIRAI_PID:-}" ] && kill -0 "$MIRAI_PID" 2>/dev/null; then
    kill "$MIRAI_PID" 2>/dev/null || true
    for _ in $(seq 1 25); do kill -0 "$MIRAI_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$MIRAI_PID" 2>/dev/null || true
  fi
}

# Whatever background jobs of this shell are left.
kill_jobs() {
  local pids
  pids=$(jobs -p 2>/dev/null || true)
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
}

# An empty cluster in $PGDATA, owned by $PG_USER_OS; the caller appends its settings.
init_pg() {
  mkdir -p "$PGDATA"
  [ "$(id -u)" = 0 ] && { run_as_pg true 2>/dev/null || true; chown "$PG_USER_OS" "$PGDATA"; }
  run_as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C >/dev/null
}

start_pg() { run_as_pg timeout 40 "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 30 start >/dev/null 9>&-; }

stop_pg() {
  if [ -f "$PGDATA/postmaster.pid" ]; then
    run_as_pg timeout 30 "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    kill_pidfile "$PGDATA/postmaster.pid" "$PGDATA"
  fi
}

# A private nats-server in <dir> with the dev users and permissions (setup.sh's), plus
# any extra config lines given; `launch_nats <dir> <port>` (re)starts it.
write_nats_conf() {  # <dir> <port> [extra line...]
  local dir=$1 port=$2
  shift 2
  {
    echo "listen: 127.0.0.1:$port"
    for line in "$@"; do echo "$line"; done
    echo "max_payload: 8MB"
    echo "jetstream { store_dir: \"$dir/nats\", max_file_store: 2GB }"
    cat "$ROOT/deploy/nats/auth.dev.conf"
  } >"$dir/nats.conf"
}

launch_nats() {  # <dir> <port>: sets NATS_PID
  "$VENV/bin/nats-server" -c "$1/nats.conf" >>"$1/nats.log" 2>&1 9>&- &
  NATS_PID=$!
  echo "$NATS_PID" >"$1/nats.pid"
  for _ in $(seq 1 50); do port_open "$2" && return 0; sleep 0.2; done
  tail -n 20 "$1/nats.log" >&2
  die "the private nats-server did not start"
}
