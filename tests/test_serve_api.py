"""The HTTP API of `yolo3 serve` through the ASGI test client: answers equal `Detector`'s,
per-request controls, every error as one-line JSON, API key, micro-batching, metrics."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from _serve_utils import encode, scene, serve_model
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.results import Detections
from yolo3.serve import ServeConfig, create_app

NMS = NMSConfig(conf_threshold=0.25, iou_threshold=0.45)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # per-class thresholds stored in the checkpoint, as `yolo3 val --save-thresholds` writes them
    return serve_model(tmp_path_factory.mktemp("serve"), class_thresholds=[0.3, 0.45, 0.35])


@pytest.fixture(scope="module")
def detector(model_path: Path) -> Detector:
    return Detector.load(model_path, nms=NMS, threads=1, backend="torch")


def assert_same(answer: dict, ref: Detections) -> None:
    """The JSON detections equal a Detector result: classes, names, scores, boxes within 1e-3 px."""
    dets = answer["detections"]
    assert [d["class_id"] for d in dets] == ref.class_ids.tolist()
    assert [d["class_name"] for d in dets] == ref.labels
    np.testing.assert_allclose([d["score"] for d in dets], ref.scores, atol=1e-5)  # batch of 8 vs 1: float sums differ
    np.testing.assert_allclose(np.array([d["box"] for d in dets]).reshape(-1, 4), ref.boxes, atol=1e-3)
    h, w = ref.image_size
    assert answer["image"] == {"width": w, "height": h}


def assert_json_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "status"} and body["status"] == status
    assert "\n" not in body["error"] and "Traceback" not in body["error"] and "<html" not in response.text.lower()
    for word in words:
        assert word in body["error"], body["error"]


def test_detect_equals_detector_multipart_and_raw(detector: Detector) -> None:
    image = scene(120, 90, seed=1)
    ref = detector(image)[0]
    assert len(ref) >= 3
    with TestClient(create_app(detector)) as client:
        multipart = client.post("/v1/detect", files={"image": ("a.png", encode(image), "image/png")})
        raw = client.post("/v1/detect", content=encode(image), headers={"content-type": "image/png"})
    for response in (multipart, raw):
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"image", "detections", "model", "timing_ms", "batch_size"}
        assert set(body["detections"][0]) == {"box", "score", "class_id", "class_name"}
        assert body["model"] == {"name": "serve-model.safetensors", "backend": "torch", "precision": "fp32"}
        assert body["timing_ms"]["total"] >= body["timing_ms"]["forward"] > 0
        assert_same(body, ref)


def test_controls_equal_detector_calls(detector: Detector) -> None:
    image = scene(100, 140, seed=2)
    polygon = [[10, 5], [90, 12], [80, 95], [5, 70]]
    cases = [  # (form fields, the same request as a Detector call)
        ({"classes": "cat,car"}, dict(classes=["cat", "car"])),
        ({"classes": "[1]"}, dict(classes=[1])),
        ({"roi": json.dumps(polygon)}, dict(roi=[polygon])),
        ({"thresholds": "auto"}, dict(thresholds=[0.3, 0.45, 0.35])),
        ({"conf": "0.4", "iou": "0.3", "max_det": "2"},
         dict(nms=NMSConfig(conf_threshold=0.4, iou_threshold=0.3, max_det=2))),
    ]
    with TestClient(create_app(detector)) as client:
        for fields, call in cases:
            ref = detector(image, **call)[0]
            response = client.post("/v1/detect", files={"image": ("x.png", encode(image))}, data=fields)
            assert response.status_code == 200, response.text
            assert_same(response.json(), ref)
            as_query = client.post("/v1/detect", content=encode(image), params=fields)
            assert_same(as_query.json(), ref)
        # independent checks of what the controls mean
        everything = client.post("/v1/detect", content=encode(image)).json()["detections"]
        subset = client.post("/v1/detect", content=encode(image), params={"classes": "dog"}).json()["detections"]
        assert {d["class_name"] for d in everything} > {"dog"} and {d["class_name"] for d in subset} == {"dog"}
        rect = [[0, 0], [70, 0], [70, 50], [0, 50]]
        inside = client.post("/v1/detect", content=encode(image), params={"roi": json.dumps(rect)}).json()["detections"]
        assert 0 < len(inside) < len(everything)
        unclipped = [d["box"] for d in inside if 0 < d["box"][0] and 0 < d["box"][1] and d["box"][2] < 140
                     and d["box"][3] < 100]  # boxes come back clipped to the image; the ROI tests raw centres
        assert all(0 < (x1 + x2) / 2 < 70 and 0 < (y1 + y2) / 2 < 50 for x1, y1, x2, y2 in unclipped)
        huge = [[-1e4, -1e4], [1e4, -1e4], [1e4, 1e4], [-1e4, 1e4]]
        assert client.post("/v1/detect", content=encode(image), params={"roi": json.dumps(huge)}).json()["detections"] \
            == everything
        auto = client.post("/v1/detect", content=encode(image), params={"thresholds": "auto"}).json()["detections"]
        assert all(d["score"] > [0.3, 0.45, 0.35][d["class_id"]] for d in auto)


def test_errors_are_one_line_json(tmp_path: Path) -> None:
    image = scene(120, 90, seed=3)
    config = ServeConfig(max_body_bytes=80_000, max_pixels=120 * 120)
    no_thresholds = Detector.load(serve_model(tmp_path), nms=NMS, threads=1, backend="torch")
    with TestClient(create_app(no_thresholds, config)) as client:
        assert_json_error(client.post("/v1/detect", content=b"GIF89a? not really", headers={"content-type": "image/gif"}),
                          400, "not a decodable image")
        assert_json_error(client.post("/v1/detect", content=b""), 400, "empty body")
        assert_json_error(client.post("/v1/detect", data={"conf": "0.3"}, files={"other": ("a.png", encode(image))}),
                          400, "no file field 'image'")
        # content is sniffed: a PNG named .txt with a text type works, text named .jpg does not
        ok = client.post("/v1/detect", files={"image": ("notes.txt", encode(image), "text/plain")})
        assert ok.status_code == 200 and ok.json()["image"] == {"width": 90, "height": 120}
        assert_json_error(client.post("/v1/detect", files={"image": ("photo.jpg", b"hello world", "image/jpeg")}),
                          400, "not a decodable image")
        big = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)  # 120 kB as PNG
        assert_json_error(client.post("/v1/detect", content=encode(big)), 413, "exceeds the cap of 80000 bytes")

        def chunks():  # no Content-Length: the cap applies while the body streams
            data = encode(big)
            for i in range(0, len(data), 16_384):
                yield data[i : i + 16_384]

        assert_json_error(client.post("/v1/detect", content=chunks()), 413, "80000 bytes")
        assert_json_error(client.post("/v1/detect", content=encode(scene(150, 120, 0))), 413, "MP exceeds the cap")
        for params, words in [({"conf": "1.5"}, "conf=1.5 is out of range"), ({"max_det": "x"}, "not an integer"),
                              ({"classes": "zebra"}, "unknown class 'zebra'"), ({"classes": "7"}, "out of range"),
                              ({"roi": "[[1, 2]]"}, "roi"), ({"roi": "{nope"}, "not valid JSON"),
                              ({"thresholds": "0.5,0.5"}, "3 numbers"), ({"colour": "red"}, "unknown field")]:
            assert_json_error(client.post("/v1/detect", content=encode(image), params=params), 422, words)
        assert_json_error(client.post("/v1/detect", content=encode(image), params={"thresholds": "auto"}),
                          422, "stores no per-class thresholds")
        assert_json_error(client.get("/v1/nothing"), 404)
        assert_json_error(client.get("/v1/detect"), 405)


class _Backend:
    """Wraps a real backend: optionally slow, or failing, to test queueing and errors."""

    def __init__(self, inner, delay: float = 0.0, fail: bool = False) -> None:
        self.inner, self.delay, self.fail, self.name = inner, delay, fail, "torch"
        self.batches: list[int] = []

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(images))
        time.sleep(self.delay)
        if self.fail and len(self.batches) > 1:  # the warm-up passes, requests fail
            raise RuntimeError("engine exploded\nwith a second line")
        return self.inner(images)


def wrapped(detector: Detector, **kwargs) -> Detector:
    return Detector(_Backend(detector.backend, **kwargs), detector.class_names, detector.imgsz, detector.metadata, NMS)


async def _with_app(app, body):
    """Runs `body(client)` against the app with its lifespan (startup/shutdown) around it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await body(client)


