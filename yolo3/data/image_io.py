"""Reading images as RGB uint8 arrays, whatever the file holds.

Grey, RGBA, palette, CMYK and 16-bit files all come back as (h, w, 3) uint8 RGB with
the EXIF orientation applied (OpenCV's IMREAD_COLOR does both); unicode paths work
(bytes are read by Python, decoded by OpenCV). Anything unreadable raises
ImageReadError naming the file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class ImageReadError(OSError):
    """An image file that cannot be decoded; the message names the file."""


def read_image(path: str | Path) -> np.ndarray:
    """Reads an image file → (h, w, 3) uint8 RGB, EXIF orientation applied."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise ImageReadError(f"{path}: cannot read file ({err.strerror or err})") from err
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file; remove it or replace it with the real image")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageReadError(f"{path}: not a decodable image (corrupt, or not an image format OpenCV reads)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
