"""Export a saved checkpoint (the Python API of `yolo3 export`)."""

from __future__ import annotations

from pathlib import Path

from yolo3.export.onnx import export_onnx
from yolo3.export.torchscript import export_torchscript
from yolo3.io.checkpoint import load_model

SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript"}


def export_checkpoint(
    weights: str | Path,
    fmt: str = "onnx",
    out: str | Path | None = None,
    imgsz: int | None = None,
    opset: int = 17,
    trust_pickle: bool = False,
) -> Path:
    """Loads a checkpoint and exports it to `fmt`; its metadata (classes, thresholds…) travels along."""
    if fmt not in SUFFIX:
        raise ValueError(f"unknown export format {fmt!r}; use one of {sorted(SUFFIX)}")
    model, meta = load_model(weights, trust_pickle=trust_pickle)
    target = Path(out) if out else Path(weights).with_suffix(SUFFIX[fmt])
    if fmt == "onnx":
        return export_onnx(model, target, imgsz, meta, opset)
    return export_torchscript(model, target, imgsz, meta)
