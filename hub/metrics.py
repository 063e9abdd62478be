"""Prometheus metrics owned by one app instance (its own registry: no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hub.stalls import PAUSE_BUCKETS

__all__ = ["CONTENT_TYPE_LATEST", "HubMetrics"]


class HubMetrics:
    """Holds the app's registry and the metrics every part of the hub updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "hub_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "hub_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.unexpected_errors = Counter(
            "hub_unexpected_errors",
            "Errors answered with a reference id (bugs to look at).",
            registry=self.registry,
        )
        self.gc_pauses = Histogram(
            "hub_gc_pause_seconds",
            "How long each garbage collection stopped the event loop (and media), by generation.",
            ["generation"],
            buckets=PAUSE_BUCKETS,
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "hub_event_loop_lag_seconds",
            "How late the event loop woke a 50 ms timer (packets waited as long).",
            buckets=PAUSE_BUCKETS,
            registry=self.registry,
        )
        self.database_up = Gauge(
            "hub_database_up",
            "1 when the last readiness check reached the database, else 0.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
