"""Anchor fitting (SPEC §2): k-means with distance 1 − IoU, genetic refinement, fitness.

All shapes are (w, h) in network-input pixels after letterbox scaling to `imgsz`, and
IoU is the IoU of two boxes aligned at a common centre (`wh_iou`). Two measures of fit:

- mean best IoU: mean over boxes of max over anchors of IoU(box, anchor) — the
  k-means objective and the fitness of the genetic refinement;
- best-possible recall (BPR): share of boxes with at least one anchor whose ratio
  max(w/aw, aw/w, h/ah, ah/h) is below `ratio_thresh` (the v5 `anchor_t`, 4.0).

Example:
    >>> wh = np.array([[10, 12], [11, 13], [50, 40], [52, 41]], float)
    >>> fit = fit_anchors(wh, n=2, imgsz=416, num_scales=1, generations=0)
    >>> fit.anchors.round().tolist()
    [[10.0, 12.0], [51.0, 40.0]]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from yolo3.data.image_io import image_size
from yolo3.data.sample import Sample

MIN_BOX_SIZE = 2.0  # letterboxed pixels: narrower boxes say nothing about shape


def iou_wh(wh: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Centre-aligned IoU of shapes: wh (N, 2), anchors (K, 2) → (N, K) in [0, 1]."""
    inter = np.minimum(wh[:, None, 0], anchors[None, :, 0]) * np.minimum(wh[:, None, 1], anchors[None, :, 1])
    union = wh[:, None].prod(-1) + anchors[None].prod(-1) - inter
    return inter / np.maximum(union, 1e-12)


