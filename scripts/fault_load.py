#!/usr/bin/env python3
"""Load and verdict for scripts/fault-test.sh (python3 stdlib only).

`fault_load.py load`: 4 client threads post xAPI statements continuously (a fresh UUID id
each, `X-Experience-API-Version: 1.0.3`, a 5 s timeout), recording per request the id,
status, latency and, for a 5xx, the problem `type` and whether `Retry-After` was sent; a
5th thread polls /readyz every 250 ms (3 s timeout). Runs until the stop file appears or
SIGTERM, then writes every sample to a JSON file.

`fault_load.py verify`: reads those samples and the orchestrator's phase marks, checks the
private fleet after recovery (every acknowledged statement stored, the outbox drained),
prints a summary table and exits 1 naming every failed assertion.
"""

import argparse
import base64
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid

CLIENTS = 4
REQUEST_TIMEOUT = 5.0
READY_INTERVAL = 0.25
READY_TIMEOUT = 3.0


# ---------------------------------------------------------------------------------------
# load


class Client:
    """One keep-alive connection; reconnects after any failure."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None

    def request(self, method, path, body=None, headers=None):
        """Returns (status, headers, body bytes). Raises socket.timeout or OSError/HTTPException."""
        fresh = self.conn is None
        if fresh:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            res = self.conn.getresponse()
            data = res.read()
            if res.getheader("connection", "").lower() == "close":
                self.close()
            return res.status, res, data
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
            self.close()
            # A kept-alive connection the server had already closed: the request never
            # reached it, so one retry on a new connection is what every HTTP client does.
            if not fresh:
                return self.request(method, path, body, headers)
            raise
        except BaseException:
            self.close()
            raise


def problem_type(data):
    try:
        return str(json.loads(data).get("type", ""))
    except Exception:
        return "<not json>"


def statement(sid, n):
    return {
        "id": sid,
        "actor": {"objectType": "Agent", "mbox": f"mailto:fault-{n}@example.com", "name": f"Fault {n}"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
        "object": {"objectType": "Activity", "id": f"http://example.com/fault/activity/{n % 17}"},
    }


def writer(n, args, auth, stop, out):
    u = urllib.parse.urlsplit(args.url)
    client = Client(u.hostname, u.port, REQUEST_TIMEOUT)
    path = u.path.rstrip("/") + "/api/v1/lrs/xapi/statements"
    headers = {
        "Authorization": auth,
        "Content-Type": "application/json",
        "X-Experience-API-Version": "1.0.3",
    }
    while not stop.is_set():
        sid = str(uuid.uuid4())
        body = json.dumps(statement(sid, n)).encode()
        t0, m0 = time.time(), time.monotonic()
        ptype, retry_after, status = None, None, None
        try:
            status, res, data = client.request("POST", path, body, headers)
            if status >= 500:
                ptype = problem_type(data)
                retry_after = res.getheader("retry-after") is not None
                ctype = res.getheader("content-type", "")
                if "problem+json" not in ctype:
                    ptype = f"{ptype} (content-type {ctype or 'none'})"
            elif status >= 400:
                ptype = problem_type(data)
        except socket.timeout:
            status = "timeout"
        except (OSError, http.client.HTTPException) as e:
            status = "conn_error"
            ptype = type(e).__name__
        lat = time.monotonic() - m0
        out.append([round(t0, 4), sid, status, round(lat, 4), ptype, retry_after])
        if status == "conn_error":
            time.sleep(0.05)  # the fleet is not listening: do not spin


def ready_poller(args, stop, out):
    u = urllib.parse.urlsplit(args.url)
    while not stop.is_set():
        t0, m0 = time.time(), time.monotonic()
        detail = None
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=READY_TIMEOUT)
        try:
            conn.request("GET", "/readyz")
            res = conn.getresponse()
            data = res.read()
            status = res.status
            if status != 200:
                try:
                    detail = json.loads(data).get("failures")
                except Exception:
                    detail = data[:200].decode("utf-8", "replace")
        except socket.timeout:
            status = "timeout"
        except (OSError, http.client.HTTPException) as e:
            status = "conn_error"
            detail = type(e).__name__
        finally:
            conn.close()
        lat = time.monotonic() - m0
        out.append([round(t0, 4), status, round(lat, 4), detail])
        stop.wait(max(0.0, READY_INTERVAL - lat))


def load(args):
    demo = json.load(open(args.demo))
    key, secret = demo["lrs"]["key"], demo["lrs"]["secret"]
    auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    per_thread = [[] for _ in range(CLIENTS)]
    ready = []
    threads = [threading.Thread(target=writer, args=(i, args, auth, stop, per_thread[i]), daemon=True) for i in range(CLIENTS)]
    threads.append(threading.Thread(target=ready_poller, args=(args, stop, ready), daemon=True))
    started = time.time()
    for t in threads:
        t.start()
    deadline = started + args.max_seconds
    while not stop.is_set():
        if os.path.exists(args.stop_file) or time.time() > deadline:
            stop.set()
            break
        stop.wait(0.1)
    for t in threads:
        t.join(timeout=REQUEST_TIMEOUT + 2)
    requests = sorted((r for rs in per_thread for r in rs), key=lambda r: r[0])
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"started": started, "stopped": time.time(), "requests": requests, "ready": ready}, f)
    os.replace(tmp, args.out)
    print(f"fault-load: {len(requests)} requests, {len(ready)} readiness probes", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# verify


def psql(args, sql, stdin=None):
    p = subprocess.run(
        [args.psql, args.db_url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql] if stdin is None
        else [args.psql, args.db_url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"],
        input=stdin, capture_output=True, text=True, timeout=60,
    )
    if p.returncode != 0:
        raise RuntimeError(f"psql failed: {p.stderr.strip()}")
    return p.stdout.strip()


def read_phases(path):
    marks = {}
    for line in open(path):
        parts = line.split()
        if len(parts) >= 2:
            marks[parts[0]] = float(parts[1])
    return marks


def fmt_counts(counter):
    return ", ".join(f"{k}: {v}" for k, v in sorted(counter.items(), key=lambda kv: str(kv[0]))) or "-"


def verify(args):
    data = json.load(open(args.samples))
    reqs, ready = data["requests"], data["ready"]
    m = read_phases(args.phases)
    need = ["load_start", "nats_kill", "nats_start", "pg_stop", "pg_start", "ready_again", "load_stop"]
    missing = [k for k in need if k not in m]
    if missing:
        print(f"fault-test: FAILED: the scenario did not reach {missing}")
        return 1
    phases = [
        ("warm-up", m["load_start"] - 5, m["nats_kill"]),
        ("nats down", m["nats_kill"], m["nats_start"]),
        ("nats back", m["nats_start"], m["pg_stop"]),
        ("pg down", m["pg_stop"], m["pg_start"]),
        ("pg back", m["pg_start"], m["ready_again"]),
        ("recovered", m["ready_again"], m["load_stop"] + 10),
    ]

    def phase_of(t):
        for name, a, b in phases:
            if a <= t < b:
                return name
        return "recovered"

    failures = []
    acked = [r for r in reqs if r[2] in (200, 204)]
    acked_ids = [r[1] for r in acked]

    # -- every acknowledged statement is stored (in the database, and through the API)
    copy = "CREATE TEMP TABLE acked (id uuid PRIMARY KEY);\nCOPY acked FROM STDIN;\n" + "\n".join(acked_ids) + "\n\\.\n"
    copy += "SELECT count(*) FROM acked a WHERE EXISTS (SELECT 1 FROM lrs.statements s WHERE s.id = a.id);\n"
    copy += "SELECT string_agg(id::text, ' ') FROM (SELECT a.id FROM acked a WHERE NOT EXISTS (SELECT 1 FROM lrs.statements s WHERE s.id = a.id) LIMIT 5) x;\n"
    out = psql(args, None, stdin=copy).splitlines()
    stored = int(out[0])
    lost = len(acked_ids) - stored
    if lost:
        failures.append(f"{lost} acknowledged statements are not stored (e.g. {out[1] if len(out) > 1 else '?'})")
    total_rows = int(psql(args, "SELECT count(*) FROM lrs.statements"))
    unacked = [r[1] for r in reqs if r[2] not in (200, 204)]
    unacked_stored = 0
    if unacked:
        q = "CREATE TEMP TABLE unacked (id uuid PRIMARY KEY);\nCOPY unacked FROM STDIN;\n" + "\n".join(unacked) + "\n\\.\n"
        q += "SELECT count(*) FROM unacked a WHERE EXISTS (SELECT 1 FROM lrs.statements s WHERE s.id = a.id);\n"
        unacked_stored = int(psql(args, None, stdin=q))

    demo = json.load(open(args.demo))
    auth = "Basic " + base64.b64encode(f"{demo['lrs']['key']}:{demo['lrs']['secret']}".encode()).decode()
    u = urllib.parse.urlsplit(args.url)
    client = Client(u.hostname, u.port, 10)
    sample = random.sample(acked_ids, min(args.api_sample, len(acked_ids)))
    api_missing = []
    for sid in sample:
        st, _, _ = client.request(
            "GET", f"/api/v1/lrs/xapi/statements?statementId={sid}",
            headers={"Authorization": auth, "X-Experience-API-Version": "1.0.3"},
        )
        if st != 200:
            api_missing.append(f"{sid}: {st}")
    if api_missing:
        failures.append(f"{len(api_missing)} of {len(sample)} sampled acked statements not readable via GET: {api_missing[:3]}")

    # -- per-phase request and readiness tallies
    by_phase = {name: {"sent": 0, "acked": 0, "other": {}, "max_lat": 0.0, "max_fail_lat": 0.0} for name, _, _ in phases}
    fivexx = {}
    for t, sid, status, lat, ptype, retry_after in reqs:
        p = by_phase[phase_of(t)]
        p["sent"] += 1
        p["max_lat"] = max(p["max_lat"], lat)
        if status in (200, 204):
            p["acked"] += 1
            continue
        p["max_fail_lat"] = max(p["max_fail_lat"], lat)
        key = str(status)
        p["other"][key] = p["other"].get(key, 0) + 1
        if isinstance(status, int) and status >= 500:
            k = (status, ptype, "Retry-After" if retry_after else "no Retry-After")
            fivexx[k] = fivexx.get(k, 0) + 1
    ready_by_phase = {name: {} for name, _, _ in phases}
    ready_max = {name: 0.0 for name, _, _ in phases}
    ready_details = {name: {} for name, _, _ in phases}
    for t, status, lat, detail in ready:
        ph = phase_of(t)
        ready_by_phase[ph][str(status)] = ready_by_phase[ph].get(str(status), 0) + 1
        ready_max[ph] = max(ready_max[ph], lat)
        if detail:
            d = json.dumps(detail)[:160]
            ready_details[ph][d] = ready_details[ph].get(d, 0) + 1

    # -- NATS outage: ready stays 200, writes keep committing, nothing fails
    nd = by_phase["nats down"]
    if nd["acked"] == 0:
        failures.append("no write was acknowledged while NATS was down")
    if nd["other"]:
        failures.append(f"writes failed while NATS was down: {fmt_counts(nd['other'])}")
    nats_window = [r for r in ready if m["nats_kill"] <= r[0] < m["nats_start"] + 5]
    bad = [r for r in nats_window if r[1] != 200]
    if not nats_window:
        failures.append("no readiness answer while NATS was down")
    if bad:
        failures.append(f"/readyz was not 200 {len(bad)} times while NATS was down or reconnecting: {bad[:3]}")

    # -- outbox: what was written during the outage drained after reconnect; all of it at the end
    drain = m.get("outbox_drained")
    if drain is None:
        failures.append(f"the outbox rows written during the NATS outage did not drain within "
                        f"{args.drain_timeout:.0f} s of reconnect (still {m.get('outbox_undrained', -1):.0f} pending; -1: unknown)")
    final_pending = int(psql(args, "SELECT count(*) FROM lrs.outbox WHERE published_at IS NULL"))
    if final_pending:
        failures.append(f"{final_pending} outbox rows still unpublished after the run")
    published = int(psql(args, "SELECT count(*) FROM lrs.outbox WHERE published_at IS NOT NULL"))
    stream_msgs, stream_name = None, None
    if args.nats_monitor:
        try:
            with urllib.request.urlopen(args.nats_monitor + "/jsz?streams=true&config=true", timeout=5) as res:
                jsz = json.load(res)
            for acct in jsz.get("account_details") or []:
                for st in acct.get("stream_detail") or []:
                    if any(subj.split(".")[-2:] == ["lrs", ">"] for subj in (st.get("config") or {}).get("subjects", [])):
                        stream_name, stream_msgs = st["name"], st["state"]["messages"]
        except Exception as e:
            failures.append(f"cannot read JetStream state from {args.nats_monitor}: {e}")
        if stream_name is None:
            failures.append("no JetStream stream for lrs.> found")
        elif stream_msgs < published:
            failures.append(f"the outbox marked {published} events published but stream {stream_name} holds {stream_msgs}")

    # -- Postgres outage: fast, clean 503s; readiness answers 503 within its deadline
    for (status, ptype, ra), n in fivexx.items():
        if status != 503 or not str(ptype).endswith("unavailable") or ra != "Retry-After":
            failures.append(f"{n} responses {status} type={ptype} ({ra}): every 5xx must be a 503 problem "
                            f"of type …unavailable with Retry-After")
    slow = [r for r in reqs if r[2] not in (200, 204) and r[3] >= args.max_fail_latency]
    if slow:
        failures.append(f"{len(slow)} failed requests took >= {args.max_fail_latency} s "
                        f"(max {max(r[3] for r in slow):.2f} s, statuses {sorted(set(str(r[2]) for r in slow))})")
    others = {}
    for p in by_phase.values():
        for k, v in p["other"].items():
            if not k.startswith("5"):
                others[k] = others.get(k, 0) + v
    if others:
        failures.append(f"requests failed without a 5xx answer (4xx, timeouts, connection errors): {fmt_counts(others)}")
    # A probe counts as "while down" only if it also ended before the restart began: one
    # sent just before it waits (up to the kit's 1 s check deadline) on a pool that is
    # retrying its connect, and rightly answers 200 if Postgres is back by then.
    pg_window = [r for r in ready
                 if m["pg_stop"] + 1.0 <= r[0] and r[0] + min(r[2], READY_TIMEOUT) <= m["pg_start"]]
    if not pg_window:
        failures.append("no readiness probe while Postgres was down")
    else:
        late = [r for r in pg_window if r[1] == "timeout" or r[2] >= READY_TIMEOUT]
        not503 = [r for r in pg_window if r[1] != 503]
        if late:
            failures.append(f"/readyz did not answer within {READY_TIMEOUT:.0f} s {len(late)} times while Postgres was down")
        if not503:
            failures.append(f"/readyz answered other than 503 {len(not503)} times while Postgres was down: "
                            f"{sorted(set(str(r[1]) for r in not503))}")
    if m["ready_again"] - m["pg_start"] > args.recover_timeout:
        failures.append("/readyz did not return to 200 after Postgres came back")

    # -- recovered: writes succeed again
    rec = by_phase["recovered"]
    if rec["acked"] == 0:
        failures.append("no write was acknowledged after recovery")
    if rec["other"]:
        failures.append(f"writes still failed after /readyz was 200 again: {fmt_counts(rec['other'])}")

    # -- the table
    secs = lambda a, b: f"{max(0.0, b - a):5.1f}s"
    print()
    print("fault-test: requests by phase (4 writers)")
    print(f"  {'phase':<11} {'len':>6} {'sent':>7} {'acked':>7} {'failed':>7} {'max lat':>8} {'max fail':>9}  failures")
    for name, a, b in phases:
        p = by_phase[name]
        a = max(a, data["started"]); b = min(b, data["stopped"])
        fails = sum(p["other"].values())
        print(f"  {name:<11} {secs(a, b):>6} {p['sent']:>7} {p['acked']:>7} {fails:>7} {p['max_lat']:>7.3f}s "
              f"{p['max_fail_lat']:>8.3f}s  {fmt_counts(p['other'])}")
    print()
    print("fault-test: /readyz answers by phase (every 250 ms, 3 s timeout)")
    for name, _, _ in phases:
        print(f"  {name:<11} {fmt_counts(ready_by_phase[name]):<34} max {ready_max[name]:.3f}s"
              + (f"  {fmt_counts(ready_details[name])}" if ready_details[name] else ""))
    print()
    print("fault-test: 5xx by status / problem type / Retry-After")
    if not fivexx:
        print("  none")
    for (status, ptype, ra), n in sorted(fivexx.items(), key=lambda kv: str(kv[0])):
        print(f"  {n:>7}  {status} {ptype} ({ra})")
    print()
    print("fault-test: durability and the outbox")
    print(f"  acknowledged {len(acked_ids)}, stored {stored}, lost {lost} "
          f"(statements table: {total_rows} rows; {len(sample) - len(api_missing)}/{len(sample)} sampled read back via GET)")
    print(f"  not acknowledged {len(unacked)}, of which stored anyway {unacked_stored} (committed, then the answer failed)")
    print(f"  outbox pending: peak {m.get('outbox_peak', 0):.0f} during the NATS outage, "
          + (f"outage rows drained {drain - m['nats_start']:.1f} s after reconnect, " if drain else "outage rows NOT drained, ")
          + f"{final_pending} pending at the end")
    print(f"  events: {published} outbox rows published; JetStream stream {stream_name} holds {stream_msgs}")
    print(f"  Postgres: down {m['pg_start'] - m['pg_stop']:.1f} s, /readyz 200 again {m['ready_again'] - m['pg_start']:.1f} s after restart")
    print()
    if failures:
        print("fault-test: FAILED")
        for f in failures:
            print(f"  - {f}")
        return 1
    print("fault-test: ok (NATS and Postgres outages degrade cleanly; 0 acknowledged statements lost)")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("load")
    lp.add_argument("--url", required=True)
    lp.add_argument("--demo", required=True)
    lp.add_argument("--out", required=True)
    lp.add_argument("--stop-file", required=True)
    lp.add_argument("--max-seconds", type=float, default=180)
    vp = sub.add_parser("verify")
    vp.add_argument("--url", required=True)
    vp.add_argument("--demo", required=True)
    vp.add_argument("--samples", required=True)
    vp.add_argument("--phases", required=True)
    vp.add_argument("--psql", required=True)
    vp.add_argument("--db-url", required=True)
    vp.add_argument("--nats-monitor", default="")
    vp.add_argument("--api-sample", type=int, default=200)
    vp.add_argument("--max-fail-latency", type=float, default=4.5)
    vp.add_argument("--drain-timeout", type=float, default=15)
    vp.add_argument("--recover-timeout", type=float, default=30)
    args = ap.parse_args()
    if args.cmd == "load":
        load(args)
        return 0
    return verify(args)


if __name__ == "__main__":
    sys.exit(main())
