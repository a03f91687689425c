"""Building blocks shared by the YOLOv3 family (darknet's layer types)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.1


def scale_channels(channels: int, width: float) -> int:
    """Channel count under a width multiplier, rounded to a multiple of 8 (min 8)."""
    if width == 1.0:
        return channels
    return max(8, int(round(channels * width / 8)) * 8)


def scale_depth(blocks: int, depth: float) -> int:
    """Residual-block count under a depth multiplier (at least one)."""
    return max(1, int(round(blocks * depth)))


class ConvBNAct(nn.Module):
    """darknet `[convolutional]`: Conv → BatchNorm → LeakyReLU(0.1).

    With `bn=False` the conv has a bias and no normalisation (the linear heads).
    After `fuse()` the BatchNorm is folded into the conv (inference only).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        bn: bool = True,
        act: bool = True,
        bn_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=not bn
        )
        self.bn = nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=0.03) if bn else None
        self.act = nn.LeakyReLU(LEAKY_SLOPE, inplace=True) if act else None
        # Kaiming (He) initialisation for a conv followed by leaky ReLU.
        if not self.conv.weight.is_meta:  # shape-only skeletons (io.checkpoint.check_weights): nothing to draw, and
            # torch's normal_ on the meta device imports torch._dynamo (~1.4 s per process)
            nn.init.kaiming_normal_(self.conv.weight, a=LEAKY_SLOPE, mode="fan_in", nonlinearity="leaky_relu")
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        return x

    @torch.no_grad()
    def fuse(self) -> None:
        """Folds BatchNorm into the conv: w' = w·γ/σ, b' = β − μ·γ/σ (σ = √(var+eps))."""
        if self.bn is None:
            return
        bn, conv = self.bn, self.conv
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv2d(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=True
        ).to(conv.weight.device, conv.weight.dtype)
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        base = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.bias.copy_((base - bn.running_mean) * scale + bn.bias)
        self.conv = fused
        self.bn = None


class Residual(nn.Module):
    """Darknet-53 residual block: 1×1 conv halving channels, 3×3 restoring, then add."""

    def __init__(self, channels: int, bn_eps: float = 1e-5) -> None:
        super().__init__()
        self.reduce = ConvBNAct(channels, channels // 2, 1, bn_eps=bn_eps)
        self.expand = ConvBNAct(channels // 2, channels, 3, bn_eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.expand(self.reduce(x))


class SPP(nn.Module):
    """Spatial pyramid pooling (yolov3-spp): stride-1 max-pools of 5, 9, 13 concatenated.

    Output order follows darknet's `[route] layers=-1,-3,-5,-6`:
    (pool13, pool9, pool5, input), so the channels are 4× the input.
    """

    def __init__(self, sizes: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        self.pools = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([pool(x) for pool in reversed(self.pools)] + [x], dim=1)


class MaxPoolSame(nn.Module):
    """darknet `[maxpool] size=2 stride=1`: output keeps its size.

    darknet's window at (i, j) covers rows i..i+1 and columns j..j+1, ignoring the row and
    column past the edge. A stride-1 pool padded by one on every side (padding counts as
    −∞) gives windows (i−1..i); dropping its first row and column leaves darknet's.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, kernel_size=2, stride=1, padding=1)[:, :, 1:, 1:]
