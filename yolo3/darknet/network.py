"""A generic `nn.Module` built from any supported darknet cfg (also users' modified ones).

Layers are kept in cfg order, so index i here is darknet's layer i. `forward` returns
the raw outputs of the `[yolo]` layers, (B, A, H/s, W/s, 5+C) logits (no sigmoid),
ordered by increasing stride s: the layout of yolo3's own models.

BatchNorm: darknet's CPU path normalises with (x − μ)/(√var + 1e-6); its GPU/cuDNN path,
with which the official weights were trained, with (x − μ)/√(var + 1e-5). PyTorch puts
eps inside the root, so `bn_eps=1e-5` (the default) reproduces darknet on GPU exactly;
against darknet's CPU path the relative difference of the divisor is
|√(var+1e-5) − √var − 1e-6| / (√var + 1e-6) ≈ 5e-6/var for var ≫ 1e-5 (1e-5 at var = 0.5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from yolo3.darknet.cfg import Conv, DarknetCfg, DarknetCfgError, Layer, MaxPool, Route, Shortcut, Upsample, Yolo

LEAKY_SLOPE = 0.1


class DarknetConv(nn.Module):
    """`[convolutional]`: Conv (bias only without BN) → BatchNorm? → leaky(0.1) or linear."""

    def __init__(self, layer: Conv, in_channels: int, bn_eps: float = 1e-5) -> None:
        super().__init__()
        bn = bool(layer.batch_normalize)
        self.conv = nn.Conv2d(in_channels, layer.filters, layer.size, layer.stride, layer.padding, bias=not bn)
        self.bn = nn.BatchNorm2d(layer.filters, eps=bn_eps) if bn else None
        self.leaky = layer.activation == "leaky"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.leaky_relu(x, LEAKY_SLOPE) if self.leaky else x


class DarknetMaxPool(nn.Module):
    """`[maxpool]`: pads `padding//2` before and the rest after, padded cells never win."""

    def __init__(self, layer: MaxPool) -> None:
        super().__init__()
        self.size, self.stride = layer.size, layer.stride
        before = layer.padding // 2
        self.pad = (before, layer.padding - before, before, layer.padding - before)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad, value=float("-inf"))
        return F.max_pool2d(x, self.size, self.stride)


class DarknetNetwork(nn.Module):
    """The network a `DarknetCfg` describes.

    Attributes:
        strides: per output (ascending), the total downsampling of that `[yolo]` input.
        anchors: list per output of (w, h) anchors in input pixels (the head's mask).
        yolo_layers: the `[yolo]` records per output, same order.
        num_classes: classes C of the heads (all `[yolo]` layers must agree).
    """

    def __init__(self, cfg: DarknetCfg, bn_eps: float = 1e-5) -> None:
        super().__init__()
        self.cfg = cfg
        shapes = trace(cfg)
        modules: list[nn.Module] = []
        for i, layer in enumerate(cfg.layers):
            if isinstance(layer, Conv):
                in_ch = shapes[i - 1][0] if i else cfg.net.channels
                modules.append(DarknetConv(layer, in_ch, bn_eps))
            elif isinstance(layer, MaxPool):
                modules.append(DarknetMaxPool(layer))
            else:
                modules.append(nn.Identity())
        self.layers = nn.ModuleList(modules)
        self._outputs = yolo_indices(cfg, shapes)
        self.strides = tuple(shapes[i][1] for i in self._outputs)
        self.yolo_layers: list[Yolo] = [cfg.layers[i] for i in self._outputs]  # type: ignore[misc]
        self.anchors = [y.head_anchors for y in self.yolo_layers]
        self.num_classes = self.yolo_layers[0].classes
        self._keep = {j for i, layer in enumerate(cfg.layers) for j in _sources(layer, i)}

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (B, 3, H, W) in [0, 1] → raw [(B, A, H/s, W/s, 5+C)] per stride s ascending."""
        outputs: dict[int, torch.Tensor] = {}
        results: dict[int, torch.Tensor] = {}
        for i, (layer, module) in enumerate(zip(self.cfg.layers, self.layers)):
            if isinstance(layer, Route):
                x = torch.cat([outputs[_resolve(j, i)] for j in layer.layers], 1)
            elif isinstance(layer, Shortcut):
                x = x + outputs[_resolve(layer.from_, i)]
            elif isinstance(layer, Upsample):
                x = F.interpolate(x, scale_factor=float(layer.stride), mode="nearest")
            elif isinstance(layer, Yolo):
                b, _, h, w = x.shape
                results[i] = x.view(b, len(layer.mask), 5 + layer.classes, h, w).permute(0, 1, 3, 4, 2).contiguous()
            else:
                x = module(x)
            if i in self._keep:
                outputs[i] = x
        return [results[i] for i in self._outputs]

    def conv_layers(self) -> list[DarknetConv]:
        """Every `[convolutional]` in cfg order (the order of the `.weights` file)."""
        return [m for m in self.layers if isinstance(m, DarknetConv)]


def trace(cfg: DarknetCfg) -> list[tuple[int, int]]:
    """(output channels, output stride) of every layer; checks that the layers fit together."""
    shapes: list[tuple[int, int]] = []
    ch, scale = cfg.net.channels, 1
    for i, layer in enumerate(cfg.layers):
        where = f"{cfg.path}:{layer.line}"
        if isinstance(layer, Conv):
            ch, scale = layer.filters, scale * layer.stride
        elif isinstance(layer, MaxPool):
            scale *= layer.stride
        elif isinstance(layer, Upsample):
            if layer.stride < 1 or scale % layer.stride:
                raise DarknetCfgError(f"{where}: [upsample] stride={layer.stride} is not supported here")
            scale //= layer.stride
        elif isinstance(layer, Route):
            sources = [_resolve(j, i, where) for j in layer.layers]
            if len({shapes[j][1] for j in sources}) != 1:
                raise DarknetCfgError(f"{where}: [route] joins layers of different strides {[shapes[j][1] for j in sources]}")
            ch, scale = sum(shapes[j][0] for j in sources), shapes[sources[0]][1]
        elif isinstance(layer, Shortcut):
            j = _resolve(layer.from_, i, where)
            if shapes[j] != (ch, scale):
                raise DarknetCfgError(f"{where}: [shortcut] adds layer {j} ({shapes[j][0]} channels, stride "
                                      f"{shapes[j][1]}) to one of {ch} channels, stride {scale}")
            if layer.activation != "linear":
                raise DarknetCfgError(f"{where}: [shortcut] activation={layer.activation} is not supported (linear only)")
        elif isinstance(layer, Yolo):
            expected = len(layer.mask) * (5 + layer.classes)
            if ch != expected:
                raise DarknetCfgError(f"{where}: [yolo] with {len(layer.mask)} anchors and {layer.classes} classes "
                                      f"needs filters={expected} in the layer before, which has {ch}")
        shapes.append((ch, scale))
    return shapes


def yolo_indices(cfg: DarknetCfg, shapes: list[tuple[int, int]] | None = None) -> list[int]:
    """Indices of the `[yolo]` layers ordered by increasing stride; all must agree on classes."""
    shapes = shapes if shapes is not None else trace(cfg)
    found = [i for i, layer in enumerate(cfg.layers) if isinstance(layer, Yolo)]
    if not found:
        raise DarknetCfgError(f"{cfg.path}: the cfg has no [yolo] layer")
    classes = sorted({cfg.layers[i].classes for i in found})  # type: ignore[union-attr]
    if len(classes) != 1:
        raise DarknetCfgError(f"{cfg.path}: [yolo] layers disagree on classes: {classes}")
    strides = [shapes[i][1] for i in found]
    if len(set(strides)) != len(strides):
        raise DarknetCfgError(f"{cfg.path}: two [yolo] layers share stride; strides {strides}")
    return sorted(found, key=lambda i: shapes[i][1])


def _resolve(index: int, current: int, where: str = "cfg") -> int:
    """A route/shortcut index (negative = relative) as an absolute earlier layer."""
    j = current + index if index < 0 else index
    if not 0 <= j < current:
        raise DarknetCfgError(f"{where}: layer index {index} of layer {current} points to {j}, not to an earlier layer")
    return j


def _sources(layer: Layer, i: int) -> list[int]:
    if isinstance(layer, Route):
        return [_resolve(j, i) for j in layer.layers]
    if isinstance(layer, Shortcut):
        return [_resolve(layer.from_, i)]
    return []
