"""Detector.load's backend choice and device check, and the ONNX model behind the server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from _serve_utils import encode, scene, serve_model
from yolo3.export import export_checkpoint
from yolo3.inference.detector import Detector
from yolo3.inference.device import resolve_device
from yolo3.inference.postprocess import NMSConfig
from yolo3.serve import create_app

NMS = NMSConfig(conf_threshold=0.25)


def test_backend_choice_and_errors(tmp_path: Path) -> None:
    weights = serve_model(tmp_path)
    onnx_path = export_checkpoint(weights, "onnx")
    for path, backend, name in [(weights, "auto", "torch"), (weights, "torch", "torch"),
                                (onnx_path, "auto", "onnxruntime"), (onnx_path, "onnxruntime", "onnxruntime")]:
        det = Detector.load(path, backend=backend, threads=1)
        assert det.backend_name == name and det.precision == "fp32"
    assert Detector.load(weights, precision="bf16", threads=1).precision == "bf16"
    for path, backend, words in [(weights, "onnxruntime", "export it with `yolo3 export`"),
                                 (onnx_path, "torch", "use --backend onnxruntime"),
                                 (weights, "tensorrt", "use one of auto, torch, onnxruntime, openvino"),
                                 (weights, "openvino", "openvino")]:
        with pytest.raises(ValueError, match=words.replace("(", r"\(")):
            Detector.load(path, backend=backend)


def test_onnx_model_served_equals_its_detector(tmp_path: Path) -> None:
    onnx_det = Detector.load(export_checkpoint(serve_model(tmp_path), "onnx"), nms=NMS, threads=1)
    image = scene(90, 130, seed=7)
    ref = onnx_det(image)[0]
    assert len(ref) > 0
    with TestClient(create_app(onnx_det)) as client:
        body = client.post("/v1/detect", content=encode(image)).json()
        assert client.get("/v1/model").json()["backend"] == "onnxruntime"
    assert body["model"]["backend"] == "onnxruntime"
    assert [d["class_id"] for d in body["detections"]] == ref.class_ids.tolist()
    np.testing.assert_allclose([d["box"] for d in body["detections"]], ref.boxes, atol=1e-3)


def test_resolve_device(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("cpu") == torch.device("cpu") and resolve_device(None) == torch.device("cpu")
    with pytest.raises(ValueError, match="not a device name"):
        resolve_device("gpu!")
    with pytest.raises(ValueError, match="only cpu and cuda"):
        resolve_device("meta")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("0") == torch.device("cuda:0") and resolve_device(1) == torch.device("cuda:1")
    assert resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(ValueError, match="has 2 CUDA device"):
        resolve_device("2")
