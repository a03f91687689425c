"""The HTTP endpoints: probes, detection, model info, metrics, and the page.

GET /healthz, GET /readyz, POST /v1/detect, GET /v1/model, GET /metrics, GET / (page).
Handlers read the loaded detector, batcher, config and metrics from `request.app.state`
(see `yolo3.serve.app.create_app`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from yolo3.data.image_io import ImageReadError, ImageTooLargeError, decode_image
from yolo3.inference.results import Detections
from yolo3.io.checkpoint import model_config_from_metadata
from yolo3.models.registry import model_anchors
from yolo3.serve.controls import FIELDS, parse_controls
from yolo3.serve.page import asset

router = APIRouter()

_FIELD_DOCS = {
    "conf": ("number", "score threshold (obj × cls), 0–1; default: the server's"),
    "iou": ("number", "NMS IoU threshold, 0–1"),
    "max_det": ("integer", "detections kept at most"),
    "classes": ("string", "only these classes: names or ids, comma-separated or a JSON list"),
    "thresholds": ("string", "'auto' = the model's stored per-class thresholds, or one number per class"),
    "roi": ("string", "region of interest, JSON polygon [[x, y], ...] (or a list of them) in original pixels"),
}
_DETECT_OPENAPI = {
    "parameters": [{"name": k, "in": "query", "required": False, "schema": {"type": t}, "description": d}
                   for k, (t, d) in _FIELD_DOCS.items()],
    "requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {
            "image": {"type": "string", "format": "binary"},
            **{k: {"type": t, "description": d} for k, (t, d) in _FIELD_DOCS.items()}}}},
        "image/*": {"schema": {"type": "string", "format": "binary"}},
    }},
}


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: model loaded and warmed up")
async def readyz(request: Request) -> JSONResponse:
    if not request.app.state.ready:
        return JSONResponse({"error": "model is not ready yet (warming up or shutting down)", "status": 503},
                            status_code=503, headers={"Retry-After": "1"})
    return JSONResponse({"status": "ready"})


_DETECT_EXAMPLE = {
    "image": {"width": 640, "height": 480},
    "detections": [{"box": [12.5, 40.0, 180.25, 300.0], "score": 0.91, "class_id": 0, "class_name": "cat"}],
    "model": {"name": "best.safetensors", "backend": "torch", "precision": "fp32"},
    "timing_ms": {"decode": 2.1, "queue": 3.0, "forward": 35.2, "postprocess": 0.8, "total": 42.5},
    "batch_size": 4,
}
_ERRORS = {code: {"description": text, "content": {"application/json": {"example": {"error": "…", "status": code}}}}
           for code, text in [(400, "not an image / no image"), (401, "API key missing or wrong"),
                              (413, "body or pixel count over the cap"), (422, "a bad field (conf, classes, roi, …)"),
                              (503, "queue full (see Retry-After) or not ready"), (504, "no answer within the timeout")]}


@router.post("/v1/detect", summary="Detect objects in one image", openapi_extra=_DETECT_OPENAPI,
             responses={200: {"description": "detections in original pixels",
                              "content": {"application/json": {"example": _DETECT_EXAMPLE}}}, **_ERRORS})
async def detect(request: Request) -> JSONResponse:
    """One image (multipart field `image`, or the raw image bytes as the body) → detections
    in original pixels. Controls come as form fields or query parameters."""
    start = time.perf_counter()
    state = request.app.state
    if not state.ready:
        raise HTTPException(503, "model is not ready yet; retry in a moment", {"Retry-After": "1"})
    fields = dict(request.query_params)
    data = await _read_image_bytes(request, fields)
    try:
        controls = parse_controls(fields, state.detector)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    decode_start = time.perf_counter()
    try:
        image = await asyncio.get_running_loop().run_in_executor(
            state.decode_pool, decode_image, data, "uploaded image", state.config.max_pixels)
    except ImageTooLargeError as err:
        raise HTTPException(413, str(err)) from None
    except ImageReadError as err:
        raise HTTPException(400, f"{err}; send a JPEG, PNG, BMP, TIFF or WebP image") from None
    decode_ms = (time.perf_counter() - decode_start) * 1e3
    try:
        dets, timing = await state.batcher.submit(image, controls.cfg, controls.roi, state.config.timeout_s)
    except TimeoutError:
        raise HTTPException(504, f"no answer within {state.config.timeout_s:g} s (server overloaded); retry later",
                            {"Retry-After": "1"}) from None
    total = time.perf_counter() - start
    state.metrics.latency.observe(total)
    batch_size = timing.pop("batch_size")
    return JSONResponse({  # plain JSON types already: no response-model validation pass
        "image": {"width": int(image.shape[1]), "height": int(image.shape[0])},
        "detections": detections_json(dets),
        "model": _model_brief(state.detector),
        "timing_ms": {"decode": round(decode_ms, 3), **{k: round(v, 3) for k, v in timing.items()},
                      "total": round(total * 1e3, 3)},
        "batch_size": batch_size,
    })


async def _read_image_bytes(request: Request, fields: dict[str, str]) -> bytes:
    """The image bytes of a multipart (field `image`) or raw body; other form fields join `fields`."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=len(FIELDS) + 1)
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            raise HTTPException(400, "multipart body has no file field 'image'; send the image as -F image=@file.jpg")
        fields.update({k: v for k, v in form.items() if k != "image" and isinstance(v, str)})
        data = await upload.read()
        await form.close()  # spooled temporary files go now, not at garbage collection
    else:
        data = await request.body()
    if not data:
        raise HTTPException(400, "empty body; send an image (multipart field 'image' or the raw bytes)")
    return data


