"""Generates mirai-fleet.json: fleet RED, outbox, consumers, dead letters, DB pools, and
one row per service. Add a service to SERVICES and rerun: python3 generate.py"""

import json
import pathlib

SERVICES = ["identity", "tenant", "lrs", "authoring", "catalog", "search", "media", "content", "ai-gateway", "notification", "marketplace", "billing", "enrollment", "assignment", "delivery", "assessment"]
_id = 0


def panel(title, exprs, unit="short", kind="timeseries", w=8, h=8):
    global _id
    _id += 1
    return {
        "id": _id, "type": kind, "title": title, "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "gridPos": {"h": h, "w": w, "x": 0, "y": 0},
        "targets": [{"expr": e, "legendFormat": l, "refId": chr(65 + i)} for i, (e, l) in enumerate(exprs)],
    }


def row(title, panels):
    global _id
    _id += 1
    return [{"id": _id, "type": "row", "title": title, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0}, "panels": []}] + panels


def layout(panels):
    y, x = 0, 0
    for p in panels:
        if p["type"] == "row":
            y += 0 if x == 0 else 8
            p["gridPos"].update(x=0, y=y)
            y += 1
            x = 0
            continue
        if x + p["gridPos"]["w"] > 24:
            x, y = 0, y + 8
        p["gridPos"].update(x=x, y=y)
        x += p["gridPos"]["w"]
    return panels


def service_row(s):
    route = f'route=~"/api/v1/{s}/.*"'
    return row(f"Service: {s}", [
        panel(f"{s} requests/s by route", [(f'sum by (route) (rate(mirai_http_requests_total{{{route}}}[5m]))', "{{route}}")], "reqps"),
        panel(f"{s} errors/s by status", [(f'sum by (status) (rate(mirai_http_requests_total{{{route},status=~"[45].."}}[5m]))', "{{status}}")], "reqps"),
        panel(f"{s} p50/p99 latency", [
            (f'histogram_quantile(0.5, sum by (le) (rate(mirai_http_request_duration_seconds_bucket{{{route}}}[5m])))', "p50"),
            (f'histogram_quantile(0.99, sum by (le) (rate(mirai_http_request_duration_seconds_bucket{{{route}}}[5m])))', "p99"),
        ], "s"),
    ])


panels = []
panels += row("HTTP (fleet RED)", [
    panel("Requests/s by route", [("sum by (route) (rate(mirai_http_requests_total[5m]))", "{{route}}")], "reqps"),
    panel("5xx ratio", [("mirai:http_5xx_ratio:rate5m", "5xx")], "percentunit"),
    panel("p99 latency by route", [("histogram_quantile(0.99, sum by (route, le) (rate(mirai_http_request_duration_seconds_bucket[5m])))", "{{route}}")], "s"),
])
panels += row("Outbox", [
    panel("Pending events by schema", [("max by (schema) (mirai_outbox_pending)", "{{schema}}")]),
    panel("Published/s", [("sum by (schema) (rate(mirai_outbox_published_total[5m]))", "{{schema}}")], "ops"),
    panel("Publish lag p99", [("histogram_quantile(0.99, sum by (schema, le) (rate(mirai_outbox_publish_lag_seconds_bucket[5m])))", "{{schema}}")], "s"),
])
panels += row("Consumers", [
    panel("Pending by consumer", [("max by (consumer) (mirai_consumer_pending)", "{{consumer}}")]),
    panel("Handled/s by outcome", [("sum by (consumer, outcome) (rate(mirai_consumer_messages_total[5m]))", "{{consumer}} {{outcome}}")], "ops"),
    panel("Commit-to-handled p99", [("histogram_quantile(0.99, sum by (consumer, le) (rate(mirai_consumer_event_lag_seconds_bucket[5m])))", "{{consumer}}")], "s"),
])
panels += row("Dead letters and DB pools", [
    panel("Dead letters (15m)", [("sum by (consumer) (increase(mirai_dead_letters_total[15m]))", "{{consumer}}")]),
    panel("DB pool in use", [('max by (service) (mirai_db_pool_connections{state="used"})', "{{service}}")]),
    panel("Handler latency p99", [("histogram_quantile(0.99, sum by (consumer, le) (rate(mirai_consumer_handler_seconds_bucket[5m])))", "{{consumer}}")], "s"),
])
for s in SERVICES:
    panels += service_row(s)

dashboard = {
    "uid": "mirai-fleet", "title": "Mirai fleet", "schemaVersion": 39, "version": 1, "editable": True,
    "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "tags": ["mirai"],
    "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "current": {}}]},
    "panels": layout(panels),
}
out = pathlib.Path(__file__).with_name("mirai-fleet.json")
out.write_text(json.dumps(dashboard, indent=2) + "\n")
print(out)
