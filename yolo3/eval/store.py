"""Per-class thresholds into a checkpoint's metadata (SPEC §7.3, §8.5).

`save_thresholds` is what `val --save-thresholds` does: it refuses degenerate
thresholds (below MIN_USEFUL_THRESHOLD: a model that separates nothing, e.g. untrained,
whose F1-optimal cut keeps almost every candidate) and thresholds of which none was
chosen (a split without a found ground-truth box: all the global fallback), and writes
a copy of the checkpoint into the val run folder unless `in_place` confirms rewriting
the original.
"""

from __future__ import annotations

import math
from pathlib import Path

from yolo3.io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

THRESHOLDS_KEY = "class_thresholds"
MIN_USEFUL_THRESHOLD = 0.01  # below it `detect --thresholds auto` would keep nearly every candidate


def check_thresholds_target(weights_path: str | Path) -> None:
    """ValueError unless `weights_path` is a checkpoint thresholds can be stored in (not an export)."""
    from yolo3.inference.choose import model_kind

    if model_kind(weights_path) != "checkpoint":
        raise ValueError(f"--save-thresholds writes into a .safetensors checkpoint; {weights_path} is not one "
                         "(give the checkpoint it was exported from)")


def store_thresholds(weights_path: str | Path, thresholds: list[float], target: str | Path | None = None) -> None:
    """Rewrites the safetensors file atomically with metadata["class_thresholds"] (length C),
    or writes that file to `target` (the original untouched).

    `detect --thresholds auto` reads them back; everything else in the file is kept.
    """
    tensors, meta = load_checkpoint(weights_path)
    model = meta.get("model") or {}
    num_classes = model.get("num_classes")
    values = [float(t) for t in thresholds]
    if num_classes is not None and len(values) != num_classes:
        raise CheckpointError(f"{weights_path}: {len(values)} thresholds for a model of {num_classes} classes")
    if not all(math.isfinite(t) and 0.0 <= t <= 1.0 for t in values):
        raise ValueError(f"thresholds must be scores in [0, 1], got {values}")
    meta.pop("format_version", None)
    save_checkpoint(weights_path if target is None else target, tensors, {**meta, THRESHOLDS_KEY: values})


def degenerate_thresholds(thresholds: list[float], class_names: list[str],
                          fallback: list[bool] | None = None) -> str | None:
    """None when every threshold is useful, else a sentence naming the worst class.

    fallback: per class, True where no threshold could be chosen (no ground truth or no
    true positive: the global default stands in); all True means nothing was chosen.
    """
    low = [(t, n) for t, n in zip(thresholds, class_names) if t < MIN_USEFUL_THRESHOLD]
    if not low:
        if fallback is not None and len(fallback) and all(fallback):
            return ("no class has a ground-truth box the model found, so no threshold was chosen (every one is the "
                    "global fallback); evaluate on a split with labelled objects")
        return None
    t, name = min(low)
    return (f"{len(low)} of {len(thresholds)} chosen thresholds are below {MIN_USEFUL_THRESHOLD:g} (class {name!r}: "
            f"{t:.4g}): the model does not separate objects from background yet (untrained or too short a run)")


def save_thresholds(weights_path: str | Path, thresholds: list[float], class_names: list[str], run_dir: str | Path,
                    in_place: bool = False, fallback: list[bool] | None = None) -> Path:
    """Stores thresholds for `detect --thresholds auto`; returns the checkpoint written.

    Without `in_place` the checkpoint is copied to run_dir/<name> first, so the
    original is never changed by accident. Raises ValueError (nothing written) when the
    thresholds are degenerate or, by `fallback` (per class, see `degenerate_thresholds`),
    none was chosen.
    """
    problem = degenerate_thresholds(list(thresholds), list(class_names), fallback)
    if problem:
        raise ValueError(f"--save-thresholds: {problem}; nothing written. Train longer, or give detect "
                         "--thresholds explicitly")
    source = Path(weights_path)
    target = source if in_place else Path(run_dir) / source.name
    store_thresholds(source, thresholds, target)  # one atomic write: never a half-copied checkpoint
    return target
