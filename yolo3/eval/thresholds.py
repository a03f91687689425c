"""Per-class confidence thresholds that maximise F1 (SPEC §7.3), and the curves behind them.

A detection is kept when its score is strictly above the threshold, as in
`yolo3.inference.postprocess`. For each class, F1 = 2·TP / (kept + GT) is evaluated at
every distinct score; the best one (highest threshold among equal F1) is chosen and
the threshold is put halfway between that score and the next lower one, so it keeps
exactly the detections it was chosen for. Classes without ground truth or without any
true positive fall back to the global threshold (the single one that maximises the mean
F1 over classes).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from yolo3.eval.matching import MatchResult, class_curve

CONF_GRID = np.linspace(0.0, 1.0, 1001)


@dataclasses.dataclass
class ThresholdReport:
    """Chosen thresholds and precision/recall/F1 per class (all arrays (C,)).

    thresholds: per-class F1-optimal; fallback: True where the global one was used;
    global_threshold: one threshold for all classes (max mean F1); `*_class` at the
    per-class thresholds, `*_global` at the global one.
    """

    thresholds: np.ndarray
    fallback: np.ndarray
    global_threshold: float
    precision_class: np.ndarray
    recall_class: np.ndarray
    f1_class: np.ndarray
    precision_global: np.ndarray
    recall_global: np.ndarray
    f1_global: np.ndarray


def prf_at(match: MatchResult, cls: int, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 of one class keeping scores > t, for each t in `thresholds` (K,)."""
    scores, tp, _ = class_curve(match, cls)
    n_gt = int(match.n_gt[cls])
    kept = np.searchsorted(-scores, -np.asarray(thresholds, np.float64), side="left")  # count of scores > t
    tps = np.where(kept > 0, tp[np.maximum(kept - 1, 0)] if len(tp) else 0, 0).astype(np.float64)
    precision = np.where(kept > 0, tps / np.maximum(kept, 1), 0.0)
    recall = tps / n_gt if n_gt else np.zeros_like(tps)
    f1 = 2 * tps / np.maximum(kept + n_gt, 1)
    return precision, recall, f1


def f1_curves(match: MatchResult, grid: np.ndarray = CONF_GRID) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, F1) each (C, K) over a confidence grid (K,)."""
    rows = [prf_at(match, c, grid) for c in range(len(match.n_gt))]
    return tuple(np.stack([r[i] for r in rows]) if rows else np.zeros((0, len(grid))) for i in range(3))


def best_f1_threshold(match: MatchResult, cls: int) -> tuple[float, float] | None:
    """(threshold, F1) maximising F1 for one class, or None without GT or TP."""
    scores, tp, _ = class_curve(match, cls)
    n_gt = int(match.n_gt[cls])
    if n_gt == 0 or len(tp) == 0 or tp[-1] == 0:
        return None
    last = np.nonzero(np.append(scores[1:] != scores[:-1], True))[0]  # end of each group of equal scores
    f1 = 2 * tp[last] / (last + 1 + n_gt)
    i = last[int(np.argmax(f1))]
    lower = scores[i + 1] if i + 1 < len(scores) else 0.0
    return float((scores[i] + lower) / 2), float(f1.max())


def global_threshold(match: MatchResult, grid: np.ndarray = CONF_GRID) -> float:
    """The grid threshold maximising the mean F1 over classes that have ground truth."""
    _, _, f1 = f1_curves(match, grid)
    has_gt = match.n_gt > 0
    if not has_gt.any():
        return float(grid[len(grid) // 4])
    mean = f1[has_gt].mean(axis=0)
    return float(grid[int(np.argmax(mean))])


def choose_thresholds(match: MatchResult) -> ThresholdReport:
    """Per-class F1-optimal thresholds with P/R/F1 there and at the global threshold."""
    num_classes = len(match.n_gt)
    glob = global_threshold(match)
    thresholds, fallback = np.full(num_classes, glob), np.ones(num_classes, bool)
    for c in range(num_classes):
        best = best_f1_threshold(match, c)
        if best is not None:
            thresholds[c], fallback[c] = best[0], False
    per_class = [prf_at(match, c, thresholds[c : c + 1]) for c in range(num_classes)]
    at_global = [prf_at(match, c, np.array([glob])) for c in range(num_classes)]
    pick = (lambda rows, i: np.array([r[i][0] for r in rows], np.float64))
    return ThresholdReport(
        thresholds, fallback, glob,
        pick(per_class, 0), pick(per_class, 1), pick(per_class, 2),
        pick(at_global, 0), pick(at_global, 1), pick(at_global, 2),
    )
