"""`val(weights, data, split)`: the Python API behind `yolo3 val`.

Loads a checkpoint and a dataset (any format `load_dataset` reads), evaluates one split
with the evaluation defaults, prints nothing itself, writes runs/val/<name>/ (plots and
summary.json) and optionally stores the per-class thresholds in the checkpoint.
The split goes through check-data first (default policy: unreadable, truncated and
oversized images are skipped, boxes cleaned as for training), so one bad file does
not end the run; the check's counts go into summary.json under `data_check` and the
findings are on the returned result's `data_check` report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from yolo3.data.validate import CheckPolicy
from yolo3.eval.evaluate import EvalResult, evaluate
from yolo3.eval.store import store_thresholds
from yolo3.inference.postprocess import NMSConfig
from yolo3.io.checkpoint import load_model


def next_run_dir(root: Path, name: str) -> Path:
    """root/name, or root/name2, name3, … if it exists already."""
    candidate, k = root / name, 2
    while candidate.exists():
        candidate, k = root / f"{name}{k}", k + 1
    return candidate


def val(
    weights: str | Path,
    data: str | Path,
    split: str = "val",
    imgsz: int | None = None,
    batch_size: int = 8,
    nms: NMSConfig | None = None,
    out_dir: str | Path | None = None,
    plots: bool = True,
    save_thresholds: bool = False,
    check_policy: CheckPolicy | None = None,
    preprocess: str = "yolo3",
) -> tuple[EvalResult, Path]:
    """Evaluates `weights` on `split` of dataset `data`; returns (result, run folder).

    check_policy: how check-data treats the split's problems (default CheckPolicy()).
    preprocess: 'yolo3' letterbox or 'darknet' (darknet's own resize and padding).
    """
    from yolo3.data.formats import load_dataset
    from yolo3.data.validate import check_dataset

    model, _ = load_model(weights)
    index = load_dataset(data, model.cfg.class_names)
    if split not in index.splits or not index.splits[split]:
        have = sorted(k for k, v in index.splits.items() if v)
        raise ValueError(f"{data}: no '{split}' split (it has {have}); choose one with --split")
    if model.cfg.class_names and list(model.cfg.class_names) != list(index.class_names):
        raise ValueError(f"{weights}: the model's classes {model.cfg.class_names} differ from the dataset's "
                         f"{index.class_names} ({data}); evaluate on the dataset it was trained for")
    only_split = dataclasses.replace(index, splits={split: index.splits[split]})
    report = check_dataset(only_split, check_policy or CheckPolicy())
    run_dir = Path(out_dir) if out_dir is not None else next_run_dir(Path("runs/val"), "exp")
    info = {"weights": str(weights), "dataset": str(data), "dataset_format": index.format, "split": split,
            "data_check": report.summary(), "preprocess": preprocess}
    result = evaluate(model, report.splits[split], index.class_names, imgsz or model.cfg.imgsz, batch_size,
                      nms, run_dir, plots, info, preprocess)
    result.data_check = report
    if save_thresholds:
        store_thresholds(weights, result.class_thresholds)
    return result, run_dir
