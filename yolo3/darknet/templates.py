"""yolo3's registered architectures written as darknet layers (the `.cfg` of a model).

`arch_layers(cfg)` gives the layer list darknet needs to run a `yolov3`, `yolov3-spp` or
`yolov3-tiny` of any width/depth/class count; its `[convolutional]` order equals
`model.conv_layers()`, so the `.weights` file lines up. `match.py` recognises a parsed
cfg by comparing it with these lists.
"""

from __future__ import annotations

import dataclasses

from yolo3.config import ModelConfig
from yolo3.darknet.cfg import Conv, Layer, MaxPool, Route, Shortcut, Upsample, Yolo
from yolo3.models.darknet53 import STAGE_BLOCKS, STAGE_CHANNELS
from yolo3.models.layers import scale_channels, scale_depth
from yolo3.models.registry import model_spec

# darknet's stock [yolo] training options; metadata from a converted cfg overrides them.
DEFAULT_YOLO = {"jitter": 0.3, "ignore_thresh": 0.7, "truth_thresh": 1.0, "random": 1}


def _conv(filters: int, size: int, stride: int = 1) -> Conv:
    return Conv(filters=filters, size=size, stride=stride, pad=1, batch_normalize=1, activation="leaky")


def _head(filters: int) -> Conv:
    return Conv(filters=filters, size=1, stride=1, pad=1, batch_normalize=0, activation="linear")


class _Builder:
    """Appends layers and remembers indices, so routes can point back by number."""

    def __init__(self, cfg: ModelConfig, anchors: list[list[list[float]]], yolo: dict[str, float]) -> None:
        self.layers: list[Layer] = []
        self.cfg = cfg
        flat = [tuple(a) for scale in anchors for a in scale]
        self.anchors = tuple((float(w), float(h)) for w, h in flat)
        self.first = [sum(len(s) for s in anchors[:k]) for k in range(len(anchors))]
        self.sizes = [len(s) for s in anchors]
        self.yolo = yolo

    def add(self, *layers: Layer) -> int:
        self.layers.extend(layers)
        return len(self.layers) - 1

    def head(self, scale: int) -> None:
        """Head conv + [yolo] for scale index `scale` (0 = smallest stride)."""
        a, c = self.sizes[scale], self.cfg.num_classes
        mask = tuple(range(self.first[scale], self.first[scale] + a))
        self.add(_head(a * (5 + c)), Yolo(mask=mask, anchors=self.anchors, classes=c, num=len(self.anchors),
                                          jitter=float(self.yolo["jitter"]), ignore_thresh=float(self.yolo["ignore_thresh"]),
                                          truth_thresh=float(self.yolo["truth_thresh"]), random=int(self.yolo["random"])))


def _yolov3(b: _Builder, spp: bool) -> None:
    w, d = b.cfg.width, b.cfg.depth
    ch = scale_channels(32, w)
    b.add(_conv(ch, 3))
    ends = []
    for blocks, channels in zip(STAGE_BLOCKS, STAGE_CHANNELS):
        ch = scale_channels(channels, w)
        b.add(_conv(ch, 3, 2))
        for _ in range(scale_depth(blocks, d)):
            b.add(_conv(ch // 2, 1), _conv(ch, 3), Shortcut(from_=-3, activation="linear"))
        ends.append(len(b.layers) - 1)
    mids = [scale_channels(c, w) for c in (128, 256, 512)]
    for scale, route in ((2, None), (1, ends[3]), (0, ends[2])):
        mid = mids[scale]
        if route is not None:
            b.add(Route(layers=(-4,)), _conv(mid, 1), Upsample(stride=2), Route(layers=(-1, route)))
        b.add(_conv(mid, 1), _conv(mid * 2, 3), _conv(mid, 1))
        if spp and scale == 2:
            b.add(MaxPool(5, 1, 4), Route(layers=(-2,)), MaxPool(9, 1, 8), Route(layers=(-4,)),
                  MaxPool(13, 1, 12), Route(layers=(-1, -3, -5, -6)), _conv(mid, 1))
        b.add(_conv(mid * 2, 3), _conv(mid, 1), _conv(mid * 2, 3))
        b.head(scale)


def _tiny(b: _Builder) -> None:
    w = b.cfg.width
    ch = [scale_channels(c, w) for c in (16, 32, 64, 128, 256, 512, 1024)]
    for i, c in enumerate(ch[:5]):
        if i:
            b.add(MaxPool(2, 2, 1))
        stride16 = b.add(_conv(c, 3))
    b.add(MaxPool(2, 2, 1), _conv(ch[5], 3), MaxPool(2, 1, 1), _conv(ch[6], 3), _conv(scale_channels(256, w), 1),
          _conv(scale_channels(512, w), 3))
    b.head(1)
    b.add(Route(layers=(-4,)), _conv(scale_channels(128, w), 1), Upsample(stride=2), Route(layers=(-1, stride16)),
          _conv(scale_channels(256, w), 3))
    b.head(0)


def arch_layers(cfg: ModelConfig, yolo: dict[str, float] | None = None) -> list[Layer]:
    """The darknet layers of registered model `cfg` (anchors default to the arch's).

    `yolo` sets the [yolo] training options (jitter, ignore_thresh, truth_thresh, random).
    """
    anchors = cfg.anchors if cfg.anchors is not None else model_spec(cfg.arch).default_anchors
    b = _Builder(cfg, anchors, {**DEFAULT_YOLO, **(yolo or {})})
    if cfg.arch in ("yolov3", "yolov3-spp"):
        _yolov3(b, spp=cfg.arch == "yolov3-spp")
    elif cfg.arch == "yolov3-tiny":
        _tiny(b)
    else:
        raise ValueError(f"architecture {cfg.arch!r} has no darknet template")
    return b.layers


def structure(layers: list[Layer]) -> list[tuple]:
    """What decides the network and its weights, per layer (line numbers, anchors and
    training options left out): two cfgs with equal structure share weights files."""
    out: list[tuple] = []
    for i, layer in enumerate(layers):
        if isinstance(layer, Route):
            out.append(("route", tuple(j + i if j < 0 else j for j in layer.layers)))
        elif isinstance(layer, Shortcut):
            out.append(("shortcut", layer.from_ + i if layer.from_ < 0 else layer.from_, layer.activation))
        elif isinstance(layer, Yolo):
            out.append(("yolo", len(layer.mask), layer.classes))
        elif isinstance(layer, Conv):  # pad=0 and pad=1 agree for 1x1 kernels
            out.append(("conv", layer.filters, layer.size, layer.stride, layer.padding,
                        bool(layer.batch_normalize), layer.activation))
        else:
            fields = dataclasses.asdict(layer)
            fields.pop("line")
            out.append((type(layer).__name__, tuple(sorted(fields.items()))))
    return out
