"""`evaluate(model, samples, …)`: run the model on a split and measure it (SPEC §7).

The same function serves `yolo3 val` and validation during training. Images are read,
letterboxed and batched; detections are mapped back to original pixels and scored with
COCO metrics (pycocotools), VOC07/VOC2010 AP50, per-class F1-optimal thresholds and a
confusion matrix. Evaluation uses the settings users expect for mAP (conf 0.001,
NMS IoU 0.6, 300 detections), not the deployment defaults of `detect`.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from yolo3.config import imgsz_problem
from yolo3.data.image_io import MAX_PIXELS, read_image
from yolo3.data.sample import Sample
from yolo3.eval.coco import coco_metrics
from yolo3.eval.confusion import confusion_matrix
from yolo3.eval.matching import match_dataset
from yolo3.eval.report import save_run
from yolo3.eval.result import VAL_NMS, EvalResult
from yolo3.eval.thresholds import choose_thresholds
from yolo3.eval.voc import voc_metrics
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.predict import predict_arrays
from yolo3.inference.results import Detections
from yolo3.models import YOLOv3Base

@torch.no_grad()
def run_inference(
    model: YOLOv3Base, samples: list[Sample], class_names: list[str], imgsz: int, batch_size: int, nms: NMSConfig,
    progress: bool = False,
    preprocess: str = "yolo3",
    max_pixels: int | None = MAX_PIXELS,
) -> list[Detections]:
    """Detections per sample (original pixels), batch by batch; restores the model's mode.
    progress: a 'val' bar over the images (training's validation shows it).
    max_pixels: the image reader's cap (the run's data_check.max_pixels)."""
    from tqdm import tqdm

    was_training = model.training
    model.eval()
    out: list[Detections] = []
    bar = tqdm(total=len(samples), desc="val", unit="img", disable=not progress, leave=False, dynamic_ncols=True)
    try:
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            out += predict_arrays(model, [read_image(s.image_path, max_pixels) for s in chunk], imgsz, nms,
                                  [str(s.image_path) for s in chunk], class_names, preprocess)
            bar.update(len(chunk))
    finally:
        bar.close()
        model.train(was_training)
    return out


def compute_metrics(
    samples: list[Sample], detections: list[Detections], class_names: list[str], nms: NMSConfig, imgsz: int = 0
) -> EvalResult:
    """All metrics of a validation run from detections already in original pixels."""
    if len(samples) != len(detections):
        raise ValueError(f"{len(samples)} samples but {len(detections)} detection lists; they must pair up")
    num_classes = len(class_names)
    for s in samples:
        bad = (s.class_ids < 0) | (s.class_ids >= num_classes)
        if bad.any():
            raise ValueError(f"{s.annotation_path or s.image_path}: class id {int(s.class_ids[bad][0])} is outside "
                             f"0..{num_classes - 1}; fix the label or the class list")
    metrics = coco_metrics(samples, detections, class_names)
    match = match_dataset(samples, detections, num_classes, 0.5)
    metrics.update(voc_metrics(samples, detections, class_names, match))
    report = choose_thresholds(match)
    confusion = confusion_matrix(samples, detections, num_classes, report.thresholds)
    n_gt = np.zeros(num_classes, np.int64)
    for s in samples:
        n_gt += np.bincount(s.class_ids, minlength=num_classes)
    return EvalResult(
        metrics=metrics,
        class_names=list(class_names),
        per_class_ap={n: metrics[f"AP@0.5:0.95/{n}"] for n in class_names},
        per_class_ap50={n: metrics[f"AP@0.5/{n}"] for n in class_names},
        class_thresholds=[float(t) for t in report.thresholds],
        thresholds=report,
        confusion=confusion,
        n_gt=n_gt.tolist(),
        nms=nms,
        imgsz=imgsz,
        detections=detections,
    )


def evaluate(
    model: YOLOv3Base,
    samples: list[Sample],
    class_names: list[str],
    imgsz: int,
    batch_size: int = 8,
    nms: NMSConfig | None = None,
    out_dir: Path | None = None,
    plots: bool = False,
    run_info: dict[str, Any] | None = None,
    progress: bool = False,
    preprocess: str = "yolo3",
    max_pixels: int | None = MAX_PIXELS,
) -> EvalResult:
    """Runs `model` on `samples` and measures it (contract 4).

    Args:
        model: any yolo3 model; its mode (train/eval) is restored afterwards.
        samples: images with ground truth in original pixels.
        class_names: names indexed by class id; must match the model's class count.
        imgsz: square letterbox size in pixels (a multiple of the largest stride).
        nms: post-processing; default VAL_NMS (conf 0.001, IoU 0.6, 300 detections).
        out_dir: when given, summary.json (and plots) are written there.
        plots: save PR, F1, confusion and image-grid PNGs to out_dir.
        run_info: extra entries for summary.json (dataset, split, weights, …).
        progress: show a progress bar over the images.
        preprocess: 'yolo3' letterbox, or 'darknet' (darknet's resize and padding, for
            converted official weights).
        max_pixels: cap on width × height of the images read (inference and the image
            grid); training and `val` pass their check policy's, so an image the check
            let through is read.

    Example:
        >>> result = evaluate(model, index.splits["val"], index.class_names, 416)
        >>> result.metrics["mAP@0.5"]
    """
    if model.num_classes != len(class_names):
        raise ValueError(f"the model predicts {model.num_classes} classes but the dataset has {len(class_names)} "
                         f"({class_names}); evaluate with weights trained on this dataset")
    if not samples:
        raise ValueError("no samples to evaluate: the split is empty")
    if imgsz_problem(imgsz) or imgsz % max(model.strides):
        raise ValueError(f"imgsz {imgsz} must be a multiple of the largest stride {max(model.strides)} "
                         f"({imgsz_problem(imgsz) or 'this model has a larger one'})")
    if batch_size < 1:
        raise ValueError(f"batch_size {batch_size}: must be at least 1")
    nms = nms or dataclasses.replace(VAL_NMS)
    t0 = time.perf_counter()
    detections = run_inference(model, samples, class_names, imgsz, batch_size, nms, progress, preprocess, max_pixels)
    t1 = time.perf_counter()
    result = compute_metrics(samples, detections, class_names, nms, imgsz)
    result.timings = {"inference_s": t1 - t0, "metrics_s": time.perf_counter() - t1}
    if out_dir is not None:
        save_run(result, samples, Path(out_dir), plots, run_info or {}, max_pixels)
    return result