def test_micro_batching_each_request_gets_its_own_answer(detector: Detector) -> None:
    det = wrapped(detector)
    app = create_app(det, ServeConfig(max_batch=8, max_wait_ms=3000))  # 8 concurrent requests → one batch
    images = [scene(80 + 8 * i, 120 - 5 * i, seed=10 + i) for i in range(8)]
    controls = [{}, {"classes": "dog"}, {"roi": "[[0,0],[60,0],[60,60],[0,60]]"}, {"conf": "0.4"}] * 2
    calls = [{}, dict(classes=["dog"]), dict(roi=[[[0, 0], [60, 0], [60, 60], [0, 60]]]),
             dict(nms=NMSConfig(conf_threshold=0.4))] * 2

    async def body(client):
        responses = await asyncio.gather(*(client.post("/v1/detect", content=encode(im), params=c)
                                           for im, c in zip(images, controls)))
        return responses, (await client.get("/metrics")).text

    responses, metrics = asyncio.run(_with_app(app, body))
    assert det.backend.batches == [1, 8]  # warm-up, then all eight requests in one forward pass
    # the reference: Detector on the same batch of eight (float sums, hence near-ties in
    # NMS, can round differently at another batch size), each image with its request's controls
    refs = [detector(images, **call)[i] for i, call in enumerate(calls)]
    assert len({len(r) for r in refs}) > 1
    for response, ref in zip(responses, refs):
        assert response.status_code == 200 and response.json()["batch_size"] == 8
        assert response.json()["timing_ms"]["queue"] < 2500  # a full batch goes at once, not after max_wait (3 s)
        assert_same(response.json(), ref)
    assert "yolo3_batch_size_count 1.0" in metrics and "yolo3_batch_size_sum 8.0" in metrics
    assert 'yolo3_http_requests_total{route="/v1/detect",status="200"} 8.0' in metrics
    assert "yolo3_queue_depth 0.0" in metrics and "yolo3_request_latency_seconds_count 8.0" in metrics


