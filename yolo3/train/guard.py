"""NaN/inf guard: skip a step whose loss or gradients are not finite, name the batch,
and stop with a clear message after too many failures in a row."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch


class TrainingDiverged(RuntimeError):
    """Raised after `max_consecutive` non-finite steps in a row."""


class NonFiniteGuard:
    """Counts consecutive non-finite steps; `check` says whether a step may be applied.

    A skipped step's gradients must be discarded by the caller (zero_grad). The warning
    names the iteration, the loss terms and the images of the batch, so the bad data or
    the exploding setting can be found.
    """

    def __init__(self, max_consecutive: int = 5) -> None:
        self.max_consecutive = max_consecutive
        self.consecutive = 0
        self.total = 0

    def check(self, value: torch.Tensor | float, it: int, paths: Sequence[str], terms: dict | None = None) -> bool:
        """True when `value` (loss or gradient norm) is finite; else warns, counts and
        raises TrainingDiverged once `max_consecutive` failures happen in a row."""
        finite = math.isfinite(float(value))
        if finite:
            self.consecutive = 0
            return True
        self.consecutive += 1
        self.total += 1
        shown = ", ".join(paths[:8]) + (f" … (+{len(paths) - 8})" if len(paths) > 8 else "")
        detail = ", ".join(f"{k}={float(v):.4g}" for k, v in (terms or {}).items())
        message = (
            f"non-finite loss/gradient ({float(value)}) at iteration {it}; step skipped "
            f"[{self.consecutive}/{self.max_consecutive} in a row]. Terms: {detail or 'n/a'}. Images: {shown}"
        )
        if self.consecutive >= self.max_consecutive:
            raise TrainingDiverged(
                message + ". Training stopped: lower optim.lr0, lengthen warmup, turn amp off, "
                "or check these images' annotations (yolo3 check-data)."
            )
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return False
