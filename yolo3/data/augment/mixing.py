"""Augmentations that combine images: Mosaic, MixUp, CutMix.

Images are (h, w, 3) uint8 RGB; boxes (N, 4) float32 xyxy pixels of their image;
class_ids (N,) int64. All randomness comes from the explicit `rng`.
"""

from __future__ import annotations

import numpy as np

from yolo3.data.augment.geometric import clip_boxes_np, keep_boxes
from yolo3.data.augment.occlusion import covered_fraction
from yolo3.data.letterbox import PAD_VALUE


def mosaic_canvas(
    images: list[np.ndarray], boxes: list[np.ndarray], class_ids: list[np.ndarray], size: int,
    rng: np.random.Generator, min_side: float = 2.0, min_area_ratio: float = 0.1, max_aspect: float = 20.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Places 4 images around a random centre of a (2S, 2S) canvas (grey 114).

    Each image (long side ≤ S) touches the centre with one corner: top-left, top-right,
    bottom-left, bottom-right; the centre is U(S/2, 3S/2) on each axis, so parts of the
    images fall off the canvas. Each image's boxes are shifted onto the canvas and clipped
    to the part of that image actually pasted, then kept by the sliver rule
    (`keep_boxes`: sides ≥ min_side, ≥ min_area_ratio of the box still visible, aspect
    ≤ max_aspect) — a box of a cut-off object must not survive on padding. Returns
    (canvas (2S, 2S, 3), boxes (N, 4) float32 xyxy canvas pixels, class ids (N,)); the
    affine that follows (`random_affine(..., base_scale=0.5)`) clips them to its output.
    """
    if len(images) != 4:
        raise ValueError(f"mosaic needs 4 images, got {len(images)}")
    s = size
    canvas = np.full((2 * s, 2 * s, 3), PAD_VALUE, np.uint8)
    xc, yc = (int(rng.uniform(s / 2, 3 * s / 2)) for _ in range(2))
    out_boxes, out_ids = [], []
    for k, (img, b) in enumerate(zip(images, boxes)):
        h, w = img.shape[:2]
        x0 = xc - w if k in (0, 2) else xc  # where the image's left edge lands on the canvas
        y0 = yc - h if k in (0, 1) else yc
        cx1, cy1, cx2, cy2 = max(x0, 0), max(y0, 0), min(x0 + w, 2 * s), min(y0 + h, 2 * s)
        canvas[cy1:cy2, cx1:cx2] = img[cy1 - y0 : cy2 - y0, cx1 - x0 : cx2 - x0]
        moved = np.asarray(b, np.float32).reshape(-1, 4) + np.array([x0, y0, x0, y0], np.float32)
        pasted = np.array([cx1, cy1, cx1, cy1], np.float32)
        inside = clip_boxes_np(moved - pasted, cx2 - cx1, cy2 - cy1) + pasted
        keep = keep_boxes(moved, inside, min_side, min_area_ratio, max_aspect)
        out_boxes.append(inside[keep])
        out_ids.append(np.asarray(class_ids[k]).reshape(-1)[keep])
    return canvas, np.concatenate(out_boxes).astype(np.float32).reshape(-1, 4), np.concatenate(out_ids)


def mixup(
    image_a: np.ndarray, boxes_a: np.ndarray, ids_a: np.ndarray,
    image_b: np.ndarray, boxes_b: np.ndarray, ids_b: np.ndarray, rng: np.random.Generator, beta: float = 32.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blends two same-size images with r ~ Beta(beta, beta); keeps the boxes of both."""
    r = rng.beta(beta, beta)
    image = (image_a.astype(np.float32) * r + image_b.astype(np.float32) * (1 - r)).round().astype(np.uint8)
    return image, np.concatenate([boxes_a, boxes_b]), np.concatenate([ids_a, ids_b])


def cutmix(
    image_a: np.ndarray, boxes_a: np.ndarray, ids_a: np.ndarray,
    image_b: np.ndarray, boxes_b: np.ndarray, ids_b: np.ndarray, rng: np.random.Generator,
    min_side: float = 2.0, min_area_ratio: float = 0.1, max_aspect: float = 20.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pastes a random rectangle of image B (same size) onto the same place of A.

    The rectangle's side is U(0.25, 0.75) of the image on each axis. Boxes of A that keep
    less than min_area_ratio of their area visible are dropped; boxes of B are clipped
    to the rectangle and kept by the sliver rule.
    """
    h, w = image_a.shape[:2]
    rw, rh = int(w * rng.uniform(0.25, 0.75)), int(h * rng.uniform(0.25, 0.75))
    x1, y1 = int(rng.integers(0, w - rw + 1)), int(rng.integers(0, h - rh + 1))
    rect = np.array([x1, y1, x1 + rw, y1 + rh], np.float32)
    image = image_a.copy()
    image[y1 : y1 + rh, x1 : x1 + rw] = image_b[y1 : y1 + rh, x1 : x1 + rw]
    keep_a = 1 - covered_fraction(boxes_a, rect) >= min_area_ratio if len(boxes_a) else np.zeros(0, bool)
    inside = clip_boxes_np(boxes_b - np.array([x1, y1, x1, y1], np.float32), rw, rh) + np.array(
        [x1, y1, x1, y1], np.float32)
    keep_b = keep_boxes(boxes_b, inside, min_side, min_area_ratio, max_aspect)
    return (image, np.concatenate([boxes_a[keep_a], inside[keep_b]]).astype(np.float32),
            np.concatenate([ids_a[keep_a], ids_b[keep_b]]))
