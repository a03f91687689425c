"""Reading images as RGB uint8 arrays, whatever the file holds.

Grey, RGBA, palette, CMYK and 16-bit files all come back as (h, w, 3) uint8 RGB with
the EXIF orientation applied (OpenCV's IMREAD_COLOR does both); transparent pixels
(RGBA, grey+alpha, palette with transparency) are composited on the training pad colour
(grey 114, letterbox.PAD_VALUE) rather than left as whatever colour they hide, often
black; check-data reports such files (non_rgb). Unicode paths work
(bytes are read by Python, decoded by OpenCV). Anything unreadable raises
ImageReadError naming the file.

Huge images: before any pixel is decoded, the header's size is compared with a pixel
cap (MAX_PIXELS, 64 MP, the same default as check-data's `too_large`); above it,
read_image refuses with ImageReadError naming the file and the fix (downscale it), so a
12000×9000 photo or a crafted "decompression bomb" never allocates its full bitmap.
Training and `val` read with their check policy's `max_pixels` instead, so an image
the check let through under a raised cap is read everywhere in that run.

Only regular files are images: a FIFO, a device (a link to /dev/zero) or a socket named
like an image is refused before a byte is read (open_regular), and a file above
MAX_FILE_BYTES is refused unread, so no image path can hang a reader or fill memory.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import stat
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from yolo3.io.checkpoint import atomic_write


MAX_PIXELS = 64_000_000
"""Default cap on width × height that read_image decodes (64 MP ≈ 192 MB as RGB)."""


MAX_FILE_BYTES = 512 << 20
"""Cap on the bytes of one image file (a 64 MP 16-bit TIFF is 384 MB); above it the file
is refused unread, so a huge or endless file cannot exhaust memory."""


class ImageReadError(OSError):
    """An image file that cannot be decoded; the message names the file."""


_FILE_TYPES = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def open_regular(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> io.BufferedReader:
    """Opens `path` for reading only if it is (or links to) a regular file of at most
    max_bytes; raises ImageReadError naming the file otherwise.

    Opened non-blocking and checked on the open descriptor, so a FIFO cannot hang the
    caller and a link to /dev/zero is refused before a byte is read.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as err:
        raise ImageReadError(f"{path}: file not found") from err
    except OSError as err:
        raise ImageReadError(f"{path}: cannot open the file ({err.strerror or err})") from err
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = next((name for test, name in _FILE_TYPES if test(st.st_mode)), "not a regular file")
            raise ImageReadError(f"{path}: {what}, not an image file; only regular files are read as images")
        if st.st_size > max_bytes:
            raise ImageReadError(f"{path}: {st.st_size / 2**20:.0f} MiB, over the cap of {max_bytes >> 20} MiB "
                                 "for one image file; downscale or recompress it")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return open(fd, "rb")  # noqa: SIM115 (the caller closes it)
    except BaseException:
        os.close(fd)
        raise


def read_file_bytes(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most max_bytes (see open_regular); a file that
    grows past the cap while read is refused too."""
    with open_regular(path, max_bytes) as f:
        expected = os.fstat(f.fileno()).st_size  # read(n) allocates n bytes up front: ask for what is there
        data = f.read(min(expected, max_bytes) + 1)
        if len(data) == expected + 1:  # grew since fstat: read on, up to the cap
            data += f.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:
        raise ImageReadError(f"{path}: over the cap of {max_bytes >> 20} MiB for one image file")
    return data


class ImageTooLargeError(ImageReadError):
    """An image whose header says it has more pixels than the cap (nothing was decoded)."""


def read_header(data: bytes | np.ndarray) -> tuple[tuple[int, int] | None, bool]:
    """One look at an encoded image's header (no pixel decode): ((w, h) as stored, or None
    if Pillow cannot identify it — OpenCV may still decode it; whether it has transparency
    to composite)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(memoryview(data))) as im:
                return im.size, has_alpha(im.mode, im.info)
    except Image.DecompressionBombError as err:  # Pillow's hard cap; its message gives the pixel count
        found = re.findall(r"\d+", str(err))
        return ((int(found[0]), 1) if found else (2**31, 1)), False
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None, False