def test_full_queue_503_and_timeout_504(detector: Detector) -> None:
    image = encode(scene(64, 64, seed=4))
    app = create_app(wrapped(detector, delay=0.6), ServeConfig(max_batch=1, max_wait_ms=0, queue_size=1, timeout_s=5))

    async def body(client):
        first = asyncio.create_task(client.post("/v1/detect", content=image))
        await asyncio.sleep(0.3)  # the first is in its forward pass
        second = asyncio.create_task(client.post("/v1/detect", content=image))
        await asyncio.sleep(0.1)  # the second waits in the queue (size 1)
        third = await client.post("/v1/detect", content=image)
        return await first, await second, third

    first, second, third = asyncio.run(_with_app(app, body))
    assert first.status_code == second.status_code == 200
    assert_json_error(third, 503, "queue is full")
    assert int(third.headers["retry-after"]) >= 1

    slow = create_app(wrapped(detector, delay=0.5), ServeConfig(timeout_s=0.1))
    late = asyncio.run(_with_app(slow, lambda client: client.post("/v1/detect", content=image)))
    assert_json_error(late, 504, "no answer within 0.1 s")


def test_engine_failure_is_a_500_json_without_traceback(detector: Detector) -> None:
    with TestClient(create_app(wrapped(detector, fail=True)), raise_server_exceptions=False) as client:
        response = client.post("/v1/detect", content=encode(scene(64, 64, seed=5)))
        assert_json_error(response, 500, "internal error (RuntimeError)")
        assert "exploded" not in response.text
        assert client.get("/healthz").json() == {"status": "ok"}  # still serving


def test_api_key(detector: Detector) -> None:
    image = encode(scene(64, 64, seed=6))
    with TestClient(create_app(detector, ServeConfig(api_key="s3cret"))) as client:
        assert_json_error(client.post("/v1/detect", content=image), 401, "Authorization: Bearer")
        assert client.post("/v1/detect", content=image).headers["www-authenticate"] == "Bearer"
        assert_json_error(client.get("/v1/model", headers={"Authorization": "Bearer wrong"}), 401)
        assert_json_error(client.get("/metrics", headers={"Authorization": "Basic s3cret"}), 401)
        good = {"Authorization": "Bearer s3cret"}
        assert client.post("/v1/detect", content=image, headers=good).status_code == 200
        assert client.get("/metrics", headers=good).status_code == 200
        for open_path in ("/healthz", "/readyz", "/", "/docs", "/openapi.json"):
            assert client.get(open_path).status_code == 200, open_path
    assert "s3cret" not in repr(ServeConfig(api_key="s3cret"))


def test_model_info_probes_docs_page(detector: Detector) -> None:
    app = create_app(detector, ServeConfig(max_batch=4))
    assert_json_error(TestClient(app).get("/readyz"), 503, "not ready")  # no lifespan ran: not warmed up
    with TestClient(app) as client:
        assert client.get("/readyz").json() == {"status": "ready"}
        info = client.get("/v1/model").json()
        assert info["classes"] == ["cat", "dog", "car"] and info["imgsz"] == 96 and info["arch"] == "yolov3-tiny"
        assert info["class_thresholds"] == [0.3, 0.45, 0.35] and info["backend"] == "torch"
        assert np.array(info["anchors"]).shape == (2, 3, 2) and info["limits"]["max_batch"] == 4
        assert info["defaults"]["conf"] == 0.25
        schema = client.get("/openapi.json").json()
        assert {"/v1/detect", "/v1/model", "/healthz", "/readyz", "/metrics"} <= set(schema["paths"])
        assert "multipart/form-data" in schema["paths"]["/v1/detect"]["post"]["requestBody"]["content"]
        page = client.get("/")
        assert page.status_code == 200 and "/static/page.js" in page.text and "http" not in page.text.split("<body>")[1]
        script = client.get("/static/page.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert "http" not in script.text and "http" not in client.get("/static/page.css").text  # no CDN, no host
        assert_json_error(client.get("/static/..%2Fapp.py"), 404)


def test_model_info_lists_the_anchors_on_every_backend(model_path: Path, detector: Detector) -> None:
    # the default backend on CPU is OpenVINO: /v1/model said "anchors": null there
    pytest.importorskip("openvino")
    expected = detector.backend.model.anchors.tolist()
    exported = Detector.load(model_path, nms=NMS, threads=1, backend="openvino")
    with TestClient(create_app(exported, ServeConfig(warmup=False))) as client:
        info = client.get("/v1/model").json()
    assert info["backend"] == "openvino" and info["anchors"] == expected
