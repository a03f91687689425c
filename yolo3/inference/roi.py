"""Region of interest (SPEC §8.2): detections whose box centre is outside are invalid.

An ROI is given as polygons (lists of (x, y) vertices in original image pixels) or as
a mask image (non-zero = inside) of the same size as the images. The test is on the
box centre; it is applied to NMS *candidates*, so a detection outside the ROI can never
suppress one inside it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence, Union

import cv2
import numpy as np

RoiInput = Union["ROI", np.ndarray, str, Path, Sequence[Sequence[Sequence[float]]]]


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule. points (N, 2) and polygon (K, 2) as (x, y) → (N,) bool.

    A horizontal ray from each point counts edge crossings; odd = inside. Points exactly
    on an edge may fall either way.
    """
    x, y = points[:, 0:1], points[:, 1:2]  # (N, 1)
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)  # (N, K): edge spans the ray's height
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    crossings = straddles & (x < x_cross)
    return crossings.sum(axis=1) % 2 == 1


@dataclasses.dataclass
class ROI:
    """Polygons (each (K, 2) x, y in original pixels) or a boolean mask (h, w)."""

    polygons: list[np.ndarray] | None = None
    mask: np.ndarray | None = None
    source: str = "roi"

    def size_problem(self, image_size: tuple[int, int]) -> str | None:
        """Why a mask ROI cannot apply to an (h, w) image (None when it can, and for polygons)."""
        if self.mask is None or tuple(self.mask.shape) == tuple(image_size):
            return None
        return (f"{image_size[1]}x{image_size[0]}, but the ROI mask {self.source} is {self.mask.shape[1]}x"
                f"{self.mask.shape[0]}; give images of the mask's size (or a polygon ROI)")

    def contains(self, points: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
        """points (N, 2) x, y in original pixels of an (h, w) image → (N,) bool inside."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self.mask is not None:
            if tuple(self.mask.shape) != tuple(image_size):
                raise ValueError(
                    f"{self.source}: ROI mask is {self.mask.shape[1]}x{self.mask.shape[0]} but the image is "
                    f"{image_size[1]}x{image_size[0]}; give a mask of the image's size"
                )
            h, w = image_size
            cols = np.clip(np.floor(points[:, 0]).astype(np.int64), 0, w - 1)
            rows = np.clip(np.floor(points[:, 1]).astype(np.int64), 0, h - 1)
            inside = (points[:, 0] >= 0) & (points[:, 0] < w) & (points[:, 1] >= 0) & (points[:, 1] < h)
            return inside & self.mask[rows, cols]
        inside = np.zeros(len(points), dtype=bool)
        for polygon in self.polygons or []:
            inside |= points_in_polygon(points, polygon)
        return inside


def make_roi(spec: RoiInput) -> ROI:
    """Builds an ROI from polygons, a mask, or a mask image file.

    A 2-D bool/uint8 array is a mask (non-zero = inside); a float (K, 2) array or a vertex
    list [[x, y], ...] is one polygon, a list of vertex lists several.
    """
    if isinstance(spec, ROI):
        return spec
    if isinstance(spec, (str, Path)):
        data = np.fromfile(spec, dtype=np.uint8) if Path(spec).is_file() else np.zeros(0, np.uint8)
        mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
        if mask is None:
            raise ValueError(f"{spec}: ROI mask image missing or unreadable; give a grey/binary image file")
        return ROI(mask=mask > 0, source=str(spec))
    if isinstance(spec, np.ndarray) and spec.ndim == 2 and spec.dtype in (np.bool_, np.uint8):
        return ROI(mask=spec.astype(bool), source="ROI mask array")
    if isinstance(spec, np.ndarray) and spec.ndim == 2:  # one float polygon (K, 2)
        spec = [spec]
    elif isinstance(spec, Sequence) and len(spec) and _is_point(spec[0]):  # one polygon: [[x, y], ...]
        spec = [spec]
    polygons = [np.asarray(p, dtype=np.float64) for p in spec]
    for i, polygon in enumerate(polygons):
        if polygon.ndim != 2 or polygon.shape[1] != 2 or len(polygon) < 3:
            raise ValueError(f"ROI polygon {i}: shape {polygon.shape}; each polygon needs >= 3 (x, y) vertices")
    return ROI(polygons=polygons, source="ROI polygons")


def _is_point(item: object) -> bool:
    """An (x, y) pair of numbers (a polygon's vertex, not a polygon)."""
    return (isinstance(item, (Sequence, np.ndarray)) and not isinstance(item, str) and len(item) == 2
            and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in item))
