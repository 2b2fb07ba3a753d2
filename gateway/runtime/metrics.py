"""Prometheus metrics of one node (its own registry, so tests can build several nodes)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Counters, gauges and histograms exposed at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages_in = Counter("bx_messages_in", "Messages accepted from partners",
                                   ["type", "partner"], registry=self.registry)
        self.messages_out = Counter("bx_messages_out", "Messages delivered to partners",
                                    ["type", "partner"], registry=self.registry)
        self.rejections = Counter("bx_rejections", "Inbound messages and requests refused",
                                  ["code"], registry=self.registry)
        self.outbox_depth = Gauge("bx_outbox_depth", "Undelivered messages per partner",
                                  ["partner"], registry=self.registry)
        self.outbox_oldest = Gauge("bx_outbox_oldest_age_seconds",
                                   "Age of the oldest undelivered message per partner",
                                   ["partner"], registry=self.registry)
        self.dead_letters = Counter("bx_dead_letters", "Messages dead-lettered",
                                    ["partner"], registry=self.registry)
        self.delivery_latency = Histogram(
            "bx_delivery_latency_seconds", "From queued to a verified receipt",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
            registry=self.registry)
        self.key_expiry = Gauge("bx_pinned_key_expiry_days",
                                "Days until each pinned partner key expires",
                                ["partner", "kid"], registry=self.registry)
        self.deadlines_overdue = Gauge("bx_deadlines_overdue",
                                       "Open tasks and deadlines past their due time, per unit",
                                       ["unit"], registry=self.registry)
        self.witness_forks = Gauge("bx_witness_forks",
                                   "Forks seen as a witness: partners' checkpoints "
                                   "inconsistent with the one cosigned before, per log",
                                   ["origin"], registry=self.registry)