def read_image(path: str | Path, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Reads an image file → (h, w, 3) uint8 RGB, EXIF orientation applied.

    max_pixels: refuse (ImageTooLargeError, an ImageReadError) files whose header says w·h is above it,
    before decoding; None = no cap (OpenCV's own limit of 2^30 pixels still holds).
    """
    path = Path(path)
    try:
        data = np.frombuffer(read_file_bytes(path), np.uint8)
    except ImageReadError:
        raise
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
    size, transparent = read_header(data)
    if max_pixels is not None and size is not None and size[0] * size[1] > max_pixels:
        w, h = size
        raise ImageTooLargeError(f"{name}: {w}x{h} = {w * h / 1e6:.0f} MP exceeds the cap of {max_pixels / 1e6:.0f} MP "
                                 "(decoding it could exhaust memory); downscale the file (and its boxes)")
    rgb = cv2.imdecode(data, cv2.IMREAD_COLOR_RGB)  # the decoder writes RGB: no BGR → RGB pass
    if rgb is None:
        raise ImageReadError(f"{name}: not a decodable image (corrupt, or not an image format OpenCV reads)")
    alpha = alpha_channel(data) if transparent else None
    return composite_on_pad(rgb, alpha) if alpha is not None and alpha.shape == rgb.shape[:2] else rgb


ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
"""Pillow modes that carry an alpha channel (a palette or RGB/grey file may carry a
transparency key instead: info['transparency'])."""


def has_alpha(mode: str, info: dict) -> bool:
    """Whether an image of Pillow `mode` with header `info` has transparent pixels to composite."""
    return mode in ALPHA_MODES or (mode in ("P", "L", "RGB", "I;16") and "transparency" in info)


def alpha_channel(data: bytes | np.ndarray) -> np.ndarray | None:
    """(h, w) uint8 alpha of an encoded image, EXIF orientation applied (as IMREAD_COLOR
    applies it), or None when the file has no transparency (`decode_image` calls it only
    when `read_header` found some)."""
    from PIL import ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(memoryview(data))) as im:
                if not has_alpha(im.mode, im.info):
                    return None
                upright = ImageOps.exif_transpose(im)
                return np.asarray(upright.convert("RGBA"))[..., 3].copy()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def composite_on_pad(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8: rgb·a + PAD_VALUE·(1 − a), a = alpha / 255 (straight alpha)."""
    from yolo3.data.letterbox import PAD_VALUE

    a = alpha.astype(np.float32)[..., None] / 255.0
    return np.rint(rgb.astype(np.float32) * a + PAD_VALUE * (1.0 - a)).astype(np.uint8)


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
    Pillow mode ('RGB', 'L', 'P', 'RGBA', 'I;16', 'CMYK', …); orientation: the EXIF tag as
    stored (1–8 valid; any other value is ignored by decoders, see exif_orientation)."""

    size: tuple[int, int]
    raw_size: tuple[int, int]
    format: str
    mode: str
    orientation: int


def exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation tag as stored (1 when absent or unreadable). Values outside
    1–8 (0, 65537, …) are invalid: decoders ignore them and show the image as stored."""
    try:
        value = im.getexif().get(EXIF_ORIENTATION)
        return 1 if value is None else int(value)
    except Exception:  # a broken EXIF block must not hide the image
        return 1


def displayed_size(stored: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(h, w) as displayed (and as read_image returns it) for a stored (h, w)."""
    return (stored[1], stored[0]) if orientation in (5, 6, 7, 8) else stored


def probe_image(path: str | Path) -> ImageProbe:
    """Reads only the header of an image file; raises ImageReadError naming the file
    (also for FIFOs, devices and files over MAX_FILE_BYTES, see open_regular)."""
    path = Path(path)
    try:
        with open_regular(path) as f, warnings.catch_warnings():
            # the pixel cap of read_image / check-data decides, with a clear message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(f) as im:
                w, h = im.size
                orientation = exif_orientation(im)
                fmt, mode = im.format or "", im.mode
    except ImageReadError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        if path.is_file() and path.stat().st_size == 0:
            raise ImageReadError(f"{path}: empty file; remove it or replace it with the real image") from err
        raise ImageReadError(f"{path}: not a readable image ({err})") from err
    return ImageProbe(displayed_size((h, w), orientation), (h, w), fmt, mode, orientation)


def image_size(path: str | Path) -> tuple[int, int]:
    """(h, w) of the image as read_image returns it, from the header only."""
    return probe_image(path).size


def is_truncated(data: bytes | np.ndarray, fmt: str) -> bool:
    """Whether a JPEG lacks its end-of-image marker or a PNG its IEND chunk (cut-off file).

    Data after the end (a phone's trailer, an appended file) is allowed: the JPEG's marker
    segments are walked to its first scan, after which an FF D9 can only be a marker
    (scan data stuffs every FF byte), so an end marker of a thumbnail in APP1 is not
    taken for the image's own; the PNG's chunks are walked by their lengths to IEND."""
    data = bytes(data)
    if fmt == "JPEG":
        i = 2
        while i + 4 <= len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            if marker == 0xDA:  # start of scan: the end marker must follow
                return data.find(b"\xff\xd9", i) < 0
            if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:  # fill byte / markers without length
                i += 1 if marker == 0xFF else 2
                continue
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if i + 4 > len(data):
            return True  # cut before the first scan
        tail = data[-4096:].rstrip(b"\x00\r\n ")  # segments not walkable: the end marker must end the file
        return not tail.endswith(b"\xff\xd9") and b"\xff\xd9" not in tail[-64:]
    if fmt == "PNG":
        i = 8
        while i + 8 <= len(data):
            if data[i + 4 : i + 8] == b"IEND":
                return False
            i += 12 + int.from_bytes(data[i : i + 4], "big")
        return True
    return False


def write_image(image: np.ndarray, path: Path) -> None:
    """Writes an RGB uint8 image (format from the suffix) atomically; error naming the file on
    failure (a full disk leaves no half image, and a file being replaced stays whole)."""
    try:
        ok, data = cv2.imencode(path.suffix or ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    except cv2.error:  # no encoder for this suffix
        raise OSError(f"{path}: OpenCV cannot write {path.suffix!r} images; use .jpg, .png, .bmp, .tif or .webp "
                      "(or .json / .txt for Detections.save)") from None
    if not ok:
        raise OSError(f"{path}: OpenCV cannot encode this image format")
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data.tobytes()), sync=False)  # one of many outputs
