"""Prometheus metrics of one server (its own registry, so several apps never share counters).

Exposed at GET /metrics in the Prometheus text format:
  yolo3_http_requests_total{route, status}   every response, by route template and status code
  yolo3_request_latency_seconds              POST /v1/detect wall time (histogram)
  yolo3_batch_size                           images per forward pass (histogram)
  yolo3_inference_seconds                    forward + post-processing time per batch (histogram)
  yolo3_queue_depth                          images waiting for a forward pass (gauge)
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)


class Metrics:
    """The counters, histograms and gauge of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("yolo3_http_requests", "HTTP responses by route and status code",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("yolo3_request_latency_seconds", "POST /v1/detect wall time",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("yolo3_batch_size", "Images per forward pass",
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.inference = Histogram("yolo3_inference_seconds", "Forward + post-processing time per batch",
                                   buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("yolo3_queue_depth", "Images waiting for a forward pass", registry=self.registry)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the Prometheus text exposition."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
