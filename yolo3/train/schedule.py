"""LR and momentum as pure functions of the iteration (so a resumed run is exact).

Warmup (first `warmup_iters` iterations): the LR of weights rises linearly from 0, that
of biases falls from `warmup_bias_lr`, both to the scheduled value; momentum rises from
`warmup_momentum` to the base one. After warmup `lr_factor` of the training progress
gives the LR as a multiple of lr0.

Progress is `SchedulePlan.at(it)`: iterations done / planned iterations, until a
wall-clock budget re-plans the number of epochs mid-run. A re-plan never moves progress
back: from the iteration it happens at, the progress left is spread over the iterations
now left (`SchedulePlan.replan`). So the LR stays a non-decreasing-progress function —
non-increasing after warmup for cosine/linear/step — however the speed estimate jumps.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from yolo3.train.config import ScheduleConfig
from yolo3.train.optim import set_momentum


def warmup_iters(cfg: ScheduleConfig, iters_per_epoch: int) -> int:
    """Number of warmup iterations: warmup_epochs of data, at least warmup_min_iters."""
    if cfg.warmup_epochs <= 0:
        return 0
    return max(int(round(cfg.warmup_epochs * iters_per_epoch)), cfg.warmup_min_iters)


def lr_factor(progress: float, cfg: ScheduleConfig) -> float:
    """LR multiple of lr0 at `progress` ∈ [0, 1] of training (epochs done / epochs)."""
    p = min(max(progress, 0.0), 1.0)
    end = cfg.final_lr_ratio
    if cfg.kind == "constant":
        return 1.0
    if cfg.kind == "linear":
        return 1.0 + (end - 1.0) * p
    if cfg.kind == "cosine":
        return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * p))
    if cfg.kind == "step":
        return cfg.gamma ** sum(p >= m for m in cfg.milestones)
    if cfg.kind == "onecycle":
        start = 1.0 / 25.0
        if p < cfg.onecycle_pct:
            q = p / cfg.onecycle_pct
            return start + (1.0 - start) * 0.5 * (1.0 - math.cos(math.pi * q))
        q = (p - cfg.onecycle_pct) / (1.0 - cfg.onecycle_pct)
        return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * q))
    raise ValueError(f"unknown schedule {cfg.kind!r}")


def onecycle_momentum(progress: float, cfg: ScheduleConfig, base: float) -> float:
    """One-cycle moves momentum opposite to the LR: down to 0.85·base, back to base."""
    low = 0.85 * base
    f = (lr_factor(progress, cfg) - cfg.final_lr_ratio) / (1.0 - cfg.final_lr_ratio)
    return base - (base - low) * min(max(f, 0.0), 1.0)


@dataclasses.dataclass(frozen=True)
class SchedulePlan:
    """The map iteration → progress ∈ [0, 1]: linear from (`start_it`, `start`) to
    (`total_iters`, 1). A fresh plan is (0, 0.0, iters_per_epoch × epochs), i.e. exactly
    it / total; `replan` makes the next linear piece when the epoch count changes.

    Attributes:
        total_iters: iteration at which progress reaches 1 (iters_per_epoch × epochs).
        start_it: iteration where the current piece starts (the last re-plan).
        start: progress at `start_it`.
    """

    total_iters: int
    start_it: int = 0
    start: float = 0.0

    def at(self, it: int) -> float:
        """Progress at global iteration `it` (0-based), clamped to [start, 1]."""
        p = self.start + (1.0 - self.start) * (it - self.start_it) / max(self.total_iters - self.start_it, 1)
        return min(max(p, self.start), 1.0)

    def replan(self, it: int, total_iters: int) -> "SchedulePlan":
        """The plan after learning at iteration `it` that the run will end at `total_iters`:
        progress continues from `at(it)`, so it never decreases (a longer run slows the decay,
        a shorter one speeds it up)."""
        if total_iters == self.total_iters:
            return self
        return SchedulePlan(total_iters, it, self.at(it))

    def to_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SchedulePlan":
        return cls(int(data["total_iters"]), int(data["start_it"]), float(data["start"]))


def schedule_at(
    it: int, iters_per_epoch: int, epochs: int, cfg: ScheduleConfig, lr0: float, momentum: float,
    plan: SchedulePlan | None = None,
) -> tuple[float, float, float]:
    """(weight LR, bias LR, momentum) at global iteration `it` (0-based).

    Iterations count batches (not optimizer updates), so accumulation does not change
    the curve. LRs are before each group's `lr_scale`. `plan` gives the progress (a run
    re-planned by a time budget); default: it / (iters_per_epoch × epochs).
    """
    progress = (plan or SchedulePlan(iters_per_epoch * epochs)).at(it)
    target = lr0 * lr_factor(progress, cfg)
    mom = onecycle_momentum(progress, cfg, momentum) if cfg.kind == "onecycle" else momentum
    nw = warmup_iters(cfg, iters_per_epoch)
    if it < nw:
        t = it / nw
        return t * target, cfg.warmup_bias_lr + t * (target - cfg.warmup_bias_lr), (
            cfg.warmup_momentum + t * (mom - cfg.warmup_momentum)
        )
    return target, target, mom


def apply_schedule(
    optimizer: torch.optim.Optimizer,
    it: int,
    iters_per_epoch: int,
    epochs: int,
    cfg: ScheduleConfig,
    lr0: float,
    momentum: float,
    plan: SchedulePlan | None = None,
) -> float:
    """Sets every group's LR (× its lr_scale) and the momentum for iteration `it`;
    returns the weight LR (for logging)."""
    lr_w, lr_b, mom = schedule_at(it, iters_per_epoch, epochs, cfg, lr0, momentum, plan)
    for g in optimizer.param_groups:
        g["lr"] = (lr_b if g.get("is_bias") else lr_w) * g.get("lr_scale", 1.0)
    set_momentum(optimizer, mom)
    return lr_w


def epochs_within_budget(
    budget_s: float, elapsed_s: float, epoch_seconds: list[float], epochs_done: int, max_epochs: int,
    window: int = 3,
) -> int:
    """Total epochs a run with a wall-clock budget should have, given what it has done.

    budget_s, elapsed_s: the budget and the time spent so far (seconds, setup included);
    epoch_seconds: duration of each finished epoch (training + validation + saving).
    The time per epoch is the mean of the last `window` epochs, leaving out the first
    (image cache filled, kernels warmed up), so the estimate follows the load of a
    shared machine; before two epochs are done, `max_epochs` is returned. Returns a value in [epochs_done, max_epochs];
    epochs_done means "stop now".
    """
    if budget_s <= 0 or len(epoch_seconds) < 2:
        return max_epochs  # one epoch (cache fill, warm-up) says too little; LR is still near lr0
    recent = epoch_seconds[1:][-window:]
    per_epoch = max(sum(recent) / len(recent), 1e-6)
    more = int(max(budget_s - elapsed_s, 0.0) // per_epoch)
    return max(epochs_done, min(max_epochs, epochs_done + more))
