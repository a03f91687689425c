"""Detector.load's backend choice and device check, and the ONNX model behind the server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from _serve_utils import encode, scene, serve_model
from yolo3.export import export_checkpoint
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.serve import create_app

NMS = NMSConfig(conf_threshold=0.25)


def test_backend_choice_and_errors(tmp_path: Path) -> None:
    import importlib.util

    weights = serve_model(tmp_path)
    onnx_path = export_checkpoint(weights, "onnx")
    fastest = "openvino" if importlib.util.find_spec("openvino") else None  # auto's pick on this machine
    for path, backend, name in [(weights, "auto", fastest or "torch"), (weights, "torch", "torch"),
                                (onnx_path, "auto", fastest or "onnxruntime"), (onnx_path, "onnxruntime", "onnxruntime")]:
        det = Detector.load(path, backend=backend, threads=1)
        assert det.backend_name == name and det.precision == "fp32"
    assert Detector.load(weights, precision="bf16", threads=1, backend="torch").precision == "bf16"
    for path, backend, words in [(weights, "onnxruntime", "cannot run a checkpoint; use torch or openvino"),
                                 (onnx_path, "torch", "cannot run an ONNX file; use onnxruntime or openvino"),
                                 (weights, "tensorrt", "use one of auto, torch, onnxruntime, openvino")]:
        with pytest.raises(ValueError, match=words.replace("(", r"\(")) as err:
            Detector.load(path, backend=backend)
        assert str(path) in str(err.value)  # the message names the file


def test_onnx_model_served_equals_its_detector(tmp_path: Path) -> None:
    onnx_det = Detector.load(export_checkpoint(serve_model(tmp_path), "onnx"), nms=NMS, threads=1,
                             backend="onnxruntime")
    image = scene(90, 130, seed=7)
    ref = onnx_det(image)[0]
    assert len(ref) > 0
    with TestClient(create_app(onnx_det)) as client:
        body = client.post("/v1/detect", content=encode(image)).json()
        assert client.get("/v1/model").json()["backend"] == "onnxruntime"
    assert body["model"]["backend"] == "onnxruntime"
    assert [d["class_id"] for d in body["detections"]] == ref.class_ids.tolist()
    np.testing.assert_allclose([d["box"] for d in body["detections"]], ref.boxes, atol=1e-3)
