"""Fine-tuning a converted (or any yolo3) checkpoint on a new class count.

Every tensor whose shape still fits is copied; only the detection heads, whose output
channels A·(5+C) depend on the class count, start afresh (`YOLOHead` initialisation:
small normal weights, biases at the logit of the objectness/class priors).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from yolo3.io.checkpoint import CheckpointError, load_checkpoint, model_config_from_metadata
from yolo3.models import YOLOv3Base, build_model


def load_for_finetuning(path: str | Path, num_classes: int, class_names: list[str] | None = None,
                        ) -> tuple[YOLOv3Base, dict[str, Any], list[str]]:
    """Loads checkpoint `path` into the same architecture with `num_classes` classes.

    Returns (model in train mode, the checkpoint's metadata, names of the tensors that
    were re-initialised). Raises CheckpointError if any tensor outside the heads does
    not fit, since that means a different architecture, not a new class count.
    """
    tensors, meta = load_checkpoint(path)
    old = model_config_from_metadata(meta, path)
    if any(k.startswith("model.") for k in tensors):  # training checkpoints namespace their tensors
        tensors = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    cfg = dataclasses.replace(old, num_classes=num_classes, class_names=class_names)
    model = build_model(cfg)
    state = model.state_dict()
    fresh: list[str] = []
    for name, target in state.items():
        source = tensors.get(name)
        if source is not None and source.shape == target.shape:
            target.copy_(source)
        elif name.startswith("heads."):
            fresh.append(name)
        else:
            found = "missing" if source is None else f"shape {tuple(source.shape)}"
            raise CheckpointError(f"{path}: tensor {name} is {found}, the {cfg.arch} model needs "
                                  f"{tuple(target.shape)}; only the heads may change with the class count")
    unused = sorted(set(tensors) - set(state))
    if unused:
        raise CheckpointError(f"{path}: tensors {unused[:5]} belong to no layer of {cfg.arch}; wrong architecture?")
    return model.train(), meta, fresh
