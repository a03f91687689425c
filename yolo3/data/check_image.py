"""Inspecting one image file for check-data: readable, complete, RGB, upright, sane size.

Works from the file's bytes: a hash for duplicate detection, the header (Pillow) for
format, mode, size and EXIF orientation, the end marker for truncation, and a cheap
reduced-size decode (OpenCV) to prove the pixels decode. Never decodes an image above
the pixel cap, so a huge file cannot exhaust memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from yolo3.data.image_io import (NON_RGB_MODES, ImageReadError, displayed_size, exif_orientation, has_alpha,
                                 is_truncated, read_file_bytes)

# File suffixes each decoded format may legitimately carry.
_SUFFIXES = {"JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"}, "PNG": {".png"}, "BMP": {".bmp"},
             "TIFF": {".tif", ".tiff"}, "WEBP": {".webp"}, "GIF": {".gif"}, "MPO": {".jpg", ".jpeg"}}


@dataclasses.dataclass
class ImageInspection:
    """Result of inspecting one file: size (h, w) upright or None when unusable,
    digest of the bytes (or ""), problems as (kind, message) pairs, the EXIF
    orientation tag as stored (1 = none) and the stored (h, w) before it."""

    size: tuple[int, int] | None
    digest: str
    problems: list[tuple[str, str]]
    orientation: int = 1
    stored_size: tuple[int, int] | None = None


def inspect_image(path: Path, max_pixels: int, min_side: int, decode: bool = True) -> ImageInspection:
    """Checks one image file; kinds: unreadable, truncated_image, too_large, tiny_image,
    non_rgb, exif_orientation, wrong_extension, multi_frame. Only regular files up to
    image_io.MAX_FILE_BYTES are read (a FIFO or a link to /dev/zero is unreadable)."""
    try:
        data = read_file_bytes(path)
    except ImageReadError as err:
        message = str(err).removeprefix(f"{path}: ")
        return ImageInspection(None, "", [("unreadable", f"{message}; restore it or remove it from the split")])
    except OSError as err:
        return ImageInspection(None, "", [("unreadable", f"cannot read the file ({err.strerror or err}); "
                                                         "restore it or remove it from the split")])
    if not data:
        return ImageInspection(None, "", [("unreadable", "empty file (0 bytes); replace it with the real image")])
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    try:
        with warnings.catch_warnings():  # our own cap below decides, with a clear message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
        with im:
            w, h = im.size
            fmt, mode = im.format or "?", im.mode
            alpha = has_alpha(mode, im.info)
            orientation = exif_orientation(im)
            frames = int(getattr(im, "n_frames", 1) or 1)
    except Image.DecompressionBombError as err:
        return ImageInspection(None, digest, [("too_large", f"{err}; downscale it (and its boxes)")])
    except (UnidentifiedImageError, OSError, ValueError) as err:
        head = data[:16]
        what = "text, not an image" if all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "not an image"
        return ImageInspection(None, digest, [("unreadable", f"{what} ({type(err).__name__}); replace the file")])
    problems: list[tuple[str, str]] = []
    if w * h > max_pixels:
        return ImageInspection(None, digest, [("too_large", f"{w}x{h} = {w * h / 1e6:.0f} MP exceeds the cap of "
                                                           f"{max_pixels / 1e6:.0f} MP; downscale it (and its boxes)")])
    if min(w, h) < min_side:
        problems.append(("tiny_image", f"only {w}x{h} pixels"))
    if path.suffix.lower() not in _SUFFIXES.get(fmt, {path.suffix.lower()}):
        problems.append(("wrong_extension", f"a {fmt} file named {path.suffix}; it is decoded by content"))
    if mode != "RGB":
        kind = NON_RGB_MODES.get(mode, mode)
        problems.append(("non_rgb", f"{kind} image (mode {mode}); converted to 8-bit RGB when read"
                                    + ("; transparent pixels composited on grey 114 (the training pad colour)"
                                       if alpha else "")))
    elif alpha:  # an RGB file with a transparency key
        problems.append(("non_rgb", "RGB image with a transparent colour key; transparent pixels composited on "
                                    "grey 114 (the training pad colour) when read"))
    if orientation not in range(1, 9):
        problems.append(("exif_orientation", f"invalid EXIF orientation {orientation} (valid: 1-8); ignored, "
                                             "the image is used as stored"))
    elif orientation != 1:
        problems.append(("exif_orientation", f"EXIF orientation {orientation}; the image is read upright "
                                             "(boxes must be in the upright frame)"))
    if frames > 1:
        problems.append(("multi_frame", f"{fmt} with {frames} frames/pages; only the first is used"))
    truncated = is_truncated(data, fmt)
    if truncated:
        problems.append(("truncated_image", f"{fmt} data is cut off (no end marker); the bottom is missing"))
    if decode and not truncated:
        # read_image's conversion to 8-bit colour (a JPEG is 8-bit: a reduced decode proves it)
        flag = cv2.IMREAD_REDUCED_GRAYSCALE_4 if fmt == "JPEG" and min(w, h) >= 64 else cv2.IMREAD_COLOR
        if cv2.imdecode(np.frombuffer(data, np.uint8), flag) is None:
            if mode in ("F", "I"):  # decodable, but OpenCV has no conversion of it to 8-bit colour
                why = (f"{NON_RGB_MODES[mode]} image (mode {mode}) that cannot be converted to 8-bit RGB; save it "
                       "as an 8-bit image (scaled to 0-255)")
            else:
                why = f"{fmt} header but the pixels do not decode; replace the file"
            return ImageInspection(None, digest, [p for p in problems if p[0] != "non_rgb"] + [("unreadable", why)])
    return ImageInspection(displayed_size((h, w), orientation), digest, problems, orientation, (h, w))
