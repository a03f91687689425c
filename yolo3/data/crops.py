"""Object crops with context, for the crop classifier (training and re-labelling).

A box (x1, y1, x2, y2) is cut as the square of side L = max(w, h)·(1 + 2·context)
centred on the box — thin objects keep their aspect and some surroundings — and
resampled to (size, size) by one affine warp (bilinear); whatever lies outside the
image is grey 114, as the detector's letterbox padding.
"""

from __future__ import annotations

import cv2
import numpy as np

from yolo3.data.letterbox import PAD_VALUE


def crop_with_context(
    image: np.ndarray, box: np.ndarray | list[float], size: int, context: float = 0.2,
    jitter: tuple[float, float, float] = (1.0, 0.0, 0.0),
) -> np.ndarray:
    """(h, w, 3) uint8 image, box xyxy pixels → (size, size, 3) uint8 crop.

    jitter: (scale of the square side, x shift, y shift as fractions of the side) for
    training-time augmentation; (1, 0, 0) cuts exactly.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    scale, dx, dy = jitter
    side = max(x2 - x1, y2 - y1, 1.0) * (1 + 2 * context) * scale
    cx, cy = (x1 + x2) / 2 + dx * side, (y1 + y2) / 2 + dy * side
    k = size / side
    # pixel edges: u + 0.5 = (x + 0.5 − x0)·k with x0 = cx − side/2 (OpenCV indexes pixel centres)
    x0, y0 = cx - side / 2, cy - side / 2
    matrix = np.array([[k, 0, k * (0.5 - x0) - 0.5], [0, k, k * (0.5 - y0) - 0.5]], dtype=np.float64)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(PAD_VALUE,) * 3)


def crops_to_tensor(crops: list[np.ndarray]) -> "torch.Tensor":  # noqa: F821
    """(size, size, 3) uint8 crops → (B, 3, size, size) float32 in [0, 1]."""
    import torch

    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0)
