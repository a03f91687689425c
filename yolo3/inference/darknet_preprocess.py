"""darknet's own letterbox, pixel for pixel: its bilinear `resize_image` and 0.5 padding.

Official darknet weights were tuned on darknet's preprocessing, and reproducing its
numbers needs the same input floats. darknet (src/image.c) works on float images in
[0, 1] (bytes / 255) and, unlike OpenCV:

* sizes: the image is scaled to fit with integer arithmetic — new_w = W, new_h =
  h·W // w when W/w < H/h, else new_h = H, new_w = w·H // h — and placed at
  ((W − new_w) // 2, (H − new_h) // 2) on a canvas filled with 0.5 (127.5 / 255);
* resize: corner-aligned bilinear sampling, columns first then rows. With
  sx = c·(w − 1)/(new_w − 1) (float32), column c = (1 − dx)·p[⌊sx⌋] + dx·p[⌊sx⌋ + 1]
  (dx = sx − ⌊sx⌋) and the last column copies the last source column; rows likewise
  on the column-resized image, except the last row takes only (1 − dy)·p[⌊sy⌋]. All
  arithmetic is float32, as in darknet, so the rounding of sy for the last row is
  darknet's too (when (new_h − 1)·h_scale rounds below h − 1, darknet's last row is
  nearly black, and so is ours);
* boxes map back with the float offset (W − new_w) / 2 (darknet's
  `correct_yolo_boxes`), half a pixel from where the image was embedded when the
  difference is odd; the returned `LetterboxInfo.pad` holds those floats.

Written from the algorithm's description in numpy (vectorised), not from darknet's code.
"""

from __future__ import annotations

import numpy as np
import torch

from yolo3.data.letterbox import LetterboxInfo

DARKNET_PAD = 0.5
"""darknet's letterbox fill (127.5 of 255)."""


def darknet_sizes(original: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """(h, w) of an image → (new_w, new_h) darknet scales it to inside (H, W) (integer division)."""
    h, w = original
    out_h, out_w = size
    if h <= 0 or w <= 0:
        raise ValueError(f"cannot letterbox an image of size {w}x{h}")
    if out_w / w < out_h / h:
        new_w, new_h = out_w, (h * out_w) // w
    else:
        new_w, new_h = (w * out_h) // h, out_h
    return max(new_w, 1), max(new_h, 1)  # darknet itself breaks on a 0-pixel side


def _axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output index: (lower source index, upper source index, weight dx) in float32 as darknet."""
    if n_out == 1 or n_in == 1:  # darknet: scale (n_in−1)/0 or 0 — every output samples index 0 / the edge
        low = np.zeros(n_out, np.int64)
        return low, low, np.zeros(n_out, np.float32)
    scale = np.float32(n_in - 1) / np.float32(n_out - 1)
    s = np.arange(n_out, dtype=np.float32) * scale
    low = s.astype(np.int64)  # (int) truncation; s >= 0
    frac = (s - low.astype(np.float32)).astype(np.float32)
    high = np.minimum(low + 1, n_in - 1)
    return low, high, frac


def darknet_resize(image: np.ndarray, new_w: int, new_h: int) -> np.ndarray:
    """darknet's `resize_image` on an (h, w, c) float32 image in [0, 1] → (new_h, new_w, c) float32."""
    image = np.asarray(image, dtype=np.float32)
    h, w = image.shape[:2]
    # Columns: the last output column (or any, for a 1-pixel-wide source) copies the last source column.
    low, high, dx = _axis(w, new_w)
    dx = dx[None, :, None]
    part = (np.float32(1) - dx) * image[:, low] + dx * image[:, high]
    part[:, new_w - 1] = image[:, w - 1]
    if w == 1:
        part[:] = image[:, :1]
    # Rows: (1 − dy)·row[iy], plus dy·row[iy + 1] except on the last row (or a 1-pixel-high source).
    low, high, dy = _axis(h, new_h)
    dy = dy[:, None, None]
    out = (np.float32(1) - dy) * part[low]
    add = np.ones(new_h, dtype=bool)
    add[new_h - 1] = False
    if h == 1:
        add[:] = False
    out[add] += dy[add] * part[high[add]]
    return out.astype(np.float32, copy=False)


def darknet_letterbox(image: np.ndarray, size: int | tuple[int, int]) -> tuple[np.ndarray, LetterboxInfo]:
    """(h, w, 3) uint8 RGB → ((H, W, 3) float32 in [0, 1], info) as darknet's `letterbox_image`."""
    out_h, out_w = (size, size) if isinstance(size, int) else size
    h, w = image.shape[:2]
    new_w, new_h = darknet_sizes((h, w), (out_h, out_w))
    resized = darknet_resize(image.astype(np.float32) / np.float32(255), new_w, new_h)
    canvas = np.full((out_h, out_w, image.shape[2]), DARKNET_PAD, dtype=np.float32)
    left, top = (out_w - new_w) // 2, (out_h - new_h) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    info = LetterboxInfo((new_w / w, new_h / h), ((out_w - new_w) / 2, (out_h - new_h) / 2), (h, w), (out_h, out_w))
    return canvas, info


def darknet_letterbox_batch(images: list[np.ndarray], imgsz: int) -> tuple[torch.Tensor, list[LetterboxInfo]]:
    """RGB uint8 images → (B, 3, imgsz, imgsz) float32 darknet letterboxes (channels-last strides)."""
    boxed, infos = zip(*(darknet_letterbox(image, imgsz) for image in images)) if images else ((), ())
    batch = np.stack(boxed) if boxed else np.zeros((0, imgsz, imgsz, 3), np.float32)
    return torch.from_numpy(batch).permute(0, 3, 1, 2), list(infos)
