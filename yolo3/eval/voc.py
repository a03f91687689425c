"""Pascal VOC AP at IoU 0.5 (SPEC §7.1): VOC2007 11-point and VOC2010+ all-point.

Both follow the VOC devkit: `difficult` ground truth is not counted in recall and
detections matched to it are ignored (see `yolo3.eval.matching`). A class without
(non-difficult) ground truth has no AP: -1, left out of the mean, printed as n/a.
"""

from __future__ import annotations

import numpy as np

from yolo3.data.sample import Sample
from yolo3.eval.matching import MatchResult, class_curve, match_dataset
from yolo3.inference.results import Detections

VOC07_NAME = "mAP@0.5(VOC07 11-point)"
VOC10_NAME = "mAP@0.5(VOC2010 all-point)"


def voc_ap(recall: np.ndarray, precision: np.ndarray, use_07_metric: bool = False) -> float:
    """AP from a PR curve (points in detection order, highest score first).

    VOC07: mean over recall levels 0, 0.1, …, 1 of the best precision at recall ≥ level.
    VOC2010+: area under the precision envelope (precision made non-increasing in
    recall), summed where recall changes.
    """
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    if use_07_metric:
        levels = np.linspace(0.0, 1.0, 11)
        return float(np.mean([precision[recall >= t].max() if (recall >= t).any() else 0.0 for t in levels]))
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def voc_ap_per_class(match: MatchResult, use_07_metric: bool) -> np.ndarray:
    """(C,) AP at the match's IoU threshold; -1 where a class has no ground truth."""
    out = np.full(len(match.n_gt), -1.0)
    for c, n_gt in enumerate(match.n_gt):
        if n_gt == 0:
            continue
        _, tp, fp = class_curve(match, c)
        if len(tp) == 0:
            out[c] = 0.0
            continue
        out[c] = voc_ap(tp / n_gt, tp / np.maximum(tp + fp, np.finfo(np.float64).eps), use_07_metric)
    return out


def _mean(ap: np.ndarray) -> float:
    valid = ap[ap >= 0]
    return float(valid.mean()) if len(valid) else -1.0


def voc_metrics(
    samples: list[Sample], detections: list[Detections], class_names: list[str], match: MatchResult | None = None
) -> dict[str, float]:
    """VOC07 and VOC2010 mAP@0.5 and per-class `AP@0.5(VOC07)/<name>`, `AP@0.5(VOC2010)/<name>`."""
    match = match if match is not None else match_dataset(samples, detections, len(class_names), 0.5)
    ap07, ap10 = voc_ap_per_class(match, True), voc_ap_per_class(match, False)
    metrics = {VOC07_NAME: _mean(ap07), VOC10_NAME: _mean(ap10)}
    for name, a07, a10 in zip(class_names, ap07, ap10):
        metrics[f"AP@0.5(VOC07)/{name}"] = float(a07)
        metrics[f"AP@0.5(VOC2010)/{name}"] = float(a10)
    return metrics
