"""Reading images as RGB uint8 arrays, whatever the file holds.

Grey, RGBA, palette, CMYK and 16-bit files all come back as (h, w, 3) uint8 RGB with
the EXIF orientation applied (OpenCV's IMREAD_COLOR does both); unicode paths work
(bytes are read by Python, decoded by OpenCV). Anything unreadable raises
ImageReadError naming the file.

Huge images: before any pixel is decoded, the header's size is compared with a pixel
cap (MAX_PIXELS, 64 MP, the same default as check-data's `too_large`); above it,
read_image refuses with ImageReadError naming the file and the fix (downscale it), so a
12000×9000 photo or a crafted "decompression bomb" never allocates its full bitmap.
"""

from __future__ import annotations

import dataclasses
import io
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError


MAX_PIXELS = 64_000_000
"""Default cap on width × height that read_image decodes (64 MP ≈ 192 MB as RGB)."""


class ImageReadError(OSError):
    """An image file that cannot be decoded; the message names the file."""


class ImageTooLargeError(ImageReadError):
    """An image whose header says it has more pixels than the cap (nothing was decoded)."""


def header_size(data: bytes | np.ndarray) -> tuple[int, int] | None:
    """(w, h) stored in an encoded image's header (no pixel decode); None if Pillow
    cannot identify it (OpenCV may still decode it)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(memoryview(data))) as im:
                return im.size
    except Image.DecompressionBombError as err:  # Pillow's hard cap; its message gives the pixel count
        found = re.findall(r"\d+", str(err))
        return (int(found[0]), 1) if found else (2**31, 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def read_image(path: str | Path, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Reads an image file → (h, w, 3) uint8 RGB, EXIF orientation applied.

    max_pixels: refuse (ImageTooLargeError, an ImageReadError) files whose header says w·h is above it,
    before decoding; None = no cap (OpenCV's own limit of 2^30 pixels still holds).
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise ImageReadError(f"{path}: cannot read file ({err.strerror or err})") from err
    return decode_image(data, str(path), max_pixels)


def decode_image(data: bytes | np.ndarray, name: str, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Encoded image bytes (as read from a file or received over HTTP) → (h, w, 3) uint8
    RGB, EXIF orientation applied. The format is sniffed from the bytes, never taken from
    a file name. `name` labels the messages; ImageTooLargeError above `max_pixels`
    (checked from the header, before decoding), ImageReadError for anything undecodable.
    """
    data = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    if data.size == 0:
        raise ImageReadError(f"{name}: empty file; remove it or replace it with the real image")
    size = header_size(data) if max_pixels is not None else None
    if size is not None and size[0] * size[1] > max_pixels:
        w, h = size
        raise ImageTooLargeError(f"{name}: {w}x{h} = {w * h / 1e6:.0f} MP exceeds the cap of {max_pixels / 1e6:.0f} MP "
                                 "(decoding it could exhaust memory); downscale the file (and its boxes)")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageReadError(f"{name}: not a decodable image (corrupt, or not an image format OpenCV reads)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# --- header probing (no pixel decode), for dataset readers and checks -----------------

EXIF_ORIENTATION = 0x0112
# Pillow modes that are not plain 8-bit RGB; read_image converts all of them.
NON_RGB_MODES = {"1": "1-bit", "L": "grey", "LA": "grey+alpha", "P": "palette", "PA": "palette+alpha",
                 "RGBA": "RGBA", "CMYK": "CMYK", "YCbCr": "YCbCr", "I": "32-bit int", "F": "float",
                 "I;16": "16-bit", "I;16B": "16-bit", "I;16L": "16-bit", "I;16N": "16-bit", "LAB": "Lab",
                 "HSV": "HSV", "RGBX": "RGBX"}


@dataclasses.dataclass(frozen=True)
class ImageProbe:
    """What an image file's header says. size: (h, w) as read_image returns it (EXIF
    orientation applied); raw_size: (h, w) as stored; format: 'JPEG', 'PNG', …; mode:
    Pillow mode ('RGB', 'L', 'P', 'RGBA', 'I;16', 'CMYK', …); orientation: EXIF 1–8."""

    size: tuple[int, int]
    raw_size: tuple[int, int]
    format: str
    mode: str
    orientation: int


def probe_image(path: str | Path) -> ImageProbe:
    """Reads only the header of an image file; raises ImageReadError naming the file."""
    path = Path(path)
    try:
        with warnings.catch_warnings():  # the pixel cap of read_image / check-data decides, with a clear message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            w, h = im.size
            try:
                orientation = int(im.getexif().get(EXIF_ORIENTATION, 1) or 1)
            except Exception:  # a broken EXIF block must not hide the image
                orientation = 1
            fmt, mode = im.format or "", im.mode
    except FileNotFoundError as err:
        raise ImageReadError(f"{path}: file not found") from err
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        if path.is_file() and path.stat().st_size == 0:
            raise ImageReadError(f"{path}: empty file; remove it or replace it with the real image") from err
        raise ImageReadError(f"{path}: not a readable image ({err})") from err
    size = (w, h) if orientation in (5, 6, 7, 8) else (h, w)
    return ImageProbe(size, (h, w), fmt, mode, orientation)


def image_size(path: str | Path) -> tuple[int, int]:
    """(h, w) of the image as read_image returns it, from the header only."""
    return probe_image(path).size


def is_truncated(data: bytes | np.ndarray, fmt: str) -> bool:
    """Whether a JPEG lacks its end-of-image marker or a PNG its IEND chunk (cut-off file)."""
    tail = bytes(data[-4096:]).rstrip(b"\x00\r\n ")
    if fmt == "JPEG":
        return not tail.endswith(b"\xff\xd9") and b"\xff\xd9" not in tail[-64:]
    if fmt == "PNG":
        return b"IEND" not in tail[-16:]
    return False
