"""Annotated images: boxes and "name score" labels drawn with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

from yolo3.inference.results import Detections


def class_color(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct RGB colour per class (golden-ratio hue steps)."""
    hue = int((class_id * 0.618033988749895 % 1.0) * 180)
    hsv = np.array([[[hue, 220, 230]]], dtype=np.uint8)
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def draw_detections(image: np.ndarray, dets: Detections, line_width: int | None = None) -> np.ndarray:
    """Returns a copy of the (h, w, 3) RGB uint8 image with the detections drawn on it."""
    out = np.ascontiguousarray(image).copy()
    lw = line_width or max(1, round(sum(out.shape[:2]) / 2 * 0.003))
    font_scale = max(0.3, lw / 3)
    for (x1, y1, x2, y2), score, cls in zip(dets.boxes.tolist(), dets.scores.tolist(), dets.class_ids.tolist()):
        color = class_color(int(cls))
        p1, p2 = (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2)))
        cv2.rectangle(out, p1, p2, color, lw, cv2.LINE_AA)
        name = dets.class_names[int(cls)] if int(cls) < len(dets.class_names) else str(cls)
        text = f"{name} {score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, lw // 2))
        top = p1[1] - th - base if p1[1] - th - base >= 0 else p1[1]
        cv2.rectangle(out, (p1[0], top), (p1[0] + tw, top + th + base), color, -1)
        cv2.putText(out, text, (p1[0], top + th), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255),
                    max(1, lw // 2), cv2.LINE_AA)
    return out
