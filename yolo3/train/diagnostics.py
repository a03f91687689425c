"""Diagnostics from the notes: the LR range test and the "overfit one batch" check.

LR finder: train from a fresh model while the LR grows exponentially from `start_lr` to
`end_lr`; the loss first stalls (LR too small), then falls fastest, then explodes. The
suggested LR is where the smoothed loss falls steepest (per log-LR).

Overfit one batch: a model that cannot drive the loss of one fixed batch towards zero
has a bug (labels, assignment, loss, LR); one that can is at least wired correctly.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch

from yolo3.data.batch import Batch
from yolo3.inference.device import resolve_device
from yolo3.io.checkpoint import save_figure
from yolo3.losses.yolo_loss import YOLOLoss
from yolo3.train.config import TrainConfig
from yolo3.train.optim import build_optimizer
from yolo3.train.setup import (
    TrainData, autocast, build_train_model, model_config_for, prepare_data, resolve_amp, seed_everything,
)


@dataclasses.dataclass
class LRFindResult:
    """lrs, losses (raw) and smoothed: per iteration; suggested_lr; plot path or None."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggested_lr: float
    plot: Path | None


@dataclasses.dataclass
class OverfitResult:
    """Loss on the one batch before each step and after the last one (steps + 1 values,
    fewer when it stopped on a non-finite loss); passed when final ≤ target_ratio × initial."""

    losses: list[float]
    initial: float
    final: float
    target_ratio: float
    passed: bool
    paths: list[str]


def _setup(cfg: TrainConfig, data: TrainData | None):
    """(data, model in train mode on cfg.device, its loss, the device)."""
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed, cfg.deterministic)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    data = data or prepare_data(cfg)
    model, _ = build_train_model(model_config_for(cfg, data.class_names), cfg.weights)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    return data, model.train(), YOLOLoss(model, cfg.loss), device


def _loader(cfg: TrainConfig, data: TrainData, augment: bool):
    from yolo3.data.loader import create_dataloader

    return create_dataloader(data.train, cfg.imgsz, cfg.batch_size, cfg.augment if augment else None,
                             shuffle=True, workers=cfg.workers, cache=cfg.cache, seed=cfg.seed,
                             max_pixels=cfg.data_check.max_pixels)


def _loss(model, loss_fn, batch: Batch, cfg: TrainConfig, amp, device: torch.device) -> tuple[torch.Tensor, dict]:
    images = batch.images.to(device).float().div_(255)
    if cfg.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with autocast(device, amp):
        outputs = model(images)
    return loss_fn([o.float() for o in outputs], batch.targets.to(device))


def suggest_lr(lrs: list[float], smoothed: list[float]) -> float:
    """LR at the steepest descent of the smoothed loss against log10(LR), ignoring the
    first and last tenth (noisy start, explosion)."""
    if len(lrs) < 5:
        return lrs[int(np.argmin(smoothed))]
    lo, hi = len(lrs) // 10, len(lrs) - max(1, len(lrs) // 10)
    grad = np.gradient(np.asarray(smoothed[lo:hi]), np.log10(np.asarray(lrs[lo:hi])))
    return float(lrs[lo + int(np.argmin(grad))])


