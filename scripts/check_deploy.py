"""Validates the deploy artifacts offline, so a regression fails `make test-deploy`:

- the Helm chart: lint; render with the default and the Talos values; every manifest
  against its schema (core kinds with kubernetes-validate, CloudNativePG / Barman Cloud /
  prometheus-operator kinds with the CRD schemas vendored in deploy/schemas/crds); the
  shape the platform promises (per-service Deployment/Service/PDB/HPA/ServiceAccount and
  migrations Job, pod hardening, probes, graceful drain, config checksums, Secrets and env
  wiring, CNPG with a PgBouncer Pooler, the Barman Cloud plugin and PITR, NATS with auth,
  TLS, lame duck and an exporter, NetworkPolicies, ServiceMonitors and the PrometheusRule);
  the Postgres connection arithmetic; what must fail (NFS or unset storage classes, a
  missing bus verification key);
- the Prometheus rules: promtool check + test, every alert tested firing and silent;
- Kong: deck validate, the edge's structure, and its credential/rate-key Lua run under
  stubs (deploy/kong/edge_auth_test.lua);
- the Grafana dashboard (a row per service).
"""

import contextlib
import copy
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import helm_python as helm
import importlib_resources
import jsonschema
import kubernetes_validate
import yaml
from referencing import Registry, Resource

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy/helm/mirai"
CRD_SCHEMAS = ROOT / "deploy/schemas/crds"
RULES = ROOT / "deploy/prometheus/mirai.rules.yml"
RULE_TESTS = ROOT / "deploy/prometheus/mirai.rules.test.yml"
KONG = ROOT / "deploy/kong/kong.yml"
DOCS = ROOT / "docs/deploy.md"
K8S = "1.30.0"
RELEASE, NAMESPACE = "mirai", "mirai"
TEST_KEYS = "ci/keys.yaml"  # a throwaway bus verification key: bus.verifyKeys is required
failures: list[str] = []


def check(cond: object, what: str) -> bool:
    if not cond:
        failures.append(what)
    return bool(cond)


# --- rendering ------------------------------------------------------------------------


def deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def values_of(files: list[str], overrides: dict | None = None) -> dict:
    values: dict = {}
    for f in files:
        values = deep_merge(values, yaml.safe_load((CHART / f).read_text()))
    return deep_merge(values, overrides or {})


