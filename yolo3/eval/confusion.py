"""Confusion matrix with a background row and column (SPEC §7.2).

Detections above their class threshold are paired with ground truth of ANY class at
IoU > 0.5, greedily by decreasing IoU (each box used once). Rows are the true class,
columns the predicted class; the last row is background (a detection on no box: false
positive), the last column is background (a box no detection found: missed).
Pairs with `difficult` boxes are not counted, nor are missed difficult boxes.
"""

from __future__ import annotations

import numpy as np

from yolo3.data.sample import Sample
from yolo3.eval.matching import iou_matrix
from yolo3.inference.results import Detections


def confusion_matrix(
    samples: list[Sample], detections: list[Detections], num_classes: int,
    thresholds: np.ndarray, iou_thresh: float = 0.5,
) -> np.ndarray:
    """(C+1, C+1) int64 counts: [true class or background, predicted class or background]."""
    bg = num_classes
    matrix = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    thresholds = np.asarray(thresholds, np.float64)
    for s, det in zip(samples, detections, strict=True):
        cls = np.asarray(det.class_ids, np.int64).reshape(-1)
        keep = np.asarray(det.scores, np.float64).reshape(-1) > thresholds[cls]
        boxes, cls = np.asarray(det.boxes, np.float64).reshape(-1, 4)[keep], cls[keep]
        used_d, used_g = np.zeros(len(cls), bool), np.zeros(len(s), bool)
        if len(cls) and len(s):
            iou = iou_matrix(boxes, s.boxes)
            d_idx, g_idx = np.nonzero(iou > iou_thresh)
            for k in np.argsort(-iou[d_idx, g_idx], kind="stable"):
                d, g = d_idx[k], g_idx[k]
                if used_d[d] or used_g[g]:
                    continue
                used_d[d] = used_g[g] = True
                if not s.difficult[g]:
                    matrix[s.class_ids[g], cls[d]] += 1
        np.add.at(matrix, (bg, cls[~used_d]), 1)
        missed = ~used_g & ~s.difficult
        np.add.at(matrix, (s.class_ids[missed], bg), 1)
    return matrix


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Each true-class row divided by its total: where the boxes of that class went."""
    totals = matrix.sum(axis=1, keepdims=True)
    return matrix / np.maximum(totals, 1)
