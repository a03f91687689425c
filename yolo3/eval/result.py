"""`EvalResult`, what one evaluation measured, and the NMS settings mAP is reported with.

Its own module so that the writers of results (`yolo3.eval.report`) and the code that
measures (`yolo3.eval.evaluate`, `yolo3.eval.detector_eval`) both stand on it, the data
flowing one way: evaluate → report → result.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from yolo3.eval.thresholds import ThresholdReport
from yolo3.inference.postprocess import NMSConfig
from yolo3.inference.results import Detections

VAL_NMS = NMSConfig(conf_threshold=0.001, iou_threshold=0.6, max_det=300)
"""Evaluation defaults (what mAP is conventionally reported with)."""
DETECT_NMS = NMSConfig()
"""Deployment defaults of `detect`, printed next to the evaluation ones for contrast."""


@dataclasses.dataclass
class EvalResult:
    """What a validation run measured.

    metrics: flat name → value ('mAP@0.5:0.95', 'mAP@0.5', …, VOC and per-class
        entries); -1 means "not defined" (no ground truth), printed as n/a.
    per_class_ap / per_class_ap50: class name → COCO AP@0.5:0.95 / AP@0.5.
    class_thresholds: per-class F1-optimal score thresholds (index = class id).
    thresholds: the full threshold report (P/R/F1 per class vs one global threshold).
    confusion: (C+1, C+1) counts at the class thresholds, last row/col background.
    n_gt: ground-truth boxes per class; nms: settings used; timings in seconds.
    detections: per image, original pixels (same order as the samples).
    data_check: the check-data report of the evaluated split when `val` ran it
        (yolo3.data.validate.CheckReport), else None.
    """

    metrics: dict[str, float]
    class_names: list[str]
    per_class_ap: dict[str, float]
    per_class_ap50: dict[str, float]
    class_thresholds: list[float]
    thresholds: ThresholdReport
    confusion: np.ndarray
    n_gt: list[int]
    nms: NMSConfig
    imgsz: int = 0
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    detections: list[Detections] = dataclasses.field(default_factory=list, repr=False)
    data_check: Any = dataclasses.field(default=None, repr=False)
    thresholds_file: Path | None = None  # the checkpoint `val --save-thresholds` wrote

    @property
    def fitness(self) -> float:
        """The number to select checkpoints by: mAP@0.5:0.95 (0 when undefined)."""
        return max(self.metrics.get("mAP@0.5:0.95", 0.0), 0.0)
