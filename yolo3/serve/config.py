"""Settings of the HTTP server (`yolo3 serve`), in one typed place."""

from __future__ import annotations

import dataclasses

from yolo3.data.image_io import MAX_PIXELS


@dataclasses.dataclass
class ServeConfig:
    """How the server listens, batches and protects itself.

    host, port: where to listen (127.0.0.1 unless told otherwise; port 0 = a free port).
    max_batch: images per forward pass at most (micro-batching of concurrent requests).
    max_wait_ms: how long the oldest waiting image may wait for others to join its batch.
    queue_size: images waiting for a forward pass at most; beyond, 503 + Retry-After.
    timeout_s: per-request limit on queue wait + inference; beyond, 504.
    max_body_bytes: request body cap (413 above it); checked from Content-Length and
        while the body streams in.
    max_pixels: decoded-image cap, width × height (413 above it; checked from the header).
    api_key: when set, /v1/* and /metrics need `Authorization: Bearer <key>` (401
        otherwise). Never printed: excluded from repr.
    decode_threads: threads that decode uploaded images (bounded: a burst of uploads
        cannot start dozens of decoders, each with its own memory arena).
    graceful_timeout_s: on SIGTERM/SIGINT, how long in-flight requests may take to finish.
    warmup: run one forward pass before /readyz says ready.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 8
    max_wait_ms: float = 5.0
    queue_size: int = 64
    timeout_s: float = 30.0
    max_body_bytes: int = 20 * 1024 * 1024
    max_pixels: int = MAX_PIXELS
    api_key: str | None = dataclasses.field(default=None, repr=False)
    decode_threads: int = 2
    graceful_timeout_s: float = 30.0
    warmup: bool = True

    def __post_init__(self) -> None:
        checks = {
            "port": 0 <= self.port <= 65535, "max_batch": self.max_batch >= 1, "max_wait_ms": self.max_wait_ms >= 0,
            "queue_size": self.queue_size >= 1, "timeout_s": self.timeout_s > 0,
            "max_body_bytes": self.max_body_bytes >= 1, "max_pixels": self.max_pixels >= 1,
            "decode_threads": self.decode_threads >= 1,
            "graceful_timeout_s": self.graceful_timeout_s >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"serve option {name}={getattr(self, name)!r} is out of range; see `yolo3 serve --help`")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("serve option api_key is empty; give a non-empty key or none")