def detections_json(dets: Detections) -> list[dict[str, Any]]:
    """Detections → [{box: [x1, y1, x2, y2] original pixels, score, class_id, class_name}]."""
    return [{"box": [float(v) for v in box], "score": float(score), "class_id": int(cls),
             "class_name": dets.class_names[int(cls)]}
            for box, score, cls in zip(dets.boxes.tolist(), dets.scores.tolist(), dets.class_ids.tolist())]


def _model_brief(detector: Any) -> dict[str, str]:
    return {"name": Path(detector.source).name, "backend": detector.backend_name, "precision": detector.precision}


@router.get("/v1/model", summary="The loaded model: classes, input size, anchors, thresholds, backend")
async def model_info(request: Request) -> dict[str, Any]:
    detector, config = request.app.state.detector, request.app.state.config
    meta = dict(detector.metadata)
    model = meta.pop("model", {}) or {}
    anchors = model.get("anchors")
    engine_model = getattr(detector.backend, "model", None)
    if anchors is None and engine_model is not None:  # the architecture's defaults
        anchors = engine_model.anchors.tolist()
    elif anchors is None and model.get("arch"):  # an export of them: from its model config
        anchors = model_anchors(model_config_from_metadata(detector.metadata, detector.source))
    thresholds = meta.pop("class_thresholds", None)
    meta.pop("format_version", None)
    return {
        **_model_brief(detector),
        "arch": model.get("arch"),
        "classes": detector.class_names,
        "imgsz": detector.imgsz,
        "anchors": anchors,
        "class_thresholds": thresholds,
        "defaults": {"conf": detector.nms.conf_threshold, "iou": detector.nms.iou_threshold,
                     "max_det": detector.nms.max_det, "nms": detector.nms.method},
        "limits": {"max_batch": config.max_batch, "max_wait_ms": config.max_wait_ms,
                   "max_body_bytes": config.max_body_bytes, "max_pixels": config.max_pixels},
        "training": meta,
    }


@router.get("/metrics", summary="Prometheus metrics (text format)")
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)


@router.get("/", include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(asset("index.html")[0])


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    try:
        body, media_type = asset(name)
    except FileNotFoundError:
        raise HTTPException(404, f"no static file {name!r}") from None
    return Response(body, media_type=media_type)
