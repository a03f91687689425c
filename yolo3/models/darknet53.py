"""Darknet-53: the YOLOv3 backbone (52 convolutions + the classifier's FC, dropped).

A 3×3 stem, then five stages; each stage opens with a stride-2 3×3 conv and holds
1, 2, 8, 8, 4 residual blocks. Returns the stride-8, 16 and 32 features (darknet
layers 36, 61 and 74).
"""

from __future__ import annotations

import torch
from torch import nn

from yolo3.models.layers import ConvBNAct, Residual, scale_channels, scale_depth

STAGE_BLOCKS = (1, 2, 8, 8, 4)
STAGE_CHANNELS = (64, 128, 256, 512, 1024)


class Darknet53(nn.Module):
    """Backbone; `out_channels` lists the channels of the three returned features."""

    def __init__(self, width: float = 1.0, depth: float = 1.0, bn_eps: float = 1e-5) -> None:
        super().__init__()
        stem = scale_channels(32, width)
        self.stem = ConvBNAct(3, stem, 3, bn_eps=bn_eps)
        stages = []
        in_ch = stem
        for blocks, channels in zip(STAGE_BLOCKS, STAGE_CHANNELS):
            out_ch = scale_channels(channels, width)
            layers = [ConvBNAct(in_ch, out_ch, 3, stride=2, bn_eps=bn_eps)]
            layers += [Residual(out_ch, bn_eps) for _ in range(scale_depth(blocks, depth))]
            stages.append(nn.Sequential(*layers))
            in_ch = out_ch
        self.stages = nn.ModuleList(stages)
        self.out_channels = [scale_channels(c, width) for c in STAGE_CHANNELS[2:]]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (B, 3, H, W) → [(B, C3, H/8, W/8), (B, C4, H/16, W/16), (B, C5, H/32, W/32)]."""
        x = self.stem(x)
        features = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i >= 2:
                features.append(x)
        return features
