"""Prometheus metrics of the ingest and rules processes; the API adds gauges from the database."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INGEST_MESSAGES = Counter(
    "kc_ingest_messages_total", "MQTT messages ingested, by outcome", ["outcome"]
)
INGEST_COMMIT_SECONDS = Histogram(
    "kc_ingest_commit_seconds",
    "Time to commit one ingest batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RECOMPUTE_KEYS = Counter("kc_recompute_keys_total", "(person, date) keys recomputed")
RECOMPUTE_CHANGES = Counter("kc_recompute_changes_total", "Violation changes written", ["action"])
RECOMPUTE_SECONDS = Histogram(
    "kc_recompute_seconds",
    "Time to recompute one batch of keys",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
NOTIFY_SENT = Counter("kc_notify_sent_total", "Notifications sent, by channel", ["channel"])
NOTIFY_FAILURES = Counter(
    "kc_notify_failures_total",
    "Failed sending attempts, by channel and outcome (retry: queued again; failed: given up)",
    ["channel", "outcome"],
)
NOTIFY_LEASE_LOST = Counter(
    "kc_notify_lease_lost_total",
    "Messages sent whose claim another sender had taken over (may have gone twice)",
)
NOTIFY_OUTBOX = Gauge("kc_notify_outbox", "Outbox messages by status", ["status"])


def serve(port: int | None) -> None:
    """Expose this process's metrics on ``port`` (the API serves them on /metrics itself)."""
    if port:
        from prometheus_client import start_http_server

        start_http_server(port)
