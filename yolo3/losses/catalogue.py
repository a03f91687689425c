"""The loss catalogue of SPEC §4.4: small, pure, tested loss functions.

Every function takes `reduction` = 'mean' (default), 'sum' or 'none' (elementwise, or
per sample for the set losses Dice / IoU / Combo). Formulas, with p a probability,
x a logit, t a target in [0, 1]:

    MAE            |y − t|
    MSE            (y − t)²
    BCE            −[t·log p + (1 − t)·log(1 − p)]     log clamped at −100 (as PyTorch)
    BCE-logits     −t·logσ(x) − (1 − t)·logσ(−x)      (stable form of BCE(σ(x), t))
    cross-entropy  −Σ_c t_c · log_softmax(x)_c          (never softmax then log)
    focal          α_t · (1 − p_t)^γ · BCE-logits,  p_t = p·t + (1 − p)(1 − t),
                   α_t = α·t + (1 − α)(1 − t)         (α None: no weighting)
    Dice           1 − (2Σp·t + s) / (Σp + Σt + s)       per sample and class, class mean
    soft IoU       1 − (Σp·t + s) / (Σp + Σt − Σp·t + s) per sample and class, class mean
    Combo          α·BCE + (1 − α)·Dice                  per sample

Edges: BCE at p = 0 or 1 gives the finite value 100·|t − p| (PyTorch's clamp) and a zero,
not NaN, gradient there. Dice / IoU of two empty masks is 0 (perfect) for any smooth
s ≥ 0 (0/0 is defined as a perfect score); with no overlap and s = 0 they are exactly 1.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F

LOG_CLAMP = -100.0
_REDUCTIONS = ("mean", "sum", "none")


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Applies 'mean' | 'sum' | 'none' (mean of an empty tensor is 0, not NaN)."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / max(loss.numel(), 1)
    raise ValueError(f"unknown reduction {reduction!r}; use one of {_REDUCTIONS}")


def mae(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean absolute error |pred − target| (L1); subgradient 0 at equality."""
    return reduce((pred - target).abs(), reduction)


def mse(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error (pred − target)² (L2)."""
    return reduce((pred - target) ** 2, reduction)


def _clamped_log(p: torch.Tensor) -> torch.Tensor:
    """log p clamped at −100, with zero gradient (not NaN) where clamped."""
    with torch.no_grad():
        ok = torch.log(p) > LOG_CLAMP
    safe = torch.where(ok, p, torch.ones_like(p))
    return torch.where(ok, torch.log(safe), torch.full_like(p, LOG_CLAMP))


def bce(prob: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy of probabilities; matches F.binary_cross_entropy incl. p = 0, 1."""
    loss = -(target * _clamped_log(prob) + (1 - target) * _clamped_log(1 - prob))
    return reduce(loss, reduction)


def bce_with_logits(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """BCE of σ(logits) computed stably from logits (multi-label: one sigmoid per output)."""
    # log-sigmoid form: exact gradient σ(x) − t everywhere, including x = 0 (the
    # max(x, 0) + log1p(e^{−|x|}) form has a wrong subgradient there).
    loss = -(target * F.logsigmoid(logits) + (1 - target) * F.logsigmoid(-logits))
    return reduce(loss, reduction)


def cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0, reduction: str = "mean"
) -> torch.Tensor:
    """Softmax cross-entropy from logits (N, C, *) via log-softmax.

    target: class indices (N, *) long, or probabilities (N, C, *). Label smoothing ε
    mixes the target with the uniform distribution: (1 − ε)·t + ε/C.
    """
    logp = torch.log_softmax(logits, dim=1)
    num_classes = logits.shape[1]
    if not target.is_floating_point():
        target = F.one_hot(target.long(), num_classes).movedim(-1, 1).to(logits.dtype)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / num_classes
    return reduce(-(target * logp).sum(1), reduction)


def focal_loss_with_logits(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    alpha: float | None = 0.25,
    reduction: str = "mean",
) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al.): BCE down-weighted by (1 − p_t)^γ; γ = 0, α = None is BCE."""
    ce = bce_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t).clamp(min=0) ** gamma if gamma else ce
    if alpha is not None:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    return reduce(loss, reduction)


def _overlap_sums(prob: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Σp·t, Σp, Σt over all dims after (N, C): each (N, C)."""
    if prob.ndim < 2 or prob.shape != target.shape:
        raise ValueError(f"expected prob and target of the same shape (N, C, ...), got {tuple(prob.shape)} "
                         f"and {tuple(target.shape)}")
    dims = tuple(range(2, prob.ndim))
    if not dims:
        return prob * target, prob, target
    return (prob * target).sum(dims), prob.sum(dims), target.sum(dims)


def _ratio_or_one(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den, with 0/0 := 1 (two empty masks agree perfectly)."""
    empty = den == 0
    return torch.where(empty, torch.ones_like(num), num / torch.where(empty, torch.ones_like(den), den))


def dice_loss(prob: torch.Tensor, target: torch.Tensor, smooth: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    """Soft Dice loss of probabilities (N, C, *) vs targets in [0, 1]; classes averaged.

    'none' returns (N,). Binary masks: pass C = 1.
    """
    inter, sp, st = _overlap_sums(prob, target)
    dice = _ratio_or_one(2 * inter + smooth, sp + st + smooth)
    return reduce(1 - dice.mean(1), reduction)


def soft_iou_loss(prob: torch.Tensor, target: torch.Tensor, smooth: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    """Soft IoU (Jaccard) loss of probabilities (N, C, *); classes averaged; 'none' → (N,)."""
    inter, sp, st = _overlap_sums(prob, target)
    iou = _ratio_or_one(inter + smooth, sp + st - inter + smooth)
    return reduce(1 - iou.mean(1), reduction)


def combo_loss(
    prob: torch.Tensor, target: torch.Tensor, alpha: float = 0.5, smooth: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Combo loss α·BCE + (1 − α)·Dice per sample (N, C, *); BCE is the per-sample mean."""
    per_sample_bce = bce(prob, target, reduction="none").flatten(1).mean(1)
    return reduce(alpha * per_sample_bce + (1 - alpha) * dice_loss(prob, target, smooth, "none"), reduction)


def binary_entropy(target: torch.Tensor) -> torch.Tensor:
    """H(t) = −t·log t − (1 − t)·log(1 − t): the minimum of BCE against soft target t."""
    t = target.clamp(0, 1)
    return -(torch.xlogy(t, t) + torch.xlogy(1 - t, 1 - t))


__all__ = [
    "bce", "bce_with_logits", "binary_entropy", "combo_loss", "cross_entropy", "dice_loss", "focal_loss_with_logits",
    "mae", "mse", "reduce", "soft_iou_loss",
]
