"""Detections ↔ ground truth at one IoU threshold, the VOC devkit way (SPEC §7.1–7.3).

Per image, each detection looks at the ground-truth boxes of its own class and takes the
one with the highest IoU. If that IoU exceeds the threshold: a `difficult` box makes the
detection ignored (neither TP nor FP); otherwise the highest-scoring detection that
claims a box is the TP and later claimants are FP (they do not fall back to another
box). Everything else is FP. This is what VOC AP, PR/F1 curves and per-class thresholds
are computed from. IoU is continuous (no VOC "+1 pixel"), as in the COCO metrics.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from yolo3.data.sample import Sample
from yolo3.inference.results import Detections
from yolo3.ops.boxes import box_iou


@dataclasses.dataclass
class MatchResult:
    """All detections of a dataset, flattened, with their verdicts.

    scores: (N,) float64; classes: (N,) int64; tp: (N,) bool; ignored: (N,) bool
    (matched a difficult box); n_gt: (C,) int64 count of non-difficult ground truth.
    """

    scores: np.ndarray
    classes: np.ndarray
    tp: np.ndarray
    ignored: np.ndarray
    n_gt: np.ndarray


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes (N, 4), (M, 4) → (N, M) float64."""
    return box_iou(torch.from_numpy(np.asarray(a, np.float64)), torch.from_numpy(np.asarray(b, np.float64))).numpy()


def match_image(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
    gt_boxes: np.ndarray, gt_classes: np.ndarray, gt_difficult: np.ndarray, iou_thresh: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """One image: detections (D, 4) xyxy, (D,), (D,) vs ground truth (G, 4), (G,), (G,).

    Returns (tp (D,) bool, ignored (D,) bool). Equal scores keep their given order.
    """
    n = len(scores)
    tp, ignored = np.zeros(n, bool), np.zeros(n, bool)
    if n == 0 or len(gt_boxes) == 0:
        return tp, ignored
    iou = iou_matrix(boxes, gt_boxes)
    iou[classes[:, None] != gt_classes[None, :]] = -1.0
    best = iou.argmax(axis=1)
    hit = iou[np.arange(n), best] > iou_thresh
    ignored = hit & gt_difficult[best]
    claim = hit & ~ignored
    order = np.argsort(-scores, kind="stable")
    order = order[claim[order]]
    _, first = np.unique(best[order], return_index=True)
    tp[order[first]] = True
    return tp, ignored


def match_dataset(
    samples: list[Sample], detections: list[Detections], num_classes: int, iou_thresh: float = 0.5
) -> MatchResult:
    """Matches every image (samples[i] ↔ detections[i]) and flattens the verdicts."""
    scores, classes, tps, igns = [], [], [], []
    n_gt = np.zeros(num_classes, np.int64)
    for s, det in zip(samples, detections, strict=True):
        cls = np.asarray(det.class_ids, np.int64).reshape(-1)
        sc = np.asarray(det.scores, np.float64).reshape(-1)
        tp, ign = match_image(np.asarray(det.boxes, np.float64).reshape(-1, 4), sc, cls,
                              s.boxes, s.class_ids, s.difficult, iou_thresh)
        scores.append(sc), classes.append(cls), tps.append(tp), igns.append(ign)
        n_gt += np.bincount(s.class_ids[~s.difficult], minlength=num_classes)[:num_classes]
    cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))
    return MatchResult(cat(scores, np.float64), cat(classes, np.int64), cat(tps, bool), cat(igns, bool), n_gt)


def class_curve(match: MatchResult, cls: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One class, ignored detections removed, highest score first (stable):
    (scores (n,), cumulative TP (n,), cumulative FP (n,))."""
    sel = (match.classes == cls) & ~match.ignored
    scores, tp = match.scores[sel], match.tp[sel]
    order = np.argsort(-scores, kind="stable")
    tp = tp[order]
    return scores[order], np.cumsum(tp), np.cumsum(~tp)
