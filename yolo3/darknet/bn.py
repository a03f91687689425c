"""darknet's CPU BatchNorm formula on a converted model.

darknet normalises on the CPU with (x − μ)/(√var + 1e-6) and on the GPU (cuDNN, where
the official weights were trained) with (x − μ)/√(var + 1e-5). PyTorch's BatchNorm
computes (x − μ)/√(var' + eps); with eps = 0 and var' = (√var + 1e-6)² it computes
darknet's CPU divisor, √var' = √var + 1e-6, up to float32 rounding. `to_cpu_bn`
rewrites the running variances that way (the model config must carry bn_eps = 0, so a
reloaded checkpoint keeps the formula); `from_cpu_bn` undoes it before darknet export.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

CPU_BN_EPS = 1e-6
"""darknet's CPU path: added to √var (src/batchnorm_layer.c normalize_cpu)."""

BN_MODES = ("darknet-gpu", "darknet-cpu")
"""darknet-gpu: √(var + 1e-5), the default and cuDNN's; darknet-cpu: √var + 1e-6."""


def _bns(modules: Iterable[nn.Module]) -> list[nn.BatchNorm2d]:
    return [m for m in modules if isinstance(m, nn.BatchNorm2d)]


@torch.no_grad()
def to_cpu_bn(model: nn.Module) -> None:
    """In place: every BatchNorm2d gets eps 0 and running_var (√var + 1e-6)² (darknet's CPU formula)."""
    for bn in _bns(model.modules()):
        root = bn.running_var.double().clamp_min(0).sqrt() + CPU_BN_EPS
        bn.running_var.copy_(root.square().to(bn.running_var.dtype))
        bn.eps = 0.0


@torch.no_grad()
def from_cpu_bn(model: nn.Module, eps: float = 1e-5) -> None:
    """In place: the inverse of `to_cpu_bn` (running_var (√var' − 1e-6)², eps back to `eps`)."""
    for bn in _bns(model.modules()):
        root = (bn.running_var.double().sqrt() - CPU_BN_EPS).clamp_min(0)
        bn.running_var.copy_(root.square().to(bn.running_var.dtype))
        bn.eps = eps
