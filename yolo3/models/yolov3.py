"""The YOLOv3 family: Darknet-53 + FPN neck (`yolov3`, `yolov3-spp`) and `yolov3-tiny`.

Each model maps images (B, 3, H, W), H and W multiples of 32, values in [0, 1], to one raw
tensor per scale (B, A, H/s, W/s, 5+C), scales ordered by increasing stride s. The
modules are declared in darknet's layer order, so `conv_layers()` lists the
convolutions in the order of the darknet `.cfg` and `.weights` files.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from yolo3.config import ModelConfig
from yolo3.models.darknet53 import Darknet53
from yolo3.models.head import YOLOHead
from yolo3.models.layers import SPP, ConvBNAct, MaxPoolSame, scale_channels


class DetectionBlock(nn.Module):
    """Five alternating 1×1/3×3 convs (SPP after the third in yolov3-spp), then a 3×3.

    Returns (route, head_input): the 1×1 output that feeds the next, finer scale, and
    the 3×3 output that feeds this scale's head.
    """

    def __init__(self, in_channels: int, mid: int, spp: bool = False, bn_eps: float = 1e-5) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            ConvBNAct(in_channels, mid, 1, bn_eps=bn_eps),
            ConvBNAct(mid, mid * 2, 3, bn_eps=bn_eps),
            ConvBNAct(mid * 2, mid, 1, bn_eps=bn_eps),
        ]
        if spp:
            layers += [SPP(), ConvBNAct(mid * 4, mid, 1, bn_eps=bn_eps)]
        layers += [ConvBNAct(mid, mid * 2, 3, bn_eps=bn_eps), ConvBNAct(mid * 2, mid, 1, bn_eps=bn_eps)]
        self.convs = nn.Sequential(*layers)
        self.out = ConvBNAct(mid, mid * 2, 3, bn_eps=bn_eps)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        route = self.convs(x)
        return route, self.out(route)


class YOLOv3Base(nn.Module):
    """Shared parts: anchors, strides, heads and the public forward/fuse API."""

    strides: tuple[int, ...]

    def __init__(self, cfg: ModelConfig, anchors: list[list[list[float]]], head_channels: list[int]) -> None:
        super().__init__()
        if len(anchors) != len(self.strides):
            raise ValueError(f"{cfg.arch} has {len(self.strides)} scales but {len(anchors)} anchor groups were given")
        self.cfg = cfg
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32), persistent=False)
        self.heads = nn.ModuleList(
            YOLOHead(ch, len(group), cfg.num_classes, cfg.prior_obj, cfg.prior_cls)
            for ch, group in zip(head_channels, anchors)
        )

    @property
    def num_classes(self) -> int:
        return self.cfg.num_classes

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (B, 3, H, W) in [0, 1] → raw outputs [(B, A, H/s, W/s, 5+C)] per stride s."""
        return [head(f) for head, f in zip(self.heads, self.features(x))]

    def fuse(self) -> "YOLOv3Base":
        """Folds every BatchNorm into its conv (inference only); returns self."""
        for module in self.modules():
            if isinstance(module, ConvBNAct):
                module.fuse()
        return self

    def conv_layers(self) -> list[nn.Conv2d | ConvBNAct]:
        """All convolutions in darknet `.cfg` order (ConvBNAct, or the head's Conv2d)."""
        raise NotImplementedError


