"""The typed result of detection on one image."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from yolo3.data.image_io import write_image
from yolo3.inference.draw import draw_boxes
from yolo3.io.checkpoint import atomic_write


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
        image: the (h, w, 3) RGB uint8 image when the caller kept it (arrays, video
            frames), so `plot()` needs no argument; None for files (read on demand).
        category_ids: COCO category id per class index for `to_json` (a Detector sets
            its checkpoint's; None: index + 1, as `yolo3 convert --to coco` numbers classes).
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    class_names: list[str]
    image_size: tuple[int, int] = (0, 0)
    source: str = ""
    image: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)
    category_ids: list[int] | None = dataclasses.field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @property
    def labels(self) -> list[str]:
        """Class name of each detection."""
        return [self.class_names[int(i)] for i in self.class_ids]

    def to_json(self, image_id: int | str = 0, category_ids: list[int] | None = None) -> list[dict[str, Any]]:
        """COCO results format: [{image_id, category_id, bbox: [x, y, w, h], score}].

        `category_ids` maps class index → COCO category id (default: the Detections' own,
        else index + 1 — the ids `yolo3 detect` writes to predictions.json).
        """
        ids = category_ids if category_ids is not None else self.category_ids
        out = []
        for (x1, y1, x2, y2), score, cls in zip(self.boxes.tolist(), self.scores.tolist(), self.class_ids.tolist()):
            out.append(
                {
                    "image_id": image_id,
                    "category_id": int(ids[cls]) if ids is not None else int(cls) + 1,
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

    def to_dict(self) -> dict[str, np.ndarray]:
        """The detections as arrays: boxes (N, 4) float32 xyxy pixels, scores (N,)
        float32, class_ids (N,) int64, labels (N,) str, image_size (2,) int64 (h, w)."""
        return {
            "boxes": np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4),
            "scores": np.asarray(self.scores, dtype=np.float32).reshape(-1),
            "class_ids": np.asarray(self.class_ids, dtype=np.int64).reshape(-1),
            "labels": np.asarray(self.labels, dtype=str).reshape(-1),
            "image_size": np.asarray(self.image_size, dtype=np.int64),
        }

    def plot(self, image: np.ndarray | None = None, line_width: int | None = None) -> np.ndarray:
        """A copy of the image with boxes and "name score" labels drawn: (h, w, 3) RGB
        uint8. The image is `image`, else the one kept with the detections, else read
        from `source` (a file path)."""
        return draw_boxes(self._image(image), self.boxes, self.class_ids, self.class_names, self.scores, line_width)[0]

    def save(self, path: str | Path, image: np.ndarray | None = None) -> Path:
        """Writes the detections by suffix: .json (COCO results, `to_json`), .txt (YOLO
        lines, `to_yolo_txt`), else an annotated image (`plot`). Returns the path."""
        import json

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".json", ".txt"):  # atomically: a failed write keeps the previous file whole
            text = json.dumps(self.to_json(Path(self.source).stem if self.source else 0)) if suffix == ".json" \
                else self.to_yolo_txt()
            atomic_write(path, lambda tmp: Path(tmp).write_text(text), sync=False)
        else:
            write_image(self.plot(image), path)
        return path

    def _image(self, image: np.ndarray | None) -> np.ndarray:
        if image is not None:
            return image
        if self.image is not None:
            return self.image
        if self.source and Path(self.source).is_file():
            from yolo3.data.image_io import read_image

            return read_image(self.source)
        raise ValueError(f"no image for {self.source or 'these detections'}: pass it, dets.plot(image) "
                         "((h, w, 3) RGB uint8)")
