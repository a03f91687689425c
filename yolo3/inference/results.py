"""The typed result of detection on one image."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass
class Detections:
    """Detections on one image.

    Attributes:
        boxes: (N, 4) float32 xyxy in original image pixels.
        scores: (N,) float32, objectness × class probability.
        class_ids: (N,) int64 class indices.
        class_names: names indexed by class id.
        image_size: (h, w) of the original image.
        source: where the image came from (path, or a label for arrays).
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    class_names: list[str]
    image_size: tuple[int, int] = (0, 0)
    source: str = ""

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @property
    def labels(self) -> list[str]:
        """Class name of each detection."""
        return [self.class_names[int(i)] for i in self.class_ids]

    def to_json(self, image_id: int | str = 0, category_ids: list[int] | None = None) -> list[dict[str, Any]]:
        """COCO results format: [{image_id, category_id, bbox: [x, y, w, h], score}].

        `category_ids` maps class index → COCO category id (default: the index).
        """
        out = []
        for (x1, y1, x2, y2), score, cls in zip(self.boxes.tolist(), self.scores.tolist(), self.class_ids.tolist()):
            out.append(
                {
                    "image_id": image_id,
                    "category_id": int(category_ids[cls]) if category_ids is not None else int(cls),
                    "bbox": [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
                    "score": round(float(score), 5),
                }
            )
        return out

    def to_yolo_txt(self) -> str:
        """YOLO txt lines `class cx cy w h score`, coordinates normalised to the image."""
        h, w = self.image_size
        if not (h and w):
            raise ValueError("image_size is needed to normalise YOLO coordinates")
        lines = []
        for (x1, y1, x2, y2), score, cls in zip(self.boxes.tolist(), self.scores.tolist(), self.class_ids.tolist()):
            cx, cy, bw, bh = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h
            lines.append(f"{cls} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f} {score:.5f}")
        return "\n".join(lines) + ("\n" if lines else "")
