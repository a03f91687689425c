"""Crop-classifier checkpoints: safetensors tensors + JSON metadata (config, class names, training info)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yolo3.io.checkpoint import CLASSIFIER_KIND, CheckpointError, load_checkpoint, save_checkpoint
from yolo3.models.classifier import ClassifierConfig, CropClassifier

KIND = CLASSIFIER_KIND


def save_classifier(path: str | Path, model: CropClassifier, **metadata: Any) -> None:
    """Writes the classifier's weights and {kind, classifier config, extra metadata} atomically."""
    import dataclasses

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_checkpoint(path, tensors, {"kind": KIND, "classifier": dataclasses.asdict(model.cfg), **metadata})


def load_classifier(path: str | Path) -> tuple[CropClassifier, dict[str, Any]]:
    """Reads a crop classifier (eval mode) and its metadata; CheckpointError names the file when it is not one."""
    tensors, meta = load_checkpoint(path)
    if meta.get("kind") != KIND or "classifier" not in meta:
        raise CheckpointError(f"{path}: not a crop classifier (train one with `yolo3 train-classifier`); "
                              "detector checkpoints go to --weights")
    try:
        model = CropClassifier(ClassifierConfig(**meta["classifier"]))
        model.load_state_dict(tensors)
    except (TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: classifier config or weights do not fit: {err}") from err
    return model.eval(), meta
