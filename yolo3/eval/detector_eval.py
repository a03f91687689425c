"""Measuring any `Detector` (torch, onnxruntime, OpenVINO, int8) on a dataset split.

`evaluate()` measures a torch model during training; this is the same measurement for a
deployed model file: the detector's own pipeline (letterbox → backend → NMS → original
pixels) produces the detections, and `compute_metrics` scores them, so fp32, bf16 and
int8 numbers differ only by what the backend computes.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from yolo3.data.image_io import MAX_PIXELS, read_image
from yolo3.data.sample import Sample
from yolo3.eval.evaluate import compute_metrics
from yolo3.eval.report import save_run
from yolo3.eval.result import VAL_NMS, EvalResult
from yolo3.inference.detector import Detector
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.results import Detections
from yolo3.inference.tta import TTAConfig


def detector_detections(
    detector: Detector, samples: list[Sample], nms: NMSConfig, tta: TTAConfig | None = None,
    max_pixels: int | None = MAX_PIXELS,
) -> list[Detections]:
    """Detections per sample in original pixels, in `detector.batch_size` batches
    (tta: the detector's flip + multi-scale test-time augmentation; max_pixels: the
    image reader's cap)."""
    out: list[Detections] = []
    for start in range(0, len(samples), detector.batch_size):
        chunk = samples[start : start + detector.batch_size]
        out += detector.detect_arrays([read_image(s.image_path, max_pixels) for s in chunk], [str(s.image_path) for s in chunk],
                                      nms, tta=tta)
    return out


def evaluate_detector(
    detector: Detector,
    samples: list[Sample],
    class_names: list[str],
    nms: NMSConfig | None = None,
    out_dir: Path | None = None,
    plots: bool = False,
    run_info: dict[str, Any] | None = None,
    tta: TTAConfig | None = None,
    max_pixels: int | None = MAX_PIXELS,
) -> EvalResult:
    """Runs `detector` on `samples` and measures it (COCO + VOC metrics, thresholds).

    nms: default VAL_NMS (conf 0.001, IoU 0.6, 300 detections), as `yolo3 val`.
    tta: measure the detector with test-time augmentation (`yolo3 val --tta`).
    max_pixels: cap on width × height of the images read (`val` passes its check policy's).
    """
    if len(detector.class_names) != len(class_names):
        raise ValueError(f"{detector.source} predicts {len(detector.class_names)} classes but the dataset has "
                         f"{len(class_names)} ({class_names}); evaluate with weights trained on this dataset")
    if not samples:
        raise ValueError("no samples to evaluate: the split is empty")
    nms = nms or dataclasses.replace(VAL_NMS)
    t0 = time.perf_counter()
    detections = detector_detections(detector, samples, nms, tta, max_pixels)
    t1 = time.perf_counter()
    result = compute_metrics(samples, detections, class_names, nms, detector.imgsz)
    result.timings = {"inference_s": t1 - t0, "metrics_s": time.perf_counter() - t1}
    if out_dir is not None:
        info = {"backend": detector.backend_name, "precision": detector.precision, **(run_info or {})}
        save_run(result, samples, Path(out_dir), plots, info, max_pixels)
    return result
