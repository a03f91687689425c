"""Helpers for the data tests: tiny images and YOLO datasets written on the fly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def plain_image(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def write_yolo_dataset(root: Path, images: dict[str, np.ndarray | bytes | None], labels: dict[str, str | None],
                       names: list[str]) -> Path:
    """images: name → RGB array (written by suffix) or raw bytes; labels: name → text (None = no file)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, img in images.items():
        path = root / "images" / "train" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(img, bytes):
            path.write_bytes(img)
        elif img is not None:
            write_rgb(path, img)
    for name, text in labels.items():
        if text is None:
            continue
        path = root / "labels" / "train" / (Path(name).stem + ".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    data = root / "data.yaml"
    data.write_text(yaml.safe_dump({"path": ".", "train": "images/train", "names": names}))
    return data


def painted(h: int, w: int, rects: list[tuple[int, int, int, int]], colours: list[tuple[int, int, int]],
            bg: int = 0) -> np.ndarray:
    """A uniform image with solid rectangles (x1, y1, x2, y2 exclusive) painted in given colours."""
    img = np.full((h, w, 3), bg, np.uint8)
    for (x1, y1, x2, y2), c in zip(rects, colours):
        img[y1:y2, x1:x2] = c
    return img


def pixel_box(image: np.ndarray, colour: tuple[int, int, int], tol: int = 40) -> np.ndarray | None:
    """xyxy (exclusive) box of the pixels close to `colour`, or None."""
    close = (np.abs(image.astype(int) - np.array(colour)).sum(2) <= tol)
    ys, xs = np.nonzero(close)
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
