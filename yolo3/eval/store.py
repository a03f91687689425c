"""Per-class thresholds into a checkpoint's metadata (SPEC §7.3, §8.5)."""

from __future__ import annotations

import math
from pathlib import Path

from yolo3.io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

THRESHOLDS_KEY = "class_thresholds"


def store_thresholds(weights_path: str | Path, thresholds: list[float]) -> None:
    """Rewrites the safetensors file atomically with metadata["class_thresholds"] (length C).

    `detect --thresholds auto` reads them back; everything else in the file is kept.
    """
    tensors, meta = load_checkpoint(weights_path)
    model = meta.get("model") or {}
    num_classes = model.get("num_classes")
    values = [float(t) for t in thresholds]
    if num_classes is not None and len(values) != num_classes:
        raise CheckpointError(f"{weights_path}: {len(values)} thresholds for a model of {num_classes} classes")
    if not all(math.isfinite(t) and 0.0 <= t <= 1.0 for t in values):
        raise ValueError(f"thresholds must be scores in [0, 1], got {values}")
    meta.pop("format_version", None)
    save_checkpoint(weights_path, tensors, {**meta, THRESHOLDS_KEY: values})
