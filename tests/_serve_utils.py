"""Helpers for the serve tests: a small model with spread-out scores, encoded test images."""

from __future__ import annotations

import socket
from pathlib import Path

import cv2
import numpy as np
import torch

from _infer_utils import small_model
from yolo3.io.checkpoint import save_model


def serve_model(tmp_path: Path, imgsz: int = 96, **metadata) -> Path:
    """A yolov3-tiny (width 0.25, classes cat/dog/car, calibrated BN) whose objectness and
    class logits vary strongly between cells, so a threshold keeps a handful of boxes."""
    torch.manual_seed(0)
    model = small_model(imgsz=imgsz)
    with torch.no_grad():
        for head in model.heads:
            weight = head.conv.weight.view(head.num_anchors, head.num_outputs, -1)
            weight[:, 4:].normal_(0.0, 0.15)  # objectness + classes; box channels keep std 0.01
            head.init_biases(0.2, 0.4)
    path = tmp_path / "serve-model.safetensors"
    save_model(path, model, **metadata)
    return path


def scene(h: int, w: int, seed: int) -> np.ndarray:
    """An RGB uint8 image of coloured rectangles on noise (distinct per seed)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(60, 190, (h, w, 3), dtype=np.uint8)
    for _ in range(6):
        x1, y1 = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
        x2, y2 = int(rng.integers(x1 + 4, w)), int(rng.integers(y1 + 4, h))
        image[y1:y2, x1:x2] = rng.integers(0, 256, 3, dtype=np.uint8)
    return image


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    """RGB array → encoded bytes (lossless PNG by default, so the server decodes the same pixels)."""
    ok, data = cv2.imencode(ext, np.ascontiguousarray(image[:, :, ::-1]))
    assert ok
    return data.tobytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