class YOLOv3(YOLOv3Base):
    """`yolov3` / `yolov3-spp`: Darknet-53, FPN with nearest ×2 upsampling, 3 heads."""

    strides = (8, 16, 32)

    def __init__(self, cfg: ModelConfig, anchors: list[list[list[float]]], spp: bool = False) -> None:
        w, eps = cfg.width, cfg.bn_eps
        mids = [scale_channels(c, w) for c in (128, 256, 512)]  # per stride 8, 16, 32
        super().__init__(cfg, anchors, [m * 2 for m in mids])
        self.backbone = Darknet53(cfg.width, cfg.depth, eps)
        c3, c4, c5 = self.backbone.out_channels
        # Declared coarse → fine: the order of darknet's cfg.
        self.block32 = DetectionBlock(c5, mids[2], spp=spp, bn_eps=eps)
        self.lateral16 = ConvBNAct(mids[2], mids[1], 1, bn_eps=eps)
        self.block16 = DetectionBlock(mids[1] + c4, mids[1], bn_eps=eps)
        self.lateral8 = ConvBNAct(mids[1], mids[0], 1, bn_eps=eps)
        self.block8 = DetectionBlock(mids[0] + c3, mids[0], bn_eps=eps)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        c3, c4, c5 = self.backbone(x)
        route32, p32 = self.block32(c5)
        up = F.interpolate(self.lateral16(route32), scale_factor=2.0, mode="nearest")
        route16, p16 = self.block16(torch.cat([up, c4], 1))
        up = F.interpolate(self.lateral8(route16), scale_factor=2.0, mode="nearest")
        _, p8 = self.block8(torch.cat([up, c3], 1))
        return [p8, p16, p32]

    def conv_layers(self) -> list[nn.Conv2d | ConvBNAct]:
        def convs(module: nn.Module) -> list[ConvBNAct]:
            return [m for m in module.modules() if isinstance(m, ConvBNAct)]

        return (
            convs(self.backbone)
            + convs(self.block32) + [self.heads[2].conv] + convs(self.lateral16)
            + convs(self.block16) + [self.heads[1].conv] + convs(self.lateral8)
            + convs(self.block8) + [self.heads[0].conv]
        )


class YOLOv3Tiny(YOLOv3Base):
    """`yolov3-tiny`: 7 conv + max-pool stages, heads at strides 16 and 32."""

    strides = (16, 32)

    def __init__(self, cfg: ModelConfig, anchors: list[list[list[float]]]) -> None:
        w, eps = cfg.width, cfg.bn_eps
        ch = [scale_channels(c, w) for c in (16, 32, 64, 128, 256, 512, 1024)]
        route, lateral = scale_channels(256, w), scale_channels(128, w)
        super().__init__(cfg, anchors, [scale_channels(256, w), scale_channels(512, w)])
        layers: list[nn.Module] = []
        in_ch = 3
        for i, out_ch in enumerate(ch[:5]):  # conv + stride-2 pool, five times (last pool after route)
            if i > 0:
                layers.append(nn.MaxPool2d(2, 2))
            layers.append(ConvBNAct(in_ch, out_ch, 3, bn_eps=eps))
            in_ch = out_ch
        self.stem16 = nn.Sequential(*layers)  # → stride 16, ch[4] channels (darknet layer 8)
        self.stem32 = nn.Sequential(
            nn.MaxPool2d(2, 2),
            ConvBNAct(ch[4], ch[5], 3, bn_eps=eps),
            MaxPoolSame(),
            ConvBNAct(ch[5], ch[6], 3, bn_eps=eps),
            ConvBNAct(ch[6], route, 1, bn_eps=eps),
        )
        self.out32 = ConvBNAct(route, scale_channels(512, w), 3, bn_eps=eps)
        self.lateral16 = ConvBNAct(route, lateral, 1, bn_eps=eps)
        self.out16 = ConvBNAct(lateral + ch[4], scale_channels(256, w), 3, bn_eps=eps)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        c16 = self.stem16(x)
        route = self.stem32(c16)
        p32 = self.out32(route)
        up = F.interpolate(self.lateral16(route), scale_factor=2.0, mode="nearest")
        p16 = self.out16(torch.cat([up, c16], 1))
        return [p16, p32]

    def conv_layers(self) -> list[nn.Conv2d | ConvBNAct]:
        def convs(module: nn.Module) -> list[ConvBNAct]:
            return [m for m in module.modules() if isinstance(m, ConvBNAct)]

        return (
            convs(self.stem16) + convs(self.stem32) + [self.out32, self.heads[1].conv]
            + [self.lateral16, self.out16, self.heads[0].conv]
        )
