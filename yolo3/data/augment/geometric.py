"""Geometric augmentations: random affine (scale, translate, rotate, shear) and flips.

Every function takes and returns (image, boxes, class_ids); boxes are (N, 4) float32
xyxy pixels of the image they come with. An affine maps the four corners of each box
and takes their bounding box, then clips to the output and applies the sliver rule
(`keep_boxes`): a box survives when both sides are ≥ min_side pixels, it keeps at least
min_area_ratio of its (pre-clip, transformed) area, and its aspect ratio is ≤ max_aspect.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from yolo3.data.letterbox import PAD_VALUE


def keep_boxes(
    before: np.ndarray, after: np.ndarray, min_side: float, min_area_ratio: float, max_aspect: float
) -> np.ndarray:
    """The sliver rule: (N,) bool mask of `after` boxes to keep.

    before: (N, 4) boxes transformed but not clipped (their full area); after: (N, 4)
    the same boxes clipped to the image.
    """
    w, h = after[:, 2] - after[:, 0], after[:, 3] - after[:, 1]
    full = np.clip((before[:, 2] - before[:, 0]) * (before[:, 3] - before[:, 1]), 1e-9, None)
    aspect = np.maximum(w / np.clip(h, 1e-9, None), h / np.clip(w, 1e-9, None))
    return (w >= min_side) & (h >= min_side) & (w * h / full >= min_area_ratio) & (aspect <= max_aspect)


def transform_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy → (N, 4) xyxy bounding boxes of the 4 corners mapped by a 2×3 or 3×3 matrix."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4).astype(np.float32)
    x1, y1, x2, y2 = boxes.T
    corners = np.stack([np.stack([x1, y1], 1), np.stack([x2, y1], 1), np.stack([x2, y2], 1),
                        np.stack([x1, y2], 1)], 1)  # (N, 4, 2)
    mapped = corners @ matrix[:2, :2].T + matrix[:2, 2]
    return np.concatenate([mapped.min(1), mapped.max(1)], 1).astype(np.float32)


def clip_boxes_np(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 4) xyxy clipped to [0, width] × [0, height] (a copy)."""
    out = boxes.copy()
    out[:, 0::2] = out[:, 0::2].clip(0, width)
    out[:, 1::2] = out[:, 1::2].clip(0, height)
    return out


def affine_matrix(
    rng: np.random.Generator, in_size: tuple[int, int], out_size: tuple[int, int],
    degrees: float, translate: float, scale: float, shear: float,
) -> np.ndarray:
    """A random 3×3 affine mapping an (h, w) input onto an (H, W) output.

    Centre of the input → origin; rotate by U(±degrees) and scale by U(1 ± scale);
    shear by U(±shear) degrees on each axis; then move to the output centre shifted by
    U(±translate)·output size.
    """
    (h, w), (oh, ow) = in_size, out_size
    centre = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]], dtype=np.float64)
    angle = math.radians(rng.uniform(-degrees, degrees))
    gain = rng.uniform(1 - scale, 1 + scale)
    cos, sin = math.cos(angle) * gain, math.sin(angle) * gain
    rotate = np.array([[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]], dtype=np.float64)
    shx, shy = (math.tan(math.radians(rng.uniform(-shear, shear))) for _ in range(2))
    shear_m = np.array([[1, shx, 0], [shy, 1, 0], [0, 0, 1]], dtype=np.float64)
    tx = ow / 2 + rng.uniform(-translate, translate) * ow
    ty = oh / 2 + rng.uniform(-translate, translate) * oh
    move = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], dtype=np.float64)
    return move @ shear_m @ rotate @ centre


def warp(
    image: np.ndarray, boxes: np.ndarray, class_ids: np.ndarray, matrix: np.ndarray, out_size: tuple[int, int],
    min_side: float = 2.0, min_area_ratio: float = 0.1, max_aspect: float = 20.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Applies a 3×3 affine to the image (grey 114 fill) and its boxes (sliver rule applied)."""
    oh, ow = out_size
    out = cv2.warpAffine(image, matrix[:2], (ow, oh), flags=cv2.INTER_LINEAR, borderValue=(PAD_VALUE,) * 3)
    moved = transform_boxes(boxes, matrix)
    clipped = clip_boxes_np(moved, ow, oh)
    keep = keep_boxes(moved, clipped, min_side, min_area_ratio, max_aspect)
    return out, clipped[keep], class_ids[keep]


def random_affine(
    image: np.ndarray, boxes: np.ndarray, class_ids: np.ndarray, rng: np.random.Generator,
    out_size: tuple[int, int], degrees: float = 0.0, translate: float = 0.1, scale: float = 0.5,
    shear: float = 0.0, min_side: float = 2.0, min_area_ratio: float = 0.1, max_aspect: float = 20.0,
    base_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random scale/translate/rotate/shear into an (H, W) output; boxes follow.

    base_scale multiplies the random gain (0.5 brings a 2S mosaic canvas to S).
    """
    m = affine_matrix(rng, image.shape[:2], out_size, degrees, translate, scale, shear)
    if base_scale != 1.0:  # scale about the output centre
        oh, ow = out_size
        s = np.array([[base_scale, 0, ow / 2 * (1 - base_scale)], [0, base_scale, oh / 2 * (1 - base_scale)],
                      [0, 0, 1]])
        m = s @ m
    return warp(image, boxes, class_ids, m, out_size, min_side, min_area_ratio, max_aspect)


def flip_lr(image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror left-right: x → W − x (boxes keep xyxy order)."""
    w = image.shape[1]
    out = boxes.copy()
    out[:, 0], out[:, 2] = w - boxes[:, 2], w - boxes[:, 0]
    return np.ascontiguousarray(image[:, ::-1]), out


def flip_ud(image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror top-bottom: y → H − y."""
    h = image.shape[0]
    out = boxes.copy()
    out[:, 1], out[:, 3] = h - boxes[:, 3], h - boxes[:, 1]
    return np.ascontiguousarray(image[::-1]), out
