"""Serving a model over HTTP (`yolo3 serve`, SPEC §8.7).

    from yolo3.serve import serve
    serve("best.safetensors", port=8000)             # blocks; Ctrl+C drains and returns 0

    from yolo3.serve import ServeConfig, create_app  # the ASGI app, e.g. for tests
    app = create_app(Detector.load("best.safetensors"), ServeConfig(max_batch=8))

Modules: config (ServeConfig), app (create_app, errors, lifespan), routes (endpoints),
controls (per-request fields → NMSConfig/ROI), batcher (micro-batching), middleware
(API key, body cap, request counting), metrics (Prometheus), page (static page files),
run (uvicorn, signals). Layering: cli → serve → inference; nothing below imports this.
"""

from yolo3.serve.app import create_app
from yolo3.serve.config import ServeConfig
from yolo3.serve.run import serve

__all__ = ["ServeConfig", "create_app", "serve"]
