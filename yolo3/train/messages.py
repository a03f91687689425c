"""What a training run tells its user, worded in one place: where the run is, how best
is chosen, each validation's line, and what an interrupted run saved. Epochs are
numbered from 1 everywhere a person reads them (bar, logs, metrics.csv)."""

from __future__ import annotations

from pathlib import Path

from yolo3.train.config import TrainConfig

# Shown at the start of a run next to the progress bar's columns.
BAR_LEGEND = ("bar: box, obj, cls = mean loss terms per image so far this epoch; loss = box + obj + cls; "
              "lr; img/s")


def best_rule(cfg: TrainConfig, has_val: bool, no_val_reason: str | None = None) -> str | None:
    """A warning when best.safetensors cannot be chosen by validation mAP, else None.
    no_val_reason: why training has no val split when the dataset does have one (the demo's hold-back)."""
    if not has_val and no_val_reason:
        return (f"warning: {no_val_reason}: best.safetensors will be the epoch with the lowest training loss, "
                "not the best mAP")
    if not has_val:
        return (f"warning: {cfg.data} has no 'val' split: best.safetensors will be the epoch with the lowest "
                "training loss, not the best mAP (add a val split to choose by mAP)")
    if not cfg.val_interval:
        return ("warning: --val-interval 0: no validation, so best.safetensors will be the epoch with the lowest "
                "training loss, not the best mAP")
    return None


def validation_line(epoch: int, epochs: int, metrics: dict[str, float]) -> str:
    """One line per validation: 'epoch 3/30 val: mAP@0.5 0.412  mAP@0.5:0.95 0.201' (epoch 0-based in)."""
    def fmt(key: str) -> str:
        value = metrics.get(key, -1.0)
        return f"{value:.4f}" if value >= 0 else "n/a"

    return f"epoch {epoch + 1}/{epochs} val: mAP@0.5 {fmt('mAP@0.5')}  mAP@0.5:0.95 {fmt('mAP@0.5:0.95')}"


def failed_write_hint(run_dir: Path, epochs_done: int) -> str:
    """What a run stopped by a failed write (disk full) leaves, and how to continue: one clause.

    epochs_done: epochs whose checkpoint was written (1-based count)."""
    last = run_dir / "weights" / "last.safetensors"
    if epochs_done == 0 or not last.is_file():
        return (f"no epoch was saved in {run_dir}: free some space (or fix the cause) and start the run again "
                "(no --resume)")
    return (f"{last} holds epoch {epochs_done} (the last complete one): free some space (or fix the cause), then "
            f"resume with: yolo3 train --resume {run_dir}")


def interrupted_lines(run_dir: Path, epochs_done: int, best_epoch: int, resumable: bool) -> list[str]:
    """What Ctrl-C leaves: the files holding which epoch, and the exact resume command.

    epochs_done: epochs whose checkpoint was written (1-based count); best_epoch:
    0-based epoch held by best.safetensors (-1: none)."""
    weights = run_dir / "weights"
    if epochs_done == 0 or not (weights / "last.safetensors").is_file():
        return [f"interrupted before the first epoch ended: nothing was saved in {run_dir}; "
                "start the run again (no --resume)"]
    lines = [f"interrupted: {weights / 'last.safetensors'} holds epoch {epochs_done} (the last complete one)"]
    if best_epoch >= 0 and (weights / "best.safetensors").is_file():
        lines.append(f"             {weights / 'best.safetensors'} holds epoch {best_epoch + 1} (the best so far)")
    if resumable:
        lines.append(f"resume with: yolo3 train --resume {run_dir}")
    return lines
