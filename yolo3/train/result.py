"""`TrainResult`: what `yolo3.train.train` returns."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch


@dataclasses.dataclass
class TrainResult:
    """What a run produced. `metrics`: one dict per epoch (the rows of metrics.csv);
    `model`: the trained raw weights in memory (the files serve the EMA ones)."""

    run_dir: Path
    last: Path
    best: Path
    epochs_done: int
    best_epoch: int
    best_fitness: float
    stopped_early: bool
    metrics: list[dict[str, Any]] = dataclasses.field(repr=False)
    model: torch.nn.Module | None = dataclasses.field(default=None, repr=False)

    def __repr__(self) -> str:
        """One line: where the run is and how it ended (epochs 1-based, as the bar)."""
        best = f"best epoch {self.best_epoch + 1}, fitness {self.best_fitness:.4g}" if self.best_epoch >= 0 else "no best"
        stop = ", stopped early" if self.stopped_early else ""
        return f"TrainResult(run_dir={str(self.run_dir)!r}, {self.epochs_done} epochs, {best}{stop})"