def lr_find(
    cfg: TrainConfig,
    start_lr: float = 1e-6,
    end_lr: float = 1.0,
    iterations: int = 100,
    beta: float = 0.9,
    diverge: float = 4.0,
    out: str | Path | None = None,
    data: TrainData | None = None,
) -> LRFindResult:
    """LR range test (exponential LR ramp; no warmup/decay, momentum as configured).

    Stops early when the smoothed loss exceeds `diverge` × its minimum. `out`: a .png
    for the plot of loss vs LR (log x) with the suggestion marked.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"--start-lr {start_lr:g} must be below --end-lr {end_lr:g} (and above 0): the test "
                         "raises the LR from the one to the other, e.g. --start-lr 1e-6 --end-lr 1")
    data, model, loss_fn, device = _setup(cfg, data)
    opt = build_optimizer(model, cfg.optim)
    amp = resolve_amp(cfg.amp, device)
    gamma = (end_lr / start_lr) ** (1.0 / max(iterations - 1, 1))
    lrs, losses, smoothed = [], [], []
    avg, best, it = 0.0, math.inf, 0
    loader = _loader(cfg, data, augment=True)  # one loader: each pass over it is the next epoch
    while it < iterations:
        for batch in loader:
            lr = start_lr * gamma**it
            for g in opt.param_groups:
                g["lr"] = lr * g["lr_scale"]
            loss, _ = _loss(model, loss_fn, batch, cfg, amp, device)
            value = float(loss.detach())
            if not math.isfinite(value):
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip or math.inf)
            opt.step()
            avg = beta * avg + (1 - beta) * value
            smooth = avg / (1 - beta ** (it + 1))
            lrs.append(lr), losses.append(value), smoothed.append(smooth)
            best = min(best, smooth)
            it += 1
            if it >= iterations or smooth > diverge * best:
                it = iterations
                break
        else:
            continue
        break
    if not lrs:
        raise RuntimeError("lr_find: the loss was not finite at the very first step; check the data")
    suggestion = suggest_lr(lrs, smoothed)
    plot = _plot_lr(lrs, losses, smoothed, suggestion, Path(out)) if out else None
    return LRFindResult(lrs, losses, smoothed, suggestion, plot)


def _plot_lr(lrs, losses, smoothed, suggestion: float, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs, losses, alpha=0.3, label="loss")
    ax.plot(lrs, smoothed, label="smoothed")
    ax.axvline(suggestion, color="r", linestyle="--", label=f"suggested {suggestion:.2e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out, dpi=100)  # atomic: a full disk names the file, leaves no half image
    plt.close(fig)
    return out


def overfit_batch(
    cfg: TrainConfig, steps: int = 100, target_ratio: float = 0.2, data: TrainData | None = None
) -> OverfitResult:
    """Trains `steps` times on one fixed batch (no augmentation, constant lr0, no
    weight decay); passes when the final loss ≤ target_ratio × the initial one."""
    data, model, loss_fn, device = _setup(cfg, data)
    batch = next(iter(_loader(cfg, data, augment=False)))
    opt = build_optimizer(model, dataclasses.replace(cfg.optim, weight_decay=0.0))
    amp = resolve_amp(cfg.amp, device)
    losses = []
    for _ in range(steps):
        loss, _ = _loss(model, loss_fn, batch, cfg, amp, device)
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip or math.inf)
        opt.step()
    else:  # the loss after the last step (each one above was measured before its step)
        with torch.no_grad():
            losses.append(float(_loss(model, loss_fn, batch, cfg, amp, device)[0]))
    initial, final = losses[0], losses[-1]
    passed = math.isfinite(final) and final <= target_ratio * initial
    return OverfitResult(losses, initial, final, target_ratio, passed, list(batch.paths))


@dataclasses.dataclass
class DiagnoseResult:
    """Per-layer activation statistics and gradient checks on one training batch."""

    activations: list
    gradients: list
    paths: list[str]
    note: str = ""


def diagnose(cfg: TrainConfig, samples: int = 8, data: TrainData | None = None) -> DiagnoseResult:
    """Activation / dying-unit statistics (train mode) and a float64 gradient check of the
    YOLO loss on the first batch of the training split (no augmentation)."""
    from yolo3.train.probes import activation_stats, gradient_check

    data, model, loss_fn, device = _setup(cfg, data)
    batch = next(iter(_loader(cfg, data, augment=False)))
    images = batch.images.to(device).float().div_(255)
    activations = activation_stats(model.train(), images)
    note = ""
    if cfg.loss.box_loss == "ciou":  # its α is a constant in backward by design: not an exact derivative
        loss_fn = YOLOLoss(model, dataclasses.replace(cfg.loss, box_loss="diou"))
        note = "box loss CIoU holds α constant in its backward (by design); the check uses DIoU (CIoU without α·v)"
    x64, t64 = images.double(), batch.targets.to(device).double()
    gradients = gradient_check(model, lambda net: loss_fn(net(x64), t64)[0], samples=samples, seed=cfg.seed)
    return DiagnoseResult(activations, gradients, list(batch.paths), note)
