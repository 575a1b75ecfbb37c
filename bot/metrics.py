"""Prometheus metrics of the bot, on a registry of its own (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Every series meshbot exports; one instance per process (tests make their own)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.commands = Counter("meshbot_commands_total", "Commands answered, by command, "
                                "verdict and trigger", ["command", "verdict", "trigger"], registry=r)
        self.diagnosis_seconds = Histogram(
            "meshbot_diagnosis_duration_seconds", "Time to diagnose, by command", ["command"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60), registry=r)
        self.api_calls = Counter("meshbot_cluster_api_calls_total",
                                 "Kubernetes and istiod requests made by diagnoses, by cluster",
                                 ["cluster"], registry=r)
        self.cluster_errors = Counter("meshbot_cluster_errors_total", "Reads that failed, by "
                                      "cluster and side", ["cluster", "source"], registry=r)
        self.slack_errors = Counter("meshbot_slack_api_errors_total", "Slack Web API errors, by "
                                    "method and error", ["method", "error"], registry=r)
        self.slack_ratelimited = Counter("meshbot_slack_ratelimited_total", "Slack 429 answers "
                                         "(retried after Retry-After)", ["method"], registry=r)
        self.denied = Counter("meshbot_permission_denied_total", "Commands refused by permissions",
                              ["command"], registry=r)
        self.rate_limited = Counter("meshbot_user_rate_limited_total", "Diagnoses refused by the "
                                    "per-user rate limit", registry=r)
        self.duplicates = Counter("meshbot_duplicate_deliveries_total", "Slack deliveries "
                                  "dropped as duplicates", ["kind"], registry=r)
        self.in_flight = Gauge("meshbot_diagnoses_in_flight", "Diagnoses running now", registry=r)
        self.cache = Counter("meshbot_cache_total", "Report cache lookups, by result",
                             ["result"], registry=r)
        self.store_errors = Counter("meshbot_store_errors_total", "Coordination store (Redis) "
                                    "errors", registry=r)
        self.store_degraded = Gauge("meshbot_store_degraded", "1 while Redis is unreachable and "
                                    "meshbot runs without it", registry=r)
        self.alertmanager = Counter("meshbot_alertmanager_notifications_total", "Alertmanager "
                                    "notifications, by status and outcome", ["status", "outcome"],
                                    registry=r)

    def diagnosed(self, report) -> None:
        """Measure one diagnosis that ran (cache hits made no calls and take no time)."""
        self.diagnosis_seconds.labels(report.command).observe(report.duration_ms / 1000)
        for cluster, calls in report.calls_by_cluster.items():
            self.api_calls.labels(cluster).inc(calls)
        for error in report.errors:
            self.cluster_errors.labels(error.cluster, error.source).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
