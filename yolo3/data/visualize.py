"""Drawing boxes on images and tiling a batch into one picture (show-batch)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from yolo3.data.augment.config import AugmentConfig
from yolo3.data.batch import Batch


def colour(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct RGB colour per class."""
    hue = (class_id * 0.618033988749895) % 1.0
    rgb = cv2.cvtColor(np.uint8([[[int(hue * 179), 220, 255]]]), cv2.COLOR_HSV2RGB)[0, 0]
    return tuple(int(v) for v in rgb)


def draw_boxes(image: np.ndarray, boxes: np.ndarray, class_ids: np.ndarray, names: list[str] | None = None,
               thickness: int = 1) -> np.ndarray:
    """A copy of an (H, W, 3) uint8 RGB image with (N, 4) xyxy boxes and class labels drawn."""
    out = np.ascontiguousarray(image).copy()
    for box, c in zip(boxes, class_ids):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        col = colour(int(c))
        cv2.rectangle(out, (x1, y1), (x2, y2), col, thickness)
        label = names[int(c)] if names and 0 <= int(c) < len(names) else str(int(c))
        cv2.putText(out, label, (x1, max(8, y1 - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.3, col, 1, cv2.LINE_AA)
    return out


def batch_grid(batch: Batch, names: list[str] | None = None, max_images: int = 16) -> np.ndarray:
    """Tiles up to max_images of a Batch, boxes drawn, into one (rows·H, cols·W, 3) RGB image."""
    n = min(len(batch), max_images)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    h, w = batch.images.shape[2:]
    grid = np.full((rows * h, cols * w, 3), 255, np.uint8)
    images = batch.images[:n].permute(0, 2, 3, 1).numpy()
    targets = batch.targets.numpy()
    for i in range(n):
        t = targets[targets[:, 0] == i]
        tile = draw_boxes(images[i], t[:, 2:6], t[:, 1].astype(int), names)
        r, c = divmod(i, cols)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = tile
    return grid


def save_image(path: str | Path, rgb: np.ndarray) -> Path:
    """Writes an RGB image (format from the suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # OpenCV raises for a suffix it has no writer for, and returns False for other failures
        written = cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    except cv2.error:
        written = False
    if not written:
        raise OSError(f"{path}: cannot write the image (unknown suffix or unwritable folder); use .jpg or .png")
    return path


def show_batch(data: str | Path, out: str | Path, imgsz: int = 416, n: int = 16, split: str = "train",
               augment: AugmentConfig | None = None, seed: int = 0, epoch: int = 0) -> Path:
    """Saves a grid of `n` augmented training samples of dataset `data` with their boxes."""
    from yolo3.data.formats import load_dataset
    from yolo3.data.loader import create_dataloader

    index = load_dataset(data)
    if split not in index.splits:
        raise ValueError(f"{data}: no split {split!r}; it has {sorted(index.splits)}")
    loader = create_dataloader(index.splits[split], imgsz, n, augment or AugmentConfig(), shuffle=True, workers=0,
                               seed=seed)
    loader.set_epoch(epoch)
    return save_image(out, batch_grid(next(iter(loader)), index.class_names, n))
