"""Helpers for the inference/export tests: small models with confident heads, fake backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from yolo3.io.checkpoint import save_model
from yolo3.models import YOLOv3Base, create_model
from yolo3.train.ema import recompute_bn


def small_model(arch: str = "yolov3-tiny", imgsz: int = 96, class_names: tuple[str, ...] = ("cat", "dog", "car"),
                **kwargs) -> YOLOv3Base:
    """A random small model whose heads start at p = 0.5 so it yields many detections."""
    width = 0.25 if arch == "yolov3-tiny" else 0.125
    model = create_model(arch, num_classes=len(class_names), width=width, imgsz=imgsz, class_names=list(class_names),
                         **kwargs)
    # Real BN statistics from two random batches: without them a deep random net's
    # activations grow layer by layer until exp(tw) overflows.
    recompute_bn(model.train(), (torch.rand(2, 3, imgsz, imgsz) for _ in range(2)))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for m in norms:  # then non-trivial offsets so that folding matters
            m.momentum = 0.03
            m.running_mean.add_(torch.empty_like(m.running_mean).uniform_(-0.1, 0.1))
            m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.2))
    for head in model.heads:
        head.init_biases(0.5, 0.5)
    return model.eval()


def saved_model(tmp_path: Path, arch: str = "yolov3-tiny", **metadata) -> Path:
    """Saves `small_model(arch)` built from torch seed 0 (so `small_model` after seeding 0 equals it)."""
    torch.manual_seed(0)
    path = tmp_path / f"{arch}.safetensors"
    save_model(path, small_model(arch), **metadata)
    return path


class FixedBackend:
    """Returns the same decoded predictions (N, 5+C) for every image of a batch."""

    name = "fixed"

    def __init__(self, preds: torch.Tensor) -> None:
        self.preds = preds

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.preds[None].expand(images.shape[0], -1, -1).clone()


def random_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
