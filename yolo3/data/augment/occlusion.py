"""Occlusion augmentations: Cutout and GridMask (pixels hidden, boxes stay).

Boxes do not move; Cutout drops a box when a hole hides so much of it that less than
`min_visible` of its area stays visible (it no longer shows the object).
"""

from __future__ import annotations

import numpy as np

from yolo3.data.letterbox import PAD_VALUE


def covered_fraction(boxes: np.ndarray, rect: np.ndarray) -> np.ndarray:
    """(N,) share of each (N, 4) xyxy box's area inside the xyxy rectangle `rect` (4,)."""
    iw = (np.minimum(boxes[:, 2], rect[2]) - np.maximum(boxes[:, 0], rect[0])).clip(0)
    ih = (np.minimum(boxes[:, 3], rect[3]) - np.maximum(boxes[:, 1], rect[1])).clip(0)
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).clip(1e-9)
    return iw * ih / area


def cutout(
    image: np.ndarray, boxes: np.ndarray, class_ids: np.ndarray, rng: np.random.Generator,
    holes: int = 4, max_size: float = 0.25, min_visible: float = 0.1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paints `holes` grey squares of side U(0.05, max_size)·min(H, W) at random places.

    Returns a new image; boxes covered by one hole beyond 1 − min_visible are dropped.
    """
    h, w = image.shape[:2]
    out = image.copy()
    keep = np.ones(len(boxes), bool)
    for _ in range(holes):
        side = int(rng.uniform(0.05, max_size) * min(h, w))
        x1, y1 = int(rng.integers(0, max(1, w - side))), int(rng.integers(0, max(1, h - side)))
        out[y1 : y1 + side, x1 : x1 + side] = PAD_VALUE
        if len(boxes):
            keep &= covered_fraction(boxes, np.array([x1, y1, x1 + side, y1 + side], np.float32)) <= 1 - min_visible
    return out, boxes[keep], class_ids[keep]


def gridmask(
    image: np.ndarray, rng: np.random.Generator, d_min: float = 0.15, d_max: float = 0.35, ratio: float = 0.4,
) -> np.ndarray:
    """GridMask: hides a regular grid of squares (period d, side ratio·d, random offset).

    d is drawn in [d_min, d_max]·min(H, W). Labels are unchanged: each d×d period
    cell hides only ratio² of its area, so every object stays mostly visible.
    """
    h, w = image.shape[:2]
    d = max(2, int(rng.uniform(d_min, d_max) * min(h, w)))
    side = max(1, int(d * ratio))
    ox, oy = int(rng.integers(0, d)), int(rng.integers(0, d))
    rows = ((np.arange(h) + oy) % d) < side
    cols = ((np.arange(w) + ox) % d) < side
    out = image.copy()
    out[np.ix_(rows, cols)] = 0
    return out
