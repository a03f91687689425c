"""`val(weights, data, split)`: the Python API behind `yolo3 val`.

Loads a checkpoint and a dataset (any format `load_dataset` reads), evaluates one split
with the evaluation defaults, prints nothing itself, writes a new folder (runs/val,
runs/val2, … or `out_dir`, numbered alike when it exists: never overwritten) with plots
and summary.json, and optionally stores the per-class thresholds in the checkpoint.
The split goes through check-data first (default policy: unreadable, truncated and
oversized images are skipped, boxes cleaned as for training), so one bad file does
not end the run; the check's counts go into summary.json under `data_check` and the
findings are on the returned result's `data_check` report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from yolo3.data.formats import DatasetIndex
from yolo3.data.validate import CheckPolicy, CheckReport
from yolo3.eval.evaluate import evaluate
from yolo3.eval.result import EvalResult
from yolo3.eval.coco import write_coco_json
from yolo3.eval.store import check_thresholds_target, save_thresholds as save_thresholds_to
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.tta import TTAConfig
from yolo3.io.checkpoint import load_model, model_config_from_metadata
from yolo3.io.runs import next_run_dir, numbered_out


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
    in_place: bool = False,
    save_json: bool = False,
    backend: str = "torch",
    precision: str | None = None,
    device: str = "cpu",
    threads: int | None = None,
    log: Callable[[str], None] = lambda _: None,
    preprocess: str = "yolo3",
    tta: TTAConfig | None = None,
) -> tuple[EvalResult, Path]:
    """Evaluates `weights` on `split` of dataset `data`; returns (result, run folder).

    check_policy: how check-data treats the split's problems (default CheckPolicy()); its
        max_pixels is also the cap of every image read after the check.
    save_thresholds: store the per-class thresholds (`yolo3.eval.store.save_thresholds`:
        into a copy in the run folder, or the original with in_place); the copy's path is
        `result.thresholds_file`. Raises ValueError for degenerate thresholds.
    save_json: write the COCO detections and the ground truth they were scored against
        (predictions.json, ground_truth.json) into the run folder.
    log: receives one line naming the backend and precision used.
    backend, precision, device, threads: as `Detector.load`; the plain torch fp32 path
    (the default) evaluates the checkpoint's model itself, every other combination (and
    .onnx / OpenVINO weights) runs through a `Detector`.
    preprocess: 'yolo3' letterbox or 'darknet' (darknet's own resize and padding).
    tta: measure with test-time augmentation (flip + scales, merged; `yolo3 detect --tta`
        does the same), always through a `Detector`; summary.json records its settings.
    """
    from yolo3.inference.choose import model_kind
    from yolo3.inference.device import resolve_device

    detector = None
    plain = backend == "torch" and precision in (None, "fp32") and model_kind(weights) == "checkpoint" and tta is None
    if plain:
        model, _ = load_model(weights)
        model.to(resolve_device(device))
        log(f"backend: torch fp32 on {resolve_device(device)}")
        cfg = model.cfg
    else:
        from yolo3.inference.detector import Detector

        if save_thresholds:
            check_thresholds_target(weights)
        detector = Detector.load(weights, device, precision, threads=threads, imgsz=imgsz, batch_size=batch_size,
                                 backend=backend, preprocess=preprocess)
        cfg = model_config_from_metadata(detector.metadata, weights)
        log(f"backend: {detector.backend_name} {detector.precision} ({detector.backend_note})")
    policy = check_policy or CheckPolicy()
    index, report = load_eval_split(weights, cfg.class_names, data, split, policy)
    run_dir = numbered_out(out_dir) if out_dir is not None else next_run_dir("runs", "val")
    info = {"weights": str(weights), "dataset": str(data), "dataset_format": index.format, "split": split,
            "data_check": report.summary(), "preprocess": preprocess,
            "tta": dataclasses.asdict(tta) if tta is not None else None}
    if detector is None:
        result = evaluate(model, report.splits[split], index.class_names, imgsz or cfg.imgsz, batch_size,
                          nms, run_dir, plots, info, preprocess=preprocess, max_pixels=policy.max_pixels)
    else:
        from yolo3.eval.detector_eval import evaluate_detector

        result = evaluate_detector(detector, report.splits[split], index.class_names, nms, run_dir, plots, info, tta,
                                   policy.max_pixels)
    result.data_check = report
    if save_json:
        write_coco_json(report.splits[split], result.detections, index.class_names, run_dir)
    if save_thresholds:
        result.thresholds_file = save_thresholds_to(weights, result.class_thresholds, index.class_names, run_dir,
                                                    in_place, result.thresholds.fallback.tolist())
    return result, run_dir


NAMED_CLASS_FORMATS = ("voc", "labelme", "cvat")
"""Formats whose boxes name their class (`load_dataset` takes the class order)."""


def load_eval_split(weights: str | Path, model_names: list[str], data: str | Path, split: str,
                    policy: CheckPolicy, limit: int | None = None) -> tuple[DatasetIndex, CheckReport]:
    """The dataset and its checked `split` as `val` scores them (`benchmark` too).

    A VOC, LabelMe or CVAT dataset is read in the model's class order (`model_names`);
    the model's and the dataset's classes must then be the same list; check-data runs
    over the split with `policy`. Raises ValueError naming the dataset when the split is
    missing or empty. limit: check (and keep) only the split's first `limit` images.
    """
    from yolo3.data.formats import load_dataset
    from yolo3.data.validate import check_dataset

    index = load_dataset(data)
    if index.format in NAMED_CLASS_FORMATS and model_names:
        # their boxes carry class names: any order of the model's names reads the same boxes,
        # but a name the model lacks would silently drop its boxes (every AP n/a).
        if not set(index.class_names) <= set(model_names):
            _classes_differ(weights, model_names, index.class_names, data)
        index = load_dataset(data, list(model_names))
    if split not in index.splits or not index.splits[split]:
        have = sorted(k for k, v in index.splits.items() if v)
        raise ValueError(f"{data}: no '{split}' split (it has {have}); choose one with --split")
    if model_names and list(model_names) != list(index.class_names):
        _classes_differ(weights, model_names, index.class_names, data)
    only_split = dataclasses.replace(index, splits={split: index.splits[split][: limit or None]})
    return index, check_dataset(only_split, policy)


def _classes_differ(weights: str | Path, model_names: list[str], data_names: list[str], data: str | Path) -> None:
    raise ValueError(f"{weights}: the model's classes {list(model_names)} differ from the dataset's "
                     f"{list(data_names)} ({data}); evaluate on the dataset it was trained for")
