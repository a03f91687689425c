"""The one in-memory sample type shared by every dataset format (YOLO, COCO, VOC)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np


@dataclasses.dataclass
class Sample:
    """One image and its annotation, in original pixels.

    Attributes:
        image_path: the image file.
        boxes: (N, 4) float64 xyxy in original image pixels.
        class_ids: (N,) int64 indices into the dataset's class names.
        image_id: stable id (file stem for VOC/YOLO, the COCO id for COCO).
        image_size: (h, w) stated by the annotation, or None when the format has none.
        difficult: (N,) bool, VOC `difficult` (excluded from VOC AP).
        truncated: (N,) bool, VOC `truncated`.
        crowd: (N,) bool, COCO `iscrowd` (also difficult): a region of many objects, which
            COCO's evaluation ignores the way pycocotools does (matched by any detection
            inside it, never missed).
        areas: (N,) float64 object areas in pixels² as a COCO file states them (its
            segmentation's), which COCO's small/medium/large split uses; None: the boxes'.
        annotation_path: the file the labels came from (for messages), if any.
        positions: where each box came from in that file ("line 3", "object 2 (line 40)"),
            for messages; None = unknown.
    """

    image_path: Path
    boxes: np.ndarray
    class_ids: np.ndarray
    image_id: int | str = ""
    image_size: tuple[int, int] | None = None
    difficult: np.ndarray | None = None
    truncated: np.ndarray | None = None
    crowd: np.ndarray | None = None
    areas: np.ndarray | None = None
    annotation_path: Path | None = None
    positions: list[str] | None = None

    def __post_init__(self) -> None:
        self.image_path = Path(self.image_path)
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.class_ids = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        n = len(self.boxes)
        if len(self.class_ids) != n:
            raise ValueError(f"{self.image_path}: {n} boxes but {len(self.class_ids)} class ids")
        self.difficult = np.zeros(n, bool) if self.difficult is None else np.asarray(self.difficult, bool).reshape(-1)
        self.truncated = np.zeros(n, bool) if self.truncated is None else np.asarray(self.truncated, bool).reshape(-1)
        self.crowd = np.zeros(n, bool) if self.crowd is None else np.asarray(self.crowd, bool).reshape(-1)
        if self.areas is not None:
            self.areas = np.asarray(self.areas, dtype=np.float64).reshape(-1)
        if not len(self.difficult) == len(self.truncated) == len(self.crowd) == n or (
                self.areas is not None and len(self.areas) != n):
            raise ValueError(f"{self.image_path}: {n} boxes but {len(self.difficult)} difficult, "
                             f"{len(self.truncated)} truncated and {len(self.crowd)} crowd flags")
        if self.positions is not None:
            self.positions = [str(p) for p in self.positions]
            if len(self.positions) != n:
                raise ValueError(f"{self.image_path}: {len(self.positions)} positions for {n} boxes")
        if self.image_id == "":
            self.image_id = self.image_path.stem

    def __len__(self) -> int:
        return len(self.boxes)

    def without_difficult(self) -> "Sample":
        """A copy without its difficult boxes (VOC `difficult`, COCO `iscrowd`): what
        training learns from by default (evaluation ignores those boxes too)."""
        keep = ~self.difficult
        positions = None if self.positions is None else [p for p, k in zip(self.positions, keep) if k]
        return dataclasses.replace(self, boxes=self.boxes[keep], class_ids=self.class_ids[keep],
                                   difficult=self.difficult[keep], truncated=self.truncated[keep],
                                   crowd=self.crowd[keep], areas=None if self.areas is None else self.areas[keep],
                                   positions=positions)

    def box_positions(self) -> list[str]:
        """The position of every box in its annotation file ("box i" where unknown)."""
        return list(self.positions) if self.positions is not None else [f"box {i}" for i in range(len(self))]
