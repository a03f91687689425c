"""Pure checks on one image's boxes: out of bounds, degenerate, duplicates.

boxes: (N, 4) float64 xyxy original pixels; class_ids: (N,); size: (h, w) of the image.
"""

from __future__ import annotations

import numpy as np


def out_of_bounds(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N,) bool: some coordinate lies outside [0, w] × [0, h]."""
    h, w = size
    return (boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 2] > w) | (boxes[:, 3] > h) | (
        boxes[:, 0] > w) | (boxes[:, 1] > h) | (boxes[:, 2] < 0) | (boxes[:, 3] < 0)


def clip(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boxes clipped to the image (a copy)."""
    h, w = size
    out = boxes.copy()
    out[:, 0::2] = out[:, 0::2].clip(0, w)
    out[:, 1::2] = out[:, 1::2].clip(0, h)
    return out


def degenerate(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: zero or negative width or height."""
    return (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])


def pairwise_iou(boxes: np.ndarray) -> np.ndarray:
    """(N, N) IoU of every pair (float64)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    lt = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (rb - lt).clip(0).prod(2)
    return inter / np.maximum(area[:, None] + area[None, :] - inter, 1e-12)


def duplicate_pairs(boxes: np.ndarray, class_ids: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """(i, j, iou) for i < j of the same class with IoU > threshold, in order."""
    if len(boxes) < 2:
        return []
    iou = pairwise_iou(boxes)
    same = class_ids[:, None] == class_ids[None, :]
    i, j = np.nonzero(np.triu((iou > threshold) & same, 1))
    return [(int(a), int(b), float(iou[a, b])) for a, b in zip(i, j)]
