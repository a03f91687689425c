"""Annotated images: boxes and "name score" labels drawn with OpenCV.

Labels never overlap one another, even in crowded frames: they are placed in score
order (the most confident first), each at the first free spot of: above the box
(left-aligned), inside its top-left corner, below it, inside its bottom-left corner,
then the same right-aligned; spots are kept inside the image. When no spot is free the
label is tried again smaller (down to MIN_FONT_SCALE); when still none is free it is
left out (the box is drawn, `LabelLayout.skipped` counts it). Scores show 2 decimals.
Label text is black or white, whichever reads better on the class colour.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_FONT_SCALE = 0.3
"""Smallest font scale a label is shrunk to (about 7 px tall) before it is left out."""
SHRINK_STEPS = (1.0, 0.8, 0.65)
"""Font scales tried, as fractions of the image's base scale, before MIN_FONT_SCALE."""


def class_color(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct RGB colour per class (golden-ratio hue steps)."""
    hue = int((class_id * 0.618033988749895 % 1.0) * 180)
    hsv = np.array([[[hue, 220, 230]]], dtype=np.uint8)
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def text_color(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black on light colours, white on dark ones (relative luminance, sRGB weights)."""
    r, g, b = background
    return (0, 0, 0) if 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 else (255, 255, 255)


@dataclasses.dataclass
class LabelLayout:
    """Where each label goes. rects: per detection (x1, y1, x2, y2) in pixels (exclusive
    end) or None when left out; scales: font scale used per label; skipped: how many left out."""

    rects: list[tuple[int, int, int, int] | None]
    scales: list[float]
    skipped: int


def _candidates(box: np.ndarray, w: int, h: int, shape: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Label spots for one box, clamped into the image, in order of preference."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    spots = [(x1, y1 - h), (x1, y1), (x1, y2), (x1, y2 - h), (x2 - w, y1 - h), (x2 - w, y1), (x2 - w, y2),
             (x2 - w, y2 - h)]
    ih, iw = shape
    out = []
    for x, y in spots:
        x, y = min(max(x, 0), max(iw - w, 0)), min(max(y, 0), max(ih - h, 0))
        if (x, y, x + w, y + h) not in out:
            out.append((x, y, x + w, y + h))
    return out


def label_size(text: str, scale: float, thickness: int) -> tuple[int, int, int]:
    """(width, height, baseline) in pixels of a label box for `text` (1 px margin each side)."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    return tw + 2, th + base + 2, base


def layout_labels(boxes: np.ndarray, texts: list[str], scores: np.ndarray | None, shape: tuple[int, int],
                  font_scale: float, thickness: int) -> LabelLayout:
    """Places one label per box so that no two labels intersect (see the module doc).

    boxes: (N, 4) xyxy pixels; scores: (N,) placement priority (None = given order);
    shape: (h, w) of the image.
    """
    n = len(texts)
    rects: list[tuple[int, int, int, int] | None] = [None] * n
    scales = [font_scale] * n
    placed = np.zeros((n, 4), np.int64)  # the first k rows are the labels placed so far
    k = 0
    order = np.argsort(-np.asarray(scores), kind="stable") if scores is not None else np.arange(n)
    steps = sorted({max(MIN_FONT_SCALE, font_scale * f) for f in SHRINK_STEPS}, reverse=True)
    for i in order:
        for scale in steps:
            w, h, _ = label_size(texts[i], scale, thickness)
            free = None
            for r in _candidates(boxes[i], w, h, shape):
                p = placed[:k]
                if not np.any((r[0] < p[:, 2]) & (p[:, 0] < r[2]) & (r[1] < p[:, 3]) & (p[:, 1] < r[3])):
                    free = r
                    break
            if free is not None:
                rects[i], scales[i] = free, scale
                placed[k] = free
                k += 1
                break
    return LabelLayout(rects, scales, sum(r is None for r in rects))


def draw_boxes(image: np.ndarray, boxes: np.ndarray, class_ids: np.ndarray, class_names: list[str],
               scores: np.ndarray | None = None, line_width: int | None = None) -> tuple[np.ndarray, LabelLayout]:
    """A copy of the (h, w, 3) RGB uint8 image with boxes and non-overlapping labels
    ("name 0.87", or "name" without scores); also returns the label layout."""
    out = np.ascontiguousarray(image).copy()
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    class_ids = np.asarray(class_ids).reshape(-1).astype(int)
    lw = line_width or max(1, round(sum(out.shape[:2]) / 2 * 0.003))
    thickness = max(1, lw // 2)
    names = [class_names[c] if 0 <= c < len(class_names) else str(c) for c in class_ids]
    texts = [f"{n} {s:.2f}" for n, s in zip(names, scores)] if scores is not None else names
    for box, cls in zip(boxes, class_ids):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), class_color(int(cls)), lw, cv2.LINE_AA)
    layout = layout_labels(boxes, texts, scores, out.shape[:2], max(MIN_FONT_SCALE, lw / 3), thickness)
    for rect, scale, text, cls in zip(layout.rects, layout.scales, texts, class_ids):
        if rect is None:
            continue
        color = class_color(int(cls))
        x1, y1, x2, y2 = rect
        cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), color, -1)
        _, _, base = label_size(text, scale, thickness)
        cv2.putText(out, text, (x1 + 1, y2 - 1 - base), FONT, scale, text_color(color), thickness, cv2.LINE_AA)
    return out, layout
