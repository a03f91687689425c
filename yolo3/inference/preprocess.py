"""Inputs → network batches: load any accepted image type, letterbox into one buffer.

The batch is built once as (B, H, W, 3) uint8 (the layout images come in) and handed
to torch as a permuted *view*; converting it to float keeps the NHWC strides, which is
exactly channels-last — so no transpose copy is ever made before the first conv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import cv2
import numpy as np
import torch
from PIL import Image

from yolo3.data.image_io import read_image
from yolo3.data.letterbox import PAD_VALUE, LetterboxInfo, letterbox_info

ImageInput = Union[str, Path, np.ndarray, Image.Image]


def load_input(item: ImageInput, index: int = 0) -> tuple[np.ndarray, str]:
    """One input → ((h, w, 3) uint8 RGB, source label).

    Paths are read with EXIF orientation; numpy arrays must be RGB uint8 (h, w, 3), grey
    (h, w) or RGBA (h, w, 4); PIL images are converted to RGB (16-bit grey ones keep their
    top 8 bits, as a 16-bit file is read).
    """
    if isinstance(item, (str, Path)):
        return read_image(item), str(item)
    if isinstance(item, Image.Image):
        if item.mode.startswith("I;16"):  # 16-bit grey: its top 8 bits, as OpenCV reads such a file
            grey = (np.asarray(item).astype(np.uint16) >> 8).astype(np.uint8)
            return np.repeat(grey[:, :, None], 3, axis=2), f"pil{index}"
        return np.asarray(item.convert("RGB")), f"pil{index}"
    if isinstance(item, np.ndarray):
        return _check_array(item, index), f"array{index}"
    raise TypeError(f"input {index}: unsupported type {type(item).__name__}; pass a path, numpy array or PIL image")


def _check_array(array: np.ndarray, index: int) -> np.ndarray:
    if array.dtype != np.uint8:
        raise ValueError(f"array input {index}: dtype {array.dtype}; pass uint8 RGB (e.g. (x * 255).astype(np.uint8))")
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 4:
        return array[:, :, :3]
    if array.ndim == 3 and array.shape[2] == 3:
        return array
    raise ValueError(f"array input {index}: shape {array.shape}; expected (h, w, 3) RGB, (h, w) grey or (h, w, 4) RGBA")


def letterbox_batch(images: list[np.ndarray], imgsz: int) -> tuple[torch.Tensor, list[LetterboxInfo]]:
    """RGB uint8 images of any sizes → (B, 3, imgsz, imgsz) float32 in [0, 1], channels-last.

    Each image is resized straight into its slot of one (B, H, W, 3) buffer (padding
    114), the same letterbox as `yolo3.data.letterbox.letterbox`.
    """
    buffer = np.empty((len(images), imgsz, imgsz, 3), dtype=np.uint8)
    infos = []
    for slot, image in zip(buffer, images):
        info = letterbox_info(image.shape[:2], imgsz)
        h, w = image.shape[:2]
        new_w, new_h = int(round(w * info.scale[0])), int(round(h * info.scale[1]))
        left, top = info.pad
        slot.fill(PAD_VALUE)
        target = slot[top : top + new_h, left : left + new_w]
        if (new_w, new_h) == (w, h):
            target[...] = image
        else:
            interp = cv2.INTER_AREA if new_w < w else cv2.INTER_LINEAR
            target[...] = cv2.resize(image, (new_w, new_h), interpolation=interp)
        infos.append(info)
    return uint8_to_float(buffer), infos


PREPROCESS_MODES = ("yolo3", "darknet")
"""'yolo3': OpenCV resize, padding 114 (training's letterbox); 'darknet': darknet's own
bilinear resize and padding 0.5 (`yolo3.inference.darknet_preprocess`), for official weights."""


def preprocess_batch(
    images: list[np.ndarray], imgsz: int, mode: str = "yolo3"
) -> tuple[torch.Tensor, list[LetterboxInfo]]:
    """RGB uint8 images → ((B, 3, imgsz, imgsz) float32 in [0, 1], infos) with the chosen letterbox."""
    if mode == "yolo3":
        return letterbox_batch(images, imgsz)
    if mode == "darknet":
        from yolo3.inference.darknet_preprocess import darknet_letterbox_batch

        return darknet_letterbox_batch(images, imgsz)
    raise ValueError(f"preprocess={mode!r}; choose one of {', '.join(PREPROCESS_MODES)}")


def uint8_to_float(batch: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 → (B, 3, H, W) float32 / 255 with channels-last strides.

    Divided in numpy, on the calling thread: bit-identical to torch's float32 division,
    but a torch elementwise op here waits for its intra-op worker threads, which on a
    busy 2-core machine cost 20–40 ms for one 416² image (benchmarks/RESULTS.md, issue 16).
    """
    return torch.from_numpy(np.divide(batch, np.float32(255.0), dtype=np.float32)).permute(0, 3, 1, 2)
