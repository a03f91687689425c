"""`serve(...)`: load a model and run the HTTP server until SIGTERM/SIGINT (the CLI's body).

The socket is bound before uvicorn starts (so `port=0` picks a free port and the printed
URLs are the real ones). On SIGTERM or SIGINT uvicorn stops accepting connections, lets
the requests in flight finish (up to `graceful_timeout_s`), then the app's lifespan drains
the micro-batcher; `serve` then returns 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path
from typing import Any, Callable

import uvicorn

from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.serve.app import create_app
from yolo3.serve.config import ServeConfig

API_KEY_ENV = "YOLO3_API_KEY"


def serve(
    weights: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    backend: str = "auto",
    device: str = "cpu",
    precision: str | None = None,
    max_batch: int = 8,
    max_wait_ms: float = 5.0,
    queue_size: int = 64,
    timeout_s: float = 30.0,
    max_body_mb: float = 20.0,
    api_key: str | None = None,
    threads: int | None = None,
    imgsz: int | None = None,
    nms: NMSConfig | None = None,
    trust_pickle: bool = False,
    access_log: bool = False,
    classifier: str | Path | None = None,
    preprocess: str = "yolo3",
    announce: Callable[[str], Any] = print,
) -> int:
    """Serves `weights` over HTTP until stopped; returns 0 after a graceful shutdown.

    api_key: None reads the environment variable YOLO3_API_KEY (unset = no key).
    classifier: a crop classifier re-labelling each detection (`Detector.load`).
    preprocess: 'yolo3' letterbox or 'darknet' (darknet's resize and padding, for converted
        official weights), as `yolo3 detect --preprocess`.
    Everything else as in `ServeConfig` and `Detector.load`.
    """
    config = ServeConfig(host=host, port=port, max_batch=max_batch, max_wait_ms=max_wait_ms, queue_size=queue_size,
                         timeout_s=timeout_s, max_body_bytes=int(max_body_mb * 1024 * 1024),
                         api_key=api_key if api_key is not None else (os.environ.get(API_KEY_ENV) or None))
    detector = Detector.load(weights, device=device, precision=precision, trust_pickle=trust_pickle, threads=threads,
                             imgsz=imgsz, nms=nms, batch_size=max_batch, backend=backend, classifier=classifier,
                             preprocess=preprocess)
    return run_app(create_app(detector, config), config, announce, access_log,
                   f"{Path(weights).name} ({detector.backend_name}, {detector.precision}, "
                   f"{len(detector.class_names)} classes)")


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port (port 0 = any free one); OSError names the fix."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({err.strerror or err}); choose another --port or --host") from None
    sock.set_inheritable(True)
    return sock


def run_app(app: Any, config: ServeConfig, announce: Callable[[str], Any] = print, access_log: bool = False,
            label: str = "model") -> int:
    """Runs an ASGI app with uvicorn on config.host:config.port; 0 after a graceful stop,
    1 if the app failed to start."""
    sock = bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="info", access_log=access_log, lifespan="on",
                                           timeout_graceful_shutdown=config.graceful_timeout_s))

    async def main() -> bool:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            announce(f"yolo3 serve: {label} ready\n  page: {base}/\n  docs: {base}/docs")
        await task
        return server.started

    # uvicorn re-raises a captured SIGTERM/SIGINT after its graceful shutdown; these
    # handlers receive it instead of the default one, so a drained server exits 0.
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, _f: received.append(s)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        started = asyncio.run(main())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if received:
        announce(f"yolo3 serve: stopped by {signal.Signals(received[0]).name} after draining in-flight requests")
    return 0 if started else 1
