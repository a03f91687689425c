"""Diagnostics from the notes that look inside a model: activation / dead-unit statistics
and a numerical gradient check.

Activations: for every Conv → BN → LeakyReLU block, the mean and spread of its output,
the share of negative outputs, and the share of *dying* channels (negative at every
position of every image of the batch: with leaky ReLU they still learn, but only
through the 0.1 slope — a rising share means a too-high LR or a bad initialisation).

Gradient check: autograd's gradient of the loss against central finite differences
(L(w + ε) − L(w − ε)) / 2ε for a few weights, in float64, so a broken backward (a custom
op, a detached term, a wrong loss) shows as a large error. Two numbers agree when
|analytic − numeric| ≤ atol + rtol·|numeric|: rtol for the truncation error of the
difference, atol for its round-off. The loss is computed to about u·|L| (u = 2⁻⁵³, times
the rounding accumulated through the forward pass, and that accumulation differs between
CPUs: AVX-512 and AMX kernels sum in other orders), and dividing by 2ε amplifies it to
ROUNDOFF_GROWTH·u·|L|/ε. A tiny gradient (|g| ≈ 1e-6 with ε = 1e-6) is below that floor,
so its relative error alone says nothing about the backward.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import torch
from torch import nn

from yolo3.models.layers import ConvBNAct


@dataclasses.dataclass
class LayerActivity:
    """Output statistics of one conv block on one batch."""

    name: str
    channels: int
    mean: float
    std: float
    negative_share: float
    dying_channels: float


@torch.no_grad()
def activation_stats(model: nn.Module, images: torch.Tensor) -> list[LayerActivity]:
    """Runs `images` (B, 3, H, W) in [0, 1] through the model (its current train/eval
    mode) and returns one LayerActivity per activated conv block, in forward order."""
    rows: list[LayerActivity] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(module: ConvBNAct, _inputs: tuple, out: torch.Tensor) -> None:
        out = out.float()
        negative = out < 0
        dying = negative.transpose(0, 1).reshape(out.shape[1], -1).all(1)
        rows.append(LayerActivity(names[module], out.shape[1], float(out.mean()), float(out.std()),
                                  float(negative.float().mean()), float(dying.float().mean())))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, ConvBNAct) and m.act is not None]
    try:
        model(images)
    finally:
        for h in handles:
            h.remove()
    return rows


FLOAT64_UNIT_ROUNDOFF = 2.0**-53
# How many unit round-offs a forward pass accumulates in |L|: summing n terms in float64
# errs by about √n·u (random rounding) and at worst n·u; the YOLO loss sums a few thousand
# grid terms, so 64 sits above the typical growth and far below a real backward error.
ROUNDOFF_GROWTH = 64.0


@dataclasses.dataclass
class GradientCheck:
    """One weight: autograd's derivative, the finite-difference one, and the round-off
    bound `atol` of the finite difference (same units as the derivative)."""

    name: str
    index: tuple[int, ...]
    analytic: float
    numeric: float
    atol: float = 0.0

    @property
    def relative_error(self) -> float:
        scale = max(abs(self.analytic), abs(self.numeric), 1e-8)
        return abs(self.analytic - self.numeric) / scale

    def agrees(self, rtol: float = 1e-4) -> bool:
        """|analytic − numeric| ≤ atol + rtol·|numeric|: equal up to round-off and truncation."""
        return abs(self.analytic - self.numeric) <= self.atol + rtol * abs(self.numeric)


def finite_difference_roundoff(loss_scale: float, eps: float) -> float:
    """Bound on the round-off error of a central difference (L(w+ε) − L(w−ε)) / 2ε in
    float64 when each L, of magnitude `loss_scale`, is computed to ROUNDOFF_GROWTH·u·|L|."""
    return ROUNDOFF_GROWTH * FLOAT64_UNIT_ROUNDOFF * loss_scale / eps


def gradient_check(
    model: nn.Module,
    loss_of: Callable[[nn.Module], torch.Tensor],
    samples: int = 6,
    eps: float = 1e-6,
    seed: int = 0,
) -> list[GradientCheck]:
    """Compares d loss / d w from autograd with central differences for `samples` weights.

    Args:
        model: the model; a float64 copy in eval mode is checked (BatchNorm then uses its
            running statistics, so the loss is a smooth function of each weight).
        loss_of: computes the scalar loss of a model (e.g. `lambda m: loss_fn(m(x), t)[0]`).
        samples: how many weights (spread over the layers) to check.
        eps: the finite-difference step.

    Returns one GradientCheck per weight; `check.agrees(rtol)` is the verdict.
    """
    net = copy.deepcopy(model).double().eval()
    params = [(n, p) for n, p in net.named_parameters() if p.requires_grad and p.numel() > 0]
    net.zero_grad(set_to_none=True)
    loss_of(net).backward()
    gen = torch.Generator().manual_seed(seed)
    picks = torch.linspace(0, len(params) - 1, samples).round().long().tolist()
    results = []
    with torch.no_grad():
        for k in picks:
            name, p = params[k]
            flat = int(torch.randint(p.numel(), (1,), generator=gen))
            index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), p.shape))
            analytic = float(p.grad[index]) if p.grad is not None else 0.0
            original = p[index].item()
            p[index] = original + eps
            up = float(loss_of(net))
            p[index] = original - eps
            down = float(loss_of(net))
            p[index] = original
            atol = finite_difference_roundoff(max(abs(up), abs(down)), eps)
            results.append(GradientCheck(name, index, analytic, (up - down) / (2 * eps), atol))
    return results
