"""ASGI middleware of the server: API key, body cap, per-status request counting.

Plain ASGI (no buffering of bodies): each wraps the app and looks only at what it needs.
Every refusal is a JSON object `{"error": "<one line>", "status": N}`.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable

from yolo3.serve.metrics import Metrics

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROTECTED_PREFIXES = ("/v1/", "/metrics")
"""Paths that need the API key when one is set; the page, docs and probes stay open."""


class BodyTooLargeError(Exception):
    """The request body streamed past the cap (raised from `receive`, answered with 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds the cap of {limit} bytes; send a smaller image "
                         "(or start the server with a larger --max-body-mb)")
        self.limit = limit


async def send_json_error(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """Sends a complete JSON error response straight through ASGI."""
    body = json.dumps({"error": message, "status": status}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class ApiKeyMiddleware:
    """401 for protected paths without `Authorization: Bearer <key>` (constant-time compare)."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self._key = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._key is not None and scope["type"] == "http" and scope["path"].startswith(PROTECTED_PREFIXES):
            auth = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, token = auth.partition(b" ")
            if not (scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._key)):
                await send_json_error(send, 401, "missing or wrong API key; send the header 'Authorization: Bearer <key>'",
                                      {"WWW-Authenticate": "Bearer"})
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 when Content-Length exceeds the cap; a streamed body past it raises BodyTooLargeError."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await send_json_error(send, 413, str(BodyTooLargeError(self.max_bytes)))
            return
        seen = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


class RequestMetricsMiddleware:
    """Counts every response by route template (as matched by the router, e.g.
    /static/{name}; unmatched paths: 'other') and status code."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def recording_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "other"  # the router records its match in scope
            self.metrics.requests.labels(route=route, status=str(status)).inc()
