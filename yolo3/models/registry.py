"""Model variants registered by name: `create_model("yolov3-tiny", num_classes=3)`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from yolo3.config import COCO_ANCHORS, TINY_ANCHORS, ModelConfig
from yolo3.models.yolov3 import YOLOv3, YOLOv3Base, YOLOv3Tiny


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How to build one registered architecture, and its default anchors."""

    build: Callable[[ModelConfig, list[list[list[float]]]], YOLOv3Base]
    default_anchors: list[list[list[float]]]
    description: str


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, spec: ModelSpec) -> None:
    """Adds an architecture under `name` (users may register their own)."""
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    _REGISTRY[name] = spec


def list_models() -> list[str]:
    """Names of all registered architectures."""
    return sorted(_REGISTRY)


def model_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(list_models())}") from None


def build_model(cfg: ModelConfig) -> YOLOv3Base:
    """Builds the model a config describes (anchors default to the arch's COCO ones).

    Anchor-free models (xy_mode 'ltrb') default to one 8·stride square per scale.
    """
    return model_spec(cfg.arch).build(cfg, model_anchors(cfg))


def model_anchors(cfg: ModelConfig) -> list[list[list[float]]]:
    """The anchors (per scale, (w, h) in input pixels) `build_model(cfg)` gives its model,
    without building it: cfg.anchors, else the arch's defaults (ltrb: 8·stride squares)."""
    spec = model_spec(cfg.arch)
    if cfg.anchors is not None:
        return cfg.anchors
    if cfg.xy_mode != "ltrb":
        return spec.default_anchors
    with torch.device("meta"):  # only the class's strides are needed, no weights
        strides = spec.build(cfg, [[[1.0, 1.0]] for _ in spec.default_anchors]).strides
    return [[[8.0 * s, 8.0 * s]] for s in strides]


def create_model(name: str, **overrides: Any) -> YOLOv3Base:
    """Builds registered model `name`; keyword arguments override ModelConfig fields."""
    return build_model(ModelConfig(arch=name, **overrides))


register_model("yolov3", ModelSpec(lambda c, a: YOLOv3(c, a), COCO_ANCHORS, "Darknet-53 + FPN, 3 scales (paper)"))
register_model("yolov3-spp", ModelSpec(lambda c, a: YOLOv3(c, a, spp=True), COCO_ANCHORS, "yolov3 with an SPP block"))
register_model("yolov3-tiny", ModelSpec(YOLOv3Tiny, TINY_ANCHORS, "7-conv backbone, 2 scales"))