@contextlib.contextmanager
def quiet_stderr():
    """libhelm logs (e.g. the rules symlink it follows) to fd 2; errors still raise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def render_raw(values: dict, revision: int = 1) -> dict[str, str]:
    with quiet_stderr():
        chart = helm.Chart.load(str(CHART))
        return chart.render(chart.merge_values(values), name=RELEASE, namespace=NAMESPACE, revision=revision, is_install=True)


def docs_of(rendered: dict[str, str]) -> list[dict]:
    docs = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def render_fails(values: dict) -> str | None:
    """The error text when rendering fails (schema or template), else None."""
    try:
        render_raw(values)
    except helm.HelmError as e:
        return str(e)
    return None


# --- schema validation ----------------------------------------------------------------

_K8S_DEFS = json.loads(
    importlib_resources.files("kubernetes_validate")
    .joinpath(f"kubernetes-json-schema/v{K8S}-local-strict/_definitions.json")
    .read_text()
)
_REGISTRY = Registry().with_resource("https://kubernetes.io/api/_definitions.json", Resource.from_contents(_K8S_DEFS))
_OBJECT_META = {"$ref": "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


def crd_schema(doc: dict) -> dict | None:
    group, _, version = doc["apiVersion"].partition("/")
    path = CRD_SCHEMAS / group / f"{doc['kind'].lower()}_{version}.json"
    return json.loads(path.read_text()) if path.exists() else None


def validate(doc: dict, label: str) -> None:
    what = f"{label}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    group = doc["apiVersion"].partition("/")[0] if "/" in doc["apiVersion"] else ""
    if "." in group and not group.endswith(".k8s.io"):
        schema = crd_schema(doc)
        if not check(schema, f"{what}: no vendored CRD schema under deploy/schemas/crds for {doc['apiVersion']}"):
            return
        for s in (schema, _OBJECT_META):
            target = doc if s is schema else doc.get("metadata", {})
            errors = sorted(jsonschema.Draft202012Validator(s, registry=_REGISTRY).iter_errors(target), key=str)
            for e in errors[:5]:
                failures.append(f"{what}: {'/'.join(map(str, e.absolute_path))}: {e.message[:240]}")
        return
    try:
        kubernetes_validate.validate(doc, K8S, strict=True)
    except Exception as e:  # noqa: BLE001 - report every invalid manifest
        failures.append(f"{what}: {str(e)[:300]}")


# --- chart checks ---------------------------------------------------------------------


def enabled_services(values: dict) -> list[str]:
    return sorted(n for n, s in values["services"].items() if s.get("enabled"))


def svc_var(name: str) -> str:
    return "MIRAI_" + name.upper().replace("-", "_")


def by_kind(docs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def one(docs: dict, kind: str, name: str) -> dict | None:
    found = [d for d in docs.get(kind, []) if d["metadata"]["name"] == name]
    return found[0] if len(found) == 1 else None


def env_map(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def secret_ref(env: dict | None) -> tuple[str, str] | None:
    ref = (env or {}).get("valueFrom", {}).get("secretKeyRef")
    return (ref["name"], ref["key"]) if ref else None


def check_pod_hardening(label: str, pod: dict, what: str) -> None:
    psc = pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, f"{label}: {what}: pod runAsNonRoot")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{label}: {what}: pod seccompProfile RuntimeDefault")
    check(pod.get("automountServiceAccountToken") is False, f"{label}: {what}: pod automountServiceAccountToken false")
    for c in pod.get("containers", []) + pod.get("initContainers", []):
        sc = c.get("securityContext", {})
        cw = f"{label}: {what}/{c['name']}"
        check(sc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation false")
        check(sc.get("readOnlyRootFilesystem") is True, f"{cw}: readOnlyRootFilesystem")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{cw}: capabilities drop ALL")
        check(c.get("resources", {}).get("requests") and c["resources"].get("limits"), f"{cw}: resources requests and limits")


def check_services(label: str, values: dict, rendered: dict[str, str], k: dict) -> None:
    env_cm = one(k, "ConfigMap", f"{RELEASE}-env")
    if not check(env_cm, f"{label}: the {RELEASE}-env ConfigMap"):
        return
    cm = env_cm["data"]
    config_hash = hashlib.sha256(rendered[f"{RELEASE}/templates/configmap.yaml"].encode()).hexdigest()
    grace = int(cm.get("MIRAI_SHUTDOWN_GRACE_SECS", "0"))
    pooler = f"{RELEASE}-pg-pooler-rw"
    cluster = f"{RELEASE}-pg"
    nats_tls = values["nats"]["tls"]["enabled"]
    # The env ConfigMap: NATS, trusted proxies, bus keys, stream limits.
    check(cm.get("NATS_URL") == f"{'tls' if nats_tls else 'nats'}://{RELEASE}-nats:4222", f"{label}: NATS_URL is the NATS service over TLS")
    if nats_tls:
        check(cm.get("MIRAI_NATS_CA_FILE") == "/etc/mirai/nats-ca/ca.crt", f"{label}: MIRAI_NATS_CA_FILE")
    check(cm.get("MIRAI_TRUSTED_PROXIES") == values["trustedProxies"], f"{label}: MIRAI_TRUSTED_PROXIES from values.trustedProxies")
    check("BEGIN PUBLIC KEY" in cm.get("MIRAI_BUS_VERIFY_KEYS", ""), f"{label}: MIRAI_BUS_VERIFY_KEYS holds the PEM public key(s)")
    duration = re.compile(r"^[0-9]+[smhd]?$")  # what libs/kit parses
    limits = [("default", "MIRAI_STREAM_MAX_AGE", "MIRAI_STREAM_MAX_BYTES")]
    limits += [(s, f"{svc_var(s)}__STREAM_MAX_AGE", f"{svc_var(s)}__STREAM_MAX_BYTES") for s in enabled_services(values)]
    for stream, age_key, bytes_key in limits:
        age, size = cm.get(age_key, ""), cm.get(bytes_key, "")
        check(duration.match(age), f"{label}: {age_key} is a duration like 30d ({age!r}) for the {stream} stream")
        check(size.isdigit() and int(size) > 0, f"{label}: {bytes_key} is a byte count ({size!r}) for the {stream} stream")
    if "lrs" in values.get("streams", {}) and "lrs" in enabled_services(values):
        check(cm.get("MIRAI_LRS__STREAM_MAX_AGE") == values["streams"]["lrs"]["maxAge"], f"{label}: the lrs stream's own limits")

    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in k.get("HorizontalPodAutoscaler", [])}
    for svc in enabled_services(values):
        full, var = f"{RELEASE}-{svc}", svc_var(svc)
        for kind in ("Deployment", "Service", "PodDisruptionBudget", "ServiceAccount"):
            check(one(k, kind, full), f"{label}: {svc} has one {kind}")
        sa = one(k, "ServiceAccount", full)
        check(sa and sa.get("automountServiceAccountToken") is False, f"{label}: {svc} ServiceAccount has automountServiceAccountToken: false")
        dep = one(k, "Deployment", full)
        if not dep:
            continue
        auto = values["services"][svc]["autoscaling"]["enabled"]
        check(bool(hpas.get(full)) == auto, f"{label}: {svc} has an HPA exactly when autoscaling is enabled")
        check(("replicas" in dep["spec"]) != auto, f"{label}: {svc} Deployment sets replicas only without an HPA")
        pod = dep["spec"]["template"]["spec"]
        meta = dep["spec"]["template"]["metadata"]
        check(pod.get("serviceAccountName") == full, f"{label}: {svc} runs as its own ServiceAccount")
        check_pod_hardening(label, pod, svc)
        check(meta.get("annotations", {}).get("checksum/config") == config_hash, f"{label}: {svc} pods carry the env ConfigMap's sha256")
        keys = {t["topologyKey"] for t in pod.get("topologySpreadConstraints", [])}
        check("kubernetes.io/hostname" in keys, f"{label}: {svc} spreads over nodes")
        c = next(c for c in pod["containers"] if c["name"] == svc)
        check(c["args"] == ["serve", svc], f"{label}: {svc} runs `mirai serve {svc}`")
        for probe, path in (("startupProbe", "/livez"), ("readinessProbe", "/readyz"), ("livenessProbe", "/livez")):
            check(c.get(probe, {}).get("httpGet", {}).get("path") == path, f"{label}: {svc} {probe} on {path}")
        pre = c.get("lifecycle", {}).get("preStop", {})
        pre_secs = pre.get("sleep", {}).get("seconds", 0)
        check(pre_secs > 0, f"{label}: {svc} has a preStop sleep")
        check(pod.get("terminationGracePeriodSeconds", 30) > pre_secs + grace,
              f"{label}: {svc} terminationGracePeriodSeconds > preStop {pre_secs}s + MIRAI_SHUTDOWN_GRACE_SECS {grace}s")
        env = env_map(c)
        check({"configMapRef": {"name": f"{RELEASE}-env"}} in c.get("envFrom", []), f"{label}: {svc} reads the env ConfigMap")
        check(env.get("MIRAI_DB_POOL_SIZE", {}).get("value", "").isdigit(), f"{label}: {svc} sets MIRAI_DB_POOL_SIZE")
        check(secret_ref(env.get(f"{var}__DB_PASSWORD")) == (f"mirai-db-{svc}", "password"), f"{label}: {svc} {var}__DB_PASSWORD from Secret mirai-db-{svc}/password")
        url = env.get("DATABASE_URL", {}).get("value", "")
        check(url.startswith(f"postgres://mirai_{svc.replace('-', '_')}@{pooler}:5432/mirai?") and "sslmode=verify-full" in url
              and "sslrootcert=/etc/mirai/pg-ca/ca.crt" in url, f"{label}: {svc} DATABASE_URL is its role at the pooler with verify-full TLS ({url})")
        check(secret_ref(env.get(f"{var}__NATS_PASSWORD")) == (values["nats"]["usersSecret"], svc), f"{label}: {svc} {var}__NATS_PASSWORD from the NATS users Secret")
        signing = secret_ref(env.get("MIRAI_IDENTITY__BUS_SIGNING_KEY"))
        if svc == "identity":
            check(signing == (values["bus"]["signingKeySecret"], "private.pem"), f"{label}: identity reads its bus signing key from the Secret")
        else:
            check(signing is None, f"{label}: only identity holds the bus signing key ({svc} does not)")
        check("MIRAI_DB_APP_PASSWORD" not in env, f"{label}: {svc}: no shared MIRAI_DB_APP_PASSWORD")
        check(not any("KEK" in n and "FILE" not in n for n in env), f"{label}: {svc}: a KEK must not be a plain env var")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        pg_ca = vols.get(mounts.get("/etc/mirai/pg-ca"), {}).get("secret", {})
        check(pg_ca.get("secretName") == f"{cluster}-ca", f"{label}: {svc} mounts the CNPG CA ({cluster}-ca) at /etc/mirai/pg-ca")
        if nats_tls:
            nats_ca = vols.get(mounts.get("/etc/mirai/nats-ca"), {}).get("secret", {})
            check(nats_ca.get("secretName") == values["nats"]["tls"]["secretName"] and any(i["key"] == "ca.crt" for i in nats_ca.get("items", [])),
                  f"{label}: {svc} mounts the NATS CA at /etc/mirai/nats-ca/ca.crt")
        check("/tmp" in mounts, f"{label}: {svc} has a writable /tmp (read-only root filesystem)")


def check_migrations(label: str, values: dict, k: dict) -> None:
    jobs = k.get("Job", [])
    cluster, rw = f"{RELEASE}-pg", f"{RELEASE}-pg-rw"
    for j in jobs:
        hook = j["metadata"].get("annotations", {}).get("helm.sh/hook", "")
        check("pre-install" not in hook and "pre-upgrade" not in hook, f"{label}: Job {j['metadata']['name']} is not a pre-install/pre-upgrade hook (the CNPG Cluster would not exist yet)")
    for svc in enabled_services(values):
        mine = [j for j in jobs if j["spec"]["template"]["spec"]["containers"][0].get("args") == ["migrate", svc]]
        if not check(len(mine) == 1, f"{label}: one migrations Job runs `mirai migrate {svc}`"):
            continue
        j = mine[0]
        spec, pod = j["spec"], j["spec"]["template"]["spec"]
        check(spec.get("activeDeadlineSeconds", 0) > 0, f"{label}: migrate {svc} has a deadline")
        check("backoffLimit" in spec, f"{label}: migrate {svc} has a backoffLimit")
        check_pod_hardening(label, pod, f"migrate-{svc}")
        waits = [c for c in pod.get("initContainers", []) if "pg_isready" in " ".join(c.get("command", []) + c.get("args", []))]
        check(waits and rw in " ".join(waits[0].get("command", [])) and "deadline" in " ".join(waits[0].get("command", [])),
              f"{label}: migrate {svc} first waits (bounded) for Postgres at {rw}")
        env = env_map(pod["containers"][0])
        check(all(secret_ref(e) is None or secret_ref(e)[1] != "uri" for e in env.values()), f"{label}: migrate {svc} does not use the superuser Secret's uri (database `*`)")
        check(secret_ref(env.get("PGUSER")) == (f"{cluster}-superuser", "username") and secret_ref(env.get("PGPASSWORD")) == (f"{cluster}-superuser", "password"),
              f"{label}: migrate {svc} builds DATABASE_URL from the superuser Secret's parts")
        url = env.get("DATABASE_URL", {}).get("value", "")
        check(url.startswith("postgres://$(PGUSER):$(PGPASSWORD)@") and f"@{rw}:5432/mirai?" in url and "sslmode=verify-full" in url,
              f"{label}: migrate {svc} DATABASE_URL names database mirai at {rw} with TLS ({url})")
        check(secret_ref(env.get(f"{svc_var(svc)}__DB_PASSWORD")) == (f"mirai-db-{svc}", "password"), f"{label}: migrate {svc} gets the runtime role's password")
        # `mirai migrate` provisions the service's streams as the NATS admin user (ADR 0006).
        container = pod["containers"][0]
        check(secret_ref(env.get("MIRAI_NATS_ADMIN_PASSWORD")) == ("mirai-nats-users", "admin"),
              f"{label}: migrate {svc} gets the NATS admin password (it provisions streams)")
        check(any(e.get("configMapRef", {}).get("name") == "mirai-env" for e in container.get("envFrom", [])),
              f"{label}: migrate {svc} reads NATS_URL, its CA and the stream limits from the env ConfigMap")


def pooler_param(pooler: dict, key: str) -> int:
    return int(pooler["spec"]["pgbouncer"].get("parameters", {}).get(key, "0"))


def check_postgres(label: str, values: dict, k: dict) -> None:
    cluster_name, pooler_name = f"{RELEASE}-pg", f"{RELEASE}-pg-pooler-rw"
    clusters = k.get("Cluster", [])
    check(len(clusters) == 1, f"{label}: one CloudNativePG Cluster")
    stores = {s["metadata"]["name"]: s for s in k.get("ObjectStore", [])}
    for c in clusters:
        spec = c["spec"]
        check(spec["instances"] >= 3, f"{label}: CNPG has >= 3 instances")
        check(spec["postgresql"]["synchronous"]["number"] >= 1, f"{label}: CNPG replicates synchronously")
        check(spec.get("resources", {}).get("requests") and spec["resources"].get("limits"), f"{label}: CNPG has resources")
        check("barmanObjectStore" not in spec.get("backup", {}), f"{label}: CNPG does not use the deprecated in-tree barmanObjectStore")
        archivers = [p for p in spec.get("plugins", []) if p["name"] == "barman-cloud.cloudnative-pg.io" and p.get("isWALArchiver")]
        if check(len(archivers) == 1, f"{label}: the Barman Cloud plugin archives WAL"):
            store = stores.get(archivers[0]["parameters"].get("barmanObjectName"))
            check(store and store["spec"]["configuration"].get("wal"), f"{label}: the archiver's ObjectStore exists and configures WAL")
        sc = spec.get("storage", {}).get("storageClass", "")
        check(sc and "nfs" not in sc.lower(), f"{label}: CNPG storage class is set and not NFS ({sc!r})")
        alt = spec.get("certificates", {}).get("serverAltDNSNames", [])
        check(pooler_name in alt, f"{label}: the server certificate names the pooler (verify-full through PgBouncer)")
    backups = k.get("ScheduledBackup", [])
    check(any(b["spec"].get("method") == "plugin" and b["spec"].get("pluginConfiguration", {}).get("name") == "barman-cloud.cloudnative-pg.io"
              and b["spec"]["cluster"]["name"] == cluster_name for b in backups), f"{label}: a ScheduledBackup with method plugin (Barman Cloud)")
    pooler = one(k, "Pooler", pooler_name)
    if not check(pooler, f"{label}: a PgBouncer Pooler {pooler_name}"):
        return
    check(pooler["spec"]["cluster"]["name"] == cluster_name and pooler["spec"].get("type") == "rw", f"{label}: the Pooler fronts the primary (type rw)")
    check(pooler["spec"]["pgbouncer"].get("poolMode") == "session", f"{label}: PgBouncer in session mode (sqlx prepared statements, LISTEN, search_path)")
    check("search_path" in pooler["spec"]["pgbouncer"].get("parameters", {}).get("track_extra_parameters", ""), f"{label}: PgBouncer tracks search_path")
    check_connection_arithmetic(label, values, k)


def connection_problems(values: dict, k: dict) -> tuple[list[str], str]:
    """Every service's sqlx pools at their HPA maximum (plus the rollout's surge pod) must
    fit PgBouncer, and PgBouncer must never exhaust Postgres (values.yaml shows the sums)."""
    cluster = (k.get("Cluster") or [None])[0]
    pooler = one(k, "Pooler", f"{RELEASE}-pg-pooler-rw")
    if not cluster or not pooler:
        return ["no Cluster or Pooler to count connections against"], ""
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"] for h in k.get("HorizontalPodAutoscaler", [])}
    clients: dict[str, int] = {}
    for d in k.get("Deployment", []):
        env = env_map(d["spec"]["template"]["spec"]["containers"][0])
        if "DATABASE_URL" not in env:
            continue
        pool = int(env.get("MIRAI_DB_POOL_SIZE", {}).get("value", "10"))  # the Rust default
        replicas = hpas.get(d["metadata"]["name"], d["spec"].get("replicas", 1))
        surge = d["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", 1)
        clients[d["metadata"]["name"]] = (replicas + int(surge)) * pool
    fleet, worst = sum(clients.values()), max(clients.values(), default=0)
    instances = pooler["spec"].get("instances", 1)
    default_pool, max_client, max_db = (pooler_param(pooler, p) for p in ("default_pool_size", "max_client_conn", "max_db_connections"))
    max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
    migrations = len(enabled_services(values))
    reserved = int(values["postgres"].get("reservedConnections", 0))
    need = instances * max_db + migrations + reserved
    problems = []
    if worst > default_pool:
        problems.append(f"a service's clients {worst} > PgBouncer default_pool_size {default_pool}")
    if fleet > max_client:
        problems.append(f"fleet clients {fleet} > PgBouncer max_client_conn {max_client}")
    if max_db <= 0 or fleet > instances * max_db:
        problems.append(f"fleet clients {fleet} > {instances} PgBouncers x max_db_connections {max_db}")
    if need > max_connections:
        problems.append(f"{instances} x {max_db} + {migrations} migrations + {reserved} reserved = {need} > max_connections {max_connections}")
    summary = f"clients {fleet} (max per service {worst}) -> {instances} PgBouncers x {max_db}; Postgres needs {need} of {max_connections}"
    return problems, summary


def check_connection_arithmetic(label: str, values: dict, k: dict) -> None:
    problems, summary = connection_problems(values, k)
    for p in problems:
        failures.append(f"{label}: connections: {p}")
    print(f"{label}: connections: {summary}")


def check_nats(label: str, values: dict, k: dict) -> None:
    full = f"{RELEASE}-nats"
    sts = one(k, "StatefulSet", full)
    if not check(sts and sts["spec"]["replicas"] >= 3, f"{label}: a 3-node NATS StatefulSet"):
        return
    cm = one(k, "ConfigMap", full)
    conf = cm["data"]["nats.conf"] if cm else ""
    check("jetstream" in conf, f"{label}: NATS runs JetStream")
    check('include "auth.conf"' in conf, f"{label}: nats.conf includes the authorization file")
    auth = (CHART / "files/nats-auth.conf").read_text()
    check(cm and cm["data"].get("auth.conf", "").strip() == auth.strip(), f"{label}: the NATS ConfigMap carries files/nats-auth.conf verbatim")
    for svc in enabled_services(values):
        check(re.search(rf"user:\s*\"?{re.escape(svc)}\b", auth), f"{label}: nats-auth.conf has a user for {svc}")
    check("lame_duck_duration" in conf, f"{label}: NATS has a lame-duck duration")
    tls = values["nats"]["tls"]
    if tls["enabled"]:
        check(conf.count("tls {") >= 2 and "verify: true" in conf, f"{label}: NATS serves clients and routes over TLS (mutual on routes)")
    pod = sts["spec"]["template"]["spec"]
    check(pod.get("automountServiceAccountToken") is False, f"{label}: NATS pods mount no API token")
    nats = next(c for c in pod["containers"] if c["name"] == "nats")
    env = env_map(nats)
    users = values["nats"]["usersSecret"]
    for svc in enabled_services(values) + ["admin"]:
        name = "NATS_PASSWORD_" + svc.upper().replace("-", "_")
        check(secret_ref(env.get(name)) == (users, svc), f"{label}: NATS server gets {name} from {users}/{svc}")
    pre = nats.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    check("--signal" in pre and any(a.startswith("ldm") for a in pre), f"{label}: NATS preStop enters lame-duck mode")
    if tls["enabled"]:
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        check(any(v.get("secret", {}).get("secretName") == tls["secretName"] for v in vols.values()), f"{label}: NATS mounts its TLS Secret")
    exporters = [c for c in pod["containers"] if c["image"].startswith("natsio/prometheus-nats-exporter")]
    if check(exporters and exporters[0].get("ports"), f"{label}: NATS has a prometheus-nats-exporter sidecar with a port"):
        port = exporters[0]["ports"][0]["containerPort"]
        svc = one(k, "Service", f"{full}-metrics")
        check(svc and svc["spec"]["ports"][0]["port"] == port, f"{label}: a metrics Service for the NATS exporter")


def np_ports(rules: list[dict]) -> set[int]:
    return {p["port"] for r in rules for p in r.get("ports", [])}


def check_network_policies(label: str, values: dict, k: dict) -> None:
    nps = {n["metadata"]["name"].removeprefix(f"{RELEASE}-"): n["spec"] for n in k.get("NetworkPolicy", [])}
    deny = nps.get("default-deny", {})
    check(deny.get("podSelector") == {} and set(deny.get("policyTypes", [])) == {"Ingress", "Egress"} and not deny.get("ingress") and not deny.get("egress"),
          f"{label}: a default-deny NetworkPolicy (ingress and egress) for the namespace")
    dns = nps.get("allow-dns", {})
    dns_rules = dns.get("egress", [])
    check(dns.get("podSelector") == {} and {(p["protocol"], p["port"]) for r in dns_rules for p in r["ports"]} == {("UDP", 53), ("TCP", 53)}
          and any(t.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == values["networkPolicy"]["dns"]["namespace"]
                  for r in dns_rules for t in r["to"]), f"{label}: every pod may reach DNS (53/UDP+TCP) in kube-system")
    svc = nps.get("services", {})
    check(svc.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component") == "service", f"{label}: a NetworkPolicy for the services")
    egress = svc.get("egress", [])
    to = {p["port"]: r["to"] for r in egress for p in r.get("ports", [])}
    check(any(t.get("podSelector", {}).get("matchLabels", {}).get("cnpg.io/poolerName") for t in to.get(5432, [])), f"{label}: services -> pooler 5432")
    check(any(t.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "nats" for t in to.get(4222, [])), f"{label}: services -> NATS 4222")
    check(values["networkPolicy"]["otlpCollector"]["port"] in to, f"{label}: services -> OTLP collector")
    kong_ns = values["networkPolicy"]["kong"]["namespaceLabels"]
    check(any(f.get("namespaceSelector", {}).get("matchLabels") == kong_ns for r in svc.get("ingress", []) if 8080 in np_ports([r]) for f in r["from"]),
          f"{label}: Kong -> services 8080")
    prom_ns = values["networkPolicy"]["prometheus"]["namespaceLabels"]
    check(any(f.get("namespaceSelector", {}).get("matchLabels") == prom_ns for r in svc.get("ingress", []) if 8080 in np_ports([r]) for f in r["from"]),
          f"{label}: Prometheus -> services 8080")
    nats = nps.get("nats", {})
    check(6222 in np_ports(nats.get("ingress", [])) and 6222 in np_ports(nats.get("egress", [])), f"{label}: NATS <-> NATS routes 6222")
    check(values["nats"]["exporter"]["port"] in np_ports(nats.get("ingress", [])), f"{label}: Prometheus -> NATS exporter")
    check(4222 in np_ports(nats.get("ingress", [])), f"{label}: services -> NATS 4222 (ingress side)")
    check(5432 in np_ports(nps.get("migrations", {}).get("egress", [])), f"{label}: migrations -> Postgres 5432")
    check(4222 in np_ports(nps.get("migrations", {}).get("egress", [])), f"{label}: migrations -> NATS 4222 (stream provisioning)")
    check(5432 in np_ports(nps.get("pooler", {}).get("ingress", [])) and 5432 in np_ports(nps.get("pooler", {}).get("egress", [])), f"{label}: services -> pooler -> Postgres")
    check(5432 in np_ports(nps.get("postgres", {}).get("ingress", [])), f"{label}: Postgres accepts the pooler, the migrations and its replicas")


def check_monitoring(label: str, values: dict, k: dict) -> None:
    if not values.get("monitoring", {}).get("enabled"):
        return
    monitors = k.get("ServiceMonitor", [])
    services = [s for s in k.get("Service", []) if s["metadata"].get("labels")]

    def selected(mon: dict) -> list[dict]:
        want = mon["spec"]["selector"].get("matchLabels", {})
        return [s for s in services if all(s["metadata"]["labels"].get(a) == b for a, b in want.items())]

    for svc in enabled_services(values):
        check(any(f"{RELEASE}-{svc}" in {s["metadata"]["name"] for s in selected(m)} for m in monitors), f"{label}: a ServiceMonitor scrapes {svc}")
    check(any(f"{RELEASE}-nats-metrics" in {s["metadata"]["name"] for s in selected(m)} for m in monitors), f"{label}: a ServiceMonitor scrapes the NATS exporter")
    rules = k.get("PrometheusRule", [])
    if check(len(rules) == 1, f"{label}: one PrometheusRule"):
        check(rules[0]["spec"] == yaml.safe_load(RULES.read_text()), f"{label}: the PrometheusRule carries deploy/prometheus/mirai.rules.yml unchanged")


def check_secrets_documented(label: str, rendered: dict[str, str], k: dict) -> None:
    """Every Secret the manifests read is listed, with a `kubectl create secret` command, in
    NOTES.txt and docs/deploy.md (CloudNativePG creates <cluster>-ca and -superuser)."""
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("secretKeyRef",):
                if key in node:
                    names.add(node[key]["name"])
            if "secretName" in node and isinstance(node["secretName"], str):
                names.add(node["secretName"])
            if "accessKeyId" in node and "name" in node["accessKeyId"]:
                names.add(node["accessKeyId"]["name"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for d in k.get("Deployment", []) + k.get("StatefulSet", []) + k.get("Job", []) + k.get("ObjectStore", []):
        walk(d)
    names -= {f"{RELEASE}-pg-ca", f"{RELEASE}-pg-superuser"}
    notes = rendered.get(f"{RELEASE}/templates/NOTES.txt", "")
    docs = DOCS.read_text() if DOCS.exists() else ""
    check(docs, "docs/deploy.md exists")
    for n in sorted(names):
        check(re.search(rf"create secret generic {re.escape(n)}\b", notes), f"{label}: NOTES.txt shows `kubectl create secret` for {n}")
        plain = n.removeprefix("mirai-db-") if n.startswith("mirai-db-") else None
        documented = re.search(rf"create secret generic {re.escape(n)}\b", docs) or (plain and "create secret generic mirai-db-$s" in docs)
        check(documented, f"{label}: docs/deploy.md shows `kubectl create secret` for {n}")


def check_chart(label: str, values_files: list[str]) -> None:
    values = values_of(values_files + [TEST_KEYS])
    with quiet_stderr():
        report = helm.lint(str(CHART), values, strict=False)
    errors = [m for m in report["messages"] if m["severity"] >= 3] + report.get("errors", [])
    check(not errors, f"{label}: helm lint errors: {errors}")
    rendered = render_raw(values)
    docs = docs_of(rendered)
    for d in docs:
        validate(d, label)
    k = by_kind(docs)
    check_services(label, values, rendered, k)
    check_migrations(label, values, k)
    check_postgres(label, values, k)
    check_nats(label, values, k)
    check_network_policies(label, values, k)
    check_monitoring(label, values, k)
    check_secrets_documented(label, rendered, k)
    print(f"{label}: {len(docs)} manifests rendered and validated ({', '.join(sorted(k))})")


def check_chart_refusals() -> None:
    """What the chart must refuse, and what must change when values change."""
    base = values_of(["values.yaml", TEST_KEYS])
    for what, override in (
        ("NFS storage class for Postgres", {"postgres": {"storage": {"storageClass": "nfs-client"}}}),
        ("NFS storage class (any case, anywhere in the name)", {"postgres": {"storage": {"storageClass": "fast-NFS-csi"}}}),
        ("an unset Postgres storage class", {"postgres": {"storage": {"storageClass": ""}}}),
        ("NFS storage class for NATS", {"nats": {"storage": {"storageClass": "nfs"}}}),
        ("a stream size that is not bytes or Ki/Mi/Gi/Ti", {"streams": {"default": {"maxBytes": "10GB"}}}),
    ):
        check(render_fails(deep_merge(base, override)), f"chart: rendering must fail with {what}")
    err = render_fails(values_of(["values.yaml"], {"bus": {"verifyKeys": ""}}))
    check(err and "bus.verifyKeys" in err, f"chart: rendering must fail without bus.verifyKeys (`required`): {err}")
    # A config change rolls the pods; a disabled HPA gives the Deployment its replicas.
    def dep(values: dict, name: str = "identity") -> dict:
        return one(by_kind(docs_of(render_raw(values))), "Deployment", f"{RELEASE}-{name}")
    a = dep(base)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    b = dep(deep_merge(base, {"env": {"RUST_LOG": "debug"}}))["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    check(a != b, "chart: changing the env ConfigMap changes the pods' checksum (rolls them)")
    fixed = dep(deep_merge(base, {"services": {"identity": {"autoscaling": {"enabled": False}}}}))
    check(fixed["spec"].get("replicas") == base["services"]["identity"]["replicas"], "chart: without an HPA the Deployment sets replicas")
    # A new revision gets new migrations Jobs (a Job's template is immutable).
    jobs = lambda rev: {j["metadata"]["name"] for j in by_kind(docs_of(render_raw(base, revision=rev))).get("Job", [])}  # noqa: E731
    check(not (jobs(1) & jobs(2)), "chart: each revision's migrations Jobs have new names")
    # Too many connections for the pooler must fail the arithmetic.
    crowded = deep_merge(base, {"services": {"lrs": {"dbPoolSize": 50}}})
    problems, _ = connection_problems(crowded, by_kind(docs_of(render_raw(crowded))))
    check(problems, "chart: the connection arithmetic must fail when lrs pools 50 connections a pod")


def check_restore() -> None:
    """values-restore.yaml renders a Cluster that recovers from the ObjectStore to a time."""
    label = "values-restore.yaml"
    values = values_of(["values.yaml", "values-talos.yaml", "values-restore.yaml", TEST_KEYS])
    docs = docs_of(render_raw(values))
    for d in docs:
        validate(d, label)
    k = by_kind(docs)
    cluster = (k.get("Cluster") or [{}])[0].get("spec", {})
    rec = cluster.get("bootstrap", {}).get("recovery", {})
    check("initdb" not in cluster.get("bootstrap", {}), f"{label}: the Cluster does not initdb")
    check(rec.get("recoveryTarget", {}).get("targetTime") == values["postgres"]["recovery"]["targetTime"], f"{label}: bootstrap.recovery with recoveryTarget.targetTime")
    origin = [e for e in cluster.get("externalClusters", []) if e["name"] == rec.get("source")]
    stores = {s["metadata"]["name"] for s in k.get("ObjectStore", [])}
    if check(origin and origin[0].get("plugin", {}).get("name") == "barman-cloud.cloudnative-pg.io", f"{label}: recovers through the Barman Cloud plugin"):
        params = origin[0]["plugin"]["parameters"]
        check(params.get("barmanObjectName") in stores, f"{label}: recovers from the chart's ObjectStore")
        archive = next(p for p in cluster["plugins"] if p.get("isWALArchiver"))["parameters"]
        check(params.get("serverName") != archive.get("serverName"), f"{label}: the restored cluster archives under a new server name")
    print(f"{label}: {len(docs)} manifests rendered and validated (PITR to {rec.get('recoveryTarget', {}).get('targetTime')})")


def check_rules_source() -> None:
    link = CHART / "files/mirai.rules.yml"
    check(link.exists() and link.read_text() == RULES.read_text(), "chart: files/mirai.rules.yml is deploy/prometheus/mirai.rules.yml (a link)")
    check(link.is_symlink(), "chart: files/mirai.rules.yml is a symlink, so the rules have one source")


# --- Prometheus -----------------------------------------------------------------------


def check_rules() -> None:
    rules = sorted((ROOT / "deploy/prometheus").glob("*.rules.yml"))
    check(bool(rules), "prometheus: no rule files")
    for f in rules:
        r = subprocess.run(["promtool", "check", "rules", str(f)], capture_output=True, text=True)
        check(r.returncode == 0, f"promtool check rules {f.name}: {r.stdout}{r.stderr}")
    for t in sorted((ROOT / "deploy/prometheus").glob("*.test.yml")):
        r = subprocess.run(["promtool", "test", "rules", str(t)], capture_output=True, text=True, cwd=t.parent)
        check(r.returncode == 0, f"promtool test rules {t.name}: {r.stdout}{r.stderr}")
    alerts = [r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    cases = [c for t in tests for c in t.get("alert_rule_test", [])]
    text = RULE_TESTS.read_text()
    for a in alerts:
        check(len(re.findall(rf"alertname:\s*{a}\s*$", text, re.M)) >= 2, f"prometheus: {a} appears at least twice in the rule tests")
        mine = [c for c in cases if c["alertname"] == a]
        check(any(c.get("exp_alerts") for c in mine), f"prometheus: a test where {a} fires")
        check(any(c.get("exp_alerts") == [] for c in mine), f"prometheus: a test where {a} stays silent")
    print(f"prometheus: {len(rules)} rule files checked; {len(alerts)} alerts, each tested firing and silent")


# --- Kong -----------------------------------------------------------------------------


def check_kong() -> None:
    r = subprocess.run(["deck", "validate", "-s", str(KONG)], capture_output=True, text=True)
    check(r.returncode == 0, f"deck validate: {r.stdout}{r.stderr}")
    kong = yaml.safe_load(KONG.read_text())
    plugins = {p["name"]: p.get("config", {}) for p in kong.get("plugins", [])}
    cors = plugins.get("cors")
    check(cors and cors.get("preflight_continue") is False and "OPTIONS" in cors.get("methods", []), "kong: CORS preflights are answered at the edge")
    rl = plugins.get("rate-limiting", {})
    check(rl.get("limit_by") == "header" and rl.get("header_name") == "X-Mirai-Rate-Key", "kong: the default rate limit is per credential (X-Mirai-Rate-Key)")
    size = plugins.get("request-size-limiting", {})
    check(size.get("allowed_payload_size") == 1 and size.get("size_unit") == "megabytes", "kong: 1 MB body limit by default")
    pre = plugins.get("pre-function", {}).get("access", [""])[0]
    for needle, what in (('"OPTIONS"', "skips OPTIONS"), ("X-Mirai-Rate-Key", "sets the credential key"), ("X-Mirai-Rate-Tenant", "sets the tenant key"), ("exit(401", "refuses requests without a credential")):
        check(needle in pre, f"kong: the global pre-function {what}")
    check("X-Mirai-Rate-Key" in " ".join(plugins.get("post-function", {}).get("access", [])), "kong: the rate keys are cleared before the upstream")
    public = re.compile(r"(-public|-openapi)$")
    for s in kong["services"]:
        svc_size = {p["name"]: p.get("config", {}) for p in s.get("plugins", [])}
        for route in s["routes"]:
            rp = {p["name"]: p.get("config", {}) for p in route.get("plugins", [])}
            limit = rp.get("rate-limiting") or svc_size.get("rate-limiting") or rl
            body = (rp.get("request-size-limiting") or svc_size.get("request-size-limiting") or size).get("allowed_payload_size")
            name = route["name"]
            if public.search(name):
                check(limit.get("limit_by") == "ip", f"kong: public route {name} is limited per client address")
                check("pre-function" in rp, f"kong: public route {name} overrides the credential check")
            else:
                check(limit.get("limit_by") != "ip", f"kong: authenticated route {name} is not limited per IP")
                check("pre-function" not in rp, f"kong: authenticated route {name} keeps the global credential check")
            is_lrs = s["name"] in ("lrs", "lrs-xapi") and not public.search(name)
            # Larger bodies only where a service reads them itself: xAPI attachments,
            # media's signed uploads (a whole file), content's package imports.
            want = 32 if is_lrs else {"media-blobs-public": 2048, "content-packages": 256}.get(name, 1)
            check(body == want, f"kong: route {name} body limit {body} MB (want {want}: 32 on LRS, 2048 on media uploads, 256 on package imports, 1 elsewhere)")
    # The pre-function's behaviour, under stubs of Kong's PDK.
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as f:
        f.write(pre)
        f.flush()
        r = subprocess.run(["lua5.1", str(ROOT / "deploy/kong/edge_auth_test.lua"), f.name], capture_output=True, text=True)
        check(r.returncode == 0, f"kong: edge_auth_test.lua: {r.stdout}{r.stderr}")
    print("kong: deck validate, edge structure and edge auth cases ok" if r.returncode == 0 else "kong: FAILED")


def check_dashboard() -> None:
    dash = json.loads((ROOT / "deploy/grafana/mirai-fleet.json").read_text())
    rows = {p["title"].lower() for p in dash["panels"] if p["type"] == "row"}
    for svc in enabled_services(yaml.safe_load((CHART / "values.yaml").read_text())):
        check(any(svc in r for r in rows), f"grafana: no dashboard row for {svc}")
    for needed in ("outbox", "consumer", "dead letter", "http"):
        check(any(needed in r for r in rows), f"grafana: no {needed} row")
    print(f"grafana: {len(dash['panels'])} panels")


def run(step, *args) -> None:
    try:
        step(*args)
    except Exception as e:  # noqa: BLE001 - one broken step must not hide the others
        failures.append(f"{step.__name__}{args}: {type(e).__name__}: {str(e)[:400]}")


if __name__ == "__main__":
    run(check_chart, "values.yaml", ["values.yaml"])
    run(check_chart, "values-talos.yaml", ["values.yaml", "values-talos.yaml"])
    run(check_chart_refusals)
    run(check_restore)
    run(check_rules_source)
    run(check_dashboard)
    run(check_rules)
    run(check_kong)
    if failures:
        print("deploy checks failed:")
        for f in failures:
            print(f"  - {f}")
        sys.exit(1)
    print("deploy checks: all passed")
