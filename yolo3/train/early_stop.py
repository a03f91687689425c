"""Early stopping: when a run has stopped getting better (SPEC §6.2).

The rule reads the fitness of every counted validation so far (`history`, oldest first:
val mAP@0.5:0.95 per validation, or minus the training loss per epoch when the run has
no val split) and stops only when all three hold:

1. No better *smoothed* fitness for `patience` validations. The smoothed fitness is the
   mean of the last `smooth` values (fewer at the start), so one lucky validation does
   not set a bar that the noise of the next ones cannot reach: with the single best
   value (the old rule) a BCCD re-run stopped at epoch 132, 45 epochs after its best
   validation, while its val mAP was still trending up (issue 18).
2. The fitness is not still trending up: the least-squares slope of the last `patience`
   values is not above `trend_t` times its standard error (a one-sided t test; a slow
   climb back after a dip keeps the run going even below its old best).
3. At least `min_share` of the planned epochs are done. Under a time budget the plan is
   the epochs fitted to the budget, so the first part of the budget is never cut short
   for noise alone (in the first half the cosine LR is still near its peak, validation
   mAP is at its noisiest, and a plateau is often followed by gains as the LR decays).

`patience: 0` turns early stopping off. `smooth: 1, trend_t: 0, min_share: 0` is the
old rule: stop after `patience` validations without a strictly better value.

Everything is a pure function of `history`, which the checkpoint stores exactly
(`train.fitness_history`), so a resumed run decides as the unbroken one would. A
checkpoint written before the history was stored is resumed with the history read back
from metrics.csv (`history_from_metrics`; its values are rounded to 6 digits there).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from yolo3.config import ConfigError

__all__ = ["EarlyStopConfig", "StopDecision", "decide", "history_from_metrics", "smoothed", "trend_t"]


@dataclasses.dataclass
class EarlyStopConfig:
    """How `patience` (TrainConfig) decides; see the module docstring.

    Attributes:
        smooth: validations averaged (moving mean) before comparing with the best;
            1 = each validation alone.
        trend_t: never stop while the least-squares slope of the last `patience`
            validations exceeds this many standard errors (needs patience >= 3);
            <= 0: the trend is not checked.
        min_share: never stop before this share of the planned epochs (with a time
            budget: of the epochs fitted to the budget) is done, in [0, 1).
    """

    smooth: int = 5
    trend_t: float = 1.0
    min_share: float = 0.5

    def __post_init__(self) -> None:
        if self.smooth < 1:
            raise ConfigError(f"early_stop.smooth must be >= 1 (1 = no smoothing), got {self.smooth}")
        if not 0 <= self.min_share < 1:
            raise ConfigError(f"early_stop.min_share must be in [0, 1) (e.g. 0.5), got {self.min_share}")
        if not math.isfinite(self.trend_t):
            raise ConfigError(f"early_stop.trend_t must be a finite number (0 = off), got {self.trend_t}")


@dataclasses.dataclass(frozen=True)
class StopDecision:
    """The verdict after one validation.

    stop: end the run now. since_best: validations since the best smoothed fitness
    (0 = this one). best_index: 0-based index in `history` of that best (-1: none).
    t: the trend's t statistic over the last `patience` values (nan: not computed).
    reason: one line for the log, whichever way it went.
    """

    stop: bool
    since_best: int
    best_index: int
    t: float
    reason: str


def smoothed(history: Sequence[float], window: int) -> list[float]:
    """Moving mean: element i is the mean of history[max(0, i - window + 1) : i + 1]."""
    out = []
    for i in range(len(history)):
        part = history[max(0, i - window + 1):i + 1]
        out.append(math.fsum(part) / len(part))
    return out


def trend_t(values: Sequence[float]) -> float:
    """t statistic of the least-squares slope of `values` against 0, 1, 2, …: slope
    divided by its standard error (n − 2 degrees of freedom). +inf for an exactly rising
    line, −inf for a falling one, 0 for a flat one; nan for fewer than 3 values."""
    n = len(values)
    if n < 3:
        return math.nan
    x_mean = (n - 1) / 2
    y_mean = math.fsum(values) / n
    sxx = math.fsum((i - x_mean) ** 2 for i in range(n))
    slope = math.fsum((i - x_mean) * (y - y_mean) for i, y in enumerate(values)) / sxx
    sse = math.fsum((y - y_mean - slope * (i - x_mean)) ** 2 for i, y in enumerate(values))
    se = math.sqrt(sse / (n - 2) / sxx)
    if se == 0.0:
        return 0.0 if slope == 0.0 else math.copysign(math.inf, slope)
    return slope / se


def decide(history: Sequence[float], patience: int, cfg: EarlyStopConfig, epochs_done: int,
           planned_epochs: int) -> StopDecision:
    """Whether to stop after the validation that appended history[-1].

    history: counted fitness values, oldest first. patience: validations (0 = never
    stop). epochs_done: epochs finished (1-based count); planned_epochs: the run's
    current length in epochs (after the time budget's fit).
    """
    if not history:
        return StopDecision(False, 0, -1, math.nan, "no validation yet")
    means = smoothed(history, cfg.smooth)
    best_index = max(range(len(means)), key=lambda i: (means[i], -i))  # the first of equal maxima
    since_best = len(history) - 1 - best_index
    t = trend_t(history[-patience:]) if patience >= 3 and len(history) >= patience else math.nan
    if patience <= 0:
        return StopDecision(False, since_best, best_index, t, "early stopping off (patience 0)")
    waited = f"{since_best} validation(s) without a better {cfg.smooth}-validation mean"
    if since_best < patience:
        return StopDecision(False, since_best, best_index, t, f"{waited} (patience {patience})")
    if cfg.trend_t > 0 and t > cfg.trend_t:
        return StopDecision(False, since_best, best_index, t,
                            f"{waited}, but the last {patience} still rise (t = {t:.2f} > {cfg.trend_t:g})")
    share = epochs_done / max(planned_epochs, 1)
    if share < cfg.min_share:
        return StopDecision(False, since_best, best_index, t,
                            f"{waited}, but only {share:.0%} of the {planned_epochs} planned epochs are done "
                            f"(min_share {cfg.min_share:g})")
    trend = f", trend t = {t:.2f}" if not math.isnan(t) else ""
    return StopDecision(True, since_best, best_index, t, f"{waited} (patience {patience}{trend})")


def history_from_metrics(rows: Sequence[dict[str, str]], validated_only: bool) -> list[float]:
    """The counted fitness values of metrics.csv rows (`read_metrics`), oldest first: the
    rows with a validation (an mAP@0.5:0.95 value) when `validated_only`, else every row
    (a run without a val split counts each epoch's training loss)."""
    out = []
    for row in rows:
        if row.get("fitness") in (None, "") or (validated_only and row.get("mAP@0.5:0.95") in (None, "")):
            continue
        out.append(float(row["fitness"]))
    return out
