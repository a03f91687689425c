"""Recognise a darknet cfg as one of yolo3's registered architectures.

A cfg matches `yolov3`, `yolov3-spp` or `yolov3-tiny` (at some width/depth multiplier
and class count) when its layers equal that architecture's darknet template
(`templates.arch_layers`) in everything that shapes the network and its weights.
Anchors, input size, classes and the [yolo] options are then read from the cfg; the
anchors per scale are exactly those its `mask`s select (stock yolov3-tiny.cfg's
stride-16 head uses mask=1,2,3, and so does the converted model).
"""

from __future__ import annotations

from collections.abc import Iterator

from yolo3.config import ModelConfig
from yolo3.darknet.cfg import Conv, DarknetCfg, DarknetCfgError, Yolo
from yolo3.darknet.network import trace, yolo_indices
from yolo3.darknet.templates import arch_layers, structure
from yolo3.models.darknet53 import STAGE_BLOCKS
from yolo3.models.layers import scale_channels, scale_depth

_BASE_WIDTH = {"yolov3": 32, "yolov3-spp": 32, "yolov3-tiny": 16}  # filters of the first conv at width 1


def _widths(arch: str, first: int) -> Iterator[float]:
    """Width multipliers that give the first conv `first` filters, round values first."""
    seen: set[tuple[int, ...]] = set()
    base = _BASE_WIDTH[arch]
    for w in [1.0, first / base] + [k / 64 for k in range(1, 257)]:
        if w <= 0 or scale_channels(base, w) != first:
            continue
        key = tuple(scale_channels(c, w) for c in (16, 32, 64, 128, 256, 512, 1024))
        if key not in seen:
            seen.add(key)
            yield w


def _depths(arch: str) -> Iterator[float]:
    """Depth multipliers giving distinct residual-block counts, 1.0 first."""
    if arch == "yolov3-tiny":
        yield 1.0
        return
    seen: set[tuple[int, ...]] = set()
    for d in [1.0] + [k / 24 for k in range(1, 73)]:
        key = tuple(scale_depth(b, d) for b in STAGE_BLOCKS)
        if key not in seen:
            seen.add(key)
            yield d


def match_cfg(cfg: DarknetCfg, class_names: list[str] | None = None) -> ModelConfig:
    """The ModelConfig of the registered architecture `cfg` describes.

    Raises DarknetCfgError when no registered architecture has this structure (the
    generic `DarknetNetwork` still runs such a cfg) or the input is not square.
    """
    shapes = trace(cfg)
    heads = [cfg.layers[i] for i in yolo_indices(cfg, shapes)]
    anchors = [y.head_anchors for y in heads]  # type: ignore[union-attr]
    classes = heads[0].classes  # type: ignore[union-attr]
    first = next((layer.filters for layer in cfg.layers if isinstance(layer, Conv)), 0)
    target = structure(cfg.layers)
    imgsz = cfg.net.width
    for arch in ("yolov3", "yolov3-spp", "yolov3-tiny"):
        if len(anchors) != (2 if arch == "yolov3-tiny" else 3):
            continue
        for width in _widths(arch, first):
            for depth in _depths(arch):
                candidate = ModelConfig(arch=arch, num_classes=classes, width=width, depth=depth, anchors=anchors)
                if structure(arch_layers(candidate)) == target:
                    if cfg.net.width != cfg.net.height or imgsz % 32:
                        raise DarknetCfgError(
                            f"{cfg.path}:{cfg.net.line}: [net] width={cfg.net.width} height={cfg.net.height}; a yolo3 "
                            "checkpoint needs a square input size divisible by 32: edit width/height"
                        )
                    return ModelConfig(arch=arch, num_classes=classes, class_names=class_names, width=width,
                                       depth=depth, anchors=anchors, imgsz=imgsz)
    n_yolo = sum(isinstance(layer, Yolo) for layer in cfg.layers)
    raise DarknetCfgError(
        f"{cfg.path}: its {len(cfg.layers)} layers ({n_yolo} [yolo]) match none of yolo3's registered "
        "architectures (yolov3, yolov3-spp, yolov3-tiny at any width/depth); run it with "
        "yolo3.darknet.DarknetNetwork instead, or start from a stock cfg"
    )
