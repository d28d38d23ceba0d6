"""Grafana dashboards for wirewatch, generated from this file (edit here, then regenerate):

    python deploy/grafana/dashboards.py          # writes deploy/grafana/dashboards/*.json

The JSON is committed so Grafana provisioning needs no build step; tests/unit/test_deploy_grafana.py
checks it matches this file, and tests/integration/test_dashboards.py runs every query against a
real Prometheus scraping a running pipeline. Queries use fixed windows, no Grafana variables, so the
test can run them verbatim.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "wirewatch-prometheus"}  # provisioning/datasources/prometheus.yml

LAG = ("sum by (topic) (max by (topic, partition) (wirewatch_faust_topic_partition_end_offset)"
       " - max by (topic, partition) (wirewatch_faust_topic_partition_offset_commited))")


def q(expr: str, legend: str = "") -> dict[str, Any]:
    return {"expr": expr, "legendFormat": legend}


def panel(title: str, targets: list[dict[str, Any]], *, kind: str = "timeseries", unit: str = "short",
          width: int = 12, height: int = 8, description: str = "", stacked: bool = False) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    if kind == "timeseries":
        custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                  "stacking": {"mode": "normal" if stacked else "none", "group": "A"}}
    return {"type": kind, "title": title, "description": description, "datasource": DATASOURCE,
            "gridPos": {"w": width, "h": height},
            "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
            if kind == "timeseries" else {"reduceOptions": {"calcs": ["lastNotNull"]}},
            "targets": targets}


def dashboard(uid: str, title: str, description: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    x = y = row_height = 0
    laid_out = []
    for number, p in enumerate(panels, 1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_height = 0, y + row_height, 0
        targets = [{**t, "refId": chr(ord("A") + i), "datasource": DATASOURCE} for i, t in enumerate(p["targets"])]
        laid_out.append({**p, "id": number, "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": targets})
        x, row_height = x + w, max(row_height, h)
    return {"uid": uid, "title": title, "description": description, "tags": ["wirewatch"],
            "editable": True, "schemaVersion": 39, "version": 1, "refresh": "30s", "timezone": "utc",
            "time": {"from": "now-6h", "to": "now"}, "templating": {"list": []}, "annotations": {"list": []},
            "links": [{"title": "wirewatch dashboards", "type": "dashboards", "tags": ["wirewatch"]}],
            "panels": laid_out}


def pipeline() -> dict[str, Any]:
    return dashboard("wirewatch-pipeline", "wirewatch / pipeline overview",
                     "Is the pipeline up, keeping up, and how fast do alerts come out?", [
        panel("Workers up", [q('sum(up{job="wirewatch-worker"})')], kind="stat", width=4, height=4,
              description="Stream workers answering scrapes. Scale with `docker compose up --scale worker=N`."),
        panel("Connector runners up", [q('sum(up{job="wirewatch-connector"})')], kind="stat", width=4, height=4),
        panel("Consumer lag (messages)", [q(f"sum({LAG})")], kind="stat", width=4, height=4,
              description="Messages on the input topics not yet committed by the worker group."),
        panel("Articles in (last hour)",
              [q('sum(increase(wirewatch_articles_processed_total{stage="normalize"}[1h]))')],
              kind="stat", width=4, height=4),
        panel("Alert versions out (last hour)", [q("sum(increase(wirewatch_alerts_total[1h]))")],
              kind="stat", width=4, height=4),
        panel("DLQ records (last hour)", [q("sum(increase(wirewatch_dlq_records_total[1h]))")],
              kind="stat", width=4, height=4),
        panel("Records processed per second, by stage",
              [q("sum by (stage) (rate(wirewatch_articles_processed_total[5m]))", "{{stage}}")], unit="ops"),
        panel("Consumer lag by topic", [q(LAG, "{{topic}}")],
              description="End offset minus committed offset (Faust sensors), summed over partitions. "
                          "Growing lag: scale workers up to the partition count."),
        panel("Alert latency (fetch to publish)", [
            q("histogram_quantile(0.5, sum by (le) (rate(wirewatch_alert_latency_seconds_bucket[15m])))", "p50"),
            q("histogram_quantile(0.95, sum by (le) (rate(wirewatch_alert_latency_seconds_bucket[15m])))", "p95")],
              unit="s"),
        panel("Stage processing time p95", [
            q("histogram_quantile(0.95, sum by (stage, le) (rate(wirewatch_stage_duration_seconds_bucket[5m])))",
              "{{stage}}")], unit="s"),
        panel("News age at alert time (event time to alert)", [
            q("histogram_quantile(0.5, sum by (le) (rate(wirewatch_alert_event_age_seconds_bucket[1h])))", "p50"),
            q("histogram_quantile(0.95, sum by (le) (rate(wirewatch_alert_event_age_seconds_bucket[1h])))",
              "p95")], unit="s",
              description="How old the newest article of a story was when its alert went out: slow feeds show here."),
        panel("Records sent to DLQs, by source topic",
              [q("sum by (topic) (increase(wirewatch_dlq_records_total[15m]))", "{{topic}}")],
              description="Errors are in the record headers of <topic>.dlq (see docs/operations.md)."),
        panel("Dedupe window: articles", [q("sum by (instance) (wirewatch_dedupe_index_articles)", "{{instance}}")],
              description="Articles each worker holds in its dedupe windows (bounded by the window length)."),
        panel("Dedupe window: span of event times", [q("max(wirewatch_dedupe_window_age_seconds)", "oldest window")],
              unit="s"),
        panel("Seconds since a stage last processed a record",
              [q("time() - max by (stage) (wirewatch_stage_last_processed_timestamp_seconds)", "{{stage}}")],
              unit="s"),
        panel("Worker rebalances", [q("sum(wirewatch_faust_total_rebalances)", "rebalances")],
              description="Each scale event or worker restart moves partitions; frequent rebalances stall work."),
    ])


def alerts() -> dict[str, Any]:
    return dashboard("wirewatch-alerts", "wirewatch / alerts and stories",
                     "What the pipeline is saying: alerts by severity and category, events, stories and copies.", [
        panel("New high/critical alerts (24 h)",
              [q('sum(increase(wirewatch_alerts_total{severity=~"high|critical", reason="new"}[24h]))')],
              kind="stat", width=6, height=4),
        panel("New alerts (24 h)", [q('sum(increase(wirewatch_alerts_total{reason="new"}[24h]))')],
              kind="stat", width=6, height=4),
        panel("Stories opened (24 h)", [q("sum(increase(wirewatch_stories_total[24h]))")],
              kind="stat", width=6, height=4),
        panel("Copies collapsed (24 h)", [q("sum(increase(wirewatch_copies_collapsed_total[24h]))")],
              kind="stat", width=6, height=4),
        panel("Alert versions by severity (per hour)",
              [q("sum by (severity) (increase(wirewatch_alerts_total[1h]))", "{{severity}}")], stacked=True),
        panel("Alert versions by reason (per hour)",
              [q("sum by (reason) (increase(wirewatch_alerts_total[1h]))", "{{reason}}")], stacked=True,
              description="new: an event crossed the alert threshold; escalated: severity, the toll or "
                          "categories changed; spread: more independent outlets or languages; merged: the last "
                          "version of an event found to be another."),
        panel("Events opened (24 h)", [q('sum(increase(wirewatch_events_total{outcome="opened"}[24h]))')],
              kind="stat", width=8, height=4),
        panel("Reports that joined an event (24 h)",
              [q('sum(increase(wirewatch_events_total{outcome="joined"}[24h]))')], kind="stat", width=8, height=4),
        panel("Events merged (24 h)", [q('sum(increase(wirewatch_events_total{outcome="merged"}[24h]))')],
              kind="stat", width=8, height=4,
              description="Two open events found to be one: the younger alert's last version has reason merged."),
        panel("Reports per event (per hour)",
              [q('sum(increase(wirewatch_events_total{outcome=~"opened|joined"}[1h])) / '
                 'sum(increase(wirewatch_events_total{outcome="opened"}[1h]))', "reports per event")],
              description="Reports at low or above per event opened: near 1 means every report opens its own "
                          "event (no clustering); a jump with few events points at over-joining."),
        panel("Alert categories (per hour)",
              [q("sum by (category) (increase(wirewatch_alert_categories_total[1h]))", "{{category}}")],
              stacked=True),
        panel("Alert versions by severity and category (per hour)",
              [q("sum by (severity, category) (increase(wirewatch_alert_versions_total[1h]))",
                 "{{severity}} / {{category}}")], stacked=True, width=24,
              description="Which kinds of events drive each severity: a version with two categories counts "
                          "once in each. A new category at critical is worth a look at the rules."),
        panel("Stories opened by language (per hour)",
              [q("sum by (language) (increase(wirewatch_stories_total[1h]))", "{{language}}")], stacked=True),
        panel("Share of articles that were copies",
              [q('sum(increase(wirewatch_copies_collapsed_total[1h])) / '
                 'sum(increase(wirewatch_articles_processed_total{stage="dedupe"}[1h]))', "copies")],
              unit="percentunit",
              description="A sudden drop with an alert storm points at a dedupe regression."),
        panel("Articles per story (per hour)",
              [q('sum(increase(wirewatch_articles_processed_total{stage="score"}[1h])) / '
                 "sum(increase(wirewatch_stories_total[1h]))", "articles per story")]),
    ])


def feeds() -> dict[str, Any]:
    return dashboard("wirewatch-feeds", "wirewatch / feeds health",
                     "Are the feeds being fetched, and which ones are failing?", [
        panel("Feeds by health", [q("sum by (health) (wirewatch_feeds)", "{{health}}")], kind="bargauge",
              width=8, height=6, description="ok: fetched fine; quiet: no new items for long; failing: "
                                             "consecutive errors, backing off; disabled: gone (410) or given up."),
        panel("Failing feeds", [q('sum(wirewatch_feeds{health="failing"})')], kind="stat", width=4, height=6),
        panel("Connector writes to Kafka", [q("min(wirewatch_connector_healthy)")], kind="stat", width=4, height=6,
              description="1: Kafka acknowledges the connector's writes; 0: it does not (polls pause)."),
        panel("Unacknowledged messages", [q("sum(wirewatch_connector_buffered_messages)")], kind="stat",
              width=4, height=6),
        panel("Connector DLQ + publish errors (1 h)",
              [q("sum(increase(wirewatch_connector_dlq_records_total[1h]))", "contract failures (DLQ)"),
               q("sum(increase(wirewatch_connector_publish_errors_total[1h]))", "publish errors")],
              kind="stat", width=4, height=6),
        panel("Fetches per second by outcome",
              [q("sum by (outcome) (rate(wirewatch_feed_fetches_total[5m]))", "{{outcome}}")], unit="ops",
              stacked=True),
        panel("Fetch duration", [
            q("histogram_quantile(0.5, sum by (le) (rate(wirewatch_feed_fetch_duration_seconds_bucket[5m])))", "p50"),
            q("histogram_quantile(0.95, sum by (le) (rate(wirewatch_feed_fetch_duration_seconds_bucket[5m])))",
              "p95")], unit="s"),
        panel("Articles published per minute, by feed (top 20)",
              [q("topk(20, sum by (feed) (rate(wirewatch_feed_items_published_total[15m]))) * 60", "{{feed}}")]),
        panel("Polls that found nothing new (share)",
              [q("sum(rate(wirewatch_feed_not_modified_total[15m])) / sum(rate(wirewatch_feed_fetches_total[15m]))",
                 "not modified / unchanged")], unit="percentunit",
              description="High is good: conditional GETs save the publishers' and our bandwidth."),
        panel("Consecutive failures, worst feeds",
              [q("topk(20, max by (feed) (wirewatch_feed_consecutive_failures))", "{{feed}}")],
              kind="bargauge", description="Feeds failing in a row; see `wirewatch_feed_fetches_total` outcomes."),
        panel("Time since last successful poll, oldest feeds",
              [q("topk(20, time() - max by (feed) (wirewatch_feed_last_success_timestamp_seconds))", "{{feed}}")],
              kind="bargauge", unit="s"),
        panel("Bytes received per second", [q("sum(rate(wirewatch_feed_bytes_total[5m]))", "bytes")], unit="Bps"),
    ])


def build() -> dict[str, dict[str, Any]]:
    return {"pipeline.json": pipeline(), "feeds.json": feeds(), "alerts.json": alerts()}


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, board in build().items():
        (OUT / name).write_text(render(board), "utf-8")
        print(f"wrote {OUT / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
