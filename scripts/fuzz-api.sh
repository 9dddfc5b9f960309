#!/usr/bin/env bash
# Fuzzes every service's OpenAPI with schemathesis against a running `mirai dev` (its own
# database and NATS prefix, a free port, the demo org admin's token): no input may
# produce a 5xx, and every response must have the content type the spec says.
# Deterministic: a fixed seed and a fixed number of examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/dev-fleet.sh
"$VENV/bin/python" -c "import schemathesis" 2>/dev/null || "$VENV/bin/pip" install -q --disable-pip-version-check schemathesis
start_dev_fleet fuzz
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
