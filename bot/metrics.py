"""Prometheus metrics of the bot, on a registry of its own (served at /metrics).

Besides meshbot's own series, the registry carries prometheus_client's standard process,
platform and garbage-collector collectors (process_*, python_info, python_gc_*), as
`prometheus_client`'s default registry would; deploy/monitoring's alerts and dashboard use both
(tests/test_monitoring.py checks that every series they name is exported here).
"""

from __future__ import annotations

import platform

from prometheus_client import (GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR,
                               CollectorRegistry, Counter, Gauge, Histogram, generate_latest)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot import __version__

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)


class Metrics:
    """Every series meshbot exports; one instance per process (tests make their own)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            r.register(collector)  # stateless readers of /proc and gc: shareable across registries
        self.build_info = Gauge("meshbot_build_info", "meshbot's version and Python (always 1)",
                                ["version", "python_version"], registry=r)
        self.build_info.labels(__version__, platform.python_version()).set(1)
        self.slack_connected = Gauge("meshbot_slack_connected", "1 while connected to Slack "
                                     "(Socket Mode: the WebSocket is open; HTTP mode: the bot "
                                     "token was accepted), by mode", ["mode"], registry=r)
        self.commands = Counter("meshbot_commands_total", "Commands answered, by command, "
                                "verdict and trigger", ["command", "verdict", "trigger"], registry=r)
        self.diagnosis_seconds = Histogram(
            "meshbot_diagnosis_duration_seconds", "Time to diagnose, by command", ["command"],
            buckets=LATENCY_BUCKETS, registry=r)
        self.cluster_read_seconds = Histogram(
            "meshbot_cluster_read_duration_seconds", "Time a diagnosis spent reading one "
            "cluster (API server and istiod), by command and cluster", ["command", "cluster"],
            buckets=LATENCY_BUCKETS, registry=r)
        self.cluster_reachable = Gauge("meshbot_cluster_reachable", "1 when the last diagnosis "
                                       "that read the cluster could read it, else 0",
                                       ["cluster"], registry=r)
        self.api_calls = Counter("meshbot_cluster_api_calls_total",
                                 "Kubernetes and istiod requests made by diagnoses, by cluster",
                                 ["cluster"], registry=r)
        self.cluster_errors = Counter("meshbot_cluster_errors_total", "Reads of a diagnosis "
                                      "that failed, by command, cluster and side (kubernetes, "
                                      "istiod, envoy)", ["command", "cluster", "source"],
                                      registry=r)
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
        for cluster, seconds in report.read_seconds_by_cluster.items():
            self.cluster_read_seconds.labels(report.command, cluster).observe(seconds)
        for status in report.clusters:
            self.cluster_reachable.labels(status.name).set(1 if status.reachable else 0)
        for cluster, calls in report.calls_by_cluster.items():
            self.api_calls.labels(cluster).inc(calls)
        for error in report.errors:
            self.cluster_errors.labels(report.command, error.cluster, error.source).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
