"""Letterbox resize: keep the aspect ratio, pad to the network size, map boxes exactly.

A (h, w) image is scaled by r = min(H/h, W/w) to (round(h·r), round(w·r)) and padded
with grey 114 to (H, W), half the padding on each side. Boxes map with the *actual*
per-axis scale (new_w / w, new_h / h), so forward and back are exact inverses.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import torch

PAD_VALUE = 114


@dataclasses.dataclass(frozen=True)
class LetterboxInfo:
    """How an image was letterboxed: enough to map boxes both ways.

    scale: (sx, sy) network pixels per original pixel; pad: (left, top) in network
    pixels; original: (h, w) of the source image; size: (H, W) of the network input.
    """

    scale: tuple[float, float]
    pad: tuple[int, int]
    original: tuple[int, int]
    size: tuple[int, int]


def letterbox_info(original: tuple[int, int], size: int | tuple[int, int], scaleup: bool = True) -> LetterboxInfo:
    """Plans the letterbox of an (h, w) image into `size` (int = square) without pixels."""
    h, w = original
    if h <= 0 or w <= 0:
        raise ValueError(f"cannot letterbox an image of size {w}x{h}")
    out_h, out_w = (size, size) if isinstance(size, int) else size
    r = min(out_h / h, out_w / w)
    if not scaleup:
        r = min(r, 1.0)
    new_w, new_h = max(1, int(round(w * r))), max(1, int(round(h * r)))
    left, top = (out_w - new_w) // 2, (out_h - new_h) // 2
    return LetterboxInfo((new_w / w, new_h / h), (left, top), (h, w), (out_h, out_w))


def letterbox(
    image: np.ndarray, size: int | tuple[int, int], pad_value: int = PAD_VALUE, scaleup: bool = True
) -> tuple[np.ndarray, LetterboxInfo]:
    """Resizes and pads an (h, w, 3) uint8 image; returns (image (H, W, 3), info)."""
    info = letterbox_info(image.shape[:2], size, scaleup)
    h, w = image.shape[:2]
    new_w, new_h = int(round(w * info.scale[0])), int(round(h * info.scale[1]))
    if (new_w, new_h) != (w, h):
        interp = cv2.INTER_AREA if new_w < w else cv2.INTER_LINEAR
        image = cv2.resize(image, (new_w, new_h), interpolation=interp)
    out_h, out_w = info.size
    canvas = np.full((out_h, out_w, image.shape[2]), pad_value, dtype=image.dtype)
    left, top = info.pad
    canvas[top : top + new_h, left : left + new_w] = image
    return canvas, info


def boxes_to_letterbox(boxes: np.ndarray | torch.Tensor, info: LetterboxInfo) -> np.ndarray | torch.Tensor:
    """(N, 4) xyxy original pixels → network pixels."""
    out = boxes * 1.0
    out[:, 0::2] = boxes[:, 0::2] * info.scale[0] + info.pad[0]
    out[:, 1::2] = boxes[:, 1::2] * info.scale[1] + info.pad[1]
    return out


def boxes_from_letterbox(
    boxes: np.ndarray | torch.Tensor, info: LetterboxInfo, clip: bool = True
) -> np.ndarray | torch.Tensor:
    """(N, 4) xyxy network pixels → original pixels, clipped to the image by default."""
    out = boxes * 1.0
    out[:, 0::2] = (boxes[:, 0::2] - info.pad[0]) / info.scale[0]
    out[:, 1::2] = (boxes[:, 1::2] - info.pad[1]) / info.scale[1]
    if clip:
        h, w = info.original
        out[:, 0::2] = out[:, 0::2].clip(0, w)
        out[:, 1::2] = out[:, 1::2].clip(0, h)
    return out
