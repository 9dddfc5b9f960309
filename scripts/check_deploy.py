"""Validates the deploy artifacts offline: the Helm chart (lint, render with the default
and the Talos values, every core manifest against the Kubernetes schemas, and the shape
the platform promises: a Deployment/Service/PDB/HPA per service, a migrations hook, a
3-instance synchronous CloudNativePG cluster with WAL archiving, a 3-node JetStream NATS),
the Grafana dashboard (a row per service), and the Prometheus rules (promtool)."""

import json
import pathlib
import subprocess
import sys

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy/helm/mirai"
K8S = "1.30.0"
failures: list[str] = []


def check(cond: bool, what: str) -> None:
    if not cond:
        failures.append(what)


def services() -> list[str]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    return [n for n, s in values["services"].items() if s.get("enabled")]


def deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def render(values_files: list[str]) -> list[dict]:
    chart = helm.Chart.load(str(CHART))
    values: dict = {}
    for f in values_files:
        values = deep_merge(values, yaml.safe_load((CHART / f).read_text()))
    rendered = chart.render(chart.merge_values(values), name="mirai", namespace="mirai", is_install=True)
    docs = []
    for text in rendered.values():
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def check_chart(label: str, values_files: list[str]) -> None:
    report = helm.lint(str(CHART), yaml.safe_load((CHART / values_files[-1]).read_text()), strict=False)
    errors = [m for m in report["messages"] if m["severity"] >= 3] + report.get("errors", [])
    check(not errors, f"{label}: helm lint errors: {errors}")
    docs = render(values_files)
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
        if "cnpg.io" in d["apiVersion"]:
            continue
        try:
            kubernetes_validate.validate(d, K8S, strict=True)
        except Exception as e:  # noqa: BLE001 - report every invalid manifest
            failures.append(f"{label}: {d['kind']}/{d['metadata']['name']}: {str(e)[:300]}")
    names = lambda kind: {d["metadata"]["name"] for d in by_kind.get(kind, [])}  # noqa: E731
    for svc in services():
        full = f"mirai-{svc}"
        for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            check(full in names(kind), f"{label}: {svc} has no {kind}")
    jobs = by_kind.get("Job", [])
    check(any("pre-install" in j["metadata"].get("annotations", {}).get("helm.sh/hook", "")
              and "pre-upgrade" in j["metadata"]["annotations"]["helm.sh/hook"] for j in jobs),
          f"{label}: the migrations Job is not a pre-install/pre-upgrade hook")
    clusters = by_kind.get("Cluster", [])
    check(len(clusters) == 1, f"{label}: one CloudNativePG Cluster")
    for c in clusters:
        spec = c["spec"]
        check(spec["instances"] >= 3, f"{label}: CNPG has >= 3 instances")
        check(spec["postgresql"]["synchronous"]["number"] >= 1, f"{label}: CNPG replicates synchronously")
        check("wal" in spec["backup"]["barmanObjectStore"], f"{label}: CNPG archives WAL")
    sts = [s for s in by_kind.get("StatefulSet", []) if s["metadata"]["name"].endswith("-nats")]
    check(len(sts) == 1 and sts[0]["spec"]["replicas"] >= 3, f"{label}: a 3-node NATS StatefulSet")
    for d in by_kind.get("Deployment", []):
        for c in d["spec"]["template"]["spec"]["containers"]:
            env_names = {e["name"] for e in c.get("env", [])}
            check(not any("KEK" in n and "FILE" not in n for n in env_names), f"{label}: a KEK must not be a plain env var")
    print(f"{label}: {len(docs)} manifests rendered and validated")


def check_dashboard() -> None:
    dash = json.loads((ROOT / "deploy/grafana/mirai-fleet.json").read_text())
    rows = {p["title"].lower() for p in dash["panels"] if p["type"] == "row"}
    for svc in services():
        check(any(svc in r for r in rows), f"grafana: no dashboard row for {svc}")
    for needed in ("outbox", "consumer", "dead letter", "http"):
        check(any(needed in r for r in rows), f"grafana: no {needed} row")
    print(f"grafana: {len(dash['panels'])} panels")


def check_rules() -> None:
    rules = sorted((ROOT / "deploy/prometheus").glob("*.rules.yml"))
    check(bool(rules), "prometheus: no rule files")
    for f in rules:
        r = subprocess.run(["promtool", "check", "rules", str(f)], capture_output=True, text=True)
        check(r.returncode == 0, f"promtool check rules {f.name}: {r.stdout}{r.stderr}")
    for t in sorted((ROOT / "deploy/prometheus").glob("*.test.yml")):
        r = subprocess.run(["promtool", "test", "rules", str(t)], capture_output=True, text=True, cwd=t.parent)
        check(r.returncode == 0, f"promtool test rules {t.name}: {r.stdout}{r.stderr}")
    print(f"prometheus: {len(rules)} rule files checked")


def check_kong() -> None:
    r = subprocess.run(["deck", "validate", "-s", str(ROOT / "deploy/kong/kong.yml")], capture_output=True, text=True)
    check(r.returncode == 0, f"deck validate: {r.stdout}{r.stderr}")
    print("kong: deck validate ok" if r.returncode == 0 else "kong: deck validate FAILED")


if __name__ == "__main__":
    check_chart("values.yaml", ["values.yaml"])
    check_chart("values-talos.yaml", ["values.yaml", "values-talos.yaml"])
    check_dashboard()
    check_rules()
    check_kong()
    if failures:
        print("deploy checks failed:")
        for f in failures:
            print(f"  - {f}")
        sys.exit(1)
    print("deploy checks: all passed")
