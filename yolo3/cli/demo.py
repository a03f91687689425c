"""`yolo3 demo`: the main job of `make demo`."""

from __future__ import annotations

import argparse
import time

import numpy as np

from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.predict import predict_arrays
from yolo3.models import create_model
from yolo3.models.summary import count_parameters


def demo(imgsz: int = 416, seed: int = 0) -> None:
    """Builds yolov3-tiny and runs it on a generated image (untrained: shows the path)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, size=(480, 640, 3), dtype=np.uint8)
    model = create_model("yolov3-tiny", num_classes=3, imgsz=imgsz).eval()
    start = time.perf_counter()
    (dets,) = predict_arrays(model, [image], nms=NMSConfig(conf_threshold=0.001))
    ms = (time.perf_counter() - start) * 1e3
    print(f"yolov3-tiny ({count_parameters(model):,} parameters), untrained, on a 640x480 generated image:")
    print(f"{len(dets)} detections above 0.001 in {ms:.0f} ms; first: {dets.to_json('demo')[:1]}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the end-to-end demo (make demo)")
    p.add_argument("--imgsz", type=int, default=416)
    p.set_defaults(run=lambda a: demo(a.imgsz) or 0)
