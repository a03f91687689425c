"""The YOLO detection head: one 1×1 conv per scale to A·(5+C) raw outputs."""

from __future__ import annotations

import math

import torch
from torch import nn


class YOLOHead(nn.Module):
    """Linear 1×1 conv (with bias) to A·(5+C) channels, reshaped per anchor.

    Channel layout per anchor (darknet's): tx, ty, tw, th, objectness, C class logits.
    The bias starts at the logit of a small prior probability for objectness and classes:
    background dominates every image, and a 0.5 start costs the first epochs.
    """

    def __init__(
        self,
        in_channels: int,
        num_anchors: int,
        num_classes: int,
        prior_obj: float = 0.01,
        prior_cls: float = 0.01,
    ) -> None:
        super().__init__()
        self.num_anchors = num_anchors
        self.num_outputs = 5 + num_classes
        self.conv = nn.Conv2d(in_channels, num_anchors * self.num_outputs, 1, bias=True)
        if not self.conv.weight.is_meta:  # shape-only skeletons (io.checkpoint.check_weights): see layers.ConvBNAct
            nn.init.normal_(self.conv.weight, std=0.01)
        self.init_biases(prior_obj, prior_cls)

    @torch.no_grad()
    def init_biases(self, prior_obj: float, prior_cls: float) -> None:
        """Sets box biases to 0 and objectness/class biases to logit(prior)."""
        bias = self.conv.bias.view(self.num_anchors, self.num_outputs)
        bias.zero_()
        bias[:, 4] = math.log(prior_obj / (1 - prior_obj))
        bias[:, 5:] = math.log(prior_cls / (1 - prior_cls))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, Cin, H, W) → raw (B, A, H, W, 5+C), logits, no activation."""
        b, _, h, w = x.shape
        out = self.conv(x).view(b, self.num_anchors, self.num_outputs, h, w)
        return out.permute(0, 1, 3, 4, 2).contiguous()
