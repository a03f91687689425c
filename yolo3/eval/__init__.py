"""Evaluation (SPEC §7): COCO and VOC metrics, PR/F1 curves, confusion matrix,
per-class F1-optimal thresholds, plots and a JSON summary per run."""

from yolo3.eval.coco import COCO_METRIC_NAMES, coco_metrics
from yolo3.eval.evaluate import compute_metrics, evaluate, run_inference
from yolo3.eval.result import DETECT_NMS, VAL_NMS, EvalResult
from yolo3.eval.store import THRESHOLDS_KEY, store_thresholds
from yolo3.eval.voc import voc_ap, voc_metrics

__all__ = [
    "COCO_METRIC_NAMES", "DETECT_NMS", "EvalResult", "THRESHOLDS_KEY", "VAL_NMS", "coco_metrics",
    "compute_metrics", "evaluate", "run_inference", "store_thresholds", "voc_ap", "voc_metrics",
]
