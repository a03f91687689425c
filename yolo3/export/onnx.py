"""ONNX export with a dynamic batch (and dynamic height/width), metadata inside.

The yolo3 checkpoint metadata (architecture, class names, input size, per-class
thresholds) is stored as the model's `metadata_props["yolo3"]` JSON, so
`Detector.load("model.onnx")` needs no other file.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import torch

from yolo3.config import to_dict
from yolo3.inference.graph import DecodedModel
from yolo3.io.checkpoint import METADATA_KEY, atomic_write
from yolo3.models import YOLOv3Base

DEFAULT_OPSET = 17


def export_onnx(
    model: YOLOv3Base,
    path: str | Path,
    imgsz: int | None = None,
    metadata: dict[str, Any] | None = None,
    opset: int = DEFAULT_OPSET,
    dynamic: bool = True,
) -> Path:
    """Writes model + decode as ONNX: input `images` (B, 3, H, W), output `preds` (B, N, 5+C).

    The model is copied, BN-folded and exported in fp32 with the TorchScript-based
    exporter (no onnxscript needed). `dynamic` makes batch, height and width symbolic.
    """
    import onnx

    low, high = opset_range()
    if not low <= opset <= high:
        raise ValueError(f"--opset {opset}: torch's ONNX exporter writes yolo3's model at opsets {low} to {high} "
                         f"(default {DEFAULT_OPSET})")
    path = Path(path)
    imgsz = imgsz or model.cfg.imgsz
    graph = DecodedModel(copy.deepcopy(model).float().eval().fuse())
    example = torch.zeros(1, 3, imgsz, imgsz)
    axes = {"images": {0: "batch", 2: "height", 3: "width"}, "preds": {0: "batch", 1: "anchors"}} if dynamic else None
    meta = {"model": to_dict(model.cfg), **(metadata or {}), "export": {"format": "onnx", "imgsz": imgsz}}

    def write(tmp: str) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about shape-derived constants
            torch.onnx.export(
                graph, (example,), tmp, dynamo=False, opset_version=opset,
                input_names=["images"], output_names=["preds"], dynamic_axes=axes,
            )
        proto = onnx.load(tmp)
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(meta)
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)

    atomic_write(path, write)
    return path


def opset_range() -> tuple[int, int]:
    """The ONNX opsets this torch's TorchScript-based exporter can write yolo3's graph at (its
    upsample needs 9 or later)."""
    from torch.onnx import _constants

    return getattr(_constants, "ONNX_BASE_OPSET", 9), getattr(_constants, "ONNX_MAX_OPSET", DEFAULT_OPSET)