def ratio_metric(wh: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """max(w/aw, aw/w, h/ah, ah/h) per box and anchor: (N, 2), (K, 2) → (N, K), ≥ 1."""
    r = wh[:, None, :] / anchors[None, :, :]
    return np.maximum(r, 1 / r).max(-1)


@dataclasses.dataclass(frozen=True)
class AnchorFitness:
    """How well anchors (K, 2) fit boxes: mean best IoU, BPR at `ratio_thresh`, boxes counted."""

    mean_best_iou: float
    bpr: float
    ratio_thresh: float
    num_boxes: int

    def __str__(self) -> str:
        return f"mean best IoU {self.mean_best_iou:.4f}, BPR {self.bpr:.4f} (ratio < {self.ratio_thresh:g}), {self.num_boxes} boxes"


def anchor_fitness(anchors: np.ndarray, wh: np.ndarray, ratio_thresh: float = 4.0) -> AnchorFitness:
    """Mean best IoU and best-possible recall of `anchors` (K, 2) for boxes `wh` (N, 2)."""
    anchors = np.asarray(anchors, float).reshape(-1, 2)
    wh = np.asarray(wh, float).reshape(-1, 2)
    if len(wh) == 0:
        raise ValueError("no boxes to measure anchor fitness on")
    best_iou = iou_wh(wh, anchors).max(1)
    best_ratio = ratio_metric(wh, anchors).min(1)
    return AnchorFitness(float(best_iou.mean()), float((best_ratio < ratio_thresh).mean()), ratio_thresh, len(wh))


def sort_by_area(anchors: np.ndarray) -> np.ndarray:
    """Anchors (K, 2) sorted by w·h ascending (small → finest stride)."""
    anchors = np.asarray(anchors, float).reshape(-1, 2)
    return anchors[np.argsort(anchors.prod(1), kind="stable")]


def split_per_scale(anchors: np.ndarray, num_scales: int) -> list[list[list[float]]]:
    """Area-sorted anchors (K, 2) → `num_scales` groups of K/num_scales, stride ascending."""
    anchors = sort_by_area(anchors)
    if len(anchors) % num_scales:
        raise ValueError(f"{len(anchors)} anchors cannot be split evenly over {num_scales} scales")
    per = len(anchors) // num_scales
    return [anchors[i * per:(i + 1) * per].round(2).tolist() for i in range(num_scales)]


def kmeans_anchors(
    wh: np.ndarray, n: int, restarts: int = 5, iters: int = 300, seed: int = 0
) -> tuple[np.ndarray, float]:
    """k-means on shapes with distance 1 − IoU; best of `restarts` seeded k-means++ runs.

    Centres move to the median (w, h) of their members (robust to outliers). Returns
    (anchors (n, 2) sorted by area, mean best IoU).
    """
    wh = np.asarray(wh, float).reshape(-1, 2)
    if len(wh) < n:
        raise ValueError(f"k-means needs at least n={n} boxes, got {len(wh)}")
    rng = np.random.default_rng(seed)
    best, best_fit = wh[:n], -1.0
    for _ in range(max(1, restarts)):
        centres = _kmeanspp_init(wh, n, rng)
        assign = np.full(len(wh), -1)
        for _ in range(iters):
            new_assign = iou_wh(wh, centres).argmax(1)
            if np.array_equal(new_assign, assign):
                break
            assign = new_assign
            for k in range(n):
                members = wh[assign == k]
                # An emptied cluster restarts on the worst-fitted box.
                centres[k] = np.median(members, 0) if len(members) else wh[iou_wh(wh, centres).max(1).argmin()]
        fit = float(iou_wh(wh, centres).max(1).mean())
        if fit > best_fit:
            best, best_fit = centres.copy(), fit
    return sort_by_area(best), best_fit


def _kmeanspp_init(wh: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding under distance 1 − IoU."""
    centres = [wh[rng.integers(len(wh))]]
    for _ in range(1, n):
        d = 1 - iou_wh(wh, np.array(centres)).max(1)
        total = d.sum()
        idx = rng.choice(len(wh), p=d / total) if total > 0 else rng.integers(len(wh))
        centres.append(wh[idx])
    return np.array(centres, float)


def genetic_refine(
    anchors: np.ndarray,
    wh: np.ndarray,
    generations: int = 1000,
    mutation_prob: float = 0.1,
    sigma: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Mutates anchors by random log-normal factors (each coordinate with probability
    `mutation_prob`, at least one), keeping a mutant only if the mean
    best IoU improves (SPEC §2.2). Returns (anchors sorted by area, fitness)."""
    rng = np.random.default_rng(seed)
    wh = np.asarray(wh, float).reshape(-1, 2)
    best = np.asarray(anchors, float).reshape(-1, 2).copy()
    best_fit = float(iou_wh(wh, best).max(1).mean())
    for _ in range(generations):
        factor = np.ones_like(best)
        while np.all(factor == 1):  # make sure something changes
            mask = rng.random(best.shape) < mutation_prob
            factor = np.where(mask, np.exp(rng.standard_normal(best.shape) * sigma * rng.random()), 1.0)
        mutant = np.clip(best * factor, MIN_BOX_SIZE, None)
        fit = float(iou_wh(wh, mutant).max(1).mean())
        if fit > best_fit:
            best, best_fit = mutant, fit
    return sort_by_area(best), best_fit


@dataclasses.dataclass(frozen=True)
class AnchorFit:
    """Result of `fit_anchors`.

    anchors: (n, 2) (w, h) input pixels sorted by area; per_scale: the same split into
    `num_scales` groups (stride ascending); kmeans / final: fitness after k-means and
    after the genetic refinement; imgsz: the input size they are fitted for;
    excluded: boxes left out for being under MIN_BOX_SIZE pixels.
    """

    anchors: np.ndarray
    per_scale: list[list[list[float]]]
    kmeans: AnchorFitness
    final: AnchorFitness
    imgsz: int
    excluded: int

    def report(self) -> str:
        lines = [f"anchors for imgsz {self.imgsz} (w,h input pixels, sorted by area, one line per scale):"]
        lines += ["  " + ", ".join(f"{w:.0f},{h:.0f}" for w, h in group) for group in self.per_scale]
        lines += [f"k-means: {self.kmeans}", f"final:   {self.final}"]
        if self.excluded:
            lines.append(f"excluded {self.excluded} boxes under {MIN_BOX_SIZE:g} px (zero or degenerate size)")
        return "\n".join(lines)


def fit_anchors(
    wh: np.ndarray,
    n: int = 9,
    imgsz: int = 416,
    num_scales: int = 3,
    restarts: int = 5,
    generations: int = 1000,
    ratio_thresh: float = 4.0,
    seed: int = 0,
) -> AnchorFit:
    """Fits `n` anchors to letterboxed box shapes `wh` (N, 2) input pixels.

    k-means (1 − IoU, `restarts` seeded runs) then `generations` of genetic refinement
    (0 = none). Boxes narrower or lower than MIN_BOX_SIZE are excluded and counted.
    """
    wh = np.asarray(wh, float).reshape(-1, 2)
    keep = (wh >= MIN_BOX_SIZE).all(1)
    kept = wh[keep]
    anchors, _ = kmeans_anchors(kept, n, restarts=restarts, seed=seed)
    kmeans_fit = anchor_fitness(anchors, kept, ratio_thresh)
    if generations > 0:
        anchors, _ = genetic_refine(anchors, kept, generations, seed=seed)
    return AnchorFit(anchors, split_per_scale(anchors, num_scales), kmeans_fit,
                     anchor_fitness(anchors, kept, ratio_thresh), imgsz, int((~keep).sum()))


def letterboxed_wh(samples: Sequence[Sample], imgsz: int) -> np.ndarray:
    """Box (w, h) of every sample after letterbox scaling to `imgsz`: (N, 2) input pixels.

    Uses the annotation's image size; where the format has none, the image header's (no decoding).
    """
    parts = []
    for s in samples:
        if len(s.boxes) == 0:
            continue
        h, w = s.image_size if s.image_size is not None else image_size(s.image_path)
        r = imgsz / max(h, w)
        parts.append(np.stack([s.boxes[:, 2] - s.boxes[:, 0], s.boxes[:, 3] - s.boxes[:, 1]], 1) * r)
    return np.concatenate(parts) if parts else np.zeros((0, 2))


@dataclasses.dataclass(frozen=True)
class AnchorCheck:
    """Auto-anchor decision: fitness before, after (None if no refit was tried), anchors to
    use, and the BPR below which a refit is tried."""

    before: AnchorFitness
    after: AnchorFitness | None
    anchors: list[list[list[float]]]
    refitted: bool
    min_bpr: float = 0.98

    def report(self) -> str:
        if self.refitted:
            return f"anchors refitted: before {self.before}; after {self.after}"
        if self.before.bpr >= self.min_bpr:
            return f"anchors fit the data: {self.before}"
        if self.after is None:
            count = sum(len(scale) for scale in self.anchors)
            return (f"anchors kept, though under BPR {self.min_bpr:g}: {self.before}; too few boxes to refit "
                    f"{count} anchors (label more images, or give anchors that fit)")
        return f"anchors kept, though under BPR {self.min_bpr:g}: {self.before}; a refit was no better ({self.after})"


def check_anchors(
    model_anchors: list[list[list[float]]] | np.ndarray,
    wh: np.ndarray,
    imgsz: int = 416,
    min_bpr: float = 0.98,
    ratio_thresh: float = 4.0,
    seed: int = 0,
    generations: int = 1000,
) -> AnchorCheck:
    """Training's auto-anchor: keeps `model_anchors` (S, A, 2) if their BPR ≥ `min_bpr`,
    otherwise fits new ones and keeps them only if they are better (BPR, then IoU)."""
    current = np.asarray(model_anchors, float)
    num_scales, per = current.shape[0], current.shape[1]
    wh = np.asarray(wh, float).reshape(-1, 2)
    wh = wh[(wh >= MIN_BOX_SIZE).all(1)]
    before = anchor_fitness(current.reshape(-1, 2), wh, ratio_thresh)
    as_list = current.tolist()
    if before.bpr >= min_bpr or len(wh) < num_scales * per:
        return AnchorCheck(before, None, as_list, False, min_bpr)
    fit = fit_anchors(wh, num_scales * per, imgsz, num_scales, generations=generations,
                      ratio_thresh=ratio_thresh, seed=seed)
    better = (fit.final.bpr, fit.final.mean_best_iou) > (before.bpr, before.mean_best_iou)
    return AnchorCheck(before, fit.final, fit.per_scale if better else as_list, better, min_bpr)
