"""Weight averaging for validation and saving: EMA (ramped decay) and SWA.

EMA: after every optimizer update, ema = d·ema + (1 − d)·w with
d = decay·(1 − exp(−updates/tau)): early on d is small so the average follows the fast
moving weights, later it smooths over ~1/(1 − decay) updates. BatchNorm running
statistics are averaged the same way; integer buffers are copied.

With `share` > 0 the decay instead follows the run's length: d = 0.5^(1/(share·updates)),
a half-life of `share` times the updates done so far. The average then always covers the
same fraction of the run (the last ~15% for share 0.12), whatever the budget lets the run
last: update k of T weighs ∝ k^(ln2/share − 1). For large k, 1 − d ≈ ln2/(share·k): the
polynomial-decay averaging of Shamir & Zhang (ICML 2013) with η + 1 = ln2/share.

SWA: an equal average of snapshots (one per epoch over the last epochs); BatchNorm
statistics are averaged with the weights (an approximation; `recompute_bn` can refresh
them with a pass over training data).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable

import torch
from torch import nn


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DDP/DataParallel wrappers."""
    return model.module if hasattr(model, "module") else model


class ModelEMA:
    """Exponential moving average of a model's parameters and buffers (fp32, eval mode)."""

    def __init__(self, model: nn.Module, decay: float = 0.9999, tau: float = 2000.0, updates: int = 0,
                 share: float = 0.0) -> None:
        self.module = copy.deepcopy(unwrap(model)).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.tau = tau
        self.share = share
        self.updates = updates

    def decay_at(self, updates: int) -> float:
        """The decay used for update number `updates` (1-based)."""
        if self.share > 0:
            return 0.5 ** (1.0 / (self.share * updates))
        return self.decay * (1.0 - math.exp(-updates / self.tau))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step towards `model`'s current weights."""
        self.updates += 1
        d = self.decay_at(self.updates)
        src = unwrap(model).state_dict()
        for name, value in self.module.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(d).add_(src[name].detach(), alpha=1.0 - d)
            else:
                value.copy_(src[name])


class SWA:
    """Equal average of weight snapshots (stochastic weight averaging)."""

    def __init__(self, model: nn.Module) -> None:
        self.module = copy.deepcopy(unwrap(model)).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.count = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Adds a snapshot: avg += (w − avg) / n."""
        self.count += 1
        src = unwrap(model).state_dict()
        for name, value in self.module.state_dict().items():
            if value.dtype.is_floating_point:
                value.add_(src[name].detach() - value, alpha=1.0 / self.count)
            else:
                value.copy_(src[name])


@torch.no_grad()
def recompute_bn(model: nn.Module, images: Iterable[torch.Tensor]) -> None:
    """Re-estimates BatchNorm running statistics with forward passes over `images`
    ((B, 3, H, W) floats in [0, 1]), as an equal average over the batches."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    was_training = model.training
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for x in images:
        model(x)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was_training)
