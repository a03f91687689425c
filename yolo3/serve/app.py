"""`create_app(detector, config)`: the ASGI application of `yolo3 serve`.

FastAPI (OpenAPI docs at /docs) with the routes of `yolo3.serve.routes`, the middleware
of `yolo3.serve.middleware` and JSON errors everywhere: every error response is
`{"error": "<one line>", "status": N}`, never a traceback or an HTML page.

Lifespan: on startup the micro-batcher starts and one forward pass warms the model
(then /readyz answers 200); on shutdown (after uvicorn has let in-flight requests
finish) the batcher drains its queue and stops.
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from yolo3.inference.detector import Detector
from yolo3.serve.batcher import MicroBatcher, QueueFullError
from yolo3.serve.config import ServeConfig
from yolo3.serve.metrics import Metrics
from yolo3.serve.middleware import ApiKeyMiddleware, BodyLimitMiddleware, BodyTooLargeError, RequestMetricsMiddleware
from yolo3.serve.routes import router

log = logging.getLogger("yolo3.serve")


def create_app(detector: Detector, config: ServeConfig | None = None) -> FastAPI:
    """The server's ASGI app around one loaded `Detector` (run it with uvicorn, or test it
    with `fastapi.testclient.TestClient` / httpx)."""
    config = config or ServeConfig()
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher = MicroBatcher(detector, config.max_batch, config.max_wait_ms / 1e3, config.queue_size, metrics)
        await batcher.start()
        app.state.batcher = batcher
        app.state.decode_pool = ThreadPoolExecutor(config.decode_threads, thread_name_prefix="yolo3-decode")
        if config.warmup:
            await batcher.warmup([np.full((detector.imgsz, detector.imgsz, 3), 114, np.uint8)])
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            await batcher.stop()
            app.state.decode_pool.shutdown(wait=True)

    app = FastAPI(title="yolo3 serve", version="1", lifespan=lifespan,
                  description="Object detection with a yolo3 model. Errors are JSON `{error, status}`.")
    app.state.detector = detector
    app.state.config = config
    app.state.metrics = metrics
    app.state.ready = False
    app.include_router(router)
    _add_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    app.add_middleware(ApiKeyMiddleware, api_key=config.api_key)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)  # outermost: counts refusals too
    return app


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail).splitlines()[0] if exc.detail else "error", exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(BodyTooLargeError)
    async def too_large(request: Request, exc: BodyTooLargeError) -> JSONResponse:
        return _error(413, str(exc))

    @app.exception_handler(QueueFullError)
    async def queue_full(request: Request, exc: QueueFullError) -> JSONResponse:
        return _error(503, str(exc), {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); the server log has the details")
